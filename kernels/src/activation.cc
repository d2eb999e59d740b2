// ApplyActivation: one implementation shared by every ISA variant, so fused epilogues are
// bit-identical across variants (the GEMM drivers call it on each finished output tile).
#include <cmath>

#include "edgert/kernels/gemm.h"

namespace edgert::kernels {

void ApplyActivation(Activation act, float* x, size_t n) {
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
        x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
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

}  // namespace edgert::kernels
