// GEMM drivers: activation quantization, tiling over a pthreadpool, epilogue activation.
// Every output element is computed by exactly one micro-kernel call whose arithmetic does not
// depend on the tile it is in, so results are bit-identical for any thread count.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "edgert/kernels/internal.h"
#include "edgert/kernels/split.h"

namespace edgert::kernels {
namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "edgert kernels: broken invariant: %s\n", what);
  std::abort();
}

size_t RoundUp(size_t x, size_t a) { return (x + a - 1) / a * a; }

const PackedHeader* Header(const void* packed, uint32_t magic, size_t n, size_t k) {
  const auto* h = static_cast<const PackedHeader*>(packed);
  if (h->magic != magic || h->n != n || h->k != k) Fail("packed weights do not match the call");
  return h;
}

const uint8_t* Panel(const void* packed, const PackedHeader* h, size_t p) {
  return static_cast<const uint8_t*>(packed) + sizeof(PackedHeader) + p * h->panel_bytes;
}

struct Workspace {
  QRowParams* rows;
  uint8_t* q;
  size_t stride;
};

Workspace SplitWorkspace(void* ws, size_t m, size_t k) {
  auto base = reinterpret_cast<uintptr_t>(ws);
  base = RoundUp(base, 64);
  Workspace w;
  w.rows = reinterpret_cast<QRowParams*>(base);
  w.q = reinterpret_cast<uint8_t*>(base + RoundUp(m * sizeof(QRowParams), 64));
  w.stride = QRowStride(k);
  return w;
}

// Rows per quantization task and per GEMM task (a GEMM task = rows x one 16-column panel).
constexpr size_t kQuantRowsPerTask = 8;
size_t RowsPerTask(size_t mr) { return mr * std::max<size_t>(1, 32 / mr); }

struct QuantCtx {
  QuantizeRowsFn fn;
  int32_t qmax;
  size_t m, k;
  const float* a;
  size_t lda;
  Workspace ws;
};

void QuantTask(void* p, size_t start, size_t count) {
  const auto* c = static_cast<const QuantCtx*>(p);
  c->fn(count, c->k, c->a + start * c->lda, c->lda, c->qmax, c->ws.q + start * c->ws.stride,
        c->ws.stride, c->ws.rows + start);
}

void Quantize(const QGemmConfig* cfg, int32_t qmax, size_t m, size_t k, const float* a,
              size_t lda, const Workspace& ws, pthreadpool_t pool) {
  QuantCtx ctx{cfg->quantize, qmax, m, k, a, lda, ws};
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  if (m <= kQuantRowsPerTask || threads <= 1) {
    QuantTask(&ctx, 0, m);
  } else {
    pthreadpool_parallelize_1d_tile_1d(pool, QuantTask, &ctx, m,
                                       TaskRows(m, kQuantRowsPerTask, k, kMinTaskElements, 1, threads), 0);
  }
}

// Bias for the nr (16 or 32) columns from n0: copied (zero-padded) when they are the short last
// ones.
constexpr size_t kMaxNr = 2 * kPanelN;
const float* TileBias(const float* bias, size_t n, size_t n0, size_t nr, float* tmp) {
  if (!bias) return nullptr;
  if (n0 + nr <= n) return bias + n0;
  std::memset(tmp, 0, nr * sizeof(float));
  std::memcpy(tmp, bias + n0, (n - n0) * sizeof(float));
  return tmp;
}

struct QGemmCtx {
  const QGemmConfig* cfg;
  bool int4;
  size_t m, n, k, block;
  const void* packed;
  const PackedHeader* hdr;
  const float* bias;
  Activation act;
  float* c;
  size_t ldc;
  Workspace ws;
  // test hook
  int32_t* acc;
  size_t acc_stride;
  // Set by RunQGemm: Relu / Relu6 run in the micro-kernel's epilogue (QEpilogue::clamp); any
  // other activation in one pass over the finished rows (RunQGemm).
  bool fuse_clamp = false;
  float clamp_hi = 0.0f;
  // A still to be quantized into ws (null: ws holds it already).
  const float* a = nullptr;
  size_t lda = 0;
  int32_t qmax = 0;
};

