// Public contract between kernels/ and runtime/ for convolutions that are not a GEMM.
// Kernels know nothing of graphs: plain pointers, sizes and strides.
#pragma once

#include <cstddef>

#include "edgert/kernels/gemm.h"  // Activation, Isa

namespace edgert::kernels {

// Depthwise 2-D convolution, f32, one filter per channel, planar (NCHW) layout:
//   y[c][oh][ow] = act(bias[c] + sum_{kh,kw} w[c][kh][kw] *
//                       x[c][oh*stride_h - pad_top + kh*dil_h][ow*stride_w - pad_left + kw*dil_w])
// with x read as 0 outside [0, in_h) x [0, in_w). Plane c of x starts at x + c*x_cstride (rows
// in_w floats apart), plane c of y at y + c*y_cstride (rows out_w apart); w is [channels][k_h][k_w];
// bias may be null. Padding at the end is implied by out_h / out_w.
// Summation order: bias first, then taps in (kh, kw) order; the SIMD variants use FMA, so they
// agree with the reference to rounding, not bit for bit. Every variant is deterministic and
// channels are independent: splitting channels over threads gives identical results.
struct DwConv2dShape {
  size_t in_h, in_w, out_h, out_w;
  size_t k_h, k_w;
  size_t stride_h, stride_w, dil_h, dil_w;
  size_t pad_top, pad_left;
};

// Scratch one DwConv2dF32 call needs (a zero-padded copy of one input plane), 64-byte multiple.
size_t DwConv2dScratchBytes(const DwConv2dShape& s);
// `scratch`: DwConv2dScratchBytes(s) bytes, 64-byte aligned, not shared with a concurrent call.
void DwConv2dF32(const DwConv2dShape& s, size_t channels, const float* x, size_t x_cstride,
                 const float* w, const float* bias, Activation act, float* y, size_t y_cstride,
                 void* scratch);

// Tests and benchmarks: the same with an explicit variant (kRef, kAvx2, kAvxVnni, kAvx512Vnni).
// Returns false (and computes nothing) if that variant is not built or the CPU cannot run it.
bool DwConv2dF32With(Isa isa, const DwConv2dShape& s, size_t channels, const float* x,
                     size_t x_cstride, const float* w, const float* bias, Activation act, float* y,
                     size_t y_cstride, void* scratch);
// Name of the depthwise kernel the current variant uses (e.g. "f32_dwconv2d_avx512vnni").
const char* DwConv2dKernelName();

}  // namespace edgert::kernels

namespace edgert::kernels {

// The same convolution in channels-last (NHWC) layout: x is [in_h][in_w][channels], y is
// [out_h][out_w][channels], w is [k_h][k_w][channels] (tap-major, so a tap's weights for
// consecutive channels are contiguous); bias may be null. Computes output rows [oh_begin, oh_end)
// only (callers split rows over threads; rows are independent). Summation order as above.
void DwConv2dNhwcF32(const DwConv2dShape& s, size_t channels, const float* x, const float* w,
                     const float* bias, Activation act, float* y, size_t oh_begin, size_t oh_end);
bool DwConv2dNhwcF32With(Isa isa, const DwConv2dShape& s, size_t channels, const float* x,
                         const float* w, const float* bias, Activation act, float* y,
                         size_t oh_begin, size_t oh_end);

}  // namespace edgert::kernels
