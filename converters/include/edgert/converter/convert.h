// edgert_convert as a library: ONNX (FP32 or QDQ) -> .efb, with graph optimization and weight
// quantization. See docs/converter.md for the options and what each mode does.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace edgert::converter {

struct ConvertOptions {
  std::string input;   // .onnx
  std::string output;  // .efb (written atomically)
  std::string quant = "none";       // none | int8 | int4 | mixed | int8-static
  int block = 32;                   // int4 block along K: 32 | 64 | 128
  bool asym = false;                // int4 zero points (--asym); int8 weights are always symmetric
  bool f16_scales = false;          // int4 block scales stored as f16
  std::string exclude;              // ECMAScript regex on node names: those stay FP32
  std::string overrides_path;       // JSON {"node": "fp32"|"int8"|"int4" | {"precision","block","asym"}}
  std::string calib_dir;            // .npy calibration samples
  int calib_limit = 0;              // use at most this many samples (0 = all)
  std::string int4_method = "auto"; // rtn | mse | gptq | auto (gptq with --calib, else mse)
  std::string calib_method = "minmax";  // int8-static ranges: minmax | percentile | entropy
  double percentile = 99.99;
  double max_error = 0.995;         // mixed: minimum cosine of the final outputs vs FP32
  double mixed_margin = 0.5;        // mixed: fraction of the error budget kept in reserve
  int sensitivity_samples = 4;      // mixed: calibration samples per sensitivity run (0 = all)
  int threads = 1;                  // runtime threads for calibration / error runs (0 = one per core)
  std::string report_path;          // FILE.json (+ FILE.md beside it)
  bool progress = true;             // progress bars when stderr is a terminal
  bool verbose = false;
};

struct LayerSummary {
  std::string name, op, precision;  // precision: fp32 | int8 | int4
  double weight_sqnr_db = 0;
  double output_cosine = -2;  // -2: not measured
};

struct ConvertSummary {
  std::vector<LayerSummary> layers;
  size_t source_bytes = 0, output_bytes = 0;
  double final_cosine = -2;  // -2: not measured (no calibration data)
  double seconds = 0;
};

// Returns a one-line error naming the file / node / op / field on failure; never leaves a
// partial output file.
absl::Status Convert(const ConvertOptions& options, ConvertSummary* summary = nullptr);

// Canonical option string recorded in the .efb metadata.
std::string OptionsString(const ConvertOptions& options);

const char* ConverterVersion();

}  // namespace edgert::converter
