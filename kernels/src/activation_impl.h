// ApplyActivation's one implementation, compiled once per ISA: activation.cc (baseline flags, the
// ref variant) and kernels/x86/<isa>/f32_activation_<isa>.cc (the same code auto-vectorized with
// that ISA's flags, plus -fno-trapping-math so that selects become blends; GELU's table lookups
// are written with that ISA's intrinsics). All are built with -ffp-contract=off and without
// fast-math, so every variant performs the same IEEE operations: results are bit-identical across
// variants, which keeps the fused GEMM epilogues bit-identical too.
// ODR: everything here has internal linkage (anonymous namespace); included by TUs compiled with
// different ISA flags.
#pragma once

#include <cmath>
#include <cstddef>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "edgert/kernels/gemm.h"

namespace edgert::kernels {
namespace {

// GELU(x) = x Phi(x) = 0.5 x + 0.5 |x| erf(|x| / sqrt 2): erf(|x| / sqrt 2) piecewise, 8 segments
// of 0.75 on [0, 6) (|x| clamped to just below 6), a degree-6 polynomial in (t - centre) on each;
// segment 7 is the constant 1. The segment's coefficients come from 8-entry tables: one vpermps
// per coefficient in the AVX2 and AVX-512 builds, an array index in the plain one. No division
// (the rational erf this replaced needed one, and 15 multiply-adds: 1.3x slower). Error against
// the double-precision definition <= 4e-7 absolute over [-12, 12] (tests/kernels). Every build
// performs the same IEEE operations in the same order, so the results are bit-identical.
// tools/kernels/gelu_tables.py: max |poly - erf| = 6.5e-08
alignas(32) constexpr float kGeluCentre[8] = {3.750000000e-01f, 1.125000000e+00f, 1.875000000e+00f, 2.625000000e+00f, 3.375000000e+00f, 4.125000000e+00f, 4.875000000e+00f, 5.625000000e+00f};
alignas(32) constexpr float kGeluPoly[7][8] = {
    {2.923395336e-01f, 7.394109368e-01f, 9.392072558e-01f, 9.913350940e-01f, 9.992618561e-01f, 9.999629259e-01f, 9.999989271e-01f, 1.000000000e+00f},
    {7.437098622e-01f, 4.237536788e-01f, 1.375725567e-01f, 2.544825710e-02f, 2.682240447e-03f, 1.610908948e-04f, 5.513473297e-06f, 0.000000000e+00f},
    {-1.394453198e-01f, -2.383611947e-01f, -1.289744377e-01f, -3.340093046e-02f, -4.526256118e-03f, -3.322341072e-04f, -1.343672648e-05f, 0.000000000e+00f},
    {-1.065016910e-01f, 1.873556525e-02f, 5.767944828e-02f, 2.499113977e-02f, 4.644838627e-03f, 4.293360980e-04f, 2.081340972e-05f, 0.000000000e+00f},
    {3.321395442e-02f, 3.444960713e-02f, -5.535257515e-03f, -1.083100960e-02f, -3.165628528e-03f, -3.878486168e-04f, -2.319105988e-05f, 0.000000000e+00f},
    {1.318618003e-02f, -1.018655207e-02f, -6.563588046e-03f, 1.834096969e-03f, 1.442534616e-03f, 2.654201526e-04f, 2.107049113e-05f, 0.000000000e+00f},
    {-5.109693389e-03f, -2.600001637e-03f, 2.712451387e-03f, 6.181461504e-04f, -3.783803550e-04f, -1.262770529e-04f, -1.347559373e-05f, 0.000000000e+00f},
};
constexpr float kGeluMaxT = 5.99999952f;       // largest float below 6: segment index <= 7
constexpr float kGeluInvWidth = 1.33333337f;  // float(1 / 0.75)

inline float GeluScalar(float x) {
  const float ax = std::fabs(x);
  const float t = ax < kGeluMaxT ? ax : kGeluMaxT;  // NaN -> the clamp (and NaN again at the end)
  const int i = static_cast<int>(t * kGeluInvWidth);
  const float r = t - kGeluCentre[i];
  float p = kGeluPoly[6][i];
  for (int d = 5; d >= 0; --d) p = std::fma(p, r, kGeluPoly[d][i]);
  return std::fma(0.5f * ax, p, 0.5f * x);
}

inline void GeluRows(float* x, size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  __m512 tab[8];  // the 8-entry tables in the low half; vpermps indices are 0..7
  tab[0] = _mm512_castps256_ps512(_mm256_load_ps(kGeluCentre));
  for (int d = 0; d < 7; ++d) tab[d + 1] = _mm512_castps256_ps512(_mm256_load_ps(kGeluPoly[d]));
  const __m512 mx = _mm512_set1_ps(kGeluMaxT), iw = _mm512_set1_ps(kGeluInvWidth), half = _mm512_set1_ps(0.5f);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512 ax = _mm512_abs_ps(v);
    const __m512 t = _mm512_min_ps(ax, mx);
    const __m512i k = _mm512_cvttps_epi32(_mm512_mul_ps(t, iw));
    const __m512 r = _mm512_sub_ps(t, _mm512_permutexvar_ps(k, tab[0]));
    __m512 p = _mm512_permutexvar_ps(k, tab[7]);
    for (int d = 5; d >= 0; --d) p = _mm512_fmadd_ps(p, r, _mm512_permutexvar_ps(k, tab[d + 1]));
    _mm512_storeu_ps(x + i, _mm512_fmadd_ps(_mm512_mul_ps(half, ax), p, _mm512_mul_ps(half, v)));
  }
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 tab[8];
  tab[0] = _mm256_load_ps(kGeluCentre);
  for (int d = 0; d < 7; ++d) tab[d + 1] = _mm256_load_ps(kGeluPoly[d]);
  const __m256 mx = _mm256_set1_ps(kGeluMaxT), iw = _mm256_set1_ps(kGeluInvWidth), half = _mm256_set1_ps(0.5f);
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 ax = _mm256_and_ps(v, absmask);
    const __m256 t = _mm256_min_ps(ax, mx);
    const __m256i k = _mm256_cvttps_epi32(_mm256_mul_ps(t, iw));
    const __m256 r = _mm256_sub_ps(t, _mm256_permutevar8x32_ps(tab[0], k));
    __m256 p = _mm256_permutevar8x32_ps(tab[7], k);
    for (int d = 5; d >= 0; --d) p = _mm256_fmadd_ps(p, r, _mm256_permutevar8x32_ps(tab[d + 1], k));
    _mm256_storeu_ps(x + i, _mm256_fmadd_ps(_mm256_mul_ps(half, ax), p, _mm256_mul_ps(half, v)));
  }
#endif
  for (; i < n; ++i) x[i] = GeluScalar(x[i]);
}

inline void ApplyActivationImpl(Activation act, float* x, size_t n) {
  switch (act) {
    case Activation::kNone:
      return;
    case Activation::kRelu:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::kRelu6:
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i] > 0.0f ? x[i] : 0.0f;
        x[i] = v < 6.0f ? v : 6.0f;
      }
      return;
    case Activation::kGelu:
      return GeluRows(x, n);
    case Activation::kGeluTanh:
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
      }
      return;
    case Activation::kSilu:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      return;
    case Activation::kSigmoid:
      for (size_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
      return;
    case Activation::kTanh:
      for (size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
  }
}

}  // namespace
}  // namespace edgert::kernels
