// Softmax / LogSoftmax, LayerNorm, BatchNorm (inference form). Float only.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define EDGERT_NORM_X86 1
#endif

#include "edgert/kernels/gemm.h"
#include "edgert/kernels/softmax.h"
#include "broadcast.h"
#include "op.h"

namespace edgert {
namespace {

#ifdef EDGERT_NORM_X86
__attribute__((target("avx2,fma"))) inline double HSum4(__m256d a, __m256d b, __m256d c, __m256d d) {
  const __m256d s = _mm256_add_pd(_mm256_add_pd(a, b), _mm256_add_pd(c, d));
  alignas(32) double l[4];
  _mm256_store_pd(l, s);
  return (l[0] + l[1]) + (l[2] + l[3]);
}

// x0, x1 (16 floats of a row) plus the residual's 16 at r, stored to q: the summed row.
__attribute__((target("avx2,fma"))) inline void AddResidual16(const float* r, float* q, __m256& x0, __m256& x1) {
  x0 = _mm256_add_ps(x0, _mm256_loadu_ps(r));
  x1 = _mm256_add_ps(x1, _mm256_loadu_ps(r + 8));
  _mm256_storeu_ps(q, x0);
  _mm256_storeu_ps(q + 8, x1);
}

// Sum of the row's elements [i, n) (x + residual, stored to q, when there is one).
inline double RowTail(const float* p, const float* r, float* q, int64_t i, int64_t n) {
  double tail = 0;
  for (int64_t j = i; j < n; ++j) {
    if (r) q[j] = p[j] + r[j];
    tail += r ? q[j] : p[j];
  }
  return tail;
}

// LayerNorm of one contiguous row: mean and variance accumulated in double (16 partial sums,
// combined in a fixed order; two passes, like the scalar version), output in float with FMA.
// The scalar loop summed serially, a 4-cycle add latency per element (7% of MiniLM INT8).
// With a residual r: the row is p + r (float adds, as the ADD op), written to q in the first
// pass and read back from q by the others.
__attribute__((target("avx2,fma"))) void LayerNormRowAvx2(const float* p, const float* r, float* q, const float* g,
                                                          const float* b, int64_t n, float eps) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 x0 = _mm256_loadu_ps(p + i), x1 = _mm256_loadu_ps(p + i + 8);
    if (r) AddResidual16(r + i, q + i, x0, x1);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(x0)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(x0, 1)));
    s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm256_castps256_ps128(x1)));
    s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm256_extractf128_ps(x1, 1)));
  }
  double tail = RowTail(p, r, q, i, n);
  if (r) p = q;
  const double mean = (HSum4(s0, s1, s2, s3) + tail) / static_cast<double>(n);
  const __m256d vm = _mm256_set1_pd(mean);
  s0 = s1 = s2 = s3 = _mm256_setzero_pd();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m256 x0 = _mm256_loadu_ps(p + i), x1 = _mm256_loadu_ps(p + i + 8);
    const __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x0)), vm);
    const __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x0, 1)), vm);
    const __m256d d2 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x1)), vm);
    const __m256d d3 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x1, 1)), vm);
    s0 = _mm256_fmadd_pd(d0, d0, s0);
    s1 = _mm256_fmadd_pd(d1, d1, s1);
    s2 = _mm256_fmadd_pd(d2, d2, s2);
    s3 = _mm256_fmadd_pd(d3, d3, s3);
  }
  tail = 0;
  for (int64_t j = i; j < n; ++j) tail += (p[j] - mean) * (p[j] - mean);
  const double var = (HSum4(s0, s1, s2, s3) + tail) / static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float m = static_cast<float>(mean), mlo = static_cast<float>(mean - static_cast<double>(m));
  const __m256 vmf = _mm256_set1_ps(m), vlo = _mm256_set1_ps(mlo), vinv = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(p + i), vmf), vlo);
    const __m256 bb = b ? _mm256_loadu_ps(b + i) : _mm256_setzero_ps();
    _mm256_storeu_ps(q + i, _mm256_fmadd_ps(_mm256_mul_ps(d, vinv), _mm256_loadu_ps(g + i), bb));
  }
  for (; i < n; ++i) q[i] = ((p[i] - m) - mlo) * inv * g[i] + (b ? b[i] : 0.f);
}

