// qd8_qc8w_gemm_12x32c4_avx512vnni: see zmm_common_avx512vnni.h (two-panel tiles).
#include "zmm_common_avx512vnni.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qc8w_gemm_12x32c4_avx512vnni(EDGERT_QC8W_ARGS) { Qc8wGemmZmm2<12>(mr, nc, k, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
