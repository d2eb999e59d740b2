#include "runner.h"

#include <cstring>

#include "absl/strings/str_cat.h"

#ifdef EDGERT_CONVERTER_HAS_RUNTIME
#include "edgert/edgert.h"
#endif

namespace edgert::converter {

#ifdef EDGERT_CONVERTER_HAS_RUNTIME

bool RuntimeAvailable() { return true; }

absl::StatusOr<std::vector<std::vector<RunOutput>>> RunEfb(
    const std::string& efb, const std::vector<std::vector<NpyArray>>& samples, Progress* progress,
    int threads) {
  edgert_model* model = nullptr;
  if (edgert_model_load_from_memory(efb.data(), efb.size(), &model) != EDGERT_OK) {
    return absl::InternalError(absl::StrCat("runtime refused the converted model: ", edgert_last_error()));
  }
  edgert_session* session = nullptr;
  edgert_session_options so;
  edgert_session_options_init(&so);
  so.num_threads = threads;
  if (edgert_session_create(model, &so, &session) != EDGERT_OK) {
    std::string e = edgert_last_error();
    edgert_model_free(model);
    return absl::InternalError(absl::StrCat("runtime: cannot create a session: ", e));
  }
  std::vector<std::vector<RunOutput>> all;
  absl::Status st;
  size_t nout = edgert_model_num_outputs(model);
  for (size_t s = 0; s < samples.size() && st.ok(); ++s) {
    for (size_t i = 0; i < samples[s].size(); ++i) {
      const NpyArray& a = samples[s][i];
      if (edgert_session_set_input(session, i, static_cast<edgert_dtype>(static_cast<int>(a.dtype)),
                                   a.shape.data(), static_cast<int32_t>(a.shape.size()), a.data.data(),
                                   a.data.size()) != EDGERT_OK) {
        st = absl::InvalidArgumentError(absl::StrCat("calibration sample ", s, ", input ", i, ": ", edgert_last_error()));
        break;
      }
    }
    if (!st.ok()) break;
    if (edgert_session_run(session) != EDGERT_OK) {
      st = absl::InternalError(absl::StrCat("runtime: calibration sample ", s, ": ", edgert_last_error()));
      break;
    }
    std::vector<RunOutput> outs(nout);
    for (size_t o = 0; o < nout; ++o) {
      edgert_tensor_info info;
      const void* data = nullptr;
      size_t bytes = 0;
      if (edgert_session_output_info(session, o, &info) != EDGERT_OK ||
          edgert_session_output_data(session, o, &data, &bytes) != EDGERT_OK) {
        st = absl::InternalError(absl::StrCat("runtime: output ", o, ": ", edgert_last_error()));
        break;
      }
      outs[o].shape.assign(info.dims, info.dims + info.rank);
      Tensor t;
      t.dtype = static_cast<DType>(static_cast<int>(info.dtype));
      t.data.assign(static_cast<const char*>(data), bytes);
      outs[o].v = ToFloats(t);
    }
    all.push_back(std::move(outs));
    if (progress) progress->Tick();
  }
  edgert_session_free(session);
  edgert_model_free(model);
  if (!st.ok()) return st;
  return all;
}

#else

bool RuntimeAvailable() { return false; }

absl::StatusOr<std::vector<std::vector<RunOutput>>> RunEfb(
    const std::string&, const std::vector<std::vector<NpyArray>>&, Progress*, int) {
  return absl::UnimplementedError(
      "this edgert_convert was built without the edgert runtime; calibration is unavailable");
}

#endif

}  // namespace edgert::converter
