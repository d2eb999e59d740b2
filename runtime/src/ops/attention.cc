// ATTENTION: multi-head scaled dot-product attention with the heads taken as column slices of the
// last dim (schema/README.md). Per (batch, head): K_h^T and V_h are packed once straight from
// their strided rows, then for blocks of query rows: scores = Q_h K_h^T (SGemmPacked), the
// block's SCALED_SOFTMAX rows with the mask (kernels::ScaledSoftmaxRows), y_h = P V_h written into
// its column slice. These are the kernels the MatMul -> SCALED_SOFTMAX -> MatMul chain runs (a
// GEMM's result depends neither on the packing route nor on how its rows are split, a softmax
// row not on the rows beside it), so the fused op gives the chain's bits, without
// the chain's four transposes, the reshapes' copies or the whole [B, H, Sq, Sk] score tensor
// (at most 256 KiB of scores per worker).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "edgert/kernels/gemm.h"
#include "edgert/kernels/softmax.h"
#include "op.h"

namespace edgert {
namespace {

// Query rows per score block: as many as keep the block within 256 KiB (L2), a multiple of the
// GEMM's 12-row tile (no short tiles in between), at least 12.
int64_t RowBlock(int64_t sq, int64_t sk) {
  const int64_t fit = std::max<int64_t>(12, (int64_t{256} << 10) / (std::max<int64_t>(sk, 1) * 4) / 12 * 12);
  return std::min(sq, fit);
}

// Rows of the block at r0. A last block of one row joins the one before it (the scratch has a
// row more): a one-row GEMM runs the GEMV kernel, whose accumulation order differs from the
// tile that the unfused MatMul gives that row.
int64_t BlockRows(int64_t sq, int64_t block, int64_t r0) {
  const int64_t mb = std::min(block, sq - r0);
  return sq - r0 - mb == 1 ? mb + 1 : mb;
}

struct AttnShape {
  int64_t b, sq, sk, h, d, dv;
};

AttnShape ShapeOf(const OpContext& ctx) {
  const Shape& q = ctx.in[0]->shape;
  const Shape& v = ctx.in[2]->shape;
  const int64_t h = ctx.options<fb::AttentionOptions>()->num_heads();
  return {q[0], q[1], v[1], h, q[2] / h, v[2] / h};
}

size_t Align64(size_t n) { return (n + 63) & ~size_t{63}; }

// One worker's scratch: packed K_h^T, packed V_h, a block of score rows.
size_t SlotBytes(const AttnShape& s) {
  const auto sk = static_cast<size_t>(s.sk), d = static_cast<size_t>(s.d), dv = static_cast<size_t>(s.dv);
  return Align64(kernels::PackedF32wBytes(sk, d)) + Align64(kernels::PackedF32wBytes(dv, sk)) +
         Align64(static_cast<size_t>(RowBlock(s.sq, s.sk) + 1) * sk * sizeof(float));
}

// Heads per pool task when the (batch, head) pairs are spread over the threads (0: they are not,
// each product is split over the pool instead). Same rule as batched MatMul.
int64_t HeadsPerTask(const AttnShape& s, size_t threads) {
  const int64_t nbh = s.b * s.h;
  if (threads <= 1 || nbh < static_cast<int64_t>(2 * threads)) return 0;
  const auto tasks = static_cast<int64_t>(2 * threads);
  return (nbh + tasks - 1) / tasks;
}

absl::Status InferAttention(OpContext& ctx) {
  for (size_t i = 0; i < 3; ++i) RETURN_IF_ERROR(ExpectFloat(ctx, i));
  const int64_t h = ctx.options<fb::AttentionOptions>()->num_heads();
  if (h < 1) return ctx.Error(absl::StrCat("num_heads must be >= 1, got ", h));
  const Shape &q = ctx.in[0]->shape, &k = ctx.in[1]->shape, &v = ctx.in[2]->shape;
  if (q.size() != 3 || k.size() != 3 || v.size() != 3) {
    return ctx.Error(absl::StrCat("q, k and v must have rank 3 [B, S, H*D], got ", ShapeString(q), ", ",
                                  ShapeString(k), ", ", ShapeString(v)));
  }
  if (k[0] != q[0] || v[0] != q[0]) {
    return ctx.Error(absl::StrCat("batch dims differ: q ", ShapeString(q), ", k ", ShapeString(k), ", v ",
                                  ShapeString(v)));
  }
  if (k[1] != v[1]) {
    return ctx.Error(absl::StrCat("k and v sequence lengths differ: ", ShapeString(k), " vs ", ShapeString(v)));
  }
  if (k[2] != q[2]) return ctx.Error(absl::StrCat("q and k last dims differ: ", q[2], " vs ", k[2]));
  if (q[2] % h != 0 || v[2] % h != 0) {
    return ctx.Error(absl::StrCat("last dims ", q[2], " (q) and ", v[2], " (v) must be multiples of num_heads ", h));
  }
  const AttnShape s = ShapeOf(ctx);
  if (ctx.has_input(3)) {
    RETURN_IF_ERROR(ExpectFloat(ctx, 3));
    const Shape scores = {s.b, s.h, s.sq, s.sk};
    const Shape& m = ctx.in[3]->shape;
    bool fits = m.size() <= scores.size();
    for (size_t i = 0; fits && i < m.size(); ++i) {
      const int64_t want = scores[scores.size() - m.size() + i];
      fits = m[i] == 1 || m[i] == want;
    }
    if (!fits) {
      return ctx.Error(absl::StrCat("mask ", ShapeString(m), " does not broadcast to the scores' shape ",
                                    ShapeString(scores)));
    }
  }
  ctx.out[0]->shape = {s.b, s.sq, v[2]};
  ctx.out[0]->dtype = DType::F32;
  // An empty output is never computed (the session skips the op). Otherwise B*H <= B*Sq*H*Dv and
  // the scratch sizes are bounded by the inputs' element counts: no overflow below.
  if (s.b == 0 || s.sq == 0 || v[2] == 0) {
    ctx.workspace_bytes = 0;
    return absl::OkStatus();
  }
  const size_t threads = ctx.pool ? pthreadpool_get_threads_count(ctx.pool) : 1;
  const int64_t per_task = HeadsPerTask(s, threads);
  const int64_t slots = per_task == 0 ? 1 : (s.b * s.h + per_task - 1) / per_task;
  ctx.workspace_bytes = static_cast<size_t>(slots) * SlotBytes(s);
  return absl::OkStatus();
}

struct AttnTask {
  AttnShape s;
  const float *q, *k, *v, *mask;
  float* y;
  float scale;
  bool divide;
  int64_t ms[4];  // mask element strides over [B, H, Sq, Sk] (0 where it broadcasts)
  uint8_t* workspace;
  size_t slot_bytes;
  int64_t per_task;
};

// Largest Euclidean norm over `rows` rows of `len` floats at stride `ld` (+inf or NaN when a
// value is not finite or a square sum overflows). Eight float partial sums per row, which the
// compiler turns into vector lanes: relative error <= (len / 8 + 8) 2^-24, 3e-5 for len 4096.
float MaxRowNorm(const float* x, int64_t rows, int64_t len, int64_t ld) {
  float best = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * ld;
    float acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= len; i += 8)
      for (int l = 0; l < 8; ++l) acc[l] += p[i + l] * p[i + l];
    float ss = 0;
    for (; i < len; ++i) ss += p[i] * p[i];
    for (float a : acc) ss += a;
    if (!(ss <= best)) best = ss;  // NaN sticks
  }
  return std::sqrt(best);
}

