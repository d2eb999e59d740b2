// qd8 GEMM micro-kernels, AVX-512 VNNI (512-bit, 16 columns = one zmm). Anonymous namespace:
// one private copy per translation unit.
//   qc8w: c4 packing, a 64-byte load is 16 columns x 4 k; vpdpbusd with a 4-byte broadcast of A.
//   qb4w: a 64-byte step is 16 columns x 8 k as nibbles; low nibbles = k 0-3, high = k 4-7, each
//         in the c4 layout of all 16 columns; minus zu, then vpdpbusd.
// Output stages are the same float operations as the reference, in the same order.
#pragma once

#include "../simd_prelude.h"
#include "edgert/kernels/internal.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

inline __m512i Bcast32Z(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline __m512 ClampZ(const QEpilogue* ep, __m512 y) {
  if (!ep->clamp) return y;
  return _mm512_min_ps(_mm512_max_ps(y, _mm512_set1_ps(ep->clamp_lo)), _mm512_set1_ps(ep->clamp_hi));
}

inline void StoreRowZ(float* c, size_t nc, __m512 y) {
  if (nc == 16) {
    _mm512_storeu_ps(c, y);
  } else {
    _mm512_mask_storeu_ps(c, static_cast<uint16_t>((1u << nc) - 1), y);
  }
}

template <int MR>
inline void Qc8wGemmZmm(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                        const QRowParams* rows, const void* panel, const QEpilogue* ep, float* c,
                        size_t ldc) {
  const uint8_t* ar[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r)
    ar[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * a_stride;
  const uint8_t* w = static_cast<const uint8_t*>(panel) + 128;
  constexpr int kSets = MR == 1 ? 4 : 1;  // hide vpdpbusd latency when streaming weights
  __m512i acc[kSets][MR];
  EDGERT_UNROLL for (int u = 0; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[u][r] = _mm512_setzero_si512();
  const size_t k4 = (k + 3) / 4;
  size_t s = 0;
  for (; s + kSets <= k4; s += kSets) {
    EDGERT_UNROLL for (int u = 0; u < kSets; ++u) {
      if (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(w) + 64 * u + EDGERT_M1_PREFETCH_BYTES, EDGERT_M1_PREFETCH_HINT);
      const __m512i wv = _mm512_loadu_si512(w + 64 * u);
      EDGERT_UNROLL for (int r = 0; r < MR; ++r)
        acc[u][r] = _mm512_dpbusd_epi32(acc[u][r], Bcast32Z(ar[r] + 4 * (s + u)), wv);
    }
    w += 64 * kSets;
  }
  for (; s < k4; ++s) {
    const __m512i wv = _mm512_loadu_si512(w);
    w += 64;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r)
      acc[0][r] = _mm512_dpbusd_epi32(acc[0][r], Bcast32Z(ar[r] + 4 * s), wv);
  }
  EDGERT_UNROLL for (int u = 1; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[0][r] = _mm512_add_epi32(acc[0][r], acc[u][r]);

  const float* scale = static_cast<const float*>(panel);
  const __m512i cs = _mm512_loadu_si512(static_cast<const uint8_t*>(panel) + 64);
  const __m512 sc = _mm512_loadu_ps(scale);
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= mr) continue;
    const __m512i v = _mm512_sub_epi32(acc[0][r], _mm512_mullo_epi32(_mm512_set1_epi32(rows[r].zero_point), cs));
    if (ep->acc) {
      _mm512_mask_storeu_epi32(ep->acc + r * ep->acc_stride, static_cast<uint16_t>((1u << nc) - 1), v);
      continue;
    }
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(_mm512_set1_ps(rows[r].scale), sc));
    if (ep->bias) y = _mm512_add_ps(y, _mm512_loadu_ps(ep->bias));
    StoreRowZ(c + r * ldc, nc, ClampZ(ep, y));
  }
}