// (s0 + s1) + (s2 + s3) lane by lane, then (l0 + l1) + (l2 + l3): HSum4's order for the 16
// partial sums of LayerNormRowAvx512.
__attribute__((target("avx512f"))) double HSum16(__m512d a, __m512d c) {
  alignas(64) double l[16];
  _mm512_store_pd(l, a);
  _mm512_store_pd(l + 8, c);
  double s[4];
  for (int j = 0; j < 4; ++j) s[j] = (l[j] + l[4 + j]) + (l[8 + j] + l[12 + j]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive in _mm512_cvtps_pd
#endif
// LayerNormRowAvx2 with 8-lane double vectors: the same 16 partial sums (a zmm of element
// i..i+7 holds the AVX2 build's s0 | s1, one of i+8..i+15 its s2 | s3), combined in the same
// order, and the same per-element float steps: the same bits. cvtps2pd moves twice the
// elements per instruction, the conversion that bounds the AVX2 loop.
__attribute__((target("avx512f,avx2,fma"))) void LayerNormRowAvx512(const float* p, const float* r, float* q,
                                                                   const float* g, const float* b, int64_t n,
                                                                   float eps) {
  __m512d s01 = _mm512_setzero_pd(), s23 = s01;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 x0 = _mm256_loadu_ps(p + i), x1 = _mm256_loadu_ps(p + i + 8);
    if (r) AddResidual16(r + i, q + i, x0, x1);
    s01 = _mm512_add_pd(s01, _mm512_cvtps_pd(x0));
    s23 = _mm512_add_pd(s23, _mm512_cvtps_pd(x1));
  }
  double tail = RowTail(p, r, q, i, n);
  if (r) p = q;
  const double mean = (HSum16(s01, s23) + tail) / static_cast<double>(n);
  const __m512d vm = _mm512_set1_pd(mean);
  s01 = s23 = _mm512_setzero_pd();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p + i)), vm);
    const __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p + i + 8)), vm);
    s01 = _mm512_fmadd_pd(d0, d0, s01);
    s23 = _mm512_fmadd_pd(d1, d1, s23);
  }
  tail = 0;
  for (int64_t j = i; j < n; ++j) tail += (p[j] - mean) * (p[j] - mean);
  const double var = (HSum16(s01, s23) + tail) / static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float m = static_cast<float>(mean), mlo = static_cast<float>(mean - static_cast<double>(m));
  const __m512 vmf = _mm512_set1_ps(m), vlo = _mm512_set1_ps(mlo), vinv = _mm512_set1_ps(inv);
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(p + i), vmf), vlo);
    const __m512 bb = b ? _mm512_loadu_ps(b + i) : _mm512_setzero_ps();
    _mm512_storeu_ps(q + i, _mm512_fmadd_ps(_mm512_mul_ps(d, vinv), _mm512_loadu_ps(g + i), bb));
  }
  if (i + 8 <= n) {
    const __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(p + i), _mm256_set1_ps(m)), _mm256_set1_ps(mlo));
    const __m256 bb = b ? _mm256_loadu_ps(b + i) : _mm256_setzero_ps();
    _mm256_storeu_ps(q + i, _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(inv)), _mm256_loadu_ps(g + i), bb));
    i += 8;
  }
  for (; i < n; ++i) q[i] = ((p[i] - m) - mlo) * inv * g[i] + (b ? b[i] : 0.f);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
}
// The AVX-512 build only where the kernels run AVX-512 (EDGERT_ISA=avx2 keeps it off).
bool UseAvx512() { return kernels::ActiveIsa() == kernels::Isa::kAvx512Vnni; }
#endif

// Splits a shape around `axis`: outer x axis_len x inner.
void Split3(const Shape& s, int axis, int64_t* outer, int64_t* len, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int i = 0; i < axis; ++i) *outer *= s[static_cast<size_t>(i)];
  *len = s.empty() ? 1 : s[static_cast<size_t>(axis)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) *inner *= s[i];
}

