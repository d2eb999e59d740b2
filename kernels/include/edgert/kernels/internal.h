// Internal kernel interfaces: packed layouts, micro-kernel signatures, dispatch tables and test
// hooks. Not part of the runtime contract (gemm.h is); used by kernels/, tests/kernels and
// bench/kernels. See docs/quantization.md for the math.
//
// Micro-kernel name grammar: <activation>_<weights>_<op>_<MR>x<NR>c<KR>_<isa>, e.g.
// qd8_qc8w_gemm_4x16c4_avx2 computes up to 4 rows x 16 columns, weights packed in groups of 4
// consecutive k. The file that defines a micro-kernel carries the same name.
//
// ODR note: this header is included by translation units compiled with different ISA flags, so it
// must only declare things. Do not add non-static inline functions here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edgert/kernels/gemm.h"

namespace edgert::kernels {

// ---- quantized activations (qd8) ----
// One row of A quantized to uint8 in [0, qmax] (qmax = 255, or 127 for the AVX2 qc8w path, see
// docs/quantization.md "The vpmaddubsw trap"): real = scale * (q - zero_point).
struct QRowParams {
  float scale;
  int32_t zero_point;
};
static_assert(sizeof(QRowParams) == 8, "QRowParams is part of the workspace layout");

// Quantized row stride in the workspace: K rounded up to 64 bytes. Bytes in [K, stride) are 0.
constexpr size_t kQRowAlign = 64;
constexpr size_t QRowStride(size_t k) { return (k + kQRowAlign - 1) / kQRowAlign * kQRowAlign; }

// Quantizes rows [0, m) of a (lda floats apart) into q (QRowStride(k) bytes apart) and params.
using QuantizeRowsFn = void (*)(size_t m, size_t k, const float* a, size_t lda, int32_t qmax,
                                uint8_t* q, size_t q_stride, QRowParams* params);

// ---- packed qc8w weights ----
// Header (64 bytes), then ceil(N/16) panels of 16 output channels, each QC8W panel bytes:
//   float   scale[16]      (0 for padding columns)
//   int32_t colsum[16]     sum_k w[n][k]
//   int8_t  w[K4][16][4]   K4 = ceil(K/4); w[s][c][j] = W[16p+c][4s+j], 0 past N or K
constexpr size_t kPanelN = 16;
struct PackedHeader {
  uint32_t magic;  // kQc8wMagic / kQb4wMagic / kF32wMagic
  uint32_t n, k, block;
  uint32_t flags;  // kQb4wScalesF16, kQb4wAsym
  uint32_t reserved0;
  uint64_t panel_bytes;
  uint8_t pad[32];
};
static_assert(sizeof(PackedHeader) == 64, "packed header is one cache line");
constexpr uint32_t kQc8wMagic = 0x38436551;  // "QeC8"
constexpr uint32_t kQb4wMagic = 0x34426551;  // "QeB4"
constexpr uint32_t kF32wMagic = 0x32336546;  // "Fe32"
constexpr uint32_t kQb4wScalesF16 = 1;
constexpr uint32_t kQb4wAsym = 2;

constexpr size_t Qc8wPanelBytes(size_t k) { return 128 + 64 * ((k + 3) / 4); }

// ---- packed qb4w weights ----
// Header, then ceil(N/16) panels; a panel is
//   float wcorr[16]   sum_b scale[b] * sum_{k in b} (q - zp)   (fma chain over b, see ref)
//   then for each block b of `block` k (the last one may be short, len_b = min(block, K - b*block)):
//     scale[16]            f32 or f16 (as given to PackQb4w)
//     uint8 zu[16]         zp + 8 in [0, 15], only if asymmetric (symmetric: zu = 8)
//     uint8 w[S_b][64]     S_b = ceil(len_b/8) steps of 8 k. Byte 32h + 4c + j of step s holds,
//                          for column 8h + c: low nibble  = q[k = 8s + j] + 8,
//                                             high nibble = q[k = 8s + 4 + j] + 8;
//                          padding (past K or N) holds zu, i.e. weight 0.
//   padded to 64 bytes.
// So a 32-byte half is, after "and 0x0F" / "shift 4, and 0x0F", the c4 layout of 8 columns for
// k = 8s..8s+3 and 8s+4..8s+7; a 64-byte step's low nibbles are the c4 layout of all 16 columns.
size_t Qb4wBlockBytes(size_t len, bool scales_f16, bool asym);
size_t Qb4wPanelBytes(size_t k, size_t block, bool scales_f16, bool asym);

// ---- packed f32 weights ----
// Header, then ceil(N/16) panels: float w[K][16] (0 past N), float bias-free.
constexpr size_t F32PanelBytes(size_t k) { return 64 * k; }

// ---- micro-kernels ----
// All GEMM micro-kernels compute rows [0, mr) (mr <= MR) of A against one 16-column panel and
// write columns [0, nc) (nc <= 16) of C. They read up to QRowStride(k) bytes of each A row.
struct QEpilogue {
  const float* bias;  // nr (16 or 32) floats for these columns (already offset), or null
  // Test hook: if non-null, qc8w kernels store the zero-point-corrected int32 accumulators here
  // (row stride acc_stride) instead of the fp32 result.
  int32_t* acc;
  size_t acc_stride;
  // Fused Relu / Relu6: when `clamp`, every output is y = max(y, clamp_lo) then min(y, clamp_hi),
  // after the bias, as `y > lo ? y : lo` and `y < hi ? y : hi` (exactly what vmaxps/vminps and
  // ApplyActivation compute, so fused and separate results are bit-identical, NaN -> lo
  // included). Saves the per-row activation pass over the tile (10% of EfficientNet INT8).
  bool clamp = false;
  float clamp_lo = 0.0f, clamp_hi = 0.0f;
  // Packed weights of the next column tile (or null): the qc8w tiles with MR > 1 prefetch them a
  // line per k step while they run, so the next tile does not stall on cold weights.
  const void* prefetch = nullptr;
};
using Qc8wGemmFn = void (*)(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                            const QRowParams* rows, const void* panel, const QEpilogue* ep,
                            float* c, size_t ldc);
// qb4w: `block`, and flags (from the packed header) select the panel layout.
using Qb4wGemmFn = void (*)(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                            const uint8_t* a, size_t a_stride, const QRowParams* rows,
                            const void* panel, const QEpilogue* ep, float* c, size_t ldc);
// FP32: the epilogue's bias and clamp apply (its acc test hook does not).
using F32GemmFn = void (*)(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                           const void* panel, const QEpilogue* ep, float* c, size_t ldc);

template <class Fn>
struct UkernelEntry {
  Fn fn;
  size_t mr;
  const char* name;
  // Columns per call: 16 (one panel; also when 0) or 32 (two consecutive panels, the second at
  // panel + panel bytes; with nc <= 16 such a kernel reads only the first panel). With nr = 32,
  // ep->bias points at 32 floats.
  size_t nr = 0;
};
template <class Fn>
constexpr size_t UkernelNr(const UkernelEntry<Fn>& e) { return e.nr ? e.nr : kPanelN; }

// One table per op family, filled once per ISA.
// The ISA's build of ApplyActivation (the variant ApplyActivation itself would call), for
// callers that apply it to many short rows: resolve once, call per row.
using ActivationFn = void (*)(Activation act, float* x, size_t n);
ActivationFn CurrentActivationFn();

struct QGemmConfig {
  Isa isa;
  QuantizeRowsFn quantize;
  const char* quantize_name;
  int32_t qc8w_qmax;  // activation range used by the qc8w kernels of this ISA
  UkernelEntry<Qc8wGemmFn> qc8w;    // main tile
  UkernelEntry<Qc8wGemmFn> qc8w_1;  // M = 1 (weight-streaming) tile
  int32_t qb4w_qmax;
  UkernelEntry<Qb4wGemmFn> qb4w;
  UkernelEntry<Qb4wGemmFn> qb4w_1;
};
struct F32GemmConfig {
  Isa isa;
  UkernelEntry<F32GemmFn> gemm;
  UkernelEntry<F32GemmFn> gemm_1;
};
// The tables for a given variant (null if not built). CurrentQGemmConfig() follows SelectedIsa()
// and ForceIsa().
const QGemmConfig* QGemmConfigFor(Isa isa);
const F32GemmConfig* F32GemmConfigFor(Isa isa);
const QGemmConfig* CurrentQGemmConfig();
const F32GemmConfig* CurrentF32GemmConfig();

// Variants compiled a second time against SIMDe emulation (test-only target
// edgert_kernels_simde): same sources, symbols in namespace edgert::kernels::simde_emu.
namespace simde_emu {
const QGemmConfig* QGemmConfigFor(Isa isa);  // kAvxVnni, kAvx512Vnni
}

// ---- references (the specification; kernels/ref) ----
// Quantizes one row exactly as every variant must.
void QuantizeRowsRef(size_t m, size_t k, const float* a, size_t lda, int32_t qmax, uint8_t* q,
                     size_t q_stride, QRowParams* params);
// C = act(dequant(quant(A)) x dequant(W)^T + bias) on canonical (unpacked) weights.
void QGemmQc8wRef(size_t m, size_t n, size_t k, int32_t qmax, const float* a, size_t lda,
                  const int8_t* w, const float* scales, const float* bias, Activation act,
                  float* c, size_t ldc);
// The int32 accumulators sum_k (q_a - zp_a) * w for given quantized rows (test oracle).
void Qc8wAccRef(size_t m, size_t n, size_t k, const uint8_t* qa, size_t qa_stride,
                const QRowParams* rows, const int8_t* w, int32_t* acc, size_t acc_stride);
void QGemmQb4wRef(size_t m, size_t n, size_t k, size_t block, int32_t qmax, const float* a,
                  size_t lda, const uint8_t* w, const void* scales, bool scales_f16,
                  const int8_t* zero_points, const float* bias, Activation act, float* c,
                  size_t ldc);
// The qb4w output stage on given quantized rows (no activation function).
void Qb4wFromQuantizedRef(size_t m, size_t n, size_t k, size_t block, const uint8_t* qa,
                          size_t qa_stride, const QRowParams* rows, const uint8_t* w,
                          const void* scales, bool scales_f16, const int8_t* zero_points,
                          const float* bias, float* c, size_t ldc);
void SGemmRef(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* w /*[N][K]*/,
              const float* bias, Activation act, float* c, size_t ldc);
float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);  // round to nearest even

