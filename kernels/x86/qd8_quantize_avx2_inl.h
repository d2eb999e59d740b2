// AVX2 pieces of the dynamic per-row activation quantizer, shared by the AVX2 and AVX-512 builds
// (the latter for its parameters and row tails). Bit-identical to QuantizeRowsRef: min/max are
// exact in any order, the parameters are ComputeQRowParams computed for 8 rows at once with the
// same IEEE operations (RowParams8), and cvtps_epi32 (round to nearest even) + saturating packs
// equal QuantizeOne. Internal linkage: included by TUs compiled with different flags.
#pragma once

#include "simd_prelude.h"
#include "../src/qparams.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {


// Row min/max accumulators (both start at 0: the range always includes 0, as in the reference);
// the row's min/max are the lane min/max of *vmn / *vmx.
inline void RowMinMaxAcc(const float* x, size_t k, __m256* vmn_out, __m256* vmx_out) {
  __m256 vmn0 = _mm256_setzero_ps(), vmx0 = _mm256_setzero_ps();
  __m256 vmn1 = vmn0, vmx1 = vmx0;
  size_t j = 0;
  // min_ps(x, acc) returns acc when x is NaN: NaNs are ignored, as in the reference.
  for (; j + 16 <= k; j += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
    vmn0 = _mm256_min_ps(x0, vmn0);
    vmx0 = _mm256_max_ps(x0, vmx0);
    vmn1 = _mm256_min_ps(x1, vmn1);
    vmx1 = _mm256_max_ps(x1, vmx1);
  }
  // Tails: 8 at a time, then a masked load whose zero lanes cannot change min/max (both
  // start at 0). Rows are short in convolutions (16-320 channels), so tails matter.
  for (; j + 8 <= k; j += 8) {
    const __m256 x0 = _mm256_loadu_ps(x + j);
    vmn0 = _mm256_min_ps(x0, vmn0);
    vmx0 = _mm256_max_ps(x0, vmx0);
  }
  if (j < k) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k - j)), lane);
    const __m256 x0 = _mm256_maskload_ps(x + j, mask);
    vmn1 = _mm256_min_ps(x0, vmn1);
    vmx1 = _mm256_max_ps(x0, vmx1);
  }
  *vmn_out = _mm256_min_ps(vmn0, vmn1);
  *vmx_out = _mm256_max_ps(vmx0, vmx1);
}

