// Reference qd8 x qb4w GEMM (the specification) and the portable packed micro-kernel.
#include <cmath>
#include <cstring>
#include <vector>

#include "edgert/kernels/internal.h"

namespace edgert::kernels {
namespace {

int32_t Int4At(const uint8_t* row, size_t kk) {
  const uint8_t byte = row[kk / 2];
  const int32_t nib = (kk & 1) ? (byte >> 4) : (byte & 0x0F);
  return nib >= 8 ? nib - 16 : nib;
}

float ScaleAt(const void* scales, bool f16, size_t idx) {
  return f16 ? F16ToF32(static_cast<const uint16_t*>(scales)[idx])
             : static_cast<const float*>(scales)[idx];
}

}  // namespace

// For each output n:
//   wcorr[n] = fma chain over b of scale[n][b] * sum_{k in b} (q - zp)
//   y = fma chain over b of scale[n][b] * (float) sum_{k in b} q_a * (q - zp)   (int32 per block)
//   t = fma(-(float)zp_a, wcorr[n], y);  out = t * scale_a [+ bias]
// which equals scale_a * sum_b scale_b * sum_k (q_a - zp_a)(q - zp) up to float rounding.
void Qb4wFromQuantizedRef(size_t m, size_t n, size_t k, size_t block, const uint8_t* qa,
                          size_t qa_stride, const QRowParams* rows, const uint8_t* w,
                          const void* scales, bool scales_f16, const int8_t* zero_points,
                          const float* bias, float* c, size_t ldc) {
  const size_t nb = (k + block - 1) / block;
  const size_t row_bytes = (k + 1) / 2;
  for (size_t j = 0; j < n; ++j) {
    const uint8_t* wj = w + j * row_bytes;
    float wcorr = 0.0f;
    for (size_t b = 0; b < nb; ++b) {
      const int32_t zp = zero_points ? zero_points[j * nb + b] : 0;
      int32_t s = 0;
      for (size_t kk = b * block; kk < k && kk < (b + 1) * block; ++kk) s += Int4At(wj, kk) - zp;
      wcorr = std::fma(ScaleAt(scales, scales_f16, j * nb + b), static_cast<float>(s), wcorr);
    }
    for (size_t i = 0; i < m; ++i) {
      const uint8_t* ai = qa + i * qa_stride;
      float y = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        const int32_t zp = zero_points ? zero_points[j * nb + b] : 0;
        int32_t dot = 0;
        for (size_t kk = b * block; kk < k && kk < (b + 1) * block; ++kk)
          dot += static_cast<int32_t>(ai[kk]) * (Int4At(wj, kk) - zp);
        y = std::fma(ScaleAt(scales, scales_f16, j * nb + b), static_cast<float>(dot), y);
      }
      const float t = std::fma(-static_cast<float>(rows[i].zero_point), wcorr, y);
      float out = t * rows[i].scale;
      if (bias) out = out + bias[j];
      c[i * ldc + j] = out;
    }
  }
}

void QGemmQb4wRef(size_t m, size_t n, size_t k, size_t block, int32_t qmax, const float* a,
                  size_t lda, const uint8_t* w, const void* scales, bool scales_f16,
                  const int8_t* zero_points, const float* bias, Activation act, float* c,
                  size_t ldc) {
  const size_t stride = QRowStride(k);
  std::vector<uint8_t> q(m * stride);
  std::vector<QRowParams> rows(m);
  QuantizeRowsRef(m, k, a, lda, qmax, q.data(), stride, rows.data());
  Qb4wFromQuantizedRef(m, n, k, block, q.data(), stride, rows.data(), w, scales, scales_f16,
                       zero_points, bias, c, ldc);
  for (size_t i = 0; i < m; ++i) ApplyActivation(act, c + i * ldc, n);
}

size_t Qb4wBlockBytes(size_t len, bool scales_f16, bool asym) {
  return 16 * (scales_f16 ? 2 : 4) + (asym ? 16 : 0) + 64 * ((len + 7) / 8);
}

size_t Qb4wPanelBytes(size_t k, size_t block, bool scales_f16, bool asym) {
  const size_t nb = (k + block - 1) / block;
  size_t bytes = 64;
  if (nb > 0) {
    bytes += (nb - 1) * Qb4wBlockBytes(block, scales_f16, asym);
    bytes += Qb4wBlockBytes(k - (nb - 1) * block, scales_f16, asym);
  }
  return (bytes + 63) / 64 * 64;
}

void qd8_qb4w_gemm_4x16c8_ref(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                              const uint8_t* a, size_t a_stride, const QRowParams* rows,
                              const void* panel, const QEpilogue* ep, float* c, size_t ldc) {
  const bool f16 = flags & kQb4wScalesF16, asym = flags & kQb4wAsym;
  const uint8_t* p = static_cast<const uint8_t*>(panel);
  float wcorr[16];
  std::memcpy(wcorr, p, 64);
  p += 64;
  float y[4][16] = {};
  for (size_t kb = 0; kb < k; kb += block) {
    const size_t len = k - kb < block ? k - kb : block;
    const size_t steps = (len + 7) / 8;
    float sc[16];
    for (size_t j = 0; j < 16; ++j) sc[j] = ScaleAt(p, f16, j);
    p += 16 * (f16 ? 2 : 4);
    uint8_t zu[16];
    for (size_t j = 0; j < 16; ++j) zu[j] = asym ? p[j] : 8;
    if (asym) p += 16;
    for (size_t i = 0; i < mr; ++i) {
      const uint8_t* ai = a + i * a_stride + kb;
      for (size_t j = 0; j < nc; ++j) {
        int32_t dot = 0;
        for (size_t s = 0; s < steps; ++s) {
          for (size_t t = 0; t < 4; ++t) {
            const uint8_t byte = p[s * 64 + (j / 8) * 32 + (j % 8) * 4 + t];
            dot += static_cast<int32_t>(ai[8 * s + t]) * ((byte & 0x0F) - zu[j]);
            dot += static_cast<int32_t>(ai[8 * s + 4 + t]) * ((byte >> 4) - zu[j]);
          }
        }
        y[i][j] = std::fma(sc[j], static_cast<float>(dot), y[i][j]);
      }
    }
    p += steps * 64;
  }
  for (size_t i = 0; i < mr; ++i) {
    for (size_t j = 0; j < nc; ++j) {
      const float t = std::fma(-static_cast<float>(rows[i].zero_point), wcorr[j], y[i][j]);
      float out = t * rows[i].scale;
      if (ep->bias) out = out + ep->bias[j];
      if (ep->clamp) {
        out = out > ep->clamp_lo ? out : ep->clamp_lo;
        out = out < ep->clamp_hi ? out : ep->clamp_hi;
      }
      c[i * ldc + j] = out;
    }
  }
}

}  // namespace edgert::kernels