// Portable micro-kernels on the packed layouts (the kRef table; also the fallback on any CPU).
void qd8_qc8w_gemm_4x16c4_ref(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                              const QRowParams* rows, const void* panel, const QEpilogue* ep,
                              float* c, size_t ldc);
void qd8_qb4w_gemm_4x16c8_ref(size_t mr, size_t nc, size_t k, size_t block, uint32_t flags,
                              const uint8_t* a, size_t a_stride, const QRowParams* rows,
                              const void* panel, const QEpilogue* ep, float* c, size_t ldc);
void f32_gemm_4x16_ref(size_t mr, size_t nc, size_t k, const float* a, size_t lda,
                       const void* panel, const QEpilogue* ep, float* c, size_t ldc);

// ---- test hooks on the current (or forced) variant ----
// Runs the selected qc8w micro-kernels over a whole matrix of already quantized rows and returns
// the int32 accumulators (zero points applied) - makes "int32 bit-exact" checkable.
void Qc8wAccumulatorsForTest(const QGemmConfig* cfg, size_t m, size_t n, size_t k,
                             const uint8_t* qa, size_t qa_stride, const QRowParams* rows,
                             const void* packed_w, int32_t* acc, size_t acc_stride);
// Runs the selected qb4w micro-kernels on already quantized rows (fp32 output, no activation).
void Qb4wFromQuantizedForTest(const QGemmConfig* cfg, size_t m, size_t n, size_t k,
                              size_t block, const uint8_t* qa, size_t qa_stride,
                              const QRowParams* rows, const void* packed_w, const float* bias,
                              float* c, size_t ldc);
// The same drivers as QGemmQc8w / QGemmQb4w, with an explicit table (tests of SIMDe builds).
void QGemmQc8wWith(const QGemmConfig* cfg, size_t m, size_t n, size_t k, const float* a,
                   size_t lda, const void* packed_w, const float* bias, Activation act, float* c,
                   size_t ldc, void* workspace, pthreadpool_t pool, bool a_quantized = false);
void QGemmQb4wWith(const QGemmConfig* cfg, size_t m, size_t n, size_t k, size_t block,
                   const float* a, size_t lda, const void* packed_w, const float* bias,
                   Activation act, float* c, size_t ldc, void* workspace, pthreadpool_t pool,
                   bool a_quantized = false);

}  // namespace edgert::kernels
