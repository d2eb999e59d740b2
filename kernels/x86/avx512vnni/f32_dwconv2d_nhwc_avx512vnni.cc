// f32_dwconv2d_nhwc_avx512vnni: channels-last depthwise convolution (dwconv_ukernels.h),
// AVX-512F. Channels are the vector lanes: 64 channels (4 independent FMA chains) per block,
// then single masked vectors for the tail. Taps outside the input are skipped (per output
// position, outside the channel loop's arithmetic).
#include "../simd_prelude.h"
#include "../../src/dwconv_ukernels.h"
#include "edgert/kernels/conv.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

// Masked load (zero in unselected lanes, no read of them). SIMDe 0.7.4 lacks the intrinsic.
inline __m512 LoadTail(__mmask16 m, const float* p) {
#if defined(EDGERT_SIMDE)
  float t[16] = {};
  for (int i = 0; i < 16; ++i)
    if (m >> i & 1) t[i] = p[i];
  return _mm512_loadu_ps(t);
#else
  return _mm512_maskz_loadu_ps(m, p);
#endif
}

inline __mmask16 TailMask(size_t n) { return static_cast<__mmask16>((1u << n) - 1); }

// P adjacent output columns (P = 2 or 4 only where every tap of both columns is inside the
// input: no column checks) x U vectors of channels: P*U independent FMA chains (up to 16 + 4 weight registers of the 32), each tap's
// weights loaded once for the P columns.
template <int U, int P, bool kMasked>
inline void Tile(const DwConv2dShape& s, size_t C, const float* x, const float* w,
                 const float* bias, bool clamp, __m512 lo, __m512 hi, float* y, size_t oh,
                 size_t ow, size_t c, __mmask16 m) {
  __m512 acc[P][U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    __m512 b = _mm512_setzero_ps();
    if (bias != nullptr) b = kMasked ? LoadTail(m, bias + c + 16 * u) : _mm512_loadu_ps(bias + c + 16 * u);
#pragma GCC unroll 4
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
        const __m512 wv = kMasked ? LoadTail(m, wp + 16 * u) : _mm512_loadu_ps(wp + 16 * u);
#pragma GCC unroll 4
        for (int q = 0; q < P; ++q) {
          const float* xq = xp + q * s.stride_w * C + 16 * u;
          acc[q][u] = _mm512_fmadd_ps(wv, kMasked ? LoadTail(m, xq) : _mm512_loadu_ps(xq), acc[q][u]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < P; ++q) {
    float* yp = y + (oh * s.out_w + ow + q) * C + c;
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
      __m512 v = acc[q][u];
      if (clamp) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      if (kMasked) {
        _mm512_mask_storeu_ps(yp + 16 * u, m, v);
      } else {
        _mm512_storeu_ps(yp + 16 * u, v);
      }
    }
  }
}

// Output rows [oh0, oh1), every column, of the channels [c, c + 16U) (masked: lanes m of one
// vector). One channel block at a time over all the rows: its input window stays in L1 from one
// column group to the next (all channels per position first, the old order, kept each tap's loads
// in L2 once C * (k_h rows) outgrew L1: EfficientNet's 5x5 layers at 672-1152 channels ran at a
// quarter of the FMA peak). Interior columns [ow_lo, ow_hi) take the multi-column tiles.
template <int U, bool kMasked>
inline void Sweep(const DwConv2dShape& s, size_t C, const float* x, const float* w, const float* bias, bool clamp,
                  __m512 lo, __m512 hi, float* y, size_t oh0, size_t oh1, size_t ow_lo, size_t ow_hi, size_t c,
                  __mmask16 m) {
  for (size_t oh = oh0; oh < oh1; ++oh) {
    for (size_t ow = 0; ow < s.out_w;) {
      if (ow >= ow_lo && ow + 4 <= ow_hi) {
        Tile<U, 4, kMasked>(s, C, x, w, bias, clamp, lo, hi, y, oh, ow, c, m);
        ow += 4;
      } else if (ow >= ow_lo && ow + 2 <= ow_hi) {
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

void f32_dwconv2d_nhwc_avx512vnni(EDGERT_DWCONV_NHWC_ARGS) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  const __mmask16 all = 0xFFFF;
  // Interior columns [ow_lo, ow_hi): every kw tap inside [0, in_w).
  const size_t ext = (s.k_w - 1) * s.dil_w, lim = s.in_w + s.pad_left;
  const size_t ow_lo = (s.pad_left + s.stride_w - 1) / s.stride_w;
  size_t ow_hi = lim > ext ? (lim - 1 - ext) / s.stride_w + 1 : 0;
  if (ow_hi > s.out_w) ow_hi = s.out_w;
  // One channel block at a time over all the task's rows and columns (see Sweep).
  const size_t C = channels;
  size_t c = 0;
  for (; c + 4 * 16 <= C; c += 4 * 16) Sweep<4, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all);
  switch ((C - c) / 16) {
    case 3: Sweep<3, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all); c += 3 * 16; break;
    case 2: Sweep<2, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all); c += 2 * 16; break;
    case 1: Sweep<1, false>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, all); c += 16; break;
    default: break;
  }
  if (c < C) Sweep<1, true>(s, C, x, w, bias, clamp, vlo, vhi, y, oh0, oh1, ow_lo, ow_hi, c, TailMask(C - c));
}

EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
