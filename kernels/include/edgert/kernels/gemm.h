// Public contract between kernels/ and runtime/ for the matrix-multiply family.
// Kernels know nothing of graphs: plain pointers, sizes and an optional pthreadpool.
//
// Storage layouts accepted by the packing functions are the canonical .efb layouts
// (schema/README.md): weights W are [N, K] row-major (output channel major).
//   - qc8w: int8 W[N][K], symmetric per output channel, f32 scale[N].
//   - qb4w: signed int4 W[N][K] two per byte (even k in the low nibble), each row padded to
//           ceil(K/2) bytes; blocks of `block` (32, 64 or 128) along K, the last block of a
//           row may be short; scales [N][ceil(K/block)] f32 or f16; optional int8 zero points
//           in [-8, 7] with the same shape (null = symmetric).
//   - f32w: float W[N][K].
// Results: C[m][n] = act(sum_k dequant(A)[m][k] * dequant(W)[n][k] + bias[n]).
// Activations A are fp32 and are quantized to 8 bits per row at run time inside the call.
// Limits: qc8w K <= 65536 (int32 accumulation bound, docs/quantization.md); qb4w block a multiple
// of 8 up to 1024 and zero points in [-8, 7] (the packer aborts otherwise: validate the model
// first). Packed buffers and the workspace need no particular alignment (64 bytes is best).
// Every function gives bit-identical results for any thread count.
#pragma once

#include <pthreadpool.h>

#include <cstddef>
#include <cstdint>

namespace edgert::kernels {

enum class Activation : int { kNone = 0, kRelu, kRelu6, kGelu, kGeluTanh, kSilu, kSigmoid, kTanh };

// Instruction-set variants, lowest first. Not every variant is built for every target.
enum class Isa : int { kRef = 0, kAvx2, kAvxVnni, kAvx512Vnni, kNeon, kNeonDot, kI8mm };
const char* IsaName(Isa isa);
// The variant in use: highest of (built ∩ CPU), lowered by EDGERT_ISA=name if set. Chosen once.
Isa SelectedIsa();
bool IsaBuilt(Isa isa);
bool IsaSupportedByCpu(Isa isa);
// Forces the variant used by subsequent calls (tests, benchmarks). Returns false (and changes
// nothing) if the variant is not built or the CPU cannot run it.
bool ForceIsa(Isa isa);
// The variant subsequent calls use: SelectedIsa(), or the last ForceIsa().
Isa ActiveIsa();
// L2 cache bytes one core can count on (cpuinfo; a shared L2 divided by the cores sharing it;
// 512 KiB when unknown). For sizing blocks of work meant to stay in L2.
size_t L2CacheBytes();

// ---- packing (done once per model at load time) ----
size_t PackedQc8wBytes(size_t n, size_t k);
void PackQc8w(size_t n, size_t k, const int8_t* w, const float* scales, void* packed);

size_t PackedQb4wBytes(size_t n, size_t k, size_t block);  // upper bound (asymmetric, f32 scales)
// Exact size for the given scale format and symmetry (<= PackedQb4wBytes).
size_t PackedQb4wBytesExact(size_t n, size_t k, size_t block, bool scales_f16, bool asymmetric);
void PackQb4w(size_t n, size_t k, size_t block, const uint8_t* w, const void* scales,
              bool scales_f16, const int8_t* zero_points, void* packed);

size_t PackedF32wBytes(size_t n, size_t k);
void PackF32w(size_t n, size_t k, const float* w, void* packed);
// The same from W rows with a stride (row j of W at w + j * ldw, ldw >= k).
void PackF32w(size_t n, size_t k, const float* w, size_t ldw, void* packed);
// The same packed layout from B given as K x N row-major (row stride ldb >= n): no transpose.
void PackF32wKN(size_t n, size_t k, const float* b, size_t ldb, void* packed);

// ---- GEMM with packed constant weights ----
// `workspace` holds the quantized activations; size from QGemmWorkspaceBytes (64-byte aligned).
// a_quantized: the workspace already holds A quantized, left there by a call of the same kind
// (Qc8w or Qb4w) with the same m, k and A values (several FCs reading one tensor quantize it
// once); A is then not read.
size_t QGemmWorkspaceBytes(size_t m, size_t k, size_t num_threads);
void QGemmQc8w(size_t m, size_t n, size_t k, const float* a, size_t lda, const void* packed_w,
               const float* bias, Activation act, float* c, size_t ldc, void* workspace,
               pthreadpool_t pool, bool a_quantized = false);
void QGemmQb4w(size_t m, size_t n, size_t k, size_t block, const float* a, size_t lda,
               const void* packed_w, const float* bias, Activation act, float* c, size_t ldc,
               void* workspace, pthreadpool_t pool, bool a_quantized = false);
void SGemmPacked(size_t m, size_t n, size_t k, const float* a, size_t lda, const void* packed_w,
                 const float* bias, Activation act, float* c, size_t ldc, pthreadpool_t pool);

// ---- general FP32 GEMM (both operands computed at run time, e.g. attention) ----
// C[m][n] = sum_k A[m][k] * B'[k][n] (+ beta*C if accumulate), where B' = B ([K,N], ldb) or,
// with trans_b, B' = B^T (B is [N,K], ldb).
void SGemm(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
           bool trans_b, float* c, size_t ldc, pthreadpool_t pool);

// Applies an activation in place (also used by runtime ops for fused epilogues).
void ApplyActivation(Activation act, float* x, size_t n);

}  // namespace edgert::kernels
