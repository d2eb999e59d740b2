// Reference FP32 GEMM with canonical [N][K] weights, and the portable packed micro-kernel.
#include "edgert/kernels/internal.h"

namespace edgert::kernels {

void SGemmRef(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* w,
              const float* bias, Activation act, float* c, size_t ldc) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double acc = 0.0;  // float paths are compared with a tolerance, see tests
      for (size_t kk = 0; kk < k; ++kk)
        acc += static_cast<double>(a[i * lda + kk]) * static_cast<double>(w[j * k + kk]);
      if (bias) acc += bias[j];
      c[i * ldc + j] = static_cast<float>(acc);
    }
    ApplyActivation(act, c + i * ldc, n);
  }
}

void f32_gemm_4x16_ref(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                       const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  const float* bias = ep->bias;
  const float* w = static_cast<const float*>(panel);
  for (size_t i = 0; i < mr; ++i) {
    for (size_t j = 0; j < nc; ++j) {
      float acc = 0.0f;
      for (size_t kk = 0; kk < k; ++kk) acc += a[i * lda + kk] * w[kk * 16 + j];
      if (bias) acc += bias[j];
      if (ep->clamp) {  // as ApplyActivation's Relu / Relu6
        acc = acc > ep->clamp_lo ? acc : ep->clamp_lo;
        acc = acc < ep->clamp_hi ? acc : ep->clamp_hi;
      }
      c[i * ldc + j] = acc;
    }
  }
}

}  // namespace edgert::kernels
