// qd8_qc8w_gemm_4x16c4_avx2: see avx2/qd8_qc8w_gemm_c4_avx2.h.
#include "qd8_qc8w_gemm_c4_avx2.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qc8w_gemm_4x16c4_avx2(EDGERT_QC8W_ARGS) { Qc8wGemmYmm<4, false>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