absl::Status InferSameFloat(OpContext& ctx) {
  RETURN_IF_ERROR(ExpectFloat(ctx, 0));
  ctx.out[0]->shape = ctx.in[0]->shape;
  ctx.out[0]->dtype = DType::F32;
  return absl::OkStatus();
}

absl::Status InferSoftmax(OpContext& ctx) {
  RETURN_IF_ERROR(InferSameFloat(ctx));
  return NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), ctx.in[0]->rank()).status();
}

struct SoftmaxTask {
  const float* a;
  float* y;
  int64_t len, inner;
  bool log;
};

// One outer index (all `inner` rows of it) of a strided softmax or a LogSoftmax. Rows are
// independent and each is computed exactly as on one thread: bit-identical for every thread count.
void SoftmaxOuter(void* arg, size_t oi) {
  const auto* t = static_cast<const SoftmaxTask*>(arg);
  const int64_t o = static_cast<int64_t>(oi), len = t->len, inner = t->inner;
  const bool log = t->log;
  for (int64_t in = 0; in < inner; ++in) {
    const float* p = t->a + o * len * inner + in;
    float* q = t->y + o * len * inner + in;
    double sum = 0;
    float mx = -INFINITY;
    for (int64_t i = 0; i < len; ++i) mx = std::max(mx, p[i * inner]);
    for (int64_t i = 0; i < len; ++i) {
      const float e = std::exp(p[i * inner] - mx);
      if (!log) q[i * inner] = e;
      sum += e;
    }
    if (log) {
      const float ls = static_cast<float>(std::log(sum));
      for (int64_t i = 0; i < len; ++i) q[i * inner] = p[i * inner] - mx - ls;
    } else {
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t i = 0; i < len; ++i) q[i * inner] *= inv;
    }
  }
}

// Contiguous rows [start, start + count) of a softmax over the last axis: the kernels' rows
// (x * 1 is x, so this is exactly their softmax of x).
void SoftmaxLastAxisRows(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const SoftmaxTask*>(arg);
  kernels::ScaledSoftmaxArgs a;
  a.rows = count;
  a.len = static_cast<size_t>(t->len);
  a.x = t->a + static_cast<int64_t>(start) * t->len;
  a.y = t->y + static_cast<int64_t>(start) * t->len;
  a.ldx = a.ldy = a.len;
  kernels::ScaledSoftmaxRows(a);
}

absl::Status RunSoftmax(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), x.rank()));
  int64_t outer, len, inner;
  Split3(x.shape, axis, &outer, &len, &inner);
  SoftmaxTask t{x.as<float>(), ctx.out[0]->as<float>(), len, inner, ctx.op->type() == fb::OpType::LOG_SOFTMAX};
  if (!t.log && inner == 1) {
    if (len > 0) {
      pthreadpool_parallelize_1d_tile_1d(ctx.pool, SoftmaxLastAxisRows, &t, static_cast<size_t>(outer), 16, 0);
    }
  } else {
    pthreadpool_parallelize_1d(ctx.pool, SoftmaxOuter, &t, static_cast<size_t>(outer), 0);
  }
  return absl::OkStatus();
}

// ---- SCALED_SOFTMAX: softmax(x * scale + mask) over the last axis ----
// x and the mask broadcast against each other as in Add (numpy rules); the output has the
// broadcast shape.
absl::Status InferScaledSoftmax(OpContext& ctx) {
  RETURN_IF_ERROR(ExpectFloat(ctx, 0));
  Shape out = ctx.in[0]->shape;
  if (ctx.has_input(1)) {
    RETURN_IF_ERROR(ExpectFloat(ctx, 1));
    ASSIGN_OR_RETURN(out, BroadcastShapes(ctx, ctx.in[0]->shape, ctx.in[1]->shape));
  }
  if (out.empty()) return ctx.Error("input must have rank >= 1");
  if (out.size() > static_cast<size_t>(kMaxRank)) {
    return ctx.Error(absl::StrCat("rank ", out.size(), " is above the supported ", kMaxRank));
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = DType::F32;
  return absl::OkStatus();
}

}  // namespace

