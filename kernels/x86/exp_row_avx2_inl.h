// The softmax exp of 8 floats with AVX2+FMA (see kernels/src/softmax.cc for the math). Shared by
// the AVX2 and AVX-512 builds (the latter for its last 8-element chunk) so that every variant
// computes the same bits. Internal linkage: included by TUs compiled with different flags.
#pragma once

#include <cmath>
#include <cstddef>

#include "simd_prelude.h"
#include "edgert/kernels/softmax_consts.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

// exp(p - mx) for 8 lanes: 0 where p - mx < -80, NaN stays NaN.
inline __m256 ExpSoftmax8(__m256 p, __m256 vmx) {
  const __m256 lo = _mm256_set1_ps(kExpLowest);
  __m256 x = _mm256_sub_ps(p, vmx);
  const __m256 keep = _mm256_cmp_ps(x, lo, _CMP_NLT_UQ);  // x >= -80 or NaN
  x = _mm256_max_ps(lo, x);  // max_ps returns its 2nd operand when either is NaN: NaN stays NaN
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kExpLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(kExpLn2Hi))),
                                 _mm256_mul_ps(n, _mm256_set1_ps(kExpLn2Lo)));
  __m256 pp = _mm256_set1_ps(kExpP0);
  pp = _mm256_fmadd_ps(pp, r, _mm256_set1_ps(kExpP1));
  pp = _mm256_fmadd_ps(pp, r, _mm256_set1_ps(kExpP2));
  pp = _mm256_fmadd_ps(pp, r, _mm256_set1_ps(kExpP3));
  pp = _mm256_fmadd_ps(pp, r, _mm256_set1_ps(kExpP4));
  pp = _mm256_fmadd_ps(pp, r, _mm256_set1_ps(kExpP5));
  pp = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(pp, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(pp, _mm256_castsi256_ps(e)));
}

inline float MaxRow8(const float* p, size_t len, size_t* done) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(p + i));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float mx = lanes[0];
  for (int j = 1; j < 8; ++j) mx = lanes[j] > mx ? lanes[j] : mx;
  *done = i;
  return mx;
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
