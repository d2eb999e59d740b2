// DwConv2dF32 driver: copies each input plane into a zero-padded scratch plane (so the
// micro-kernels have no bounds checks and no edge cases) and runs the variant's micro-kernel.
#include <cstring>
#include <limits>

#include "dwconv_ukernels.h"
#include "edgert/kernels/conv.h"
#include "edgert/kernels/internal.h"

namespace edgert::kernels {

void DwConv2dF32Ref(const DwConv2dShape& s, size_t channels, const float* x, size_t x_cstride,
                    const float* w, const float* bias, Activation act, float* y,
                    size_t y_cstride);

namespace {

constexpr size_t kMaxVec = 16;  // widest micro-kernel vector (AVX-512), in floats

size_t RoundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

// Padded plane: every read of the micro-kernels, including whole-vector reads past out_w (up
// to the next multiple of 16 outputs; stride 2 reads two vectors) stays inside.
size_t PaddedHeight(const DwConv2dShape& s) {
  return s.out_h == 0 ? 0 : (s.out_h - 1) * s.stride_h + (s.k_h - 1) * s.dil_h + 1;
}
size_t PaddedWidth(const DwConv2dShape& s) {
  const size_t last = (RoundUp(s.out_w, kMaxVec) - 1) * s.stride_w + (s.k_w - 1) * s.dil_w;
  return RoundUp(last + kMaxVec + 1, kMaxVec);
}

DwConv2dUkernelFn UkernelFor(Isa isa) {
#if defined(EDGERT_KERNELS_X86)
  switch (isa) {
    case Isa::kAvx2:
    case Isa::kAvxVnni: return IsaBuilt(Isa::kAvx2) ? f32_dwconv2d_avx2 : nullptr;
    case Isa::kAvx512Vnni: return IsaBuilt(Isa::kAvx512Vnni) ? f32_dwconv2d_avx512vnni : nullptr;
    default: return nullptr;
  }
#else
  (void)isa;
  return nullptr;
#endif
}

void Run(DwConv2dUkernelFn uk, const DwConv2dShape& s, size_t channels, const float* x,
         size_t x_cstride, const float* w, const float* bias, Activation act, float* y,
         size_t y_cstride, void* scratch) {
  if (channels == 0 || s.out_h == 0 || s.out_w == 0) return;
  const size_t ph = PaddedHeight(s), pw = PaddedWidth(s);
  float* xp = static_cast<float*>(scratch);
  std::memset(xp, 0, ph * pw * sizeof(float));
  // Input rows/columns that land inside the padded plane (the rest is never read).
  const size_t rows = s.in_h + s.pad_top > ph ? (ph > s.pad_top ? ph - s.pad_top : 0) : s.in_h;
  const size_t cols = s.in_w + s.pad_left > pw ? (pw > s.pad_left ? pw - s.pad_left : 0) : s.in_w;
  const bool clamp = act == Activation::kRelu || act == Activation::kRelu6;
  const float lo = 0.0f;
  const float hi = act == Activation::kRelu6 ? 6.0f : std::numeric_limits<float>::infinity();
  const size_t kk = s.k_h * s.k_w;
  for (size_t c = 0; c < channels; ++c) {
    const float* xc = x + c * x_cstride;
    for (size_t r = 0; r < rows; ++r)
      std::memcpy(xp + (r + s.pad_top) * pw + s.pad_left, xc + r * s.in_w, cols * sizeof(float));
    float* yc = y + c * y_cstride;
    uk(s.out_h, s.out_w, s.k_h, s.k_w, s.stride_h, s.stride_w, s.dil_h, s.dil_w, xp, pw,
       w + c * kk, bias ? bias[c] : 0.0f, clamp, lo, hi, yc);
    if (!clamp && act != Activation::kNone) ApplyActivation(act, yc, s.out_h * s.out_w);
  }
}

}  // namespace

size_t DwConv2dScratchBytes(const DwConv2dShape& s) {
  return RoundUp(PaddedHeight(s) * PaddedWidth(s) * sizeof(float), 64);
}

bool DwConv2dF32With(Isa isa, const DwConv2dShape& s, size_t channels, const float* x,
                     size_t x_cstride, const float* w, const float* bias, Activation act, float* y,
                     size_t y_cstride, void* scratch) {
  if (!IsaBuilt(isa) || !IsaSupportedByCpu(isa)) return false;
  if (isa == Isa::kRef) {
    DwConv2dF32Ref(s, channels, x, x_cstride, w, bias, act, y, y_cstride);
    return true;
  }
  DwConv2dUkernelFn uk = UkernelFor(isa);
  if (uk == nullptr) return false;
  Run(uk, s, channels, x, x_cstride, w, bias, act, y, y_cstride, scratch);
  return true;
}

void DwConv2dF32(const DwConv2dShape& s, size_t channels, const float* x, size_t x_cstride,
                 const float* w, const float* bias, Activation act, float* y, size_t y_cstride,
                 void* scratch) {
  // The f32 table's variant follows SelectedIsa() / ForceIsa() (avxvnni uses the AVX2 f32 code).
  const Isa isa = CurrentF32GemmConfig()->isa;
  DwConv2dUkernelFn uk = UkernelFor(isa);
  if (uk == nullptr) {
    DwConv2dF32Ref(s, channels, x, x_cstride, w, bias, act, y, y_cstride);
    return;
  }
  Run(uk, s, channels, x, x_cstride, w, bias, act, y, y_cstride, scratch);
}

const char* DwConv2dKernelName() {
  switch (CurrentF32GemmConfig()->isa) {
    case Isa::kAvx2:
    case Isa::kAvxVnni: return "f32_dwconv2d_avx2";
    case Isa::kAvx512Vnni: return "f32_dwconv2d_avx512vnni";
    default: return "f32_dwconv2d_ref";
  }
}

}  // namespace edgert::kernels

