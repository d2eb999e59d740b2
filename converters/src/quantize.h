// Weight quantizers. Layouts are the .efb ones (schema/README.md, kernels/.../gemm.h):
//   int8: I8 [N, K...] symmetric per output channel (axis 0), scales inline.
//   int4: I4 [N, K] two per byte (even k low nibble, rows padded), PER_BLOCK axis 1, scales
//         [N, ceil(K/block)] in a buffer, optional int8 zero points in [-8, 7] (asymmetric).
// real = scale * (q - zero_point).
#pragma once

#include <string>
#include <vector>

#include "ir.h"

namespace edgert::converter {

enum class Int4Method { kRtn, kMse, kGptq };

struct WeightQuantResult {
  double sqnr_db = 0;  // 10 log10(sum w^2 / sum (w - dequant(q))^2)
  size_t bytes_before = 0, bytes_after = 0;
};

// Quantizes an F32 constant [N, ...] in place to int8 per output channel. Uses imported QDQ
// scales when the tensor carries them.
WeightQuantResult QuantizeInt8(Tensor& w);

// Quantizes an F32 constant [N, K] in place to block int4. `x` (optional) holds calibration
// rows of the layer input, row-major [rows, K]; GPTQ needs it (falls back to MSE without).
WeightQuantResult QuantizeInt4(Tensor& w, int block, bool asym, bool f16_scales, Int4Method method,
                               const std::vector<float>* x, size_t x_rows);

// Dequantized values of a quantized weight (any of the layouts above), as F32 [N, K...].
std::vector<float> DequantizeWeight(const Tensor& w);

// Sum over calibration rows of ||x W^T - x Wq^T||^2 / ||x W^T||^2 (relative output error).
double RelativeOutputError(const std::vector<float>& w, const std::vector<float>& wq, int64_t n,
                           int64_t k, const std::vector<float>& x, size_t rows);

}  // namespace edgert::converter
