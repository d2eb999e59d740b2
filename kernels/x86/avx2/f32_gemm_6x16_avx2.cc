// f32_gemm_6x16_avx2: see f32_gemm_avx2.h.
#include "f32_gemm_avx2.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
void f32_gemm_6x16_avx2(EDGERT_F32_ARGS) { F32GemmYmm<6>(mr, nc, k, a, lda, panel, ep, c, ldc); }
}  // namespace edgert::kernels
