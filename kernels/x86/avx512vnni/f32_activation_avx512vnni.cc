// f32_activation_avx512vnni: ApplyActivation (activation_impl.h) compiled with the avx512vnni flags.
#include "../simd_prelude.h"
#include "../../src/activation_impl.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void f32_activation_avx512vnni(Activation act, float* x, size_t n) { ApplyActivationImpl(act, x, n); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
