// The C boundary: status codes + a thread-local message; no exception escapes.
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "edgert/edgert.h"
#include "edgert/kernels/gemm.h"
#include "model.h"
#include "session.h"

struct edgert_model {
  std::unique_ptr<edgert::Model> impl;
};
struct edgert_session {
  std::unique_ptr<edgert::Session> impl;
  std::string profile;  // edgert_session_profile's last report
};

static_assert(sizeof(edgert_dtype) == sizeof(int), "edgert_dtype is an int");

namespace {

thread_local std::string g_last_error;

edgert_status ToCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk: return EDGERT_OK;
    case absl::StatusCode::kNotFound: return EDGERT_NOT_FOUND;
    case absl::StatusCode::kResourceExhausted: return EDGERT_RESOURCE_EXHAUSTED;
    case absl::StatusCode::kUnimplemented: return EDGERT_UNSUPPORTED;
    case absl::StatusCode::kInternal: return EDGERT_INTERNAL;
    default: return EDGERT_INVALID_ARGUMENT;
  }
}

edgert_status Fail(edgert_status code, std::string msg) {
  g_last_error = std::move(msg);
  return code;
}

edgert_status Report(const absl::Status& s, edgert_status invalid_as = EDGERT_INVALID_ARGUMENT) {
  if (s.ok()) return EDGERT_OK;
  edgert_status c = ToCode(s);
  if (c == EDGERT_INVALID_ARGUMENT) c = invalid_as;
  return Fail(c, std::string(s.message()));
}

template <typename F>
edgert_status Guard(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return Fail(EDGERT_RESOURCE_EXHAUSTED, "out of memory");
  } catch (const std::exception& e) {
    return Fail(EDGERT_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(EDGERT_INTERNAL, "internal error");
  }
}

void FillInfo(const edgert::Model& m, int tensor, edgert_tensor_info* info) {
  const edgert::TensorInfo& t = m.tensor(tensor);
  std::memset(info, 0, sizeof(*info));
  info->name = t.name.c_str();
  info->dtype = static_cast<edgert_dtype>(t.dtype);
  info->rank = static_cast<int32_t>(t.dims.size());
  for (size_t i = 0; i < t.dims.size(); ++i) {
    info->dims[i] = t.dims[i];
    info->dim_names[i] = t.dims[i] < 0 ? t.dim_names[i].c_str() : nullptr;
  }
}

}  // namespace

