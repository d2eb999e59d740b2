// ApplyActivation's one implementation (plain C++), compiled once per ISA: activation.cc
// (baseline flags, the ref variant) and kernels/x86/<isa>/f32_activation_<isa>.cc (the same code
// auto-vectorized with that ISA's flags, plus -fno-trapping-math so that the selects become
// blends). All are built with -ffp-contract=off and without fast-math, so every variant performs
// the same IEEE operations: results are bit-identical across variants, which keeps the fused GEMM
// epilogues bit-identical too.
// ODR: everything here has internal linkage (anonymous namespace); included by TUs compiled with
// different ISA flags.
#pragma once

#include <cmath>
#include <cstddef>

#include "edgert/kernels/gemm.h"

namespace edgert::kernels {
namespace {

// erf as a rational function of x on [-4, 4] (the float approximation XLA and Eigen use;
// |error| < 4e-7 against double erf, measured over [-10, 10] in steps of 1e-4). Plain arithmetic,
// so the GELU loop vectorizes; libm's erff per element was 40% of MiniLM INT8 time. The Horner
// steps are explicit fused multiply-adds (std::fma): one vfmadd each in the FMA builds instead of
// a multiply and an add (-ffp-contract=off keeps them apart), exact-rounded libm fma in the
// baseline reference build, so every variant still gives the same bits.
inline float FastErf(float x) {
  x = x < -4.f ? -4.f : (x > 4.f ? 4.f : x);  // vectorizes (blends) only with -fno-trapping-math
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = std::fma(p, x2, 2.77068142495902e-08f);
  p = std::fma(p, x2, -2.10102402082508e-06f);
  p = std::fma(p, x2, -5.69250639462346e-05f);
  p = std::fma(p, x2, -7.34990630326855e-04f);
  p = std::fma(p, x2, -2.95459980854025e-03f);
  p = std::fma(p, x2, -1.60960333262415e-02f);
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = std::fma(q, x2, -2.13374055278905e-04f);
  q = std::fma(q, x2, -1.68282697438203e-03f);
  q = std::fma(q, x2, -7.37332916720468e-03f);
  q = std::fma(q, x2, -1.42647390514189e-02f);
  return p / q;
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
      for (size_t i = 0; i < n; ++i)
        x[i] = 0.5f * x[i] * (1.0f + FastErf(x[i] * 0.70710678118654752f));
      return;
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
