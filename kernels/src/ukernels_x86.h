// Declarations of the x86 micro-kernels (definitions: kernels/x86/<isa>/<name>.cc, one per file).
#pragma once

#include "edgert/kernels/internal.h"

#define EDGERT_DECLARE_X86_UKERNELS                                                              \
  bool BuiltAvx2();                                                                             \
  bool BuiltAvxVnni();                                                                          \
  bool BuiltAvx512Vnni();                                                                       \
  void f32_qd8_quantize_avx2(size_t m, size_t k, const float* a, size_t lda, int32_t qmax,      \
                             uint8_t* q, size_t q_stride, QRowParams* params);                  \
  void qd8_qc8w_gemm_4x16c4_avx2(EDGERT_QC8W_ARGS);                                             \
  void qd8_qc8w_gemm_1x16c4_avx2(EDGERT_QC8W_ARGS);  \
  void qd8_qb4w_gemm_1x16c8_avx2(EDGERT_QB4W_ARGS);  \
  void qd8_qb4w_gemm_4x16c8_avx2(EDGERT_QB4W_ARGS);                                             \
  void f32_gemm_6x16_avx2(EDGERT_F32_ARGS);                                                     \
  void f32_gemm_1x16_avx2(EDGERT_F32_ARGS);  \
  void f32_gemm_1x16_avx512vnni(EDGERT_F32_ARGS);                                                     \
  void qd8_qc8w_gemm_6x16c4_avxvnni(EDGERT_QC8W_ARGS);                                          \
  void qd8_qc8w_gemm_1x16c4_avxvnni(EDGERT_QC8W_ARGS);                                          \
  void qd8_qb4w_gemm_4x16c8_avxvnni(EDGERT_QB4W_ARGS);                                          \
  void qd8_qb4w_gemm_1x16c8_avxvnni(EDGERT_QB4W_ARGS);                                          \
  void f32_qd8_quantize_avx512vnni(size_t m, size_t k, const float* a, size_t lda, int32_t qmax, \
                                   uint8_t* q, size_t q_stride, QRowParams* params);            \
  void qd8_qc8w_gemm_12x32c4_avx512vnni(EDGERT_QC8W_ARGS);                                      \
  void qd8_qb4w_gemm_8x32c8_avx512vnni(EDGERT_QB4W_ARGS);                                       \
  void f32_gemm_12x32_avx512vnni(EDGERT_F32_ARGS);                                              \
  void qd8_qc8w_gemm_1x16c4_avx512vnni(EDGERT_QC8W_ARGS);                                       \
  void qd8_qb4w_gemm_1x16c8_avx512vnni(EDGERT_QB4W_ARGS);

#define EDGERT_QC8W_ARGS                                                                        \
  size_t mr, size_t nc, size_t k, const uint8_t *a, size_t a_stride, const QRowParams *rows,    \
      const void *panel, const QEpilogue *ep, float *c, size_t ldc
#define EDGERT_QB4W_ARGS                                                                        \
  size_t mr, size_t nc, size_t k, size_t block, uint32_t flags, const uint8_t *a,               \
      size_t a_stride, const QRowParams *rows, const void *panel, const QEpilogue *ep, float *c, \
      size_t ldc
#define EDGERT_F32_ARGS                                                                         \
  size_t mr, size_t nc, size_t k, const float *a, size_t lda, const void *panel,                \
      const QEpilogue *ep, float *c, size_t ldc

namespace edgert::kernels {
EDGERT_DECLARE_X86_UKERNELS
namespace simde_emu {
EDGERT_DECLARE_X86_UKERNELS
}
}  // namespace edgert::kernels
