// Softmax row helpers: the reference (scalar, std::fma where the vector builds use FMA, so the
// bits are the same) and the dispatch to the AVX2 / AVX-512 builds.
#include "edgert/kernels/softmax.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgert/kernels/internal.h"
#include "edgert/kernels/softmax_consts.h"

namespace edgert::kernels {

#if defined(EDGERT_KERNELS_X86)
float f32_maxrow_avx2(const float* p, size_t len);
size_t f32_exprow_avx2(const float* p, float mx, float* q, size_t len, float lanes[8]);
float f32_maxrow_avx512vnni(const float* p, size_t len);
size_t f32_exprow_avx512vnni(const float* p, float mx, float* q, size_t len, float lanes[8]);
#endif

namespace {

// One element, the operations of ExpSoftmax8 (kernels/x86/exp_row_avx2_inl.h) in scalar form.
float ExpSoftmaxRef(float x) {
  if (std::isnan(x)) return x;
  if (x < kExpLowest) return 0.0f;
  const float n = std::nearbyint(x * kExpLog2e);  // round half to even, as vroundps
  const float r = (x - n * kExpLn2Hi) - n * kExpLn2Lo;
  float p = kExpP0;
  p = std::fma(p, r, kExpP1);
  p = std::fma(p, r, kExpP2);
  p = std::fma(p, r, kExpP3);
  p = std::fma(p, r, kExpP4);
  p = std::fma(p, r, kExpP5);
  p = std::fma(p * r, r, r) + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, 4);
  return p * two_n;
}

float f32_maxrow_ref(const float* p, size_t len) {
  float mx = -INFINITY;
  for (size_t i = 0; i < len; ++i) mx = p[i] > mx ? p[i] : mx;
  return mx;
}

size_t f32_exprow_ref(const float* p, float mx, float* q, size_t len, float lanes[8]) {
  for (int l = 0; l < 8; ++l) lanes[l] = 0.0f;
  size_t i = 0;
  for (; i + 8 <= len; i += 8)
    for (size_t l = 0; l < 8; ++l) {
      q[i + l] = ExpSoftmaxRef(p[i + l] - mx);
      lanes[l] += q[i + l];
    }
  return i;
}

bool Avx512() {
#if defined(EDGERT_KERNELS_X86)
  return CurrentF32GemmConfig()->isa == Isa::kAvx512Vnni;
#else
  return false;
#endif
}
bool Avx2() {
#if defined(EDGERT_KERNELS_X86)
  const Isa isa = CurrentF32GemmConfig()->isa;
  return isa == Isa::kAvx2 || isa == Isa::kAvxVnni;
#else
  return false;
#endif
}

}  // namespace

float SoftmaxRowMax(const float* p, size_t len) {
#if defined(EDGERT_KERNELS_X86)
  if (Avx512()) return f32_maxrow_avx512vnni(p, len);
  if (Avx2()) return f32_maxrow_avx2(p, len);
#endif
  return f32_maxrow_ref(p, len);
}

double SoftmaxRowExp(const float* p, float mx, float* q, size_t len) {
  float lanes[8];
  size_t i;
#if defined(EDGERT_KERNELS_X86)
  if (Avx512()) i = f32_exprow_avx512vnni(p, mx, q, len, lanes);
  else if (Avx2()) i = f32_exprow_avx2(p, mx, q, len, lanes);
  else
#endif
    i = f32_exprow_ref(p, mx, q, len, lanes);
  double sum = 0;
  for (float l : lanes) sum += l;
  for (; i < len; ++i) {
    q[i] = ExpSoftmaxRef(p[i] - mx);
    sum += q[i];
  }
  return sum;
}

}  // namespace edgert::kernels
