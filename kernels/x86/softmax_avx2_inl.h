// The softmax exp of 8 floats with AVX2+FMA (the operations of the specification in
// kernels/include/edgert/kernels/softmax.h, lane by lane). Internal linkage.
#pragma once

#include <cmath>
#include <cstddef>

#include "simd_prelude.h"
#include "edgert/kernels/softmax.h"
#include "edgert/kernels/softmax_consts.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

// exp(d) for 8 lanes of d = t - max: 0 where d < -80, NaN stays NaN.
EDGERT_INLINE __m256 ExpSoftmax8(__m256 d) {
  const __m256 keep = _mm256_cmp_ps(d, _mm256_set1_ps(kExpLowest), _CMP_NLT_UQ);  // d >= -80 or NaN
  const __m256 t = _mm256_fmadd_ps(d, _mm256_set1_ps(kExpLog2e), _mm256_set1_ps(kExpShifter));
  const __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(kExpShifter));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kExpLn2Hi), d);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kExpLn2Lo), r);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kExpC5), r, _mm256_set1_ps(kExpC4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256 two_n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
  return _mm256_and_ps(keep, _mm256_mul_ps(p, two_n));
}

// The 16 lanes lo (0-7) and hi (8-15) folded in halves: l + l+8, l + l+4, l + l+2, l + l+1.
EDGERT_INLINE float Fold16(__m256 lo, __m256 hi) {
  const __m256 h = _mm256_add_ps(lo, hi);
  __m128 g = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  g = _mm_add_ps(g, _mm_movehl_ps(g, g));
  g = _mm_add_ss(g, _mm_movehdup_ps(g));
  return _mm_cvtss_f32(g);
}

// The same fold of 16 lanes in memory, in scalar steps.
EDGERT_INLINE float Fold16(float* l) {
  for (size_t w = 8; w >= 1; w /= 2)
    for (size_t j = 0; j < w; ++j) l[j] = l[j] + l[j + w];
  return l[0];
}

// Pointers of one row of `a`: scores, mask values (null: no mask), output.
struct SoftmaxRow {
  const float* x;
  const float* m;
  float* y;
};

// Rows r0 .. r0 + R - 1 of `a`.
template <size_t R>
EDGERT_INLINE void SoftmaxRowsFrom(const ScaledSoftmaxArgs& a, size_t r0, SoftmaxRow (&row)[R]) {
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
    row[r] = {a.x + (r0 + r) * a.ldx, a.mask ? a.mask + (r0 + r) * a.mask_ld : nullptr, a.y + (r0 + r) * a.ldy};
  }
}

// Runs every row of `a` through Rows::Run<R, kDivide, kMask>(a, r0) — four rows in lockstep,
// then the rest one by one — with the scale mode and mask form (0 none, 1 a mask row, 2 one
// value per row) as template arguments, so that no pass tests them.
template <typename Rows, size_t R>
void SoftmaxRowsAt(const ScaledSoftmaxArgs& a, size_t r0) {
  const int mask = !a.mask ? 0 : a.mask_step != 0 ? 1 : 2;
  if (a.divide) {
    mask == 0 ? Rows::template Run<R, true, 0>(a, r0)
              : mask == 1 ? Rows::template Run<R, true, 1>(a, r0) : Rows::template Run<R, true, 2>(a, r0);
  } else {
    mask == 0 ? Rows::template Run<R, false, 0>(a, r0)
              : mask == 1 ? Rows::template Run<R, false, 1>(a, r0) : Rows::template Run<R, false, 2>(a, r0);
  }
}

template <typename Rows>
void SoftmaxAllRows(const ScaledSoftmaxArgs& a) {
  size_t r = 0;
  for (; r + 4 <= a.rows; r += 4) SoftmaxRowsAt<Rows, 4>(a, r);
  for (; r < a.rows; ++r) SoftmaxRowsAt<Rows, 1>(a, r);
}

EDGERT_INLINE float HMax8(__m256 v) {
  __m128 g = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  g = _mm_max_ps(g, _mm_movehl_ps(g, g));
  g = _mm_max_ss(g, _mm_movehdup_ps(g));
  return _mm_cvtss_f32(g);
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
