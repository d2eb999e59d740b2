// FP32 GEMM, AVX-512F: MR rows x 16 columns (one zmm per row), weights packed [K][16], A
// broadcast. Lives with the avx512vnni variant (built and dispatched together).
#pragma once

#include "../simd_prelude.h"
#include "edgert/kernels/internal.h"
#include "zmm_common_avx512vnni.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

template <int MR>
inline void F32GemmZmm(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                       const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  const float* ar[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) ar[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * lda;
  const float* w = static_cast<const float*>(panel);
  constexpr int kSets = MR == 1 ? 4 : (MR <= 8 ? 2 : 1);  // >= 8 independent FMA chains
  __m512 acc[kSets][MR];
  EDGERT_UNROLL for (int u = 0; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[u][r] = _mm512_setzero_ps();
  size_t kk = 0;
  for (; kk + kSets <= k; kk += kSets) {
    EDGERT_UNROLL for (int u = 0; u < kSets; ++u) {
      if (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(w + 16 * u) + EDGERT_M1_PREFETCH_BYTES, EDGERT_M1_PREFETCH_HINT);
      const __m512 wv = _mm512_loadu_ps(w + 16 * u);
      EDGERT_UNROLL for (int r = 0; r < MR; ++r)
        acc[u][r] = _mm512_fmadd_ps(_mm512_set1_ps(ar[r][kk + u]), wv, acc[u][r]);
    }
    w += 16 * kSets;
  }
  for (; kk < k; ++kk) {
    const __m512 wv = _mm512_loadu_ps(w);
    w += 16;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r)
      acc[0][r] = _mm512_fmadd_ps(_mm512_set1_ps(ar[r][kk]), wv, acc[0][r]);
  }
  EDGERT_UNROLL for (int u = 1; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[0][r] = _mm512_add_ps(acc[0][r], acc[u][r]);
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= mr) continue;
    __m512 y = acc[0][r];
    if (ep->bias) y = _mm512_add_ps(y, _mm512_loadu_ps(ep->bias));
    y = ClampZ(ep, y);
    if (nc == 16) {
      _mm512_storeu_ps(c + r * ldc, y);
    } else {
      _mm512_mask_storeu_ps(c + r * ldc, static_cast<uint16_t>((1u << nc) - 1), y);
    }
  }
}

// The k loop of the two-panel FP32 tile over rows given by `ra` (RowAddr for full tiles,
// RowPtrs for short ones).
template <int MR, int NP, typename Rows>
EDGERT_INLINE void F32StepsZmm(size_t k, const float* w, size_t pf, Rows ra, __m512 (&acc)[NP][MR]) {
  for (size_t kk = 0; kk < k; ++kk) {
    __m512 wv[NP];
    // The next column tile's panels (NP panels on) at the same k: weights that are not in the
    // cache yet (the first row tile of a column tile) arrive while this tile computes.
    EDGERT_UNROLL for (int j = 0; j < NP; ++j) _mm_prefetch(reinterpret_cast<const char*>(w + (NP + j) * pf), _MM_HINT_T0);
    EDGERT_UNROLL for (int j = 0; j < NP; ++j) wv[j] = _mm512_loadu_ps(w + j * pf);
    w += 16;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      const __m512 b = _mm512_set1_ps(*ra.Row(r));
      EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
        acc[j][r] = _mm512_fmadd_ps(b, wv[j], acc[j][r]);
        EDGERT_PIN_REG(acc[j][r]);
      }
    }
    ra.Advance(1);
  }
}

// Two-panel tile (MR rows x 32 columns) for M > 1: each A broadcast feeds two FMAs. The
// accumulation order of every output (k = 0, 1, ..., one chain) is the same with NP = 1 (used
// when nc <= 16), so results do not depend on which tile an output falls in.
template <int MR, int NP>
inline void F32GemmZmmNp(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                         const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  const float* w = static_cast<const float*>(panel);
  const size_t pf = 16 * k;  // floats per panel
  __m512 acc[NP][MR];
  EDGERT_UNROLL for (int j = 0; j < NP; ++j)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[j][r] = _mm512_setzero_ps();
  if (mr == static_cast<size_t>(MR)) {
    F32StepsZmm<MR, NP>(k, w, pf, RowAddr<MR, float>(a, lda), acc);
  } else {
    F32StepsZmm<MR, NP>(k, w, pf, RowPtrs<MR, float>(a, lda, mr), acc);
  }
  EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
    const size_t ncj = j == 0 ? (nc < 16 ? nc : 16) : nc - 16;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      if (static_cast<size_t>(r) >= mr) continue;
      __m512 y = acc[j][r];
      if (ep->bias) y = _mm512_add_ps(y, _mm512_loadu_ps(ep->bias + 16 * j));
      y = ClampZ(ep, y);
      if (ncj == 16) {
        _mm512_storeu_ps(c + r * ldc + 16 * j, y);
      } else {
        _mm512_mask_storeu_ps(c + r * ldc + 16 * j, static_cast<uint16_t>((1u << ncj) - 1), y);
      }
    }
  }
}

template <int MR>
inline void F32GemmZmm2(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                        const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  // A short last row block runs the next smaller tile (8 or 4 rows), as the qc8w kernel does.
  if constexpr (MR > 8) {
    if (mr <= 8) return F32GemmZmm2<8>(mr, nc, k, a, lda, panel, ep, c, ldc);
  }
  if constexpr (MR > 4) {
    if (mr <= 4) return F32GemmZmm2<4>(mr, nc, k, a, lda, panel, ep, c, ldc);
  }
  if (nc > 16) return F32GemmZmmNp<MR, 2>(mr, nc, k, a, lda, panel, ep, c, ldc);
  return F32GemmZmmNp<MR, 1>(mr, nc, k, a, lda, panel, ep, c, ldc);
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