// A task: rows [i0, i0 + mt) x the nr columns of column tile `tile` (nr = the micro-kernel's).
// An output's arithmetic does not depend on the tile height or split it is computed in.
void QGemmTask(void* p, size_t i0, size_t tile, size_t mt, size_t /*pt*/) {
  const auto* x = static_cast<const QGemmCtx*>(p);
  const auto& uk4 = x->m == 1 ? x->cfg->qb4w_1 : x->cfg->qb4w;
  const auto& uk8 = x->m == 1 ? x->cfg->qc8w_1 : x->cfg->qc8w;
  const size_t ukmr = x->int4 ? uk4.mr : uk8.mr;
  const size_t nr = x->int4 ? UkernelNr(uk4) : UkernelNr(uk8);
  const size_t n0 = tile * nr;
  const size_t nc = std::min(nr, x->n - n0);
  float bias_tmp[kMaxNr];
  QEpilogue ep{TileBias(x->bias, x->n, n0, nr, bias_tmp), nullptr, x->acc_stride};
  ep.clamp = x->fuse_clamp;
  ep.clamp_hi = x->clamp_hi;
  const uint8_t* w = Panel(x->packed, x->hdr, n0 / kPanelN);
  // The first row tile prefetches the next column tile's weights (qc8w, M > 1): in the model
  // they usually come from L3 or DRAM, and the next task would otherwise stall on them
  // (MiniLM INT8 -5 to -9 %, docs/performance.md). The others find this tile's weights in L1/L2.
  // Only a full next tile: a tile prefetches as many panels as it reads itself.
  const uint8_t* next =
      !x->int4 && x->m > 1 && n0 + 2 * nr <= x->n ? Panel(x->packed, x->hdr, (n0 + nr) / kPanelN) : nullptr;
  for (size_t i = i0; i < i0 + mt; i += ukmr) {
    const size_t mr = std::min(ukmr, i0 + mt - i);
    ep.prefetch = i == i0 ? next : nullptr;
    float* c = x->c ? x->c + i * x->ldc + n0 : nullptr;
    if (x->acc) ep.acc = x->acc + i * x->acc_stride + n0;
    const uint8_t* a = x->ws.q + i * x->ws.stride;
    if (x->int4) {
      uk4.fn(mr, nc, x->k, x->block, x->hdr->flags, a, x->ws.stride,
                                         x->ws.rows + i, w, &ep, c, x->ldc);
    } else {
      uk8.fn(mr, nc, x->k, a, x->ws.stride, x->ws.rows + i, w, &ep,
                                         c, x->ldc);
    }
  }
}

struct ActRowsCtx {
  ActivationFn fn;
  Activation act;
  float* c;
  size_t n, ldc;
};

void ActRows(void* p, size_t start, size_t count) {
  const auto* x = static_cast<const ActRowsCtx*>(p);
  if (x->ldc == x->n) {
    x->fn(x->act, x->c + start * x->ldc, count * x->n);
  } else {
    for (size_t r = start; r < start + count; ++r) x->fn(x->act, x->c + r * x->ldc, x->n);
  }
}

struct QGemmRun {
  QGemmCtx* ctx;
  ActRowsCtx act;  // act.fn null: no separate activation pass
  RowRanges ranges{0, 1, 1};
};

// Rows [start, start + count) from start to finish: quantized (unless already), every column
// tile in blocks of RowsPerTask rows, then the activation pass. The one-thread path runs it over
// all rows; with threads, each task is a contiguous row range. One parallel region per GEMM
// instead of three (quantize, tiles, activation), and a thread's rows stay in its own caches:
// a pthreadpool call costs 1.5-7 us when the threads sit on different CCDs (a futex wake per
// call plus cache lines crossing), which made EfficientNet as slow on 2 threads as on 1.
void QGemmRows(void* p, size_t start, size_t count) {
  auto* run = static_cast<QGemmRun*>(p);
  QGemmCtx& x = *run->ctx;
  if (x.a) {
    x.cfg->quantize(count, x.k, x.a + start * x.lda, x.lda, x.qmax, x.ws.q + start * x.ws.stride, x.ws.stride,
                    x.ws.rows + start);
  }
  const auto& uk4 = x.m == 1 ? x.cfg->qb4w_1 : x.cfg->qb4w;
  const auto& uk8 = x.m == 1 ? x.cfg->qc8w_1 : x.cfg->qc8w;
  const size_t ukmr = x.int4 ? uk4.mr : uk8.mr;
  const size_t nr = x.int4 ? UkernelNr(uk4) : UkernelNr(uk8);
  const size_t panels = (x.n + nr - 1) / nr;  // column tiles
  const size_t mt = RowsPerTask(ukmr);
  const size_t end = start + count;
  for (size_t i = start; i < end; i += mt)
    for (size_t t = 0; t < panels; ++t) QGemmTask(&x, i, t, std::min(mt, end - i), 1);
  if (run->act.fn) ActRows(&run->act, start, count);
}

