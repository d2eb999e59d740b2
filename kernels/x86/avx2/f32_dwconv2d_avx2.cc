// f32_dwconv2d_avx2: depthwise convolution of one zero-padded plane (dwconv_ukernels.h),
// AVX2 + FMA. 8 output columns per vector; R <= 8 output rows at once (8 independent FMA chains,
// one weight broadcast per R vectors). Stride 1 loads unaligned; stride 2 loads two vectors and
// keeps the even lanes (shufps + vpermpd). Other strides: scalar.
#include "../simd_prelude.h"
#include "../../src/dwconv_ukernels.h"

namespace edgert::kernels {
namespace {

template <int S>
inline __m256 LoadCols(const float* p) {
  if constexpr (S == 1) {
    return _mm256_loadu_ps(p);
  } else {
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    // [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6]
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  }
}

template <int R, int S>
void Block(size_t oh0, size_t ow0, size_t n, size_t k_h, size_t k_w, size_t sh, size_t dh,
           size_t dw, const float* xp, size_t xs, const float* w, float bias, bool clamp,
           __m256 lo, __m256 hi, float* y, size_t out_w) {
  __m256 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = _mm256_set1_ps(bias);
  const float* base = xp + oh0 * sh * xs + ow0 * S;
  for (size_t kh = 0; kh < k_h; ++kh) {
    const float* row = base + kh * dh * xs;
    for (size_t kw = 0; kw < k_w; ++kw) {
      const __m256 wv = _mm256_set1_ps(w[kh * k_w + kw]);
      const float* p = row + kw * dw;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(wv, LoadCols<S>(p + r * sh * xs), acc[r]);
    }
  }
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    __m256 v = acc[r];
    if (clamp) v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    float* out = y + (oh0 + r) * out_w + ow0;
    if (n == 8) {
      _mm256_storeu_ps(out, v);
    } else {
      _mm256_maskstore_ps(out, mask, v);
    }
  }
}

}  // namespace

void f32_dwconv2d_avx2(EDGERT_DWCONV_ARGS) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
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
  for (size_t ow0 = 0; ow0 < out_w; ow0 += 8) {
    const size_t n = out_w - ow0 < 8 ? out_w - ow0 : 8;
    size_t oh0 = 0;
#define EDGERT_DW_BLOCK(R)                                                                       \
  (sw == 1 ? Block<R, 1>(oh0, ow0, n, k_h, k_w, sh, dh, dw, xp, xp_stride, w, bias, clamp, vlo, \
                         vhi, y, out_w)                                                          \
           : Block<R, 2>(oh0, ow0, n, k_h, k_w, sh, dh, dw, xp, xp_stride, w, bias, clamp, vlo, \
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

}  // namespace edgert::kernels
