// Thin C++ wrapper over the C API (header-only; no exceptions: every call returns a Status).
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "edgert/edgert.h"

namespace edgert::api {

struct Status {
  edgert_status code = EDGERT_OK;
  std::string message;
  bool ok() const { return code == EDGERT_OK; }
  static Status From(edgert_status c) { return c == EDGERT_OK ? Status{} : Status{c, edgert_last_error()}; }
};

class Model {
 public:
  Model() = default;
  Model(Model&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Model& operator=(Model&& o) noexcept { std::swap(m_, o.m_); return *this; }
  ~Model() { edgert_model_free(m_); }
  Status Load(const std::string& path) { return Status::From(edgert_model_load(path.c_str(), &m_)); }
  Status LoadFromMemory(const void* data, size_t size) {
    return Status::From(edgert_model_load_from_memory(data, size, &m_));
  }
  size_t num_inputs() const { return edgert_model_num_inputs(m_); }
  size_t num_outputs() const { return edgert_model_num_outputs(m_); }
  edgert_tensor_info input(size_t i) const { edgert_tensor_info t{}; edgert_model_input_info(m_, i, &t); return t; }
  edgert_tensor_info output(size_t i) const { edgert_tensor_info t{}; edgert_model_output_info(m_, i, &t); return t; }
  std::string metadata(const std::string& key) const {
    const char* v = edgert_model_metadata(m_, key.c_str());
    return v ? v : "";
  }
  const edgert_model* get() const { return m_; }

 private:
  edgert_model* m_ = nullptr;
};

class Session {
 public:
  Session() = default;
  Session(Session&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Session& operator=(Session&& o) noexcept { std::swap(s_, o.s_); return *this; }
  ~Session() { edgert_session_free(s_); }
  Status Create(const Model& model, int num_threads = 0, uint64_t arena_limit = 0, bool profile = false) {
    edgert_session_options o;
    edgert_session_options_init(&o);
    o.num_threads = num_threads;
    o.arena_limit_bytes = arena_limit;
    o.profile = profile ? 1 : 0;
    return Status::From(edgert_session_create(model.get(), &o, &s_));
  }
  // Per-op timing table of the runs so far (created with profile = true), else empty.
  std::string Profile() {
    const char* p = edgert_session_profile(s_);
    return p ? std::string(p) : std::string();
  }
  Status SetInput(size_t i, edgert_dtype t, const std::vector<int64_t>& dims, const void* data, size_t bytes) {
    return Status::From(edgert_session_set_input(s_, i, t, dims.data(), static_cast<int32_t>(dims.size()), data, bytes));
  }
  Status SetInput(size_t i, const std::vector<int64_t>& dims, const std::vector<float>& v) {
    return SetInput(i, EDGERT_F32, dims, v.data(), v.size() * sizeof(float));
  }
  Status Run() { return Status::From(edgert_session_run(s_)); }
  std::vector<int64_t> OutputShape(size_t i) const {
    edgert_tensor_info t{};
    if (edgert_session_output_info(s_, i, &t) != EDGERT_OK) return {};
    return std::vector<int64_t>(t.dims, t.dims + t.rank);
  }
  template <typename T = float>
  std::vector<T> Output(size_t i) const {
    const void* p = nullptr;
    size_t n = 0;
    if (edgert_session_output_data(s_, i, &p, &n) != EDGERT_OK) return {};
    std::vector<T> out(n / sizeof(T));
    if (n) std::memcpy(out.data(), p, out.size() * sizeof(T));
    return out;
  }
  edgert_session* get() { return s_; }

 private:
  edgert_session* s_ = nullptr;
};

}  // namespace edgert::api
