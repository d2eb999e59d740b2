// f32_dwconv2d_ref: the specification of DwConv2dF32 (conv.h). Direct loop with bounds checks,
// bias first then taps in (kh, kw) order, multiply and add rounded separately.
#include "edgert/kernels/conv.h"

namespace edgert::kernels {

void DwConv2dF32Ref(const DwConv2dShape& s, size_t channels, const float* x, size_t x_cstride,
                    const float* w, const float* bias, Activation act, float* y,
                    size_t y_cstride) {
  const size_t kk = s.k_h * s.k_w;
  for (size_t c = 0; c < channels; ++c) {
    const float* xc = x + c * x_cstride;
    const float* wc = w + c * kk;
    float* yc = y + c * y_cstride;
    for (size_t oh = 0; oh < s.out_h; ++oh) {
      for (size_t ow = 0; ow < s.out_w; ++ow) {
        float acc = bias ? bias[c] : 0.0f;
        for (size_t kh = 0; kh < s.k_h; ++kh) {
          // Unsigned wrap-around makes "before the first row" fail the < in_h test too.
          const size_t ih = oh * s.stride_h + kh * s.dil_h - s.pad_top;
          if (oh * s.stride_h + kh * s.dil_h < s.pad_top || ih >= s.in_h) continue;
          for (size_t kw = 0; kw < s.k_w; ++kw) {
            if (ow * s.stride_w + kw * s.dil_w < s.pad_left) continue;
            const size_t iw = ow * s.stride_w + kw * s.dil_w - s.pad_left;
            if (iw >= s.in_w) continue;
            const float prod = wc[kh * s.k_w + kw] * xc[ih * s.in_w + iw];
            acc = acc + prod;
          }
        }
        yc[oh * s.out_w + ow] = acc;
      }
      ApplyActivation(act, yc + oh * s.out_w, s.out_w);
    }
  }
}

}  // namespace edgert::kernels

namespace edgert::kernels {

// f32_dwconv2d_nhwc_ref: DwConv2dNhwcF32's specification, same order as DwConv2dF32Ref.
void DwConv2dNhwcF32Ref(const DwConv2dShape& s, size_t channels, const float* x, const float* w,
                        const float* bias, Activation act, float* y, size_t oh_begin,
                        size_t oh_end) {
  for (size_t oh = oh_begin; oh < oh_end; ++oh) {
    for (size_t ow = 0; ow < s.out_w; ++ow) {
      float* yp = y + (oh * s.out_w + ow) * channels;
      for (size_t c = 0; c < channels; ++c) {
        float acc = bias ? bias[c] : 0.0f;
        for (size_t kh = 0; kh < s.k_h; ++kh) {
          if (oh * s.stride_h + kh * s.dil_h < s.pad_top) continue;
          const size_t ih = oh * s.stride_h + kh * s.dil_h - s.pad_top;
          if (ih >= s.in_h) continue;
          for (size_t kw = 0; kw < s.k_w; ++kw) {
            if (ow * s.stride_w + kw * s.dil_w < s.pad_left) continue;
            const size_t iw = ow * s.stride_w + kw * s.dil_w - s.pad_left;
            if (iw >= s.in_w) continue;
            const float prod = w[(kh * s.k_w + kw) * channels + c] * x[(ih * s.in_w + iw) * channels + c];
            acc = acc + prod;
          }
        }
        yp[c] = acc;
      }
      ApplyActivation(act, yp, channels);
    }
  }
}

}  // namespace edgert::kernels