void QGemmRange(void* p, size_t t) {
  const auto* run = static_cast<const QGemmRun*>(p);
  const size_t b = run->ranges.begin(t), e = run->ranges.end(t);
  if (e > b) QGemmRows(p, b, e - b);
}

void RunQGemm(QGemmCtx& ctx, pthreadpool_t pool) {
  ctx.fuse_clamp = ctx.act == Activation::kRelu || ctx.act == Activation::kRelu6;
  ctx.clamp_hi = ctx.act == Activation::kRelu6 ? 6.0f : std::numeric_limits<float>::infinity();
  // Other activations (GELU, SiLU, ...): one pass over whole rows after the GEMM (the same
  // element-wise function, so the same bits) instead of a call per row of each 16/32-column
  // tile: those calls were most of GELU's cost in MiniLM's FFN.
  QGemmRun run{&ctx, ActRowsCtx{nullptr, ctx.act, ctx.c, ctx.n, ctx.ldc}};
  if (!ctx.fuse_clamp && ctx.act != Activation::kNone && ctx.c != nullptr) run.act.fn = CurrentActivationFn();
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  if (threads <= 1) {
    QGemmRows(&run, 0, ctx.m);
    return;
  }
  if (ctx.m >= kMinRowsPerThread * threads) {
    // Contiguous row ranges, two per thread (pthreadpool gives thread t the t-th share first).
    run.ranges = RowRanges(ctx.m, ctx.int4 ? ctx.cfg->qb4w.mr : ctx.cfg->qc8w.mr, threads);  // m > 1 here
    pthreadpool_parallelize_1d(pool, QGemmRange, &run, run.ranges.tasks, 0);
    return;
  }
  // Few rows (GEMV, short sequences): quantize, then rows x column tiles, then the activation.
  if (ctx.a) {
    Quantize(ctx.cfg, ctx.qmax, ctx.m, ctx.k, ctx.a, ctx.lda, ctx.ws, pool);
    ctx.a = nullptr;
  }
  const auto& uk4 = ctx.m == 1 ? ctx.cfg->qb4w_1 : ctx.cfg->qb4w;
  const auto& uk8 = ctx.m == 1 ? ctx.cfg->qc8w_1 : ctx.cfg->qc8w;
  const size_t ukmr = ctx.int4 ? uk4.mr : uk8.mr;
  const size_t nr = ctx.int4 ? UkernelNr(uk4) : UkernelNr(uk8);
  const size_t panels = (ctx.n + nr - 1) / nr;  // column tiles
  const size_t mt = std::max(RowsPerTask(ukmr), TaskRows(ctx.m, ukmr, nr * ctx.k, kMinTaskMacs, panels, threads));
  pthreadpool_parallelize_2d_tile_2d(pool, QGemmTask, &ctx, ctx.m, panels, mt, 1, 0);
  if (run.act.fn) {
    pthreadpool_parallelize_1d_tile_1d(pool, ActRows, &run.act, ctx.m, std::max<size_t>(1, 8192 / ctx.n), 0);
  }
}

}  // namespace

size_t QGemmWorkspaceBytes(size_t m, size_t k, size_t /*num_threads*/) {
  return 64 + RoundUp(m * sizeof(QRowParams), 64) + m * QRowStride(k);
}

void QGemmQc8wWith(const QGemmConfig* cfg, size_t m, size_t n, size_t k, const float* a,
                   size_t lda, const void* packed_w, const float* bias, Activation act, float* c,
                   size_t ldc, void* workspace, pthreadpool_t pool, bool a_quantized) {
  if (m == 0 || n == 0) return;
  const PackedHeader* h = Header(packed_w, kQc8wMagic, n, k);
  Workspace ws = SplitWorkspace(workspace, m, k);
  QGemmCtx ctx{cfg, false, m, n, k, 0, packed_w, h, bias, act, c, ldc, ws, nullptr, 0};
  if (!a_quantized) {
    ctx.a = a;
    ctx.lda = lda;
    ctx.qmax = cfg->qc8w_qmax;
  }
  RunQGemm(ctx, pool);
}

