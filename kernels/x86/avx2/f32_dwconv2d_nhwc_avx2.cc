// f32_dwconv2d_nhwc_avx2: channels-last depthwise convolution (dwconv_ukernels.h), AVX2 + FMA.
// Channels are the vector lanes: 32 channels (4 independent FMA chains) per block, then single
// vectors, then a masked tail. Taps outside the input are skipped.
#include "../simd_prelude.h"
#include "../../src/dwconv_ukernels.h"
#include "edgert/kernels/conv.h"

namespace edgert::kernels {
namespace {

inline __m256i TailMask(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// P adjacent output columns (P = 2 only where every tap of both columns is inside the
// input: no column checks) x U vectors of channels: P*U independent FMA chains, each tap's
// weights loaded once for the P columns.
template <int U, int P, bool kMasked>
inline void Tile(const DwConv2dShape& s, size_t C, const float* x, const float* w,
                 const float* bias, bool clamp, __m256 lo, __m256 hi, float* y, size_t oh,
                 size_t ow, size_t c, __m256i m) {
  __m256 acc[P][U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    __m256 b = _mm256_setzero_ps();
    if (bias != nullptr) b = kMasked ? _mm256_maskload_ps(bias + c + 8 * u, m) : _mm256_loadu_ps(bias + c + 8 * u);
#pragma GCC unroll 2
    for (int q = 0; q < P; ++q) acc[q][u] = b;
  }
  for (size_t kh = 0; kh < s.k_h; ++kh) {
    if (oh * s.stride_h + kh * s.dil_h < s.pad_top) continue;
    const size_t ih = oh * s.stride_h + kh * s.dil_h - s.pad_top;
    if (ih >= s.in_h) break;
    for (size_t kw = 0; kw < s.k_w; ++kw) {
      if (P == 1) {
        if (ow * s.stride_w + kw * s.dil_w < s.pad_left) continue;
        if (ow * s.stride_w + kw * s.dil_w - s.pad_left >= s.in_w) break;
      }
      const size_t iw = ow * s.stride_w + kw * s.dil_w - s.pad_left;
      const float* xp = x + (ih * s.in_w + iw) * C + c;
      const float* wp = w + (kh * s.k_w + kw) * C + c;
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) {
        const __m256 wv = kMasked ? _mm256_maskload_ps(wp + 8 * u, m) : _mm256_loadu_ps(wp + 8 * u);
#pragma GCC unroll 2
        for (int q = 0; q < P; ++q) {
          const float* xq = xp + q * s.stride_w * C + 8 * u;
          acc[q][u] = _mm256_fmadd_ps(wv, kMasked ? _mm256_maskload_ps(xq, m) : _mm256_loadu_ps(xq), acc[q][u]);
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int q = 0; q < P; ++q) {
    float* yp = y + (oh * s.out_w + ow + q) * C + c;
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      __m256 v = acc[q][u];
      if (clamp) v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
      if (kMasked) {
        _mm256_maskstore_ps(yp + 8 * u, m, v);
      } else {
        _mm256_storeu_ps(yp + 8 * u, v);
      }
    }
  }
}

// Output rows [oh0, oh1), every column, of the channels [c, c + 8U) (masked: lanes m of one
// vector). One channel block at a time over all the rows: its input window stays in L1 from one
// column group to the next (all channels per position first, the old order, kept each tap's loads
// in L2 once C * (k_h rows) outgrew L1: EfficientNet's 5x5 layers at 672-1152 channels ran at a
// quarter of the FMA peak). Interior columns [ow_lo, ow_hi) take the multi-column tiles.
template <int U, bool kMasked>
inline void Sweep(const DwConv2dShape& s, size_t C, const float* x, const float* w, const float* bias, bool clamp,
                  __m256 lo, __m256 hi, float* y, size_t oh0, size_t oh1, size_t ow_lo, size_t ow_hi, size_t c,
                  __m256i m) {
  for (size_t oh = oh0; oh < oh1; ++oh) {
    for (size_t ow = 0; ow < s.out_w;) {
      if (ow >= ow_lo && ow + 2 <= ow_hi) {
        Tile<U, 2, kMasked>(s, C, x, w, bias, clamp, lo, hi, y, oh, ow, c, m);
        ow += 2;
      } else {
        Tile<U, 1, kMasked>(s, C, x, w, bias, clamp, lo, hi, y, oh, ow, c, m);
        ow += 1;
      }
    }
  }
}

}  // namespace

void f32_dwconv2d_nhwc_avx2(EDGERT_DWCONV_NHWC_ARGS) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256i all = _mm256_set1_epi32(-1);
  // Interior columns [ow_lo, ow_hi): every kw tap inside [0, in_w).
  const size_t ext = (s.k_w - 1) * s.dil_w, lim = s.in_w + s.pad_left;
  const size_t ow_lo = (s.pad_left + s.stride_w - 1) / s.stride_w;
  size_t ow_hi = lim > ext ? (lim - 1 - ext) / s.stride_w + 1 : 0;
  if (ow_hi > s.out_w) ow_hi = s.out_w;
  // One channel block at a time over all the task's rows and columns (see Sweep).
  const size_t C = channels;
  size_t c = 0;
  for (; c + 4 * 8 <= C; c += 4 * 8) Sweep<4, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all);
  switch ((C - c) / 8) {
    case 3: Sweep<3, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all); c += 3 * 8; break;
    case 2: Sweep<2, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all); c += 2 * 8; break;
    case 1: Sweep<1, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all); c += 8; break;
    default: break;
  }
  if (c < C) Sweep<1, true>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, TailMask(C - c));
}

}  // namespace edgert::kernels
