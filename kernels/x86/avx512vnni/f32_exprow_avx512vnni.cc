// Softmax row helpers with AVX-512: 16 exps per step, the same per-lane operations as the AVX2
// build, and the lane sums kept in the AVX2 build's order (each 16-step adds its low then its high
// 8 lanes to one 8-lane accumulator), so both give the same bits.
#include "../exp_row_avx2_inl.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {
inline __m512 ExpSoftmax16(__m512 p, __m512 vmx) {
  const __m512 lo = _mm512_set1_ps(kExpLowest);
  __m512 x = _mm512_sub_ps(p, vmx);
  const __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ);
  x = _mm512_max_ps(lo, x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kExpLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(kExpLn2Hi))),
                                 _mm512_mul_ps(n, _mm512_set1_ps(kExpLn2Lo)));
  __m512 pp = _mm512_set1_ps(kExpP0);
  pp = _mm512_fmadd_ps(pp, r, _mm512_set1_ps(kExpP1));
  pp = _mm512_fmadd_ps(pp, r, _mm512_set1_ps(kExpP2));
  pp = _mm512_fmadd_ps(pp, r, _mm512_set1_ps(kExpP3));
  pp = _mm512_fmadd_ps(pp, r, _mm512_set1_ps(kExpP4));
  pp = _mm512_fmadd_ps(pp, r, _mm512_set1_ps(kExpP5));
  pp = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(pp, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mov_ps(keep, _mm512_mul_ps(pp, _mm512_castsi512_ps(e)));
}
}  // namespace

float f32_maxrow_avx512vnni(const float* p, size_t len) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  size_t i = 0;
  for (; i + 16 <= len; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(p + i));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, m);
  float mx = lanes[0];
  for (int j = 1; j < 16; ++j) mx = lanes[j] > mx ? lanes[j] : mx;
  for (; i < len; ++i) mx = p[i] > mx ? p[i] : mx;
  return mx;
}

size_t f32_exprow_avx512vnni(const float* p, float mx, float* q, size_t len, float lanes[8]) {
  const __m512 vmx = _mm512_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const __m512 ev = ExpSoftmax16(_mm512_loadu_ps(p + i), vmx);
    _mm512_storeu_ps(q + i, ev);
    acc = _mm256_add_ps(acc, _mm512_castps512_ps256(ev));
    acc = _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(ev), 1)));
  }
  if (i + 8 <= len) {
    const __m256 ev = ExpSoftmax8(_mm256_loadu_ps(p + i), _mm256_set1_ps(mx));
    _mm256_storeu_ps(q + i, ev);
    acc = _mm256_add_ps(acc, ev);
    i += 8;
  }
  _mm256_storeu_ps(lanes, acc);
  return i;
}
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
