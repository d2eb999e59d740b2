// Dynamic per-row activation quantization, AVX-512: the AVX2 build's operations 16 lanes wide
// (min/max, cvtps2dq + zero point, saturating packs, min qmax; the packs work within 128-bit
// lanes and one vpermd restores the element order), the same per-8-row parameters and the AVX2
// code for each row's last k % 64 elements: the same bits as QuantizeRowsRef.
#include "../qd8_quantize_avx2_inl.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

// Row min/max (both start at 0, as in the reference). min_ps(x, acc) returns acc when x is NaN:
// NaNs are ignored. Zero lanes of the masked tail load cannot change the result.
inline void RowMinMax16(const float* x, size_t k, float* mn_out, float* mx_out) {
  __m512 vmn0 = _mm512_setzero_ps(), vmx0 = _mm512_setzero_ps(), vmn1 = vmn0, vmx1 = vmx0;
  size_t j = 0;
  for (; j + 32 <= k; j += 32) {
    const __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
    vmn0 = _mm512_min_ps(x0, vmn0);
    vmx0 = _mm512_max_ps(x0, vmx0);
    vmn1 = _mm512_min_ps(x1, vmn1);
    vmx1 = _mm512_max_ps(x1, vmx1);
  }
  for (; j < k; j += 16) {
    const __m512 x0 = k - j >= 16 ? _mm512_loadu_ps(x + j)
                                  : _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (k - j)) - 1), x + j);
    vmn0 = _mm512_min_ps(x0, vmn0);
    vmx0 = _mm512_max_ps(x0, vmx0);
  }
  alignas(64) float lo[16], hi[16];
  _mm512_store_ps(lo, _mm512_min_ps(vmn0, vmn1));
  _mm512_store_ps(hi, _mm512_max_ps(vmx0, vmx1));
  float mn = lo[0], mx = hi[0];
  for (int t = 1; t < 16; ++t) {
    mn = lo[t] < mn ? lo[t] : mn;
    mx = hi[t] > mx ? hi[t] : mx;
  }
  *mn_out = mn;
  *mx_out = mx;
}

inline void QuantizeRow16(const float* x, size_t k, float inv, int32_t zp, int32_t qmax, uint8_t* qi,
                          size_t q_stride) {
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i vzp = _mm512_set1_epi32(zp);
  const __m512i vqmax = _mm512_set1_epi8(static_cast<char>(qmax));
  // After the in-lane packs, 128-bit lane L holds dwords (4 bytes each) v0[L], v1[L], v2[L], v3[L].
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  size_t j = 0;
  for (; j + 64 <= k; j += 64) {
    const __m512i v0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), vinv)), vzp);
    const __m512i v1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j + 16), vinv)), vzp);
    const __m512i v2 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j + 32), vinv)), vzp);
    const __m512i v3 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j + 48), vinv)), vzp);
    const __m512i b = _mm512_packus_epi16(_mm512_packs_epi32(v0, v1), _mm512_packs_epi32(v2, v3));
    _mm512_storeu_si512(qi + j, _mm512_min_epu8(_mm512_permutexvar_epi32(order, b), vqmax));
  }
  QuantizeRow(x, k, inv, zp, qmax, qi, q_stride, j);  // the last k % 64 (8-wide and scalar)
}

}  // namespace

void f32_qd8_quantize_avx512vnni(size_t m, size_t k, const float* a, size_t lda, int32_t qmax, uint8_t* q,
                                 size_t q_stride, QRowParams* params) {
  for (size_t i0 = 0; i0 < m; i0 += 8) {
    const size_t g = m - i0 < 8 ? m - i0 : 8;
    alignas(32) float mn[8] = {}, mx[8] = {}, scale[8], inv[8];
    alignas(32) int32_t zp[8];
    // Short rows (convolutions: 16-320 channels, many rows) take the AVX2 min/max with the
    // 8 rows' horizontal steps shared, cheaper than this build's pass through memory.
    if (k >= 128) {
      for (size_t t = 0; t < g; ++t) RowMinMax16(a + (i0 + t) * lda, k, &mn[t], &mx[t]);
    } else {
      RowsMinMax8(a + i0 * lda, lda, g, k, mn, mx);
    }
    RowParams8(mn, mx, qmax, scale, inv, zp);
    for (size_t t = 0; t < g; ++t) {
      params[i0 + t].scale = scale[t];
      params[i0 + t].zero_point = zp[t];
      QuantizeRow16(a + (i0 + t) * lda, k, inv[t], zp[t], qmax, q + (i0 + t) * q_stride, q_stride);
    }
  }
}
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