namespace edgert::kernels {

void DwConv2dNhwcF32Ref(const DwConv2dShape& s, size_t channels, const float* x, const float* w,
                        const float* bias, Activation act, float* y, size_t oh_begin,
                        size_t oh_end);

namespace {

DwConv2dNhwcUkernelFn NhwcUkernelFor(Isa isa) {
#if defined(EDGERT_KERNELS_X86)
  switch (isa) {
    case Isa::kAvx2:
    case Isa::kAvxVnni: return IsaBuilt(Isa::kAvx2) ? f32_dwconv2d_nhwc_avx2 : nullptr;
    case Isa::kAvx512Vnni:
      return IsaBuilt(Isa::kAvx512Vnni) ? f32_dwconv2d_nhwc_avx512vnni : nullptr;
    default: return nullptr;
  }
#else
  (void)isa;
  return nullptr;
#endif
}

void RunNhwc(DwConv2dNhwcUkernelFn uk, const DwConv2dShape& s, size_t channels, const float* x,
             const float* w, const float* bias, Activation act, float* y, size_t oh0,
             size_t oh1) {
  if (channels == 0 || oh0 >= oh1 || s.out_w == 0) return;
  const bool clamp = act == Activation::kRelu || act == Activation::kRelu6;
  const float hi = act == Activation::kRelu6 ? 6.0f : std::numeric_limits<float>::infinity();
  uk(s, channels, x, w, bias, clamp, 0.0f, hi, y, oh0, oh1);
  if (!clamp && act != Activation::kNone) {
    ApplyActivation(act, y + oh0 * s.out_w * channels, (oh1 - oh0) * s.out_w * channels);
  }
}

}  // namespace

void DwConv2dNhwcF32(const DwConv2dShape& s, size_t channels, const float* x, const float* w,
                     const float* bias, Activation act, float* y, size_t oh_begin,
                     size_t oh_end) {
  DwConv2dNhwcUkernelFn uk = NhwcUkernelFor(CurrentF32GemmConfig()->isa);
  if (uk == nullptr) {
    DwConv2dNhwcF32Ref(s, channels, x, w, bias, act, y, oh_begin, oh_end);
    return;
  }
  RunNhwc(uk, s, channels, x, w, bias, act, y, oh_begin, oh_end);
}

bool DwConv2dNhwcF32With(Isa isa, const DwConv2dShape& s, size_t channels, const float* x,
                         const float* w, const float* bias, Activation act, float* y,
                         size_t oh_begin, size_t oh_end) {
  if (!IsaBuilt(isa) || !IsaSupportedByCpu(isa)) return false;
  if (isa == Isa::kRef) {
    DwConv2dNhwcF32Ref(s, channels, x, w, bias, act, y, oh_begin, oh_end);
    return true;
  }
  DwConv2dNhwcUkernelFn uk = NhwcUkernelFor(isa);
  if (uk == nullptr) return false;
  RunNhwc(uk, s, channels, x, w, bias, act, y, oh_begin, oh_end);
  return true;
}

}  // namespace edgert::kernels
