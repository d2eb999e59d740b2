// qd8_qb4w_gemm_8x32c8_avx512vnni: see zmm_common_avx512vnni.h (two-panel tiles).
#include "zmm_common_avx512vnni.h"
#include "../../src/ukernels_x86.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
void qd8_qb4w_gemm_8x32c8_avx512vnni(EDGERT_QB4W_ARGS) { Qb4wGemmZmm2<8>(mr, nc, k, block, flags, a, a_stride, rows, panel, ep, c, ldc); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