void QGemmQb4wWith(const QGemmConfig* cfg, size_t m, size_t n, size_t k, size_t block,
                   const float* a, size_t lda, const void* packed_w, const float* bias,
                   Activation act, float* c, size_t ldc, void* workspace, pthreadpool_t pool,
                   bool a_quantized) {
  if (m == 0 || n == 0) return;
  const PackedHeader* h = Header(packed_w, kQb4wMagic, n, k);
  if (h->block != block) Fail("packed qb4w weights have another block size");
  Workspace ws = SplitWorkspace(workspace, m, k);
  QGemmCtx ctx{cfg, true, m, n, k, block, packed_w, h, bias, act, c, ldc, ws, nullptr, 0};
  if (!a_quantized) {
    ctx.a = a;
    ctx.lda = lda;
    ctx.qmax = cfg->qb4w_qmax;
  }
  RunQGemm(ctx, pool);
}

void QGemmQc8w(size_t m, size_t n, size_t k, const float* a, size_t lda, const void* packed_w,
               const float* bias, Activation act, float* c, size_t ldc, void* workspace,
               pthreadpool_t pool, bool a_quantized) {
  QGemmQc8wWith(CurrentQGemmConfig(), m, n, k, a, lda, packed_w, bias, act, c, ldc, workspace,
                pool, a_quantized);
}

void QGemmQb4w(size_t m, size_t n, size_t k, size_t block, const float* a, size_t lda,
               const void* packed_w, const float* bias, Activation act, float* c, size_t ldc,
               void* workspace, pthreadpool_t pool, bool a_quantized) {
  QGemmQb4wWith(CurrentQGemmConfig(), m, n, k, block, a, lda, packed_w, bias, act, c, ldc,
                workspace, pool, a_quantized);
}

void Qc8wAccumulatorsForTest(const QGemmConfig* cfg, size_t m, size_t n, size_t k,
                             const uint8_t* qa, size_t qa_stride, const QRowParams* rows,
                             const void* packed_w, int32_t* acc, size_t acc_stride) {
  const PackedHeader* h = Header(packed_w, kQc8wMagic, n, k);
  Workspace ws{const_cast<QRowParams*>(rows), const_cast<uint8_t*>(qa), qa_stride};
  QGemmCtx ctx{cfg,     false, m,  n,       k,  0,  packed_w, h, nullptr, Activation::kNone,
               nullptr, 0,     ws, acc, acc_stride};
  RunQGemm(ctx, nullptr);
}

void Qb4wFromQuantizedForTest(const QGemmConfig* cfg, size_t m, size_t n, size_t k,
                              size_t block, const uint8_t* qa, size_t qa_stride,
                              const QRowParams* rows, const void* packed_w, const float* bias,
                              float* c, size_t ldc) {
  const PackedHeader* h = Header(packed_w, kQb4wMagic, n, k);
  Workspace ws{const_cast<QRowParams*>(rows), const_cast<uint8_t*>(qa), qa_stride};
  QGemmCtx ctx{cfg, true, m,  n,       k, block, packed_w, h, bias, Activation::kNone,
               c,   ldc,  ws, nullptr, 0};
  RunQGemm(ctx, nullptr);
}