std::vector<int64_t> BroadcastStrides(const Shape& s, size_t r) {
  std::vector<int64_t> st(r, 0);
  int64_t stride = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[r - s.size() + i] = s[i] == 1 ? 0 : stride;
    stride *= s[i];
  }
  return st;
}

namespace {

struct ScaledSoftmaxTask {
  const float* x;
  const float* mask;  // null: no mask
  float* y;
  float scale;
  bool divide;
  int64_t len;                     // the output's last dim
  int64_t x_last, mask_last;       // element stride along the last axis: 1, or 0 (broadcast)
  std::vector<int64_t> row_dims;   // the output's dims without the last
  std::vector<int64_t> x_strides, mask_strides;  // per row dim, 0 where it broadcasts
};

// Rows [start, start + count): the x / mask offsets of the first by division, then stepped like
// an odometer. Rows along the innermost row dim have constant x / mask strides: each such run is
// one call of the kernel, which interleaves rows (short attention rows are latency-bound alone).
void ScaledSoftmaxTaskRows(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const ScaledSoftmaxTask*>(arg);
  const int64_t len = t->len;
  const size_t nd = t->row_dims.size();
  int64_t idx[kMaxRank] = {};
  int64_t xo = 0, mo = 0, rest = static_cast<int64_t>(start);
  for (size_t d = nd; d-- > 0;) {
    idx[d] = rest % t->row_dims[d];
    rest /= t->row_dims[d];
    xo += idx[d] * t->x_strides[d];
    if (t->mask) mo += idx[d] * t->mask_strides[d];
  }
  const int64_t x_row = nd == 0 ? 0 : t->x_strides[nd - 1];
  const int64_t m_row = nd == 0 || !t->mask ? 0 : t->mask_strides[nd - 1];
  for (size_t ri = start; ri < start + count;) {
    const auto left = static_cast<int64_t>(start + count - ri);
    const int64_t run = nd == 0 ? 1 : std::min(left, t->row_dims[nd - 1] - idx[nd - 1]);
    kernels::ScaledSoftmaxArgs a;
    a.rows = static_cast<size_t>(run);
    a.len = static_cast<size_t>(len);
    a.scale = t->scale;
    a.divide = t->divide;
    a.y = t->y + static_cast<int64_t>(ri) * len;
    a.ldy = a.len;
    if (t->mask) {
      a.mask = t->mask + mo;
      a.mask_ld = static_cast<size_t>(m_row);
      a.mask_step = static_cast<size_t>(t->mask_last);
    }
    if (t->x_last == 1) {
      a.x = t->x + xo;
      a.ldx = static_cast<size_t>(x_row);
    } else {  // x broadcast along the last axis: its rows written out first, softmax in place
      for (int64_t j = 0; j < run; ++j) std::fill_n(a.y + j * len, len, t->x[xo + j * x_row]);
      a.x = a.y;
      a.ldx = a.ldy;
    }
    kernels::ScaledSoftmaxRows(a);
    for (int64_t j = 0; j < run; ++j) {  // the odometer past the run
      for (size_t d = nd; d-- > 0;) {
        xo += t->x_strides[d];
        if (t->mask) mo += t->mask_strides[d];
        if (++idx[d] < t->row_dims[d]) break;
        xo -= t->x_strides[d] * idx[d];
        if (t->mask) mo -= t->mask_strides[d] * idx[d];
        idx[d] = 0;
      }
    }
    ri += static_cast<size_t>(run);
  }
}

absl::Status RunScaledSoftmax(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const Value& y = *ctx.out[0];
  const auto* o = ctx.options<fb::ScaledSoftmaxOptions>();
  ScaledSoftmaxTask t;
  t.x = x.as<float>();
  t.y = ctx.out[0]->as<float>();
  t.mask = ctx.has_input(1) ? ctx.in[1]->as<float>() : nullptr;
  t.scale = o->scale();
  t.divide = o->divide();
  t.len = y.shape.back();
  const int64_t rows = t.len == 0 ? 0 : y.num_elements() / t.len;
  if (rows == 0) return absl::OkStatus();
  const size_t r = y.shape.size();
  t.row_dims.assign(y.shape.begin(), y.shape.end() - 1);
  t.x_strides = BroadcastStrides(x.shape, r);
  t.x_last = t.x_strides.back();
  t.x_strides.pop_back();
  t.mask_last = 0;
  if (t.mask) {
    t.mask_strides = BroadcastStrides(ctx.in[1]->shape, r);
    t.mask_last = t.mask_strides.back();
    t.mask_strides.pop_back();
  }
  // Rows are independent and computed as on one thread: bit-identical for every thread count.
  pthreadpool_parallelize_1d_tile_1d(ctx.pool, ScaledSoftmaxTaskRows, &t, static_cast<size_t>(rows), 16, 0);
  return absl::OkStatus();
}

// LAYER_NORM normalizes x, or with input 3 (residual) x + residual with numpy broadcasting (the
// converter's fusion of Add -> LayerNormalization): the output has the broadcast shape.
absl::Status InferLayerNorm(OpContext& ctx) {
  RETURN_IF_ERROR(InferSameFloat(ctx));
  if (ctx.has_input(3)) {
    RETURN_IF_ERROR(ExpectFloat(ctx, 3));
    ASSIGN_OR_RETURN(ctx.out[0]->shape, BroadcastShapes(ctx, ctx.in[0]->shape, ctx.in[3]->shape));
  }
  const Shape& xs = ctx.out[0]->shape;
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::LayerNormOptions>()->axis(), static_cast<int>(xs.size())));
  int64_t norm = 1;
  for (size_t i = static_cast<size_t>(axis); i < xs.size(); ++i) norm *= xs[i];
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    RETURN_IF_ERROR(ExpectFloat(ctx, i));
    if (ctx.in[i]->num_elements() != norm) {
      return ctx.Error(absl::StrCat(i == 1 ? "scale" : "bias", " has ", ctx.in[i]->num_elements(),
                                    " elements, expected ", norm));
    }
  }
  return absl::OkStatus();
}

