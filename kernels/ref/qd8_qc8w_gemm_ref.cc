// Reference qd8 x qc8w GEMM (the specification) and the portable packed micro-kernel.
#include <cstring>
#include <vector>

#include "edgert/kernels/internal.h"

namespace edgert::kernels {

void Qc8wAccRef(size_t m, size_t n, size_t k, const uint8_t* qa, size_t qa_stride,
                const QRowParams* rows, const int8_t* w, int32_t* acc, size_t acc_stride) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      // sum_k q_a * w - zp_a * sum_k w: equal to sum_k (q_a - zp_a) * w in int32 (wrap-around
      // arithmetic makes the split exact whenever the final value fits, see quantization.md).
      uint32_t dot = 0, colsum = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        dot += static_cast<uint32_t>(static_cast<int32_t>(qa[i * qa_stride + kk]) * w[j * k + kk]);
        colsum += static_cast<uint32_t>(static_cast<int32_t>(w[j * k + kk]));
      }
      acc[i * acc_stride + j] =
          static_cast<int32_t>(dot - static_cast<uint32_t>(rows[i].zero_point) * colsum);
    }
  }
}

void QGemmQc8wRef(size_t m, size_t n, size_t k, int32_t qmax, const float* a, size_t lda,
                  const int8_t* w, const float* scales, const float* bias, Activation act,
                  float* c, size_t ldc) {
  const size_t stride = QRowStride(k);
  std::vector<uint8_t> q(m * stride);
  std::vector<QRowParams> rows(m);
  std::vector<int32_t> acc(n);
  QuantizeRowsRef(m, k, a, lda, qmax, q.data(), stride, rows.data());
  for (size_t i = 0; i < m; ++i) {
    Qc8wAccRef(1, n, k, q.data() + i * stride, stride, &rows[i], w, acc.data(), n);
    for (size_t j = 0; j < n; ++j) {
      // Output stage, in this exact float order: (float)acc * (scale_a * scale_w) [+ bias].
      const float s = rows[i].scale * scales[j];
      float y = static_cast<float>(acc[j]) * s;
      if (bias) y = y + bias[j];
      c[i * ldc + j] = y;
    }
    ApplyActivation(act, c + i * ldc, n);
  }
}

// Packed layout: see internal.h. Rows past mr alias the last row; only [0,mr)x[0,nc) is written.
void qd8_qc8w_gemm_4x16c4_ref(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                              const QRowParams* rows, const void* panel, const QEpilogue* ep,
                              float* c, size_t ldc) {
  const float* scale = static_cast<const float*>(panel);
  const int32_t* colsum = reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(panel) + 64);
  const int8_t* w = reinterpret_cast<const int8_t*>(static_cast<const uint8_t*>(panel) + 128);
  const size_t k4 = (k + 3) / 4;
  for (size_t i = 0; i < mr; ++i) {
    const uint8_t* ai = a + i * a_stride;
    for (size_t j = 0; j < nc; ++j) {
      uint32_t dot = 0;
      for (size_t s = 0; s < k4; ++s)
        for (size_t t = 0; t < 4; ++t)
          dot += static_cast<uint32_t>(static_cast<int32_t>(ai[4 * s + t]) * w[s * 64 + j * 4 + t]);
      const int32_t acc =
          static_cast<int32_t>(dot - static_cast<uint32_t>(rows[i].zero_point) *
                                         static_cast<uint32_t>(colsum[j]));
      if (ep->acc) {
        ep->acc[i * ep->acc_stride + j] = acc;
        continue;
      }
      const float sc = rows[i].scale * scale[j];
      float y = static_cast<float>(acc) * sc;
      if (ep->bias) y = y + ep->bias[j];
      if (ep->clamp) {
        y = y > ep->clamp_lo ? y : ep->clamp_lo;
        y = y < ep->clamp_hi ? y : ep->clamp_hi;
      }
      c[i * ldc + j] = y;
    }
  }
}

}  // namespace edgert::kernels