// ---- FP32 ----
namespace {

struct SGemmCtx {
  const F32GemmConfig* cfg;
  size_t m, n, k;
  const float* a;
  size_t lda;
  const void* packed;
  const PackedHeader* hdr;
  const float* bias;
  Activation act;
  float* c;
  size_t ldc;
  ActivationFn act_fn;  // null for kNone and for Relu / Relu6 (in the micro-kernel's epilogue)
  bool fuse_clamp;
  float clamp_hi;
};

void SGemmTask(void* p, size_t i0, size_t tile, size_t mt, size_t /*pt*/) {
  const auto* x = static_cast<const SGemmCtx*>(p);
  const auto& uk = x->m == 1 ? x->cfg->gemm_1 : x->cfg->gemm;
  const size_t nr = UkernelNr(uk);
  const size_t n0 = tile * nr;
  const size_t nc = std::min(nr, x->n - n0);
  float bias_tmp[kMaxNr];
  QEpilogue ep{TileBias(x->bias, x->n, n0, nr, bias_tmp), nullptr, 0};
  ep.clamp = x->fuse_clamp;
  ep.clamp_hi = x->clamp_hi;
  const uint8_t* w = Panel(x->packed, x->hdr, n0 / kPanelN);
  for (size_t i = i0; i < i0 + mt; i += uk.mr) {
    const size_t mr = std::min(uk.mr, i0 + mt - i);
    float* c = x->c + i * x->ldc + n0;
    uk.fn(mr, nc, x->k, x->a + i * x->lda, x->lda, w, &ep, c, x->ldc);
    if (x->act_fn)
      for (size_t r = 0; r < mr; ++r) x->act_fn(x->act, c + r * x->ldc, nc);
  }
}

struct SGemmRowsCtx {
  SGemmCtx* ctx;
  size_t mt, panels;
  RowRanges ranges{0, 1, 1};
};

// Rows [start, start + count) in blocks of mt rows, every column tile.
void SGemmRows(void* p, size_t start, size_t count) {
  const auto* x = static_cast<const SGemmRowsCtx*>(p);
  const size_t end = start + count;
  for (size_t i = start; i < end; i += x->mt)
    for (size_t t = 0; t < x->panels; ++t) SGemmTask(x->ctx, i, t, std::min(x->mt, end - i), 1);
}

void SGemmRange(void* p, size_t t) {
  const auto* x = static_cast<const SGemmRowsCtx*>(p);
  const size_t b = x->ranges.begin(t), e = x->ranges.end(t);
  if (e > b) SGemmRows(p, b, e - b);
}

}  // namespace

void SGemmPacked(size_t m, size_t n, size_t k, const float* a, size_t lda, const void* packed_w,
                 const float* bias, Activation act, float* c, size_t ldc, pthreadpool_t pool) {
  if (m == 0 || n == 0) return;
  const F32GemmConfig* cfg = CurrentF32GemmConfig();
  const PackedHeader* h = Header(packed_w, kF32wMagic, n, k);
  // Relu / Relu6 in the micro-kernel's epilogue (as the quantized GEMMs); others per row.
  const bool clamp = act == Activation::kRelu || act == Activation::kRelu6;
  SGemmCtx ctx{cfg, m, n, k, a, lda, packed_w, h, bias, act, c, ldc,
               act == Activation::kNone || clamp ? nullptr : CurrentActivationFn(), clamp,
               act == Activation::kRelu6 ? 6.0f : std::numeric_limits<float>::infinity()};
  const auto& uk = m == 1 ? cfg->gemm_1 : cfg->gemm;
  const size_t mt = uk.mr * std::max<size_t>(1, 60 / uk.mr);
  const size_t panels = (n + UkernelNr(uk) - 1) / UkernelNr(uk);  // column tiles
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  SGemmRowsCtx rows{&ctx, mt, panels};
  if (threads <= 1) {
    SGemmRows(&rows, 0, m);
  } else if (m >= kMinRowsPerThread * threads) {
    // Contiguous row ranges, two per thread, every column tile each (as RunQGemm).
    rows.ranges = RowRanges(m, uk.mr, threads);
    pthreadpool_parallelize_1d(pool, SGemmRange, &rows, rows.ranges.tasks, 0);
  } else {
    const size_t mtp = std::max(mt, TaskRows(m, uk.mr, UkernelNr(uk) * k, kMinTaskMacs, panels, threads));
    pthreadpool_parallelize_2d_tile_2d(pool, SGemmTask, &ctx, m, panels, mtp, 1, 0);
  }
}

void SGemm(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
           bool trans_b, float* c, size_t ldc, pthreadpool_t pool) {
  if (m == 0 || n == 0) return;
  // Packs B into the panel layout (O(N*K), small next to the O(M*N*K) product for M > 1). The
  // buffer is not zero-filled: every byte of it is written by the packing.
  std::unique_ptr<uint8_t[]> packed(new uint8_t[PackedF32wBytes(n, k) + 64]);
  void* pw = reinterpret_cast<void*>(RoundUp(reinterpret_cast<uintptr_t>(packed.get()), 64));
  if (!trans_b) {
    PackF32wKN(n, k, b, ldb, pw);  // rows of B are already the panels' rows
  } else {
    PackF32w(n, k, b, ldb, pw);
  }
  SGemmPacked(m, n, k, a, lda, pw, nullptr, Activation::kNone, c, ldc, pool);
}

}  // namespace edgert::kernels