struct LayerNormTask {
  const float* x;
  const float* residual;  // null: none
  float* y;
  const float* g;
  const float* b;
  int64_t norm;
  float eps;
};

void LayerNormRow(void* arg, size_t ri) {
  const auto* t = static_cast<const LayerNormTask*>(arg);
  const int64_t norm = t->norm, r = static_cast<int64_t>(ri);
  const float* p = t->x + r * norm;
  const float* res = t->residual ? t->residual + r * norm : nullptr;
  float* q = t->y + r * norm;
  const float* g = t->g;
  const float* b = t->b;
#ifdef EDGERT_NORM_X86
  if (UseAvx512()) return LayerNormRowAvx512(p, res, q, g, b, norm, t->eps);
  if (HaveAvx2()) return LayerNormRowAvx2(p, res, q, g, b, norm, t->eps);
#endif
  if (res) {
    for (int64_t i = 0; i < norm; ++i) q[i] = p[i] + res[i];
    p = q;
  }
  double mean = 0;
  for (int64_t i = 0; i < norm; ++i) mean += p[i];
  mean /= static_cast<double>(norm);
  double var = 0;
  for (int64_t i = 0; i < norm; ++i) {
    const double d = p[i] - mean;
    var += d * d;
  }
  var /= static_cast<double>(norm);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + t->eps));
  // x - mean as (x - m) - mlo with m = float(mean): x - m is exact for x near m, and mlo keeps
  // the part of the mean float rounding dropped (a row with mean 1000 and spread 0.01 would
  // otherwise be off by 1e-3 of a standard deviation).
  const float m = static_cast<float>(mean), mlo = static_cast<float>(mean - static_cast<double>(m));
  for (int64_t i = 0; i < norm; ++i) q[i] = ((p[i] - m) - mlo) * inv * g[i] + (b ? b[i] : 0.f);
}