extern "C" {

const char* edgert_version(void) { return EDGERT_VERSION_STRING; }

const char* edgert_isa(void) { return edgert::kernels::IsaName(edgert::kernels::SelectedIsa()); }

const char* edgert_last_error(void) { return g_last_error.c_str(); }

edgert_status edgert_model_load(const char* path, edgert_model** out) {
  return Guard([&] {
    if (path == nullptr || out == nullptr) return Fail(EDGERT_INVALID_ARGUMENT, "edgert_model_load: null argument");
    *out = nullptr;
    auto m = edgert::Model::LoadFile(path);
    if (!m.ok()) return Report(m.status(), EDGERT_INVALID_MODEL);
    *out = new edgert_model{std::move(*m)};
    return EDGERT_OK;
  });
}

edgert_status edgert_model_load_from_memory(const void* data, size_t size, edgert_model** out) {
  return Guard([&] {
    if (data == nullptr || out == nullptr) {
      return Fail(EDGERT_INVALID_ARGUMENT, "edgert_model_load_from_memory: null argument");
    }
    *out = nullptr;
    auto m = edgert::Model::LoadMemory(data, size);
    if (!m.ok()) return Report(m.status(), EDGERT_INVALID_MODEL);
    *out = new edgert_model{std::move(*m)};
    return EDGERT_OK;
  });
}

void edgert_model_free(edgert_model* model) { delete model; }

size_t edgert_model_num_inputs(const edgert_model* model) { return model ? model->impl->inputs().size() : 0; }
size_t edgert_model_num_outputs(const edgert_model* model) { return model ? model->impl->outputs().size() : 0; }

edgert_status edgert_model_input_info(const edgert_model* model, size_t index, edgert_tensor_info* info) {
  if (model == nullptr || info == nullptr) return Fail(EDGERT_INVALID_ARGUMENT, "edgert_model_input_info: null argument");
  if (index >= model->impl->inputs().size()) {
    return Fail(EDGERT_NOT_FOUND, "input index " + std::to_string(index) + " out of range (model has " +
                                      std::to_string(model->impl->inputs().size()) + ")");
  }
  FillInfo(*model->impl, model->impl->inputs()[index], info);
  return EDGERT_OK;
}

edgert_status edgert_model_output_info(const edgert_model* model, size_t index, edgert_tensor_info* info) {
  if (model == nullptr || info == nullptr) return Fail(EDGERT_INVALID_ARGUMENT, "edgert_model_output_info: null argument");
  if (index >= model->impl->outputs().size()) {
    return Fail(EDGERT_NOT_FOUND, "output index " + std::to_string(index) + " out of range (model has " +
                                      std::to_string(model->impl->outputs().size()) + ")");
  }
  FillInfo(*model->impl, model->impl->outputs()[index], info);
  return EDGERT_OK;
}

const char* edgert_model_metadata(const edgert_model* model, const char* key) {
  if (model == nullptr || key == nullptr) return nullptr;
  return model->impl->Metadata(key);
}

void edgert_session_options_init(edgert_session_options* options) {
  if (options == nullptr) return;
  options->num_threads = 0;
  options->arena_limit_bytes = 0;
  options->profile = 0;
}

edgert_status edgert_session_create(const edgert_model* model, const edgert_session_options* options,
                                    edgert_session** out) {
  return Guard([&] {
    if (model == nullptr || out == nullptr) return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_create: null argument");
    *out = nullptr;
    edgert::SessionOptions o;
    if (options != nullptr) {
      o.num_threads = options->num_threads;
      o.arena_limit_bytes = options->arena_limit_bytes;
      o.profile = options->profile != 0;
    }
    auto s = edgert::Session::Create(*model->impl, o);
    if (!s.ok()) return Report(s.status());
    *out = new edgert_session{std::move(*s), std::string()};
    return EDGERT_OK;
  });
}

void edgert_session_free(edgert_session* session) { delete session; }

edgert_status edgert_session_set_input(edgert_session* session, size_t index, edgert_dtype dtype,
                                       const int64_t* dims, int32_t rank, const void* data, size_t bytes) {
  return Guard([&] {
    if (session == nullptr) return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_set_input: null session");
    if (rank < 0 || rank > EDGERT_MAX_RANK || (rank > 0 && dims == nullptr)) {
      return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_set_input: rank must be in [0, 8] with dims given");
    }
    // A C caller may pass any int: read it as one (an out-of-range enum load is UB in C++).
    int dtype_value;
    std::memcpy(&dtype_value, &dtype, sizeof dtype_value);
    if (dtype_value < 0 || dtype_value > EDGERT_BOOL) {
      return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_set_input: unknown dtype " + std::to_string(dtype_value));
    }
    edgert::Session::Busy busy(*session->impl);
    if (!busy.ok()) return Fail(EDGERT_BUSY, "session is in use by another thread");
    edgert::Shape shape(dims, dims + rank);
    return Report(session->impl->SetInput(index, static_cast<edgert::DType>(dtype_value), shape, data, bytes));
  });
}

edgert_status edgert_session_run(edgert_session* session) {
  return Guard([&] {
    if (session == nullptr) return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_run: null session");
    edgert::Session::Busy busy(*session->impl);
    if (!busy.ok()) return Fail(EDGERT_BUSY, "session is in use by another thread");
    return Report(session->impl->Run());
  });
}

edgert_status edgert_session_output_info(const edgert_session* session, size_t index, edgert_tensor_info* info) {
  if (session == nullptr || info == nullptr) {
    return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_output_info: null argument");
  }
  const edgert::Model& m = session->impl->model();
  if (index >= m.outputs().size()) {
    return Fail(EDGERT_NOT_FOUND, "output index " + std::to_string(index) + " out of range");
  }
  FillInfo(m, m.outputs()[index], info);
  const edgert::Value& v = session->impl->output(index);
  // An empty output (0 elements, e.g. an empty graph input passed through) may have no data.
  if (!session->impl->ran() || (v.data == nullptr && v.bytes() != 0)) {
    return Fail(EDGERT_INVALID_ARGUMENT, "no output yet: call edgert_session_run first");
  }
  info->rank = static_cast<int32_t>(v.shape.size());
  for (size_t i = 0; i < v.shape.size(); ++i) {
    info->dims[i] = v.shape[i];
    info->dim_names[i] = nullptr;
  }
  return EDGERT_OK;
}

edgert_status edgert_session_output_data(const edgert_session* session, size_t index, const void** data,
                                         size_t* bytes) {
  if (session == nullptr || data == nullptr || bytes == nullptr) {
    return Fail(EDGERT_INVALID_ARGUMENT, "edgert_session_output_data: null argument");
  }
  const edgert::Model& m = session->impl->model();
  if (index >= m.outputs().size()) {
    return Fail(EDGERT_NOT_FOUND, "output index " + std::to_string(index) + " out of range");
  }
  const edgert::Value& v = session->impl->output(index);
  // An empty output (0 elements, e.g. an empty graph input passed through) may have no data.
  if (!session->impl->ran() || (v.data == nullptr && v.bytes() != 0)) {
    return Fail(EDGERT_INVALID_ARGUMENT, "no output yet: call edgert_session_run first");
  }
  *data = v.data;
  *bytes = static_cast<size_t>(v.bytes());
  return EDGERT_OK;
}

uint64_t edgert_session_arena_bytes(const edgert_session* session) {
  return session ? session->impl->arena_bytes() : 0;
}

const char* edgert_session_profile(edgert_session* session) {
  if (session == nullptr) return nullptr;
  const char* r = nullptr;
  Guard([&] {
    edgert::Session::Busy busy(*session->impl);
    if (!busy.ok()) return Fail(EDGERT_BUSY, "session is in use by another thread");
    session->profile = session->impl->ProfileReport();
    r = session->profile.empty() ? nullptr : session->profile.c_str();
    return EDGERT_OK;
  });
  return r;
}

}  // extern "C"