// The keys of one (batch, head) that the product has to see: a prefix [0, n) of the Sk keys (a
// multiple of 16, or Sk). Keys past it are padding whose softmax weight is exactly 0 whatever the
// scores are: every score satisfies |s * scale| <= bound (Cauchy-Schwarz over the q and k rows),
// so a key with mask m < M - 2 bound - 100 (M the largest mask value, whose key stays) is more
// than 80 below the row max with its real score and with score 0 alike, and the max is the same.
// Skipping them (score 0, so t = mask; no P V terms) gives the bits of the full product: its
// kernels add each output's terms in k order, and an exactly-zero term leaves a sum unchanged
// (the GEMV kernel's four interleaved sums keep their k positions because n is a multiple of 16).
int64_t KeptKeys(const float* m, int64_t sk, double bound) {
  if (!(bound < 1e30)) return sk;  // also NaN / inf inputs
  float mx = -INFINITY;
  for (int64_t j = 0; j < sk; ++j) mx = std::max(mx, m[j]);
  if (!std::isfinite(mx)) return sk;
  const double cut = static_cast<double>(mx) - 1e-6 * std::fabs(mx) - 2.01 * bound - 100.0;
  int64_t n = sk;
  while (n > 0 && static_cast<double>(m[n - 1]) + 1e-6 * std::fabs(m[n - 1]) < cut) --n;  // NaN: kept
  return std::min(sk, (n + 15) / 16 * 16);
}

