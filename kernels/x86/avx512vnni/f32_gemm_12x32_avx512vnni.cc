// f32_gemm_12x32_avx512vnni: see f32_gemm_avx512.h (two-panel tile).
#include "f32_gemm_avx512.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void f32_gemm_12x32_avx512vnni(EDGERT_F32_ARGS) { F32GemmZmm2<12>(mr, nc, k, a, lda, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