template <int MR, bool kF16, bool kAsym>
inline void Qb4wGemmZmmT(size_t mr, size_t nc, size_t k, size_t block, const uint8_t* a,
                         size_t a_stride, const QRowParams* rows, const void* panel,
                         const QEpilogue* ep, float* c, size_t ldc) {
  const uint8_t* ar[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r)
    ar[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * a_stride;
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  const __m512 wcorr = _mm512_loadu_ps(reinterpret_cast<const float*>(p));
  p += 64;
  __m512 y[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) y[r] = _mm512_setzero_ps();
  const __m512i mask = _mm512_set1_epi8(0x0F);
  for (size_t kb = 0; kb < k; kb += block) {
    const size_t len = k - kb < block ? k - kb : block;
    const size_t steps = (len + 7) / 8;
    __m512 sc;
    if (kF16) {
      sc = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
      p += 32;
    } else {
      sc = _mm512_loadu_ps(reinterpret_cast<const float*>(p));
      p += 64;
    }
    __m512i zu;
    if (kAsym) {
      zu = _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
                              _mm512_set1_epi32(0x01010101));
      p += 16;
    } else {
      zu = _mm512_set1_epi8(8);
    }
    // Two accumulators per row (low / high nibbles); with MR == 1 also two step parities.
    constexpr int kPar = MR == 1 ? 2 : 1;
    __m512i lo[kPar][MR], hi[kPar][MR];
    EDGERT_UNROLL for (int u = 0; u < kPar; ++u)
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) lo[u][r] = hi[u][r] = _mm512_setzero_si512();
    size_t s = 0;
    for (; s + kPar <= steps; s += kPar) {
      EDGERT_UNROLL for (int u = 0; u < kPar; ++u) {
        if (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(p) + (s + u) * 64 + EDGERT_M1_PREFETCH_BYTES_INT4, EDGERT_M1_PREFETCH_HINT);
        const __m512i wb = _mm512_loadu_si512(p + (s + u) * 64);
        const __m512i wlo = _mm512_sub_epi8(_mm512_and_si512(wb, mask), zu);
        const __m512i whi = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(wb, 4), mask), zu);
        EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
          const uint8_t* ap = ar[r] + kb + 8 * (s + u);
          lo[u][r] = _mm512_dpbusd_epi32(lo[u][r], Bcast32Z(ap), wlo);
          hi[u][r] = _mm512_dpbusd_epi32(hi[u][r], Bcast32Z(ap + 4), whi);
        }
      }
    }
    for (; s < steps; ++s) {
      const __m512i wb = _mm512_loadu_si512(p + s * 64);
      const __m512i wlo = _mm512_sub_epi8(_mm512_and_si512(wb, mask), zu);
      const __m512i whi = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(wb, 4), mask), zu);
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
        const uint8_t* ap = ar[r] + kb + 8 * s;
        lo[0][r] = _mm512_dpbusd_epi32(lo[0][r], Bcast32Z(ap), wlo);
        hi[0][r] = _mm512_dpbusd_epi32(hi[0][r], Bcast32Z(ap + 4), whi);
      }
    }
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      __m512i d = _mm512_add_epi32(lo[0][r], hi[0][r]);
      EDGERT_UNROLL for (int u = 1; u < kPar; ++u) d = _mm512_add_epi32(d, _mm512_add_epi32(lo[u][r], hi[u][r]));
      y[r] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(d), y[r]);
    }
    p += steps * 64;
  }
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= mr) continue;
    const __m512 zp = _mm512_set1_ps(static_cast<float>(rows[r].zero_point));
    __m512 o = _mm512_mul_ps(_mm512_fnmadd_ps(zp, wcorr, y[r]), _mm512_set1_ps(rows[r].scale));
    if (ep->bias) o = _mm512_add_ps(o, _mm512_loadu_ps(ep->bias));
    StoreRowZ(c + r * ldc, nc, ClampZ(ep, o));
  }
}