absl::Status RunLayerNorm(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const auto* o = ctx.options<fb::LayerNormOptions>();
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, o->axis(), y.rank()));
  int64_t norm = 1;
  for (size_t i = static_cast<size_t>(axis); i < y.shape.size(); ++i) norm *= y.shape[i];
  const int64_t rows = norm == 0 ? 0 : y.num_elements() / norm;
  const float* g = ctx.in[1]->as<float>();
  const float* b = ctx.has_input(2) ? ctx.in[2]->as<float>() : nullptr;
  const float* in = x.as<float>();
  const float* res = nullptr;
  if (ctx.has_input(3)) {
    const Value& r = *ctx.in[3];
    if (r.shape == x.shape) {
      res = r.as<float>();  // added row by row in the first pass
    } else {
      // Broadcast: x + residual into the output first (x's operand first, as the ADD op), then
      // normalized in place.
      const float* xa = x.as<float>();
      const float* ra = r.as<float>();
      float* out = y.as<float>();
      ForEachBroadcastRow<2>(y.shape, {&x.shape, &r.shape},
                             [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t o0, int64_t n) {
                               for (int64_t j = 0; j < n; ++j) out[o0 + j] = xa[off[0] + j * st[0]] + ra[off[1] + j * st[1]];
                             });
      in = out;
    }
  }
  LayerNormTask t{in, res, y.as<float>(), g, b, norm, o->epsilon()};
  // Rows are independent and computed as on one thread: bit-identical for every thread count.
  pthreadpool_parallelize_1d(ctx.pool, LayerNormRow, &t, static_cast<size_t>(rows), 0);
  return absl::OkStatus();
}

// BatchNormalization (inference): x [N, C, ...], scale/bias/mean/var [C].
absl::Status InferBatchNorm(OpContext& ctx) {
  RETURN_IF_ERROR(InferSameFloat(ctx));
  const Value& x = *ctx.in[0];
  if (x.rank() < 2) return ctx.Error("input must have rank >= 2 (N, C, ...)");
  for (size_t i = 1; i < 5; ++i) {
    RETURN_IF_ERROR(ExpectFloat(ctx, i));
    if (ctx.in[i]->num_elements() != x.shape[1]) {
      return ctx.Error(absl::StrCat("input ", i, " has ", ctx.in[i]->num_elements(), " elements, expected C = ", x.shape[1]));
    }
  }
  return absl::OkStatus();
}

absl::Status RunBatchNorm(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const float eps = ctx.options<fb::LayerNormOptions>()->epsilon();
  const int64_t n = x.shape[0], c = x.shape[1];
  const int64_t inner = c == 0 || n == 0 ? 0 : x.num_elements() / (n * c);
  const float *s = ctx.in[1]->as<float>(), *b = ctx.in[2]->as<float>(), *mu = ctx.in[3]->as<float>(),
              *var = ctx.in[4]->as<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c; ++j) {
      const float k = s[j] / std::sqrt(var[j] + eps);
      const float off = b[j] - mu[j] * k;
      const float* p = x.as<float>() + (i * c + j) * inner;
      float* q = ctx.out[0]->as<float>() + (i * c + j) * inner;
      for (int64_t t = 0; t < inner; ++t) q[t] = p[t] * k + off;
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterNormOps(std::vector<OpDef>& ops) {
  ops.push_back({fb::OpType::SOFTMAX, fb::OpOptions::AxisOptions, 1, 1, 1, 1, InferSoftmax, RunSoftmax});
  ops.push_back({fb::OpType::LOG_SOFTMAX, fb::OpOptions::AxisOptions, 1, 1, 1, 1, InferSoftmax, RunSoftmax});
  ops.push_back({fb::OpType::SCALED_SOFTMAX, fb::OpOptions::ScaledSoftmaxOptions, 1, 2, 1, 1, InferScaledSoftmax,
                 RunScaledSoftmax});
  ops.push_back({fb::OpType::LAYER_NORM, fb::OpOptions::LayerNormOptions, 2, 4, 1, 1, InferLayerNorm, RunLayerNorm});
  ops.push_back({fb::OpType::BATCH_NORM, fb::OpOptions::LayerNormOptions, 5, 5, 1, 1, InferBatchNorm, RunBatchNorm});
}

}  // namespace edgert
