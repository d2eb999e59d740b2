// Reductions (ReduceSum/Mean/Max/Min/Prod/L2/SumSquare), ArgMax/ArgMin, TopK and the global
// pools. Float reference implementations; Sum/Max/Min/Prod/Mean/SumSquare also take i32/i64.
//
// Corner cases follow ONNX (opset 13-18): axes come from ReduceOptions or, when present, from a
// second i64 input known at plan time; empty axes reduce everything unless noop_with_empty_axes;
// a reduction over an empty set gives the identity (0 for sums, 1 for prod, -inf/+inf for
// max/min, NaN for mean).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "op.h"

namespace edgert {
namespace {

using fb::OpType;

// ---- Reduce ----

// Which axes are reduced (a mask of the input rank) and whether the op is an identity.
struct ReducePlan {
  std::vector<bool> reduce;
  bool noop = false;
  Shape out;
};

absl::StatusOr<ReducePlan> PlanReduce(const OpContext& ctx) {
  const auto* o = ctx.options<fb::ReduceOptions>();
  const Value& x = *ctx.in[0];
  const int rank = x.rank();
  std::vector<int64_t> axes;
  bool have_axes_input = false;
  if (ctx.has_input(1)) {
    ASSIGN_OR_RETURN(axes, ReadInts(ctx, 1, "axes"));
    have_axes_input = true;
  } else if (o && o->axes()) {
    for (int a : *o->axes()) axes.push_back(a);
  }
  (void)have_axes_input;
  const bool keepdims = o ? o->keepdims() : true;
  const bool noop_empty = o ? o->noop_with_empty_axes() : false;
  ReducePlan p;
  p.reduce.assign(static_cast<size_t>(rank), false);
  if (axes.empty()) {
    if (noop_empty) {
      p.noop = true;
      p.out = x.shape;
      return p;
    }
    p.reduce.assign(static_cast<size_t>(rank), true);
  }
  for (int64_t a : axes) {
    if (rank == 0) return ctx.Error("cannot reduce a scalar along an axis");
    ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, rank, "reduce axis"));
    if (p.reduce[static_cast<size_t>(ax)]) return ctx.Error(absl::StrCat("axis ", a, " is repeated"));
    p.reduce[static_cast<size_t>(ax)] = true;
  }
  for (int i = 0; i < rank; ++i) {
    if (p.reduce[static_cast<size_t>(i)]) {
      if (keepdims) p.out.push_back(1);
    } else {
      p.out.push_back(x.shape[static_cast<size_t>(i)]);
    }
  }
  return p;
}

bool ReduceAllowsInt(OpType t) {
  return t == OpType::REDUCE_SUM || t == OpType::REDUCE_MAX || t == OpType::REDUCE_MIN || t == OpType::REDUCE_PROD ||
         t == OpType::REDUCE_MEAN || t == OpType::REDUCE_SUM_SQUARE;
}

absl::Status InferReduce(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const OpType t = ctx.op->type();
  if (x.dtype != DType::F32 && !(ReduceAllowsInt(t) && (x.dtype == DType::I32 || x.dtype == DType::I64))) {
    return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  }
  if (ctx.has_input(1) && ctx.in[1]->rank() > 1) return ctx.Error("axes must be 1-D");
  ASSIGN_OR_RETURN(ReducePlan p, PlanReduce(ctx));
  ctx.out[0]->shape = p.out;
  ctx.out[0]->dtype = x.dtype;
  return absl::OkStatus();
}