// Whether V rows [n, sk) are all finite: a skipped row with inf or NaN would have made the full
// product's outputs NaN (0 * inf), so then no key is skipped.
bool FiniteRows(const float* v, int64_t n, int64_t sk, int64_t dv, int64_t ldv) {
  for (int64_t j = n; j < sk; ++j)
    for (int64_t i = 0; i < dv; ++i)
      if (!std::isfinite(v[j * ldv + i])) return false;
  return true;
}

// One (batch, head) pair with the scratch at `slot`; `pool` splits its GEMMs (null: this thread).
void AttendHead(const AttnTask& t, int64_t bh, uint8_t* slot, pthreadpool_t pool) {
  const AttnShape& s = t.s;
  const int64_t b = bh / s.h, h = bh % s.h;
  const int64_t ldq = s.h * s.d, ldv = s.h * s.dv;
  const float* qh = t.q + b * s.sq * ldq + h * s.d;
  const float* kh = t.k + b * s.sk * ldq + h * s.d;
  const float* vh = t.v + b * s.sk * ldv + h * s.dv;
  float* yh = t.y + b * s.sq * ldv + h * s.dv;
  const auto sk = static_cast<size_t>(s.sk), d = static_cast<size_t>(s.d), dv = static_cast<size_t>(s.dv);
  uint8_t* pk = slot;
  uint8_t* pv = pk + Align64(kernels::PackedF32wBytes(sk, d));
  auto* scores = reinterpret_cast<float*>(pv + Align64(kernels::PackedF32wBytes(dv, sk)));
  // Padding keys (a mask row shared by all query rows, see KeptKeys) drop out of both products.
  int64_t keep = s.sk;
  if (t.mask && t.ms[2] == 0 && t.ms[3] == 1 && s.d <= 4096 && s.sk > 16) {
    const float* mrow = t.mask + b * t.ms[0] + h * t.ms[1];
    keep = KeptKeys(mrow, s.sk, 0.0);  // a larger bound keeps at least these
    if (keep < s.sk) {
      const double f = t.divide ? 1.0 / std::fabs(static_cast<double>(t.scale)) : std::fabs(static_cast<double>(t.scale));
      // (1 + 1e-3): the float dot products' rounding (<= D 2^-24 relative for D <= 4096) and the
      // norms' (3e-5 each).
      const double bound = f * MaxRowNorm(qh, s.sq, s.d, ldq) * MaxRowNorm(kh, s.sk, s.d, ldq) * (1 + 1e-3);
      keep = KeptKeys(mrow, s.sk, bound);
      if (!FiniteRows(vh, keep, s.sk, s.dv, ldv)) keep = s.sk;
    }
  }
  const auto nk = static_cast<size_t>(keep);
  if (d > 0) kernels::PackF32w(nk, d, kh, static_cast<size_t>(ldq), pk);  // K_h^T: n = keys, k = D
  if (sk > 0) kernels::PackF32wKN(dv, nk, vh, static_cast<size_t>(ldv), pv);
  const int64_t block = RowBlock(s.sq, s.sk);
  for (int64_t r0 = 0, mb = 0; r0 < s.sq; r0 += mb) {
    mb = BlockRows(s.sq, block, r0);
    if (d == 0) {
      std::memset(scores, 0, static_cast<size_t>(mb) * sk * sizeof(float));
    } else {
      kernels::SGemmPacked(static_cast<size_t>(mb), nk, d, qh + r0 * ldq, static_cast<size_t>(ldq), pk, nullptr,
                           kernels::Activation::kNone, scores, sk, pool);
      for (int64_t i = 0; nk < sk && i < mb; ++i) std::fill(scores + i * s.sk + keep, scores + (i + 1) * s.sk, 0.0f);
    }
    kernels::ScaledSoftmaxArgs sm;
    sm.rows = static_cast<size_t>(mb);
    sm.len = sk;
    sm.x = sm.y = scores;
    sm.ldx = sm.ldy = sk;
    sm.scale = t.scale;
    sm.divide = t.divide;
    if (t.mask) {
      sm.mask = t.mask + b * t.ms[0] + h * t.ms[1] + r0 * t.ms[2];
      sm.mask_ld = static_cast<size_t>(t.ms[2]);
      sm.mask_step = static_cast<size_t>(t.ms[3]);
    }
    kernels::ScaledSoftmaxRows(sm);
    float* yr = yh + r0 * ldv;
    if (sk == 0) {
      for (int64_t i = 0; i < mb; ++i) std::memset(yr + i * ldv, 0, dv * sizeof(float));
    } else {
      kernels::SGemmPacked(static_cast<size_t>(mb), dv, nk, scores, sk, pv, nullptr, kernels::Activation::kNone, yr,
                           static_cast<size_t>(ldv), pool);
    }
  }
}