// Lane t of the result: the min (kMax: max) over the 8 lanes of v[t]. Pairwise steps like
// vhaddps's: 21 operations for 8 rows instead of 7 per row.
template <bool kMax>
EDGERT_INLINE __m256 Reduce8Rows(const __m256 (&v)[8]) {
  auto op = [](__m256 a, __m256 b) EDGERT_INLINE_LAMBDA { return kMax ? _mm256_max_ps(a, b) : _mm256_min_ps(a, b); };
  // Per 128-bit half: [f(a0,a1), f(a2,a3), f(b0,b1), f(b2,b3)].
  auto pair = [&](__m256 a, __m256 b) EDGERT_INLINE_LAMBDA {
    return op(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  };
  const __m256 u0 = pair(pair(v[0], v[1]), pair(v[2], v[3]));  // halves: rows 0-3 of lanes 0-3 | 4-7
  const __m256 u1 = pair(pair(v[4], v[5]), pair(v[6], v[7]));
  return op(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Min/max of g <= 8 rows (lda floats apart) into mn[0, 8) / mx[0, 8) (rows past g: 0).
inline void RowsMinMax8(const float* a, size_t lda, size_t g, size_t k, float* mn, float* mx) {
  __m256 vmn[8], vmx[8];
  for (size_t t = 0; t < 8; ++t) {
    if (t < g) {
      RowMinMaxAcc(a + t * lda, k, &vmn[t], &vmx[t]);
    } else {
      vmn[t] = vmx[t] = _mm256_setzero_ps();
    }
  }
  _mm256_storeu_ps(mn, Reduce8Rows<false>(vmn));
  _mm256_storeu_ps(mx, Reduce8Rows<true>(vmx));
}

// ComputeQRowParams for 8 rows at once, the same IEEE operations lane by lane (divisions are
// correctly rounded, nearbyint = round to nearest even, ordered compares send NaN the same way):
// one vdivps pair per 8 rows instead of a scalar divss pair per row (short conv rows spent a
// third of their quantization time there).
inline void RowParams8(const float* mn, const float* mx, int32_t qmax, float* scale, float* inv,
                       int32_t* zp) {
  const __m256 vmn = _mm256_loadu_ps(mn), vmx = _mm256_loadu_ps(mx);
  const __m256 qmaxf = _mm256_set1_ps(static_cast<float>(qmax));
  const __m256 range = _mm256_sub_ps(vmx, vmn);
  const __m256 valid = _mm256_cmp_ps(range, _mm256_set1_ps(0x1p-100f), _CMP_GT_OQ);
  const __m256 vinv = _mm256_and_ps(valid, _mm256_div_ps(qmaxf, range));
  const __m256 vscale = _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(range, qmaxf), valid);
  const __m256 neg_mn = _mm256_xor_ps(vmn, _mm256_set1_ps(-0.0f));
  __m256 zf = _mm256_round_ps(_mm256_mul_ps(neg_mn, vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  zf = _mm256_and_ps(_mm256_cmp_ps(zf, _mm256_setzero_ps(), _CMP_GE_OQ), zf);  // !(zf >= 0) -> 0
  zf = _mm256_blendv_ps(zf, qmaxf, _mm256_cmp_ps(zf, qmaxf, _CMP_GT_OQ));
  const __m256i vzp = _mm256_and_si256(_mm256_castps_si256(valid), _mm256_cvttps_epi32(zf));
  _mm256_storeu_ps(scale, vscale);
  _mm256_storeu_ps(inv, vinv);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(zp), vzp);
}

// Quantizes x[j0, k) of a row (j0 a multiple of 8 from a wider build's main loop, or 0).
inline void QuantizeRow(const float* x, size_t k, float inv, int32_t zp, int32_t qmax, uint8_t* qi,
                        size_t q_stride, size_t j0 = 0) {
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i vzp = _mm256_set1_epi32(zp);
  const __m256i vqmax = _mm256_set1_epi8(static_cast<char>(qmax));
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  // The padding [k, q_stride) is 0 (the GEMMs read K rounded up): it lies in the row's last 64
  // bytes, at or after j0, so zero those before the values go in (a memset call per row was a
  // tenth of short conv rows' quantization).
  if (q_stride > k) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qi + q_stride - 64), _mm256_setzero_si256());
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qi + q_stride - 32), _mm256_setzero_si256());
  }
  size_t j = j0;
  for (; j + 32 <= k; j += 32) {
    __m256i v0 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv)), vzp);
    __m256i v1 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vinv)), vzp);
    __m256i v2 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), vinv)), vzp);
    __m256i v3 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), vinv)), vzp);
    const __m256i w01 = _mm256_packs_epi32(v0, v1);  // lanes: v0lo v1lo | v0hi v1hi
    const __m256i w23 = _mm256_packs_epi32(v2, v3);
    __m256i b = _mm256_packus_epi16(w01, w23);  // v0lo v1lo v2lo v3lo | v0hi v1hi v2hi v3hi
    b = _mm256_permutevar8x32_epi32(b, perm);
    b = _mm256_min_epu8(b, vqmax);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qi + j), b);
  }
  // 8 at a time: the same convert, add, saturating packs and min as the 32-wide loop.
  for (; j + 8 <= k; j += 8) {
    const __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv)), vzp);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i b = _mm_min_epu8(_mm_packus_epi16(w, w), _mm256_castsi256_si128(vqmax));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(qi + j), b);
  }
  for (; j < k; ++j) qi[j] = QuantizeOne(x[j], inv, zp, qmax);
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
