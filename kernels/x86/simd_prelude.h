// Included first by every x86 kernel source. Native builds use <immintrin.h>. The test-only
// SIMDe build (EDGERT_SIMDE, compiled with AVX2 flags only) maps the AVX-512 / AVX-VNNI
// intrinsics to SIMDe's portable emulation and moves all symbols into namespace simde_emu, so
// the same source runs (and is tested bit-exact) on a CPU without those instructions.
// SIMDe 0.7.4 (Debian 12) lacks a few AVX-512 conversions and masked loads/stores; they are emulated
// below element by element with the instructions' documented semantics.
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(EDGERT_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <immintrin.h>  // native AVX2/F16C used by the shims below
#define EDGERT_UKERNEL_NS_BEGIN namespace simde_emu {
#define EDGERT_UKERNEL_NS_END }

namespace edgert::kernels::simde_emu {
namespace {
inline __m512 ShimCvtepi32Ps(__m512i v) {
  int32_t i[16];
  float f[16];
  std::memcpy(i, &v, 64);
  for (int t = 0; t < 16; ++t) f[t] = static_cast<float>(i[t]);  // RNE, as vcvtdq2ps
  __m512 r;
  std::memcpy(&r, f, 64);
  return r;
}
inline __m512i ShimCvttpsEpi32(__m512 v) {
  float f[16];
  int32_t i[16];
  std::memcpy(f, &v, 64);
  for (int t = 0; t < 16; ++t) {
    // vcvttps2dq: truncation; NaN and out-of-range give INT32_MIN ("integer indefinite").
    i[t] = std::isnan(f[t]) || f[t] >= 2147483648.0f || f[t] < -2147483648.0f ? INT32_MIN : static_cast<int32_t>(f[t]);
  }
  __m512i r;
  std::memcpy(&r, i, 64);
  return r;
}
inline __m512i ShimCvtpsEpi32(__m512 v) {
  float f[16];
  int32_t i[16];
  std::memcpy(f, &v, 64);
  for (int t = 0; t < 16; ++t) {
    // vcvtps2dq: round to nearest even (the default MXCSR mode); NaN and out of range give
    // INT32_MIN ("integer indefinite").
    const float r = std::nearbyint(f[t]);
    i[t] = r >= -2147483648.0f && r < 2147483648.0f ? static_cast<int32_t>(r) : INT32_MIN;
  }
  __m512i out;
  std::memcpy(&out, i, 64);
  return out;
}
inline __m512 ShimCvtphPs(__m256i h) {
  __m256 lo = ::_mm256_cvtph_ps(::_mm256_castsi256_si128(h));
  // _mm256_extracti128_si256 is a macro in unoptimized GCC and in clang: take the high half
  // with a copy instead, so the native (non-SIMDe) conversion is still the one called.
  __m128i h_hi;
  std::memcpy(&h_hi, reinterpret_cast<const char*>(&h) + 16, 16);
  __m256 hi = ::_mm256_cvtph_ps(h_hi);
  __m512 r;
  std::memcpy(&r, &lo, 32);
  std::memcpy(reinterpret_cast<char*>(&r) + 32, &hi, 32);
  return r;
}
inline __m512i ShimCvtepu8Epi32(__m128i v) {
  uint8_t b[16];
  int32_t i[16];
  std::memcpy(b, &v, 16);
  for (int t = 0; t < 16; ++t) i[t] = b[t];
  __m512i r;
  std::memcpy(&r, i, 64);
  return r;
}
inline void ShimMaskStoreuPs(float* p, uint16_t m, __m512 v) {
  float f[16];
  std::memcpy(f, &v, 64);
  for (int t = 0; t < 16; ++t)
    if (m >> t & 1) p[t] = f[t];
}
inline __m512 ShimMaskzLoaduPs(uint16_t m, const float* p) {
  float f[16];
  for (int t = 0; t < 16; ++t) f[t] = m >> t & 1 ? p[t] : 0.0f;
  __m512 r;
  std::memcpy(&r, f, 64);
  return r;
}
inline void ShimMaskStoreuEpi32(int32_t* p, uint16_t m, __m512i v) {
  int32_t f[16];
  std::memcpy(f, &v, 64);
  for (int t = 0; t < 16; ++t)
    if (m >> t & 1) p[t] = f[t];
}
}  // namespace
}  // namespace edgert::kernels::simde_emu
#define _mm512_cvtepi32_ps(v) ShimCvtepi32Ps(v)
#define _mm512_cvtph_ps(v) ShimCvtphPs(v)
#define _mm512_cvttps_epi32(v) ShimCvttpsEpi32(v)
#define _mm512_cvtps_epi32(v) ShimCvtpsEpi32(v)
#define _mm512_cvtepu8_epi32(v) ShimCvtepu8Epi32(v)
#define _mm512_mask_storeu_ps(p, m, v) ShimMaskStoreuPs(p, m, v)
#define _mm512_mask_storeu_epi32(p, m, v) ShimMaskStoreuEpi32(p, m, v)
#define _mm512_maskz_loadu_ps(m, p) ShimMaskzLoaduPs(m, p)
// AVX-VNNI (VEX) has the same semantics as AVX512-VL VNNI's 256-bit form.
#define EDGERT_DPBUSD256(acc, a, b) simde_mm256_dpbusd_epi32(acc, a, b)
#define EDGERT_PIN_REG(v) ((void)0)
#define EDGERT_ADD_EPI32_INPLACE(acc, t) ((acc) = _mm256_add_epi32((acc), (t)))
#else
#include <immintrin.h>
#define EDGERT_UKERNEL_NS_BEGIN
#define EDGERT_UKERNEL_NS_END
#define EDGERT_DPBUSD256(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
// An empty asm that takes a vector accumulator in and out of a register: it pins a loop-carried
// accumulator to one register. Without it GCC 12 sometimes rotates accumulators of a step loop
// through other registers (a vmovdqa per accumulator per step) or stores them on every step.
#define EDGERT_PIN_REG(v) __asm__("" : "+v"(v))
// acc += t (int32 lanes, ymm) as the destructive vpaddd acc, t -> acc: keeps a loop-carried
// accumulator in one register where GCC's 3-operand choice added a vmovdqa per accumulator.
#define EDGERT_ADD_EPI32_INPLACE(acc, t) __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(t))
#endif

// Loops over registers (rows, column halves, accumulator sets) must be fully unrolled so that
// GCC keeps the accumulator arrays in registers (otherwise it spills them every iteration).
#define EDGERT_UNROLL _Pragma("GCC unroll 16")
#define EDGERT_INLINE inline __attribute__((always_inline))
#define EDGERT_INLINE_LAMBDA __attribute__((always_inline))

// Software prefetch distances of the M = 1 (GEMV) kernels, whose weights stream from DRAM. INT8
// and FP32: 4 KiB ahead. INT4: 12 KiB — with 4 KiB the INT4 GEMVs stayed at 84% of the DRAM read
// rate on the AMD EPYC host of 2026-12-06, 8-24 KiB gave 5-10% more (all three INT4 variants);
// the INT8 and FP32 GEMVs measured the same or 2-5% slower with 12 KiB (docs/performance.md).
// The hint is non-temporal: each weight byte is used once per GEMV, and prefetchnta (no L2 / L3
// fill on the way in) streamed 8-20% faster than prefetcht0 from DRAM for every INT8 / INT4 /
// FP32 variant on that host, with weights that fit the L3 unchanged (within 2%).
#define EDGERT_M1_PREFETCH_BYTES 4096
#define EDGERT_M1_PREFETCH_BYTES_INT4 12288
#define EDGERT_M1_PREFETCH_HINT _MM_HINT_NTA

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {
// Row r of an MR-row tile of a row-major matrix, read as base[r / 4] + {0, 1, 2, 3}·stride: with
// x86's base + index·scale addressing that needs MR/4 bases, the stride and 3·stride, where one
// pointer per row (12 for a 12-row tile) plus the weight pointers do not fit the 16 general
// registers — GCC then reloaded spilled row pointers inside the k loop. Only for full tiles
// (every row exists).
template <int MR, typename T>
struct RowAddr {
  static constexpr int kBases = (MR + 3) / 4;
  const T* base[kBases];
  size_t st, st3;
  RowAddr(const T* a, size_t stride) : st(stride), st3(3 * stride) {
    for (int b = 0; b < kBases; ++b) base[b] = a + 4 * static_cast<size_t>(b) * stride;
  }
  EDGERT_INLINE const T* Row(int r) const {
    const T* p = base[r / 4];
    switch (r % 4) {
      case 0: return p;
      case 1: return p + st;
      case 2: return p + 2 * st;
      default: return p + st3;
    }
  }
  EDGERT_INLINE void Advance(size_t elems) {
    for (int b = 0; b < kBases; ++b) base[b] += elems;
  }
};
// The same interface over one pointer per row, rows past mr repeating the last one (short
// tiles: the duplicated rows are computed and not stored).
template <int MR, typename T>
struct RowPtrs {
  const T* p[MR];
  RowPtrs(const T* a, size_t stride, size_t mr) {
    for (int r = 0; r < MR; ++r) p[r] = a + (static_cast<size_t>(r) < mr ? r : mr - 1) * stride;
  }
  EDGERT_INLINE const T* Row(int r) const { return p[r]; }
  EDGERT_INLINE void Advance(size_t elems) {
    for (int r = 0; r < MR; ++r) p[r] += elems;
  }
};
}  // namespace
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
