// qd8 x qb4w GEMM, 256-bit. A 32-byte half-step holds 8 columns x 8 k as nibbles (layout in
// internal.h): "and 0x0F" gives the c4 layout for k 0-3, "srl 4, and 0x0F" for k 4-7; subtracting
// the nibble zero point zu gives signed weights q - zp in [-15, 15] ([-8, 7] when symmetric).
//   AVX2: vpmaddubsw u8 A x those weights: |pair| <= 2*255*15 = 7650 (4080 symmetric), so
//         int16 lanes can accumulate 2 steps (4 symmetric) = 30600 (32640) <= 32767 before one
//         vpmaddwd widens them; one vpmaddwd per 4 (8) vpmaddubsw instead of one per one.
//   AVX-VNNI: vpdpbusd straight into int32.
// At the end of each block the int32 dot product is converted and fma'd with the block scale.
#pragma once

#include "ymm_common_avx2.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

template <int MR, bool kVnni, bool kF16, bool kAsym>
inline void Qb4wGemmYmmT(size_t mr, size_t nc, size_t k, size_t block, const uint8_t* a,
                         size_t a_stride, const QRowParams* rows, const void* panel,
                         const QEpilogue* ep, float* c, size_t ldc) {
  const uint8_t* ar[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r)
    ar[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * a_stride;
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  const float* wcorr = reinterpret_cast<const float*>(p);
  p += 64;
  __m256 y[MR][2];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) y[r][0] = y[r][1] = _mm256_setzero_ps();
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  constexpr size_t kChunk = kAsym ? 2 : 4;  // steps per int16 accumulation (AVX2)
  for (size_t kb = 0; kb < k; kb += block) {
    const size_t len = k - kb < block ? k - kb : block;
    const size_t steps = (len + 7) / 8;
    __m256 sc[2];
    __m256i zu[2];
    p = Qb4wBlockHeaderYmm<kF16, kAsym>(p, &sc[0], &sc[1], &zu[0], &zu[1]);
    if (kVnni) {
      EDGERT_UNROLL for (int h = 0; h < 2; ++h) {
        __m256i i32[MR], i32b[MR];
        EDGERT_UNROLL for (int r = 0; r < MR; ++r) i32[r] = i32b[r] = _mm256_setzero_si256();
        for (size_t s = 0; s < steps; ++s) {
          if (MR == 1 && h == 0) _mm_prefetch(reinterpret_cast<const char*>(p) + s * 64 + EDGERT_M1_PREFETCH_BYTES_INT4, EDGERT_M1_PREFETCH_HINT);
          const __m256i wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + s * 64 + h * 32));
          const __m256i wlo = _mm256_sub_epi8(_mm256_and_si256(wb, mask), zu[h]);
          const __m256i whi = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(wb, 4), mask), zu[h]);
          EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
            const uint8_t* ap = ar[r] + kb + 8 * s;
            i32[r] = EDGERT_DPBUSD256(i32[r], Bcast32(ap), wlo);
            i32b[r] = EDGERT_DPBUSD256(i32b[r], Bcast32(ap + 4), whi);
            EDGERT_PIN_REG(i32[r]);  // else GCC moved each accumulator through another register
            EDGERT_PIN_REG(i32b[r]);
          }
        }
        EDGERT_UNROLL for (int r = 0; r < MR; ++r)
          y[r][h] = _mm256_fmadd_ps(sc[h], _mm256_cvtepi32_ps(_mm256_add_epi32(i32[r], i32b[r])), y[r][h]);
      }
    } else {
      // Both 8-column halves per step so the A broadcasts are shared; int16 accumulation over
      // kChunk steps, then one vpmaddwd into the block's int32 accumulators.
      __m256i i32[MR][2];
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) i32[r][0] = i32[r][1] = _mm256_setzero_si256();
      for (size_t s0 = 0; s0 < steps; s0 += kChunk) {
        __m256i i16[MR][2];
        EDGERT_UNROLL for (int r = 0; r < MR; ++r) i16[r][0] = i16[r][1] = _mm256_setzero_si256();
        auto step = [&](size_t s) {
          if (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(p) + s * 64 + EDGERT_M1_PREFETCH_BYTES_INT4, EDGERT_M1_PREFETCH_HINT);
          __m256i wlo[2], whi[2];
          EDGERT_UNROLL for (int h = 0; h < 2; ++h) {
            const __m256i wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + s * 64 + h * 32));
            wlo[h] = _mm256_sub_epi8(_mm256_and_si256(wb, mask), zu[h]);
            whi[h] = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(wb, 4), mask), zu[h]);
          }
          EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
            const __m256i alo = Bcast32(ar[r] + kb + 8 * s);
            const __m256i ahi = Bcast32(ar[r] + kb + 8 * s + 4);
            EDGERT_UNROLL for (int h = 0; h < 2; ++h) {
              i16[r][h] = _mm256_add_epi16(i16[r][h], _mm256_maddubs_epi16(alo, wlo[h]));
              i16[r][h] = _mm256_add_epi16(i16[r][h], _mm256_maddubs_epi16(ahi, whi[h]));
            }
          }
        };
        // Not unrolled: unrolling lets GCC hoist all vpmaddubsw and spill (measured slower).
        const size_t s1 = s0 + kChunk < steps ? s0 + kChunk : steps;
#pragma GCC unroll 1
        for (size_t s = s0; s < s1; ++s) step(s);
        EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
          i32[r][0] = _mm256_add_epi32(i32[r][0], _mm256_madd_epi16(i16[r][0], ones));
          i32[r][1] = _mm256_add_epi32(i32[r][1], _mm256_madd_epi16(i16[r][1], ones));
        }
      }
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
        y[r][0] = _mm256_fmadd_ps(sc[0], _mm256_cvtepi32_ps(i32[r][0]), y[r][0]);
        y[r][1] = _mm256_fmadd_ps(sc[1], _mm256_cvtepi32_ps(i32[r][1]), y[r][1]);
      }
    }
    p += steps * 64;
  }
  Qb4wEpilogueYmm<MR>(mr, nc, rows, wcorr, ep, c, ldc, y);
}

template <int MR, bool kVnni>
inline void Qb4wGemmYmm(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                        const uint8_t* a, size_t a_stride, const QRowParams* rows,
                        const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  switch (flags & (kQb4wScalesF16 | kQb4wAsym)) {
    case 0:
      return Qb4wGemmYmmT<MR, kVnni, false, false>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    case kQb4wScalesF16:
      return Qb4wGemmYmmT<MR, kVnni, true, false>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    case kQb4wAsym:
      return Qb4wGemmYmmT<MR, kVnni, false, true>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
    default:
      return Qb4wGemmYmmT<MR, kVnni, true, true>(mr, nc, k, block, a, a_stride, rows, panel, ep, c, ldc);
  }
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