template <int MR>
inline void Qb4wGemmZmm(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                        const uint8_t* a, size_t a_stride, const QRowParams* rows,
                        const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  switch (flags & (kQb4wScalesF16 | kQb4wAsym)) {
    case 0:
      return Qb4wGemmZmmT<MR, false, false>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    case kQb4wScalesF16:
      return Qb4wGemmZmmT<MR, true, false>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    case kQb4wAsym:
      return Qb4wGemmZmmT<MR, false, true>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    default:
      return Qb4wGemmZmmT<MR, true, true>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
  }
}

// ---- two-panel tiles (MR rows x 32 columns) for M > 1 ----
// Each A broadcast feeds NP = 2 vpdpbusd (one per 16-column panel): half the broadcast loads per
// multiply of the one-panel tile, and 2·MR independent accumulator chains (vpdpbusd has a
// latency of ~5 cycles at 2 per cycle, so >= 10 chains are needed). With nc <= 16 only the first
// panel is read (NP = 1 instantiation). The per-output arithmetic is that of the one-panel
// kernels: int32 sums are exact, float operations are the same and in the same order.

// The k loop of the two-panel qc8w tile over rows given by `ra` (RowAddr for full tiles,
// RowPtrs for short ones).
template <int MR, int NP, typename Rows, bool kPrefetch = false>
EDGERT_INLINE void Qc8wStepsZmm(size_t k4, const uint8_t* w, size_t pb, Rows ra, __m512i (&acc)[NP][MR],
                                const uint8_t* pf = nullptr) {
  for (size_t s = 0; s < k4; ++s) {
    if constexpr (kPrefetch) {
      EDGERT_UNROLL for (int j = 0; j < NP; ++j) _mm_prefetch(reinterpret_cast<const char*>(pf + j * pb), _MM_HINT_T0);
      pf += 64;
    }
    __m512i wv[NP];
    EDGERT_UNROLL for (int j = 0; j < NP; ++j) wv[j] = _mm512_loadu_si512(w + j * pb);
    w += 64;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      const __m512i b = Bcast32Z(ra.Row(r));
      EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
        acc[j][r] = _mm512_dpbusd_epi32(acc[j][r], b, wv[j]);
        EDGERT_PIN_REG(acc[j][r]);
      }
    }
    ra.Advance(4);
  }
}

template <int MR, int NP>
inline void Qc8wGemmZmmNp(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                          const QRowParams* rows, const void* panel, const QEpilogue* ep,
                          float* c, size_t ldc) {
  const size_t pb = Qc8wPanelBytes(k);
  const uint8_t* w = static_cast<const uint8_t*>(panel) + 128;
  __m512i acc[NP][MR];
  EDGERT_UNROLL for (int j = 0; j < NP; ++j)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[j][r] = _mm512_setzero_si512();
  const size_t k4 = (k + 3) / 4;
  if (mr == static_cast<size_t>(MR)) {
    if (ep->prefetch) {
      // The next tile's weights (its panels' headers come with the first steps' lines).
      const uint8_t* pf = static_cast<const uint8_t*>(ep->prefetch) + 128;
      Qc8wStepsZmm<MR, NP, RowAddr<MR, uint8_t>, true>(k4, w, pb, RowAddr<MR, uint8_t>(a, a_stride), acc, pf);
    } else {
      Qc8wStepsZmm<MR, NP>(k4, w, pb, RowAddr<MR, uint8_t>(a, a_stride), acc);
    }
  } else {
    Qc8wStepsZmm<MR, NP>(k4, w, pb, RowPtrs<MR, uint8_t>(a, a_stride, mr), acc);
  }
  EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
    const uint8_t* pj = static_cast<const uint8_t*>(panel) + j * pb;
    const size_t ncj = j == 0 ? (nc < 16 ? nc : 16) : nc - 16;
    const __m512i cs = _mm512_loadu_si512(pj + 64);
    const __m512 sc = _mm512_loadu_ps(reinterpret_cast<const float*>(pj));
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      if (static_cast<size_t>(r) >= mr) continue;
      const __m512i v = _mm512_sub_epi32(acc[j][r], _mm512_mullo_epi32(_mm512_set1_epi32(rows[r].zero_point), cs));
      if (ep->acc) {
        _mm512_mask_storeu_epi32(ep->acc + r * ep->acc_stride + 16 * j, static_cast<uint16_t>((1u << ncj) - 1), v);
        continue;
      }
      __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(_mm512_set1_ps(rows[r].scale), sc));
      if (ep->bias) y = _mm512_add_ps(y, _mm512_loadu_ps(ep->bias + 16 * j));
      StoreRowZ(c + r * ldc + 16 * j, ncj, ClampZ(ep, y));
    }
  }
}

