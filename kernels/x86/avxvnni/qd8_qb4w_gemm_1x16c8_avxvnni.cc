// qd8_qb4w_gemm_1x16c8_avxvnni: see avx2/qd8_qb4w_gemm_c8_avx2.h.
#include "../avx2/qd8_qb4w_gemm_c8_avx2.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qb4w_gemm_1x16c8_avxvnni(EDGERT_QB4W_ARGS) { Qb4wGemmYmm<1, true>(mr, nc, k, block, flags, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
