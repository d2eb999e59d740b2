// qd8_qc8w_gemm_1x16c4_avx512vnni: see zmm_common_avx512vnni.h.
#include "zmm_common_avx512vnni.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qc8w_gemm_1x16c4_avx512vnni(EDGERT_QC8W_ARGS) { Qc8wGemmZmm<1>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
