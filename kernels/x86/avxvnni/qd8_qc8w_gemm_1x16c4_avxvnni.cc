// qd8_qc8w_gemm_1x16c4_avxvnni: see avx2/qd8_qc8w_gemm_c4_avx2.h.
#include "../avx2/qd8_qc8w_gemm_c4_avx2.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qc8w_gemm_1x16c4_avxvnni(EDGERT_QC8W_ARGS) { Qc8wGemmYmm<1, true>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
