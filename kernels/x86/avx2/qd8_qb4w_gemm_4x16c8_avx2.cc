// qd8_qb4w_gemm_4x16c8_avx2: see avx2/qd8_qb4w_gemm_c8_avx2.h.
#include "qd8_qb4w_gemm_c8_avx2.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qb4w_gemm_4x16c8_avx2(EDGERT_QB4W_ARGS) { Qb4wGemmYmm<4, false>(mr, nc, k, block, flags, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
