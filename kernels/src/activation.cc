// ApplyActivation: one implementation (activation_impl.h) shared by every ISA variant, so fused
// epilogues are bit-identical across variants (the GEMM drivers call it on each finished output
// tile). The AVX2 / AVX-512 builds of the same code are selected with the f32 variant: the
// baseline (SSE2) build of GELU (then a rational erf) was 28% of MiniLM INT8 time.
#include "activation_impl.h"
#include "edgert/kernels/internal.h"

namespace edgert::kernels {

#if defined(EDGERT_KERNELS_X86)
void f32_activation_avx2(Activation act, float* x, size_t n);
void f32_activation_avx512vnni(Activation act, float* x, size_t n);
#endif

void f32_activation_ref(Activation act, float* x, size_t n) { ApplyActivationImpl(act, x, n); }

ActivationFn CurrentActivationFn() {
#if defined(EDGERT_KERNELS_X86)
  switch (CurrentF32GemmConfig()->isa) {
    case Isa::kAvx2:
    case Isa::kAvxVnni: return f32_activation_avx2;
    case Isa::kAvx512Vnni: return f32_activation_avx512vnni;
    default: break;
  }
#endif
  return f32_activation_ref;
}

void ApplyActivation(Activation act, float* x, size_t n) {
  if (act == Activation::kNone) return;
  CurrentActivationFn()(act, x, n);
}

}  // namespace edgert::kernels
