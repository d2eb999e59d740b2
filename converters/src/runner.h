// Runs .efb bytes through edgert's own runtime (C API) for calibration and error measurement.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "util.h"

namespace edgert::converter {

struct RunOutput {
  std::vector<int64_t> shape;
  std::vector<float> v;  // converted to float
};

bool RuntimeAvailable();
// For each sample (inputs in model input order), all model outputs in model output order.
// `threads`: the session's num_threads (1 = on the calling thread only, 0 = one per core).
absl::StatusOr<std::vector<std::vector<RunOutput>>> RunEfb(
    const std::string& efb, const std::vector<std::vector<NpyArray>>& samples, Progress* progress,
    int threads = 1);

}  // namespace edgert::converter
