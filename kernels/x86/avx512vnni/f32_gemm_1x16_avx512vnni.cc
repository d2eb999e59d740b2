// f32_gemm_1x16_avx512vnni: see f32_gemm_avx512.h.
#include "f32_gemm_avx512.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void f32_gemm_1x16_avx512vnni(EDGERT_F32_ARGS) { F32GemmZmm<1>(mr, nc, k, a, lda, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
