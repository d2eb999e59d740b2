// f32_dwconv2d_avx512vnni: depthwise convolution of one zero-padded plane (dwconv_ukernels.h),
// AVX-512F. 16 output columns per vector; R <= 8 output rows at once, so 8 independent FMA
// chains hide the FMA latency and each tap's weight is broadcast once per R vectors. Stride 1
// loads unaligned; stride 2 loads two vectors and keeps the even lanes (vpermt2ps). Other
// strides: scalar.
#include "../simd_prelude.h"
#include "../../src/dwconv_ukernels.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

template <int S>
inline __m512 LoadCols(const float* p, __m512i even) {
  if constexpr (S == 1) {
    (void)even;
    return _mm512_loadu_ps(p);
  } else {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
  }
}

template <int R, int S>
void Block(size_t oh0, size_t ow0, uint16_t mask, size_t k_h, size_t k_w, size_t sh, size_t dh,
           size_t dw, const float* xp, size_t xs, const float* w, float bias, bool clamp,
           __m512 lo, __m512 hi, float* y, size_t out_w) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  __m512 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm512_set1_ps(bias);
  const float* base = xp + oh0 * sh * xs + ow0 * S;
  for (size_t kh = 0; kh < k_h; ++kh) {
    const float* row = base + kh * dh * xs;
    for (size_t kw = 0; kw < k_w; ++kw) {
      const __m512 wv = _mm512_set1_ps(w[kh * k_w + kw]);
      const float* p = row + kw * dw;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(wv, LoadCols<S>(p + r * sh * xs, even), acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    __m512 v = acc[r];
    if (clamp) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    _mm512_mask_storeu_ps(y + (oh0 + r) * out_w + ow0, mask, v);
  }
}

}  // namespace

void f32_dwconv2d_avx512vnni(EDGERT_DWCONV_ARGS) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  if (sw != 1 && sw != 2) {
    for (size_t oh = 0; oh < out_h; ++oh)
      for (size_t ow = 0; ow < out_w; ++ow) {
        float acc = bias;
        for (size_t kh = 0; kh < k_h; ++kh)
          for (size_t kw = 0; kw < k_w; ++kw)
            acc += w[kh * k_w + kw] * xp[(oh * sh + kh * dh) * xp_stride + ow * sw + kw * dw];
        if (clamp) acc = acc < lo ? lo : (acc > hi ? hi : acc);
        y[oh * out_w + ow] = acc;
      }
    return;
  }
  for (size_t ow0 = 0; ow0 < out_w; ow0 += 16) {
    const size_t n = out_w - ow0 < 16 ? out_w - ow0 : 16;
    const uint16_t mask = static_cast<uint16_t>((1u << n) - 1);
    size_t oh0 = 0;
#define EDGERT_DW_BLOCK(R)                                                                         \
  (sw == 1 ? Block<R, 1>(oh0, ow0, mask, k_h, k_w, sh, dh, dw, xp, xp_stride, w, bias, clamp, vlo, \
                         vhi, y, out_w)                                                            \
           : Block<R, 2>(oh0, ow0, mask, k_h, k_w, sh, dh, dw, xp, xp_stride, w, bias, clamp, vlo, \
                         vhi, y, out_w))
    for (; oh0 + 8 <= out_h; oh0 += 8) EDGERT_DW_BLOCK(8);
    switch (out_h - oh0) {
      case 7: EDGERT_DW_BLOCK(7); break;
      case 6: EDGERT_DW_BLOCK(6); break;
      case 5: EDGERT_DW_BLOCK(5); break;
      case 4: EDGERT_DW_BLOCK(4); break;
      case 3: EDGERT_DW_BLOCK(3); break;
      case 2: EDGERT_DW_BLOCK(2); break;
      case 1: EDGERT_DW_BLOCK(1); break;
      default: break;
    }
#undef EDGERT_DW_BLOCK
  }
}

EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