// Walks the input once; `acc[o]` accumulates every input element mapped to output element o.
template <typename T, typename F>
void Accumulate(const Value& x, const std::vector<bool>& reduce, std::vector<double>& acc, F f) {
  const Shape& s = x.shape;
  const size_t r = s.size();
  // Output strides over the kept dims (0 along reduced dims).
  std::vector<int64_t> ost(r, 0);
  int64_t st = 1;
  for (size_t i = r; i-- > 0;) {
    if (!reduce[i]) {
      ost[i] = st;
      st *= s[i];
    }
  }
  const int64_t n = x.num_elements();
  if (n == 0) return;
  const T* p = x.as<T>();
  const int64_t inner = r == 0 ? 1 : s[r - 1];
  const int64_t inner_st = r == 0 ? 0 : ost[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t base = 0; base < n; base += inner) {
    if (inner_st == 0) {
      double& a = acc[static_cast<size_t>(off)];
      for (int64_t i = 0; i < inner; ++i) a = f(a, static_cast<double>(p[base + i]));
    } else {
      for (int64_t i = 0; i < inner; ++i) {
        double& a = acc[static_cast<size_t>(off + i)];
        a = f(a, static_cast<double>(p[base + i]));
      }
    }
    for (size_t d = r >= 1 ? r - 1 : 0; d-- > 0;) {
      off += ost[d];
      if (++idx[d] < s[d]) break;
      off -= ost[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
void StoreResult(const std::vector<double>& acc, Value& y) {
  T* q = y.as<T>();
  for (size_t i = 0; i < acc.size(); ++i) {
    if constexpr (std::is_integral_v<T>) {
      const double v = acc[i];
      q[i] = std::isfinite(v) ? static_cast<T>(v) : (v > 0 ? std::numeric_limits<T>::max() : std::numeric_limits<T>::min());
    } else {
      q[i] = static_cast<T>(acc[i]);
    }
  }
}

template <typename T>
absl::Status RunReduceT(OpContext& ctx, const ReducePlan& p) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const OpType t = ctx.op->type();
  const size_t nout = static_cast<size_t>(y.num_elements());
  int64_t count = 1;
  for (size_t i = 0; i < p.reduce.size(); ++i) {
    if (p.reduce[i]) count *= x.shape[i];
  }
  double init = 0;
  if (t == OpType::REDUCE_PROD) init = 1;
  if (t == OpType::REDUCE_MAX) init = -std::numeric_limits<double>::infinity();
  if (t == OpType::REDUCE_MIN) init = std::numeric_limits<double>::infinity();
  std::vector<double> acc(nout, init);
  switch (t) {
    case OpType::REDUCE_SUM:
    case OpType::REDUCE_MEAN:
      Accumulate<T>(x, p.reduce, acc, [](double a, double v) { return a + v; });
      break;
    case OpType::REDUCE_PROD: Accumulate<T>(x, p.reduce, acc, [](double a, double v) { return a * v; }); break;
    case OpType::REDUCE_MAX:
      Accumulate<T>(x, p.reduce, acc, [](double a, double v) { return (v > a || v != v) ? v : a; });
      break;
    case OpType::REDUCE_MIN:
      Accumulate<T>(x, p.reduce, acc, [](double a, double v) { return (v < a || v != v) ? v : a; });
      break;
    case OpType::REDUCE_L2:
    case OpType::REDUCE_SUM_SQUARE:
      Accumulate<T>(x, p.reduce, acc, [](double a, double v) { return a + v * v; });
      break;
    default: return ctx.Error("not a reduction");
  }
  if (t == OpType::REDUCE_MEAN) {
    for (double& a : acc) a = count == 0 ? std::numeric_limits<double>::quiet_NaN() : a / static_cast<double>(count);
  } else if (t == OpType::REDUCE_L2) {
    for (double& a : acc) a = std::sqrt(a);
  }
  StoreResult<T>(acc, y);
  return absl::OkStatus();
}

absl::Status RunReduce(OpContext& ctx) {
  ASSIGN_OR_RETURN(ReducePlan p, PlanReduce(ctx));
  const Value& x = *ctx.in[0];
  if (p.noop) {
    if (x.bytes() > 0 && x.data != ctx.out[0]->data) std::memcpy(ctx.out[0]->data, x.data, static_cast<size_t>(x.bytes()));
    return absl::OkStatus();
  }
  switch (x.dtype) {
    case DType::F32: return RunReduceT<float>(ctx, p);
    case DType::I32: return RunReduceT<int32_t>(ctx, p);
    case DType::I64: return RunReduceT<int64_t>(ctx, p);
    default: return ctx.Error("unsupported dtype");
  }
}

// Splits a shape around `axis`: outer x len x inner.
void Split3(const Shape& s, int axis, int64_t* outer, int64_t* len, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int i = 0; i < axis; ++i) *outer *= s[static_cast<size_t>(i)];
  *len = s.empty() ? 1 : s[static_cast<size_t>(axis)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) *inner *= s[i];
}

bool NumericDType(DType t) { return t == DType::F32 || t == DType::I32 || t == DType::I64 || t == DType::I8 || t == DType::U8; }

// ---- ArgMax / ArgMin ----
absl::Status InferArg(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  if (!NumericDType(x.dtype)) return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  const auto* o = ctx.options<fb::ArgOptions>();
  if (x.rank() == 0) return ctx.Error("input must have rank >= 1");
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, o->axis(), x.rank()));
  if (x.shape[static_cast<size_t>(axis)] == 0) return ctx.Error("the reduced axis is empty");
  Shape out;
  for (int i = 0; i < x.rank(); ++i) {
    if (i == axis) {
      if (o->keepdims()) out.push_back(1);
    } else {
      out.push_back(x.shape[static_cast<size_t>(i)]);
    }
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = DType::I64;
  return absl::OkStatus();
}

template <typename T>
void ArgT(const Value& x, int axis, bool is_max, bool last, int64_t* y) {
  int64_t outer, len, inner;
  Split3(x.shape, axis, &outer, &len, &inner);
  const T* p = x.as<T>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const T* q = p + o * len * inner + in;
      int64_t best = 0;
      T bv = q[0];
      for (int64_t i = 1; i < len; ++i) {
        const T v = q[i * inner];
        const bool better = is_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
        if (better) {
          best = i;
          bv = v;
        }
      }
      y[o * inner + in] = best;
    }
  }
}

