// Dispatch tables for the SIMDe-emulated builds of the AVX-VNNI and AVX-512 VNNI kernels
// (test-only). The AVX-512 table runs the AVX-512 quantizer built against SIMDe; the AVX-VNNI one
// the reference quantizer (the native AVX-VNNI variant uses the AVX2 one, tested on its own).
#include "edgert/kernels/internal.h"
#include "../../kernels/src/ukernels_x86.h"

namespace edgert::kernels::simde_emu {
namespace {
const QGemmConfig kAvxVnni = {
    Isa::kAvxVnni, QuantizeRowsRef, "f32_qd8_quantize_ref", 255,
    {qd8_qc8w_gemm_6x16c4_avxvnni, 6, "qd8_qc8w_gemm_6x16c4_avxvnni[simde]"},
    {qd8_qc8w_gemm_1x16c4_avxvnni, 1, "qd8_qc8w_gemm_1x16c4_avxvnni[simde]"}, 255,
    {qd8_qb4w_gemm_4x16c8_avxvnni, 4, "qd8_qb4w_gemm_4x16c8_avxvnni[simde]"},
    {qd8_qb4w_gemm_1x16c8_avxvnni, 1, "qd8_qb4w_gemm_1x16c8_avxvnni[simde]"},
};
const QGemmConfig kAvx512Vnni = {
    Isa::kAvx512Vnni, f32_qd8_quantize_avx512vnni, "f32_qd8_quantize_avx512vnni[simde]", 255,
    {qd8_qc8w_gemm_12x32c4_avx512vnni, 12, "qd8_qc8w_gemm_12x32c4_avx512vnni[simde]", 32},
    {qd8_qc8w_gemm_1x16c4_avx512vnni, 1, "qd8_qc8w_gemm_1x16c4_avx512vnni[simde]"}, 255,
    {qd8_qb4w_gemm_8x32c8_avx512vnni, 8, "qd8_qb4w_gemm_8x32c8_avx512vnni[simde]", 32},
    {qd8_qb4w_gemm_1x16c8_avx512vnni, 1, "qd8_qb4w_gemm_1x16c8_avx512vnni[simde]"},
};
}  // namespace

const QGemmConfig* QGemmConfigFor(Isa isa) {
  if (isa == Isa::kAvxVnni) return &kAvxVnni;
  if (isa == Isa::kAvx512Vnni) return &kAvx512Vnni;
  return nullptr;
}

}  // namespace edgert::kernels::simde_emu
