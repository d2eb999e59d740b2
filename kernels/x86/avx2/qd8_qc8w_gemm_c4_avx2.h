// qd8 x qc8w GEMM, 256-bit, c4 packing: one 32-byte load is 8 columns x 4 k; a 4-byte broadcast
// of A times it gives, per column, the dot product over those 4 k.
//   AVX2:     vpmaddubsw (u8 x s8 -> pairs of s16) + vpmaddwd with ones (-> s32) + vpaddd.
//             A is 7-bit (qmax 127), so |pair| <= 2*127*128 = 32512 < 32767: no saturation.
//   AVX-VNNI: vpdpbusd (u8 x s8, four products summed into s32, no intermediate saturation).
#pragma once

#include "ymm_common_avx2.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

template <int MR, bool kVnni>
inline void Qc8wGemmYmm(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                        const QRowParams* rows, const void* panel, const QEpilogue* ep, float* c,
                        size_t ldc) {
  const uint8_t* ar[MR];
  EDGERT_UNROLL for (int r = 0; r < MR; ++r)
    ar[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * a_stride;
  const uint8_t* w = static_cast<const uint8_t*>(panel) + 128;
  // MR == 1 (weight streaming): two accumulator sets to hide vpdpbusd latency.
  constexpr int kSets = MR == 1 ? 2 : 1;
  __m256i acc[kSets][MR][2];
  for (int s = 0; s < kSets; ++s)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) acc[s][r][0] = acc[s][r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  const size_t k4 = (k + 3) / 4;
  // The next column tile's weights, a line per k step (QEpilogue::prefetch; M > 1 tiles only).
  const char* pf = MR > 1 && ep->prefetch ? static_cast<const char*>(ep->prefetch) + 128 : nullptr;
  size_t s = 0;
  for (; s + kSets <= k4; s += kSets) {
    EDGERT_UNROLL for (int u = 0; u < kSets; ++u) {
      // Weight streaming (M = 1): software prefetch every line, 4 KiB ahead (measured better
      // than the hardware prefetcher alone on the benchmark machine).
      if (MR == 1) _mm_prefetch(reinterpret_cast<const char*>(w) + 64 * u + EDGERT_M1_PREFETCH_BYTES, EDGERT_M1_PREFETCH_HINT);
      if (MR > 1 && pf != nullptr) _mm_prefetch(pf + 64 * (s + u), _MM_HINT_T0);
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * u));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * u + 32));
      EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
        const __m256i va = Bcast32(ar[r] + 4 * (s + u));
        if (kVnni) {
          acc[u][r][0] = EDGERT_DPBUSD256(acc[u][r][0], va, w0);
          acc[u][r][1] = EDGERT_DPBUSD256(acc[u][r][1], va, w1);
        } else {
          // In place: GCC otherwise rotated the accumulators through other registers (8-9
          // vmovdqa and a stack store per step of the 4-row tile).
          EDGERT_ADD_EPI32_INPLACE(acc[u][r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(va, w0), ones));
          EDGERT_ADD_EPI32_INPLACE(acc[u][r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(va, w1), ones));
        }
      }
    }
    w += 64 * kSets;
  }
  for (; s < k4; ++s) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32));
    w += 64;
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      const __m256i va = Bcast32(ar[r] + 4 * s);
      if (kVnni) {
        acc[0][r][0] = EDGERT_DPBUSD256(acc[0][r][0], va, w0);
        acc[0][r][1] = EDGERT_DPBUSD256(acc[0][r][1], va, w1);
      } else {
        acc[0][r][0] = _mm256_add_epi32(acc[0][r][0],
                                        _mm256_madd_epi16(_mm256_maddubs_epi16(va, w0), ones));
        acc[0][r][1] = _mm256_add_epi32(acc[0][r][1],
                                        _mm256_madd_epi16(_mm256_maddubs_epi16(va, w1), ones));
      }
    }
  }
  EDGERT_UNROLL for (int u = 1; u < kSets; ++u)
    EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
      acc[0][r][0] = _mm256_add_epi32(acc[0][r][0], acc[u][r][0]);
      acc[0][r][1] = _mm256_add_epi32(acc[0][r][1], acc[u][r][1]);
    }
  Qc8wEpilogueYmm<MR>(mr, nc, rows, panel, ep, c, ldc, acc[0]);
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