absl::Status RunArg(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const auto* o = ctx.options<fb::ArgOptions>();
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, o->axis(), x.rank()));
  const bool mx = ctx.op->type() == OpType::ARG_MAX;
  int64_t* y = ctx.out[0]->as<int64_t>();
  switch (x.dtype) {
    case DType::F32: ArgT<float>(x, axis, mx, o->select_last_index(), y); break;
    case DType::I32: ArgT<int32_t>(x, axis, mx, o->select_last_index(), y); break;
    case DType::I64: ArgT<int64_t>(x, axis, mx, o->select_last_index(), y); break;
    case DType::I8: ArgT<int8_t>(x, axis, mx, o->select_last_index(), y); break;
    case DType::U8: ArgT<uint8_t>(x, axis, mx, o->select_last_index(), y); break;
    default: return ctx.Error("unsupported dtype");
  }
  return absl::OkStatus();
}

// ---- TopK ----
absl::StatusOr<int64_t> TopKCount(const OpContext& ctx, int axis) {
  ASSIGN_OR_RETURN(std::vector<int64_t> k, ReadInts(ctx, 1, "k"));
  if (k.size() != 1) return ctx.Error(absl::StrCat("k must have one element, got ", k.size()));
  const int64_t len = ctx.in[0]->shape[static_cast<size_t>(axis)];
  if (k[0] < 0 || k[0] > len) return ctx.Error(absl::StrCat("k = ", k[0], " is outside [0, ", len, "]"));
  return k[0];
}

absl::Status InferTopK(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  if (x.dtype != DType::F32 && x.dtype != DType::I32 && x.dtype != DType::I64) {
    return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  }
  if (x.rank() == 0) return ctx.Error("input must have rank >= 1");
  if (ctx.out.size() != 2) return ctx.Error("expects two outputs (values, indices)");
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::TopKOptions>()->axis(), x.rank()));
  ASSIGN_OR_RETURN(int64_t k, TopKCount(ctx, axis));
  Shape out = x.shape;
  out[static_cast<size_t>(axis)] = k;
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = x.dtype;
  ctx.out[1]->shape = out;
  ctx.out[1]->dtype = DType::I64;
  return absl::OkStatus();
}

template <typename T>
void TopKT(const Value& x, int axis, int64_t k, bool largest, Value& vals, Value& idxs) {
  int64_t outer, len, inner;
  Split3(x.shape, axis, &outer, &len, &inner);
  const T* p = x.as<T>();
  T* pv = vals.as<T>();
  int64_t* pi = idxs.as<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(len));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const T* q = p + o * len * inner + in;
      std::iota(order.begin(), order.end(), 0);
      // Ties keep the lower index first (ONNX); NaN sorts as the largest value.
      auto cmp = [&](int64_t a, int64_t b) {
        const T va = q[a * inner], vb = q[b * inner];
        if (largest) {
          if (va != va) return vb == vb;
          return va > vb;
        }
        if (vb != vb) return va == va;
        return va < vb;
      };
      std::stable_sort(order.begin(), order.end(), cmp);
      for (int64_t i = 0; i < k; ++i) {
        const int64_t src = order[static_cast<size_t>(i)];
        pv[o * k * inner + i * inner + in] = q[src * inner];
        pi[o * k * inner + i * inner + in] = src;
      }
    }
  }
}