template <int MR>
inline void Qc8wGemmZmm2(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                         const QRowParams* rows, const void* panel, const QEpilogue* ep, float* c,
                         size_t ldc) {
  // A short last row block runs the next smaller tile (8 or 4 rows): its full-tile path, and no
  // work on duplicated rows. Per-output arithmetic does not depend on the tile height.
  if constexpr (MR > 8) {
    if (mr <= 8) return Qc8wGemmZmm2<8>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc);
  }
  if constexpr (MR > 4) {
    if (mr <= 4) return Qc8wGemmZmm2<4>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc);
  }
  if (nc > 16) return Qc8wGemmZmmNp<MR, 2>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc);
  return Qc8wGemmZmmNp<MR, 1>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc);
}

// qb4w: the low- and high-nibble products of a step go into one int32 accumulator per row and
// panel (the block's dot product is an exact int32 sum either way); the float block sums y are
// touched once per block. They live in memory: 2·NP·MR accumulators (int32 per block + float) do
// not fit 32 zmm registers, and leaving the choice to the compiler spilled and shuffled the int32
// accumulators inside the step loop. The block's scales are loaded after its step loop for the
// same reason.
template <int MR, int NP, bool kF16, bool kAsym, typename Rows>
EDGERT_INLINE void Qb4wBlocksZmm(size_t k, size_t block, Rows rows_at, const uint8_t* p,
                                 size_t pb, float (*y)[MR][16]) {
  const __m512i mask = _mm512_set1_epi8(0x0F);
  for (size_t kb = 0; kb < k; kb += block) {
    const size_t len = k - kb < block ? k - kb : block;
    const size_t steps = (len + 7) / 8;
    const uint8_t* sp = p;  // the block's scales (and zero points) in each panel
    __m512i zu[NP];
    EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
      if (kAsym) {
        const uint8_t* q = sp + j * pb + (kF16 ? 32 : 64);
        zu[j] = _mm512_mullo_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))),
                                   _mm512_set1_epi32(0x01010101));
      } else {
        zu[j] = _mm512_set1_epi8(8);
      }
    }
    p += (kF16 ? 32 : 64) + (kAsym ? 16 : 0);
    __m512i acc[NP][MR];
    EDGERT_UNROLL for (int j = 0; j < NP; ++j)
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[j][r] = _mm512_setzero_si512();
    auto step = [&](size_t s) EDGERT_INLINE_LAMBDA {
      __m512i wlo[NP], whi[NP];
      EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
        const __m512i wb = _mm512_loadu_si512(p + j * pb + s * 64);
        wlo[j] = _mm512_sub_epi8(_mm512_and_si512(wb, mask), zu[j]);
        whi[j] = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(wb, 4), mask), zu[j]);
      }
      // Low nibbles of every row, then high nibbles: the int32 sums are the same in any order.
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
        const __m512i b0 = Bcast32Z(rows_at(r) + kb + 8 * s);
        EDGERT_UNROLL for (int j = 0; j < NP; ++j) acc[j][r] = _mm512_dpbusd_epi32(acc[j][r], b0, wlo[j]);
      }
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
        const __m512i b1 = Bcast32Z(rows_at(r) + kb + 8 * s + 4);
        EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
          acc[j][r] = _mm512_dpbusd_epi32(acc[j][r], b1, whi[j]);
          EDGERT_PIN_REG(acc[j][r]);
        }
      }
    };
    for (size_t s = 0; s < steps; ++s) step(s);
    EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
      const uint8_t* q = sp + j * pb;
      const __m512 sc = kF16 ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)))
                             : _mm512_loadu_ps(reinterpret_cast<const float*>(q));
      EDGERT_UNROLL for (int r = 0; r < MR; ++r)
        _mm512_store_ps(y[j][r], _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(acc[j][r]), _mm512_load_ps(y[j][r])));
    }
    p += steps * 64;
  }
}

