// FP32 GEMM, AVX2 + FMA: MR rows x 16 columns, weights packed [K][16] (one panel), A broadcast.
// Float paths are tested against the reference with a tolerance (summation order differs).
#pragma once

#include "../simd_prelude.h"
#include "edgert/kernels/internal.h"
#include "ymm_common_avx2.h"

namespace edgert::kernels {
namespace {

template <int MR>
inline void F32GemmYmm(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                       const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  const float* ar[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) ar[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * lda;
  const float* w = static_cast<const float*>(panel);
  constexpr int kSets = MR == 1 ? 4 : 1;  // weight streaming: hide FMA latency
  __m256 acc[kSets][MR][2];
  EDGERT_UNROLL for (int u = 0; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[u][r][0] = acc[u][r][1] = _mm256_setzero_ps();
  size_t kk = 0;
  const size_t pf = 16 * k;  // floats per panel
  for (; kk + kSets <= k; kk += kSets) {
    if (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(w) + EDGERT_M1_PREFETCH_BYTES, EDGERT_M1_PREFETCH_HINT);
    // M > 1: the next column tile's panel at the same k (it is the next call's weights; cold ones
    // arrive while this tile computes), one cache line per k step.
    if (MR > 1) _mm_prefetch(reinterpret_cast<const char*>(w + pf), _MM_HINT_T0);
    EDGERT_UNROLL for (int u = 0; u < kSets; ++u) {
      const __m256 w0 = _mm256_loadu_ps(w + 16 * u), w1 = _mm256_loadu_ps(w + 16 * u + 8);
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
        const __m256 va = _mm256_broadcast_ss(ar[r] + kk + u);
        acc[u][r][0] = _mm256_fmadd_ps(va, w0, acc[u][r][0]);
        acc[u][r][1] = _mm256_fmadd_ps(va, w1, acc[u][r][1]);
      }
    }
    w += 16 * kSets;
  }
  for (; kk < k; ++kk) {
    const __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
    w += 16;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      const __m256 va = _mm256_broadcast_ss(ar[r] + kk);
      acc[0][r][0] = _mm256_fmadd_ps(va, w0, acc[0][r][0]);
      acc[0][r][1] = _mm256_fmadd_ps(va, w1, acc[0][r][1]);
    }
  }
  EDGERT_UNROLL for (int u = 1; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      acc[0][r][0] = _mm256_add_ps(acc[0][r][0], acc[u][r][0]);
      acc[0][r][1] = _mm256_add_ps(acc[0][r][1], acc[u][r][1]);
    }
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= mr) continue;
    __m256 y0 = acc[0][r][0], y1 = acc[0][r][1];
    if (ep->bias) {
      y0 = _mm256_add_ps(y0, _mm256_loadu_ps(ep->bias));
      y1 = _mm256_add_ps(y1, _mm256_loadu_ps(ep->bias + 8));
    }
    if (ep->clamp) {
      y0 = ClampY(ep, y0);
      y1 = ClampY(ep, y1);
    }
    float* cr = c + r * ldc;
    if (nc == 16) {
      _mm256_storeu_ps(cr, y0);
      _mm256_storeu_ps(cr + 8, y1);
    } else {
      float t[16];
      _mm256_storeu_ps(t, y0);
      _mm256_storeu_ps(t + 8, y1);
      std::memcpy(cr, t, nc * sizeof(float));
    }
  }
}

}  // namespace
}  // namespace edgert::kernels
