// f32_dwconv2d_nhwc_avx2: channels-last depthwise convolution (dwconv_ukernels.h), AVX2 + FMA.
// Channels are the vector lanes: 32 channels (4 independent FMA chains) per block, then single
// vectors, then a masked tail. Taps outside the input are skipped.
#include "../simd_prelude.h"
#include "../../src/dwconv_ukernels.h"
#include "edgert/kernels/conv.h"

namespace edgert::kernels {
namespace {

template <int U, bool kMasked>
inline void Tile(const DwConv2dShape& s, size_t C, const float* x, const float* w,
                 const float* bias, bool clamp, __m256 lo, __m256 hi, float* yp, size_t oh,
                 size_t ow, size_t c, __m256i m) {
  __m256 acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    if (bias == nullptr) {
      acc[u] = _mm256_setzero_ps();
    } else if (kMasked) {
      acc[u] = _mm256_maskload_ps(bias + c + 8 * u, m);
    } else {
      acc[u] = _mm256_loadu_ps(bias + c + 8 * u);
    }
  }
  for (size_t kh = 0; kh < s.k_h; ++kh) {
    if (oh * s.stride_h + kh * s.dil_h < s.pad_top) continue;
    const size_t ih = oh * s.stride_h + kh * s.dil_h - s.pad_top;
    if (ih >= s.in_h) break;
    for (size_t kw = 0; kw < s.k_w; ++kw) {
      if (ow * s.stride_w + kw * s.dil_w < s.pad_left) continue;
      const size_t iw = ow * s.stride_w + kw * s.dil_w - s.pad_left;
      if (iw >= s.in_w) break;
      const float* xp = x + (ih * s.in_w + iw) * C + c;
      const float* wp = w + (kh * s.k_w + kw) * C + c;
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) {
        if (kMasked) {
          acc[u] = _mm256_fmadd_ps(_mm256_maskload_ps(wp + 8 * u, m), _mm256_maskload_ps(xp + 8 * u, m), acc[u]);
        } else {
          acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(wp + 8 * u), _mm256_loadu_ps(xp + 8 * u), acc[u]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    __m256 v = acc[u];
    if (clamp) v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    if (kMasked) {
      _mm256_maskstore_ps(yp + c + 8 * u, m, v);
    } else {
      _mm256_storeu_ps(yp + c + 8 * u, v);
    }
  }
}

}  // namespace

void f32_dwconv2d_nhwc_avx2(EDGERT_DWCONV_NHWC_ARGS) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const size_t C = channels;
  const __m256i all = _mm256_set1_epi32(-1);
  for (size_t oh = oh0; oh < oh1; ++oh) {
    for (size_t ow = 0; ow < s.out_w; ++ow) {
      float* yp = y + (oh * s.out_w + ow) * C;
      size_t c = 0;
      for (; c + 32 <= C; c += 32) Tile<4, false>(s, C, x, w, bias, clamp, vlo, vhi, yp, oh, ow, c, all);
      for (; c + 8 <= C; c += 8) Tile<1, false>(s, C, x, w, bias, clamp, vlo, vhi, yp, oh, ow, c, all);
      if (c < C) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(C - c)),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        Tile<1, true>(s, C, x, w, bias, clamp, vlo, vhi, yp, oh, ow, c, m);
      }
    }
  }
}

}  // namespace edgert::kernels
