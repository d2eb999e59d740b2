// Helpers shared by the 256-bit kernels (AVX2, AVX-VNNI). Everything is in an anonymous
// namespace: each ISA translation unit gets its own copy (no cross-ISA ODR merging).
#pragma once

#include "../simd_prelude.h"
#include "edgert/kernels/internal.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

inline __m256i Bcast32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256 ClampY(const QEpilogue* ep, __m256 y) {
  return _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(ep->clamp_lo)), _mm256_set1_ps(ep->clamp_hi));
}

inline void StoreRow16(float* c, size_t nc, __m256 y0, __m256 y1) {
  if (nc == 16) {
    _mm256_storeu_ps(c, y0);
    _mm256_storeu_ps(c + 8, y1);
  } else {
    float t[16];
    _mm256_storeu_ps(t, y0);
    _mm256_storeu_ps(t + 8, y1);
    std::memcpy(c, t, nc * sizeof(float));
  }
}

// qc8w output stage (see QGemmQc8wRef): acc - zp*colsum, then (float)acc * (sa*sw) [+ bias].
template <int MR>
inline void Qc8wEpilogueYmm(size_t mr, size_t nc, const QRowParams* rows, const void* panel,
                            const QEpilogue* ep, float* c, size_t ldc, __m256i (&acc)[MR][2]) {
  const float* scale = static_cast<const float*>(panel);
  const int32_t* colsum =
      reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(panel) + 64);
  const __m256i cs0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum));
  const __m256i cs1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colsum + 8));
  const __m256 sc0 = _mm256_loadu_ps(scale), sc1 = _mm256_loadu_ps(scale + 8);
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= mr) continue;
    const __m256i zp = _mm256_set1_epi32(rows[r].zero_point);
    const __m256i a0 = _mm256_sub_epi32(acc[r][0], _mm256_mullo_epi32(zp, cs0));
    const __m256i a1 = _mm256_sub_epi32(acc[r][1], _mm256_mullo_epi32(zp, cs1));
    if (ep->acc) {
      int32_t t[16];
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t), a0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t + 8), a1);
      std::memcpy(ep->acc + r * ep->acc_stride, t, nc * sizeof(int32_t));
      continue;
    }
    const __m256 sa = _mm256_set1_ps(rows[r].scale);
    __m256 y0 = _mm256_mul_ps(_mm256_cvtepi32_ps(a0), _mm256_mul_ps(sa, sc0));
    __m256 y1 = _mm256_mul_ps(_mm256_cvtepi32_ps(a1), _mm256_mul_ps(sa, sc1));
    if (ep->bias) {
      y0 = _mm256_add_ps(y0, _mm256_loadu_ps(ep->bias));
      y1 = _mm256_add_ps(y1, _mm256_loadu_ps(ep->bias + 8));
    }
    if (ep->clamp) {
      y0 = ClampY(ep, y0);
      y1 = ClampY(ep, y1);
    }
    StoreRow16(c + r * ldc, nc, y0, y1);
  }
}

// qb4w output stage (see Qb4wFromQuantizedRef): fma(-zp_a, wcorr, y) * sa [+ bias].
template <int MR>
inline void Qb4wEpilogueYmm(size_t mr, size_t nc, const QRowParams* rows, const float* wcorr,
                            const QEpilogue* ep, float* c, size_t ldc, __m256 (&y)[MR][2]) {
  const __m256 wc0 = _mm256_loadu_ps(wcorr), wc1 = _mm256_loadu_ps(wcorr + 8);
  EDGERT_UNROLL for (int r = 0; r < MR; ++r) {
    if (static_cast<size_t>(r) >= mr) continue;
    const __m256 zp = _mm256_set1_ps(static_cast<float>(rows[r].zero_point));
    const __m256 sa = _mm256_set1_ps(rows[r].scale);
    __m256 o0 = _mm256_mul_ps(_mm256_fnmadd_ps(zp, wc0, y[r][0]), sa);
    __m256 o1 = _mm256_mul_ps(_mm256_fnmadd_ps(zp, wc1, y[r][1]), sa);
    if (ep->bias) {
      o0 = _mm256_add_ps(o0, _mm256_loadu_ps(ep->bias));
      o1 = _mm256_add_ps(o1, _mm256_loadu_ps(ep->bias + 8));
    }
    if (ep->clamp) {
      o0 = ClampY(ep, o0);
      o1 = ClampY(ep, o1);
    }
    StoreRow16(c + r * ldc, nc, o0, o1);
  }
}

// Per-block header of a qb4w panel: scales (f32 or f16) and the nibble zero points zu expanded to
// the c4 byte layout of columns 0-7 (zu0) and 8-15 (zu1).
template <bool kF16, bool kAsym>
inline const uint8_t* Qb4wBlockHeaderYmm(const uint8_t* p, __m256* sc0, __m256* sc1,
                                         __m256i* zu0, __m256i* zu1) {
  if (kF16) {
    *sc0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    *sc1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
    p += 32;
  } else {
    *sc0 = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    *sc1 = _mm256_loadu_ps(reinterpret_cast<const float*>(p + 32));
    p += 64;
  }
  if (kAsym) {
    const __m256i rep = _mm256_set1_epi32(0x01010101);
    *zu0 = _mm256_mullo_epi32(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))), rep);
    *zu1 = _mm256_mullo_epi32(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8))), rep);
    p += 16;
  } else {
    *zu0 = *zu1 = _mm256_set1_epi8(8);
  }
  return p;
}

}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
