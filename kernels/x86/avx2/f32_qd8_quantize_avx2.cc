// Dynamic per-row activation quantization, AVX2 (helpers and the bit-exactness argument:
// kernels/x86/qd8_quantize_avx2_inl.h).
#include "../qd8_quantize_avx2_inl.h"

namespace edgert::kernels {

// Rows in groups of 8: min/max per row, the 8 rows' parameters in one vector step, then each
// row's quantization.
void f32_qd8_quantize_avx2(size_t m, size_t k, const float* a, size_t lda, int32_t qmax,
                           uint8_t* q, size_t q_stride, QRowParams* params) {
  for (size_t i0 = 0; i0 < m; i0 += 8) {
    const size_t g = m - i0 < 8 ? m - i0 : 8;
    alignas(32) float mn[8], mx[8], scale[8], inv[8];
    alignas(32) int32_t zp[8];
    RowsMinMax8(a + i0 * lda, lda, g, k, mn, mx);
    RowParams8(mn, mx, qmax, scale, inv, zp);
    for (size_t t = 0; t < g; ++t) {
      params[i0 + t].scale = scale[t];
      params[i0 + t].zero_point = zp[t];
      QuantizeRow(a + (i0 + t) * lda, k, inv[t], zp[t], qmax, q + (i0 + t) * q_stride, q_stride);
    }
  }
}

}  // namespace edgert::kernels
