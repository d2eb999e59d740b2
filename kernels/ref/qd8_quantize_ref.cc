// Reference dynamic activation quantization (the specification; see docs/quantization.md).
#include <cmath>
#include <cstring>

#include "edgert/kernels/internal.h"
#include "../src/qparams.h"

namespace edgert::kernels {

void QuantizeRowsRef(size_t m, size_t k, const float* a, size_t lda, int32_t qmax, uint8_t* q,
                     size_t q_stride, QRowParams* params) {
  for (size_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    float mn = 0.0f, mx = 0.0f;
    for (size_t j = 0; j < k; ++j) {
      mn = x[j] < mn ? x[j] : mn;
      mx = x[j] > mx ? x[j] : mx;
    }
    float inv;
    ComputeQRowParams(mn, mx, qmax, &params[i], &inv);
    uint8_t* qi = q + i * q_stride;
    for (size_t j = 0; j < k; ++j) qi[j] = QuantizeOne(x[j], inv, params[i].zero_point, qmax);
    std::memset(qi + k, 0, q_stride - k);
  }
}

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t man = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        --exp;
      }
      man &= 0x3FF;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t F32ToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return sign | 0x7C00 | (ax > 0x7F800000u ? 0x200 : 0);
  if (ax >= 0x477FF000u) return sign | 0x7C00;  // rounds to >= 65520 -> inf
  if (ax < 0x38800000u) {  // f16 subnormal or zero: units of 2^-24, exact scaling, RNE
    float af;
    std::memcpy(&af, &ax, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(af * 0x1p24f)));
  }
  uint32_t r = ((ax - 0x38000000u) >> 13);
  const uint32_t rem = ax & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return static_cast<uint16_t>(sign | r);
}

}  // namespace edgert::kernels