absl::Status RunTopK(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const auto* o = ctx.options<fb::TopKOptions>();
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, o->axis(), x.rank()));
  ASSIGN_OR_RETURN(int64_t k, TopKCount(ctx, axis));
  // Results are always sorted: `sorted = false` allows any order, and sorted is one of them.
  switch (x.dtype) {
    case DType::F32: TopKT<float>(x, axis, k, o->largest(), *ctx.out[0], *ctx.out[1]); break;
    case DType::I32: TopKT<int32_t>(x, axis, k, o->largest(), *ctx.out[0], *ctx.out[1]); break;
    case DType::I64: TopKT<int64_t>(x, axis, k, o->largest(), *ctx.out[0], *ctx.out[1]); break;
    default: return ctx.Error("unsupported dtype");
  }
  return absl::OkStatus();
}

// ---- GlobalAveragePool / GlobalMaxPool ----
absl::Status InferGlobalPool(OpContext& ctx) {
  RETURN_IF_ERROR(ExpectFloat(ctx, 0));
  const Value& x = *ctx.in[0];
  if (x.rank() < 3) return ctx.Error(absl::StrCat("input must be [N, C, spatial...], got ", ShapeString(x.shape)));
  Shape out = x.shape;
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  if (ctx.op->type() == OpType::GLOBAL_MAX_POOL && x.num_elements() == 0 && NumElementsUnchecked(out) != 0) {
    return ctx.Error("max over an empty spatial extent");
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = DType::F32;
  return absl::OkStatus();
}

absl::Status RunGlobalPool(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const int64_t nc = x.shape[0] * x.shape[1];
  const int64_t sp = nc == 0 ? 0 : x.num_elements() / nc;
  const float* p = x.as<float>();
  float* y = ctx.out[0]->as<float>();
  const bool avg = ctx.op->type() == OpType::GLOBAL_AVERAGE_POOL;
  for (int64_t i = 0; i < nc; ++i) {
    const float* q = p + i * sp;
    if (avg) {
      double s = 0;
      for (int64_t j = 0; j < sp; ++j) s += q[j];
      y[i] = sp == 0 ? NAN : static_cast<float>(s / static_cast<double>(sp));
    } else {
      float m = -INFINITY;
      for (int64_t j = 0; j < sp; ++j) m = (q[j] > m || q[j] != q[j]) ? q[j] : m;
      y[i] = m;
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterReduceOps(std::vector<OpDef>& ops) {
  for (OpType t : {OpType::REDUCE_SUM, OpType::REDUCE_MEAN, OpType::REDUCE_MAX, OpType::REDUCE_MIN,
                   OpType::REDUCE_PROD, OpType::REDUCE_L2, OpType::REDUCE_SUM_SQUARE}) {
    OpDef d{t, fb::OpOptions::ReduceOptions, 1, 2, 1, 1, InferReduce, RunReduce};
    d.options_required = false;
    ops.push_back(d);
  }
  ops.push_back({OpType::ARG_MAX, fb::OpOptions::ArgOptions, 1, 1, 1, 1, InferArg, RunArg});
  ops.push_back({OpType::ARG_MIN, fb::OpOptions::ArgOptions, 1, 1, 1, 1, InferArg, RunArg});
  ops.push_back({OpType::TOP_K, fb::OpOptions::TopKOptions, 2, 2, 2, 2, InferTopK, RunTopK});
  ops.push_back({OpType::GLOBAL_AVERAGE_POOL, fb::OpOptions::NONE, 1, 1, 1, 1, InferGlobalPool, RunGlobalPool});
  ops.push_back({OpType::GLOBAL_MAX_POOL, fb::OpOptions::NONE, 1, 1, 1, 1, InferGlobalPool, RunGlobalPool});
}

}  // namespace edgert
