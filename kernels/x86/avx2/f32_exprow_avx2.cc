// Softmax row helpers with AVX2+FMA: row max, exp(p - max) with the row sum (softmax.cc).
#include "../exp_row_avx2_inl.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
float f32_maxrow_avx2(const float* p, size_t len) {
  size_t i;
  float mx = MaxRow8(p, len, &i);
  for (; i < len; ++i) mx = p[i] > mx ? p[i] : mx;
  return mx;
}

// Writes exp for the first 8·floor(len/8) entries and their 8 float lane sums; returns the count.
size_t f32_exprow_avx2(const float* p, float mx, float* q, size_t len, float lanes[8]) {
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    const __m256 ev = ExpSoftmax8(_mm256_loadu_ps(p + i), vmx);
    _mm256_storeu_ps(q + i, ev);
    acc = _mm256_add_ps(acc, ev);
  }
  _mm256_storeu_ps(lanes, acc);
  return i;
}
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
