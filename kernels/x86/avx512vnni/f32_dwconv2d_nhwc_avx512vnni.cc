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

template <int U, bool kMasked>
inline void Tile(const DwConv2dShape& s, size_t C, const float* x, const float* w,
                 const float* bias, bool clamp, __m512 lo, __m512 hi, float* yp, size_t oh,
                 size_t ow, size_t c, __mmask16 m) {
  __m512 acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    if (bias == nullptr) {
      acc[u] = _mm512_setzero_ps();
    } else if (kMasked) {
      acc[u] = LoadTail(m, bias + c + 16 * u);
    } else {
      acc[u] = _mm512_loadu_ps(bias + c + 16 * u);
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
          acc[u] = _mm512_fmadd_ps(LoadTail(m, wp + 16 * u), LoadTail(m, xp + 16 * u), acc[u]);
        } else {
          acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(wp + 16 * u), _mm512_loadu_ps(xp + 16 * u), acc[u]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    __m512 v = acc[u];
    if (clamp) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    if (kMasked) {
      _mm512_mask_storeu_ps(yp + c + 16 * u, m, v);
    } else {
      _mm512_storeu_ps(yp + c + 16 * u, v);
    }
  }
}

}  // namespace

void f32_dwconv2d_nhwc_avx512vnni(EDGERT_DWCONV_NHWC_ARGS) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  const size_t C = channels;
  for (size_t oh = oh0; oh < oh1; ++oh) {
    for (size_t ow = 0; ow < s.out_w; ++ow) {
      float* yp = y + (oh * s.out_w + ow) * C;
      size_t c = 0;
      for (; c + 64 <= C; c += 64) Tile<4, false>(s, C, x, w, bias, clamp, vlo, vhi, yp, oh, ow, c, 0xFFFF);
      for (; c + 16 <= C; c += 16) Tile<1, false>(s, C, x, w, bias, clamp, vlo, vhi, yp, oh, ow, c, 0xFFFF);
      if (c < C) {
        const __mmask16 m = static_cast<__mmask16>((1u << (C - c)) - 1);
        Tile<1, true>(s, C, x, w, bias, clamp, vlo, vhi, yp, oh, ow, c, m);
      }
    }
  }
}

EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
