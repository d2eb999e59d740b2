// Depthwise-convolution micro-kernels (definitions: kernels/x86/<isa>/f32_dwconv2d_<isa>.cc).
// Not part of the runtime contract (conv.h is). ODR: declarations only (see internal.h).
#pragma once

#include <cstddef>

// One channel on a zero-padded input plane `xp` (rows xp_stride floats apart), no bounds checks:
// the caller guarantees reads up to row (out_h-1)*sh + (k_h-1)*dh and up to column
// (RoundUp(out_w, 16) - 1)*sw + (k_w-1)*dw + 16 are inside the plane (DwConvPaddedWidth).
// clamp: y = min(max(y, lo), hi) (Relu / Relu6 fused); otherwise no activation.
#define EDGERT_DWCONV_ARGS                                                                      \
  size_t out_h, size_t out_w, size_t k_h, size_t k_w, size_t sh, size_t sw, size_t dh,         \
      size_t dw, const float *xp, size_t xp_stride, const float *w, float bias, bool clamp,   \
      float lo, float hi, float *y

namespace edgert::kernels {
using DwConv2dUkernelFn = void (*)(EDGERT_DWCONV_ARGS);
#if defined(EDGERT_KERNELS_X86)
void f32_dwconv2d_avx2(EDGERT_DWCONV_ARGS);
void f32_dwconv2d_avx512vnni(EDGERT_DWCONV_ARGS);
#endif
}  // namespace edgert::kernels

// Channels-last depthwise micro-kernels: output rows [oh0, oh1) of DwConv2dNhwcF32 (conv.h),
// with bounds checks per tap (no padded copy); clamp as above.
#define EDGERT_DWCONV_NHWC_ARGS                                                                 \
  const DwConv2dShape &s, size_t channels, const float *x, const float *w, const float *bias,  \
      bool clamp, float lo, float hi, float *y, size_t oh0, size_t oh1

namespace edgert::kernels {
struct DwConv2dShape;
using DwConv2dNhwcUkernelFn = void (*)(EDGERT_DWCONV_NHWC_ARGS);
#if defined(EDGERT_KERNELS_X86)
void f32_dwconv2d_nhwc_avx2(EDGERT_DWCONV_NHWC_ARGS);
void f32_dwconv2d_nhwc_avx512vnni(EDGERT_DWCONV_NHWC_ARGS);
#endif
}  // namespace edgert::kernels
