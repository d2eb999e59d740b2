// Softmax rows: the reference (scalar; std::fma where the vector builds use FMA, so the bits are
// the same) is the specification in edgert/kernels/softmax.h; dispatch to the AVX2 / AVX-512
// builds by the selected f32 variant.
#include "edgert/kernels/softmax.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgert/kernels/internal.h"
#include "edgert/kernels/softmax_consts.h"

namespace edgert::kernels {

#if defined(EDGERT_KERNELS_X86)
void f32_softmax_rows_avx2(const ScaledSoftmaxArgs& a);
void f32_softmax_rows_avx512vnni(const ScaledSoftmaxArgs& a);
#endif

namespace {

// exp(d), d = t - max: the operations of ExpSoftmax8 (kernels/x86/softmax_avx2_inl.h) in scalar form.
float ExpSoftmaxRef(float d) {
  if (d < kExpLowest) return 0.0f;  // false for NaN: NaN goes on
  const float t = std::fma(d, kExpLog2e, kExpShifter);
  const float n = t - kExpShifter;
  float r = std::fma(-n, kExpLn2Hi, d);
  r = std::fma(-n, kExpLn2Lo, r);
  float p = std::fma(kExpC5, r, kExpC4);
  p = std::fma(p, r, kExpC3);
  p = std::fma(p, r, kExpC2);
  p = std::fma(p, r, kExpC1);
  p = std::fma(p, r, 1.0f);
  uint32_t bits;
  std::memcpy(&bits, &t, 4);
  bits <<= 23;
  float two_n;
  std::memcpy(&two_n, &bits, 4);
  return p * two_n;
}

void f32_softmax_rows_ref(const ScaledSoftmaxArgs& a) {
  const size_t len = a.len, full = len / 16 * 16;
  for (size_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * a.ldx;
    const float* m = a.mask ? a.mask + r * a.mask_ld : nullptr;
    float* y = a.y + r * a.ldy;
    float mx = -INFINITY;
    for (size_t i = 0; i < len; ++i) {
      float t = a.divide ? x[i] / a.scale : x[i] * a.scale;
      if (m) t = t + m[i * a.mask_step];
      y[i] = t;
      mx = t > mx ? t : mx;
    }
    float acc[2][16] = {};
    for (size_t i = 0; i < full; ++i) {
      y[i] = ExpSoftmaxRef(y[i] - mx);
      acc[i / 16 % 2][i % 16] += y[i];
    }
    float l[16];
    for (size_t j = 0; j < 16; ++j) l[j] = acc[0][j] + acc[1][j];
    for (size_t w = 8; w >= 1; w /= 2)
      for (size_t j = 0; j < w; ++j) l[j] = l[j] + l[j + w];
    double sum = l[0];
    for (size_t i = full; i < len; ++i) {
      y[i] = ExpSoftmaxRef(y[i] - mx);
      sum += y[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (size_t i = 0; i < len; ++i) y[i] *= inv;
  }
}

}  // namespace

void ScaledSoftmaxRows(const ScaledSoftmaxArgs& a) {
  if (a.rows == 0 || a.len == 0) return;
#if defined(EDGERT_KERNELS_X86)
  const Isa isa = CurrentF32GemmConfig()->isa;
  if (isa == Isa::kAvx512Vnni) return f32_softmax_rows_avx512vnni(a);
  if (isa == Isa::kAvx2 || isa == Isa::kAvxVnni) return f32_softmax_rows_avx2(a);
#endif
  f32_softmax_rows_ref(a);
}

}  // namespace edgert::kernels