void AttendHeads(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const AttnTask*>(arg);
  uint8_t* slot = t->workspace + (start / static_cast<size_t>(t->per_task)) * t->slot_bytes;
  for (size_t i = start; i < start + count; ++i) AttendHead(*t, static_cast<int64_t>(i), slot, nullptr);
}

absl::Status RunAttention(OpContext& ctx) {
  const auto* o = ctx.options<fb::AttentionOptions>();
  AttnTask t{};
  t.s = ShapeOf(ctx);
  t.q = ctx.in[0]->as<float>();
  t.k = ctx.in[1]->as<float>();
  t.v = ctx.in[2]->as<float>();
  t.mask = ctx.has_input(3) ? ctx.in[3]->as<float>() : nullptr;
  t.y = ctx.out[0]->as<float>();
  t.scale = o->scale();
  t.divide = o->divide();
  if (t.mask) {
    const std::vector<int64_t> st = BroadcastStrides(ctx.in[3]->shape, 4);
    for (int i = 0; i < 4; ++i) t.ms[i] = st[static_cast<size_t>(i)];
  }
  t.workspace = static_cast<uint8_t*>(ctx.workspace);
  t.slot_bytes = SlotBytes(t.s);
  const int64_t nbh = t.s.b * t.s.h;
  if (nbh == 0 || t.s.sq == 0) return absl::OkStatus();
  const size_t threads = ctx.pool ? pthreadpool_get_threads_count(ctx.pool) : 1;
  t.per_task = HeadsPerTask(t.s, threads);
  if (t.per_task > 0) {
    pthreadpool_parallelize_1d_tile_1d(ctx.pool, AttendHeads, &t, static_cast<size_t>(nbh),
                                       static_cast<size_t>(t.per_task), 0);
  } else {
    for (int64_t bh = 0; bh < nbh; ++bh) AttendHead(t, bh, t.workspace, ctx.pool);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterAttentionOps(std::vector<OpDef>& ops) {
  ops.push_back({fb::OpType::ATTENTION, fb::OpOptions::AttentionOptions, 3, 4, 1, 1, InferAttention, RunAttention});
}

}  // namespace edgert