template <int MR, int NP, bool kF16, bool kAsym>
inline void Qb4wGemmZmmNpT(size_t mr, size_t nc, size_t k, size_t block, const uint8_t* a,
                           size_t a_stride, const QRowParams* rows, const void* panel,
                           const QEpilogue* ep, float* c, size_t ldc) {
  const size_t pb = Qb4wPanelBytes(k, block, kF16, kAsym);
  const uint8_t* p = static_cast<const uint8_t*>(panel) + 64;
  alignas(64) float y[NP][MR][16];
  EDGERT_UNROLL for (int j = 0; j < NP; ++j)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) _mm512_store_ps(y[j][r], _mm512_setzero_ps());
  if (mr == static_cast<size_t>(MR)) {
    const RowAddr<MR, uint8_t> ra(a, a_stride);
    Qb4wBlocksZmm<MR, NP, kF16, kAsym>(k, block, [&ra](int r) { return ra.Row(r); }, p, pb, y);
  } else {
    const RowPtrs<MR, uint8_t> rp(a, a_stride, mr);
    Qb4wBlocksZmm<MR, NP, kF16, kAsym>(k, block, [&rp](int r) { return rp.Row(r); }, p, pb, y);
  }
  EDGERT_UNROLL for (int j = 0; j < NP; ++j) {
    const uint8_t* pj = static_cast<const uint8_t*>(panel) + j * pb;
    const size_t ncj = j == 0 ? (nc < 16 ? nc : 16) : nc - 16;
    const __m512 wcorr = _mm512_loadu_ps(reinterpret_cast<const float*>(pj));
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      if (static_cast<size_t>(r) >= mr) continue;
      const __m512 zp = _mm512_set1_ps(static_cast<float>(rows[r].zero_point));
      __m512 o = _mm512_mul_ps(_mm512_fnmadd_ps(zp, wcorr, _mm512_load_ps(y[j][r])), _mm512_set1_ps(rows[r].scale));
      if (ep->bias) o = _mm512_add_ps(o, _mm512_loadu_ps(ep->bias + 16 * j));
      StoreRowZ(c + r * ldc + 16 * j, ncj, ClampZ(ep, o));
    }
  }
}

template <int MR, int NP>
inline void Qb4wGemmZmmNp(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                          const uint8_t* a, size_t a_stride, const QRowParams* rows,
                          const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  switch (flags & (kQb4wScalesF16 | kQb4wAsym)) {
    case 0:
      return Qb4wGemmZmmNpT<MR, NP, false, false>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    case kQb4wScalesF16:
      return Qb4wGemmZmmNpT<MR, NP, true, false>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    case kQb4wAsym:
      return Qb4wGemmZmmNpT<MR, NP, false, true>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    default:
      return Qb4wGemmZmmNpT<MR, NP, true, true>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
  }
}

template <int MR>
inline void Qb4wGemmZmm2(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                         const uint8_t* a, size_t a_stride, const QRowParams* rows,
                         const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  if constexpr (MR > 4) {  // a short last row block: the 4-row tile
    if (mr <= 4) return Qb4wGemmZmm2<4>(mr, nc, k, block, flags, a, a_stride, rows, panel, ep, c, ldc);
  }
  if (nc > 16) return Qb4wGemmZmmNp<MR, 2>(mr, nc, k, block, flags, a, a_stride, rows, panel, ep, c, ldc);
  return Qb4wGemmZmmNp<MR, 1>(mr, nc, k, block, flags, a, a_stride, rows, panel, ep, c, ldc);
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
