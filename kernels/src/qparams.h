// Per-row quantization parameters, shared by every quantizer (ref and SIMD) so that they agree
// bit for bit. Included by translation units with different ISA flags: everything here is
// `static inline` (one private copy per TU, no ODR merging across ISAs).
#pragma once

#include <cmath>
#include <cstdint>

#include "edgert/kernels/internal.h"

namespace edgert::kernels {

// mn <= 0 <= mx are the row's min/max (NaNs ignored). Rows whose range is tiny, zero or NaN
// quantize to all-zero with scale 1 (the dequantized row is exactly 0).
static inline void ComputeQRowParams(float mn, float mx, int32_t qmax, QRowParams* p, float* inv) {
  const float range = mx - mn;
  if (!(range > 0x1p-100f)) {
    p->scale = 1.0f;
    p->zero_point = 0;
    *inv = 0.0f;
    return;
  }
  const float qmaxf = static_cast<float>(qmax);
  p->scale = range / qmaxf;
  *inv = qmaxf / range;
  float zf = __builtin_nearbyintf(-mn * *inv);
  if (!(zf >= 0.0f)) zf = 0.0f;  // also NaN
  if (zf > qmaxf) zf = qmaxf;
  p->zero_point = static_cast<int32_t>(zf);
}

// One element, as _mm256_cvtps_epi32 (round to nearest even, out of range/NaN -> INT32_MIN)
// followed by + zero_point and saturation to [0, qmax].
static inline uint8_t QuantizeOne(float x, float inv, int32_t zp, int32_t qmax) {
  const float v = __builtin_nearbyintf(x * inv);
  int64_t r = (v >= -2147483648.0f && v < 2147483648.0f) ? static_cast<int64_t>(v)
                                                          : static_cast<int64_t>(INT32_MIN);
  r += zp;
  if (r < 0) r = 0;
  if (r > qmax) r = qmax;
  return static_cast<uint8_t>(r);
}

}  // namespace edgert::kernels
