// Shape and data-movement ops. Shapes given as tensors (Reshape, Expand, Slice, ...) must be
// known before the run: constants, or values computed from shapes at plan time.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "op.h"

namespace edgert {
namespace {

size_t ElemSize(const OpContext& ctx, DType t, absl::Status* st) {
  const size_t s = DTypeSize(t);
  if (s == 0) *st = ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(t)));
  return s;
}

absl::Status CopyRun(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  if (x.bytes() > 0 && x.data != ctx.out[0]->data) {
    std::memcpy(ctx.out[0]->data, x.data, static_cast<size_t>(x.bytes()));
  }
  return absl::OkStatus();
}

absl::Status CheckCopyable(OpContext& ctx) {
  absl::Status st;
  ElemSize(ctx, ctx.in[0]->dtype, &st);
  return st;
}

// ---- Reshape ----
absl::Status InferReshape(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  ASSIGN_OR_RETURN(std::vector<int64_t> spec, ReadInts(ctx, 1, "shape"));
  const bool allowzero = ctx.options<fb::ReshapeOptions>() && ctx.options<fb::ReshapeOptions>()->allowzero();
  const Shape& in = ctx.in[0]->shape;
  const int64_t total = ctx.in[0]->num_elements();
  if (spec.size() > static_cast<size_t>(kMaxRank)) return ctx.Error("target rank too large");
  Shape out(spec.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (i >= in.size()) return ctx.Error(absl::StrCat("shape[", i, "] = 0 copies a dim the input does not have"));
      d = in[i];
    }
    if (d == -1) {
      if (infer >= 0) return ctx.Error("more than one -1 in the target shape");
      infer = static_cast<int>(i);
      out[i] = 1;
      continue;
    }
    if (d < 0) return ctx.Error(absl::StrCat("target shape has ", d, " at ", i));
    out[i] = d;
    if (d != 0 && known > INT64_MAX / d) return ctx.Error("target shape overflows");
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) {
      return ctx.Error(absl::StrCat("cannot reshape ", ShapeString(in), " to ", ShapeString(Shape(spec.begin(), spec.end()))));
    }
    out[static_cast<size_t>(infer)] = total / known;
  } else if (known != total) {
    return ctx.Error(absl::StrCat("cannot reshape ", ShapeString(in), " (", total, " elements) to ", ShapeString(out)));
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

// ---- Flatten ----
absl::Status InferFlatten(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  const Shape& in = ctx.in[0]->shape;
  const int r = static_cast<int>(in.size());
  int64_t axis = ctx.options<fb::AxisOptions>()->axis();
  if (axis < -r || axis > r) return ctx.Error(absl::StrCat("axis ", axis, " out of range for rank ", r));
  if (axis < 0) axis += r;
  int64_t a = 1, b = 1;
  for (int i = 0; i < r; ++i) (i < axis ? a : b) *= in[static_cast<size_t>(i)];
  ctx.out[0]->shape = {a, b};
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

// ---- Squeeze / Unsqueeze ----
absl::Status InferSqueeze(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  const Shape& in = ctx.in[0]->shape;
  const int r = static_cast<int>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (ctx.has_input(1)) {
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, ReadInts(ctx, 1, "axes"));
    for (int64_t a : axes) {
      ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, r));
      if (in[static_cast<size_t>(ax)] != 1) return ctx.Error(absl::StrCat("cannot squeeze dim ", ax, " of size ", in[static_cast<size_t>(ax)]));
      drop[static_cast<size_t>(ax)] = true;
    }
  } else {
    for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) if (!drop[i]) out.push_back(in[i]);
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

absl::Status InferUnsqueeze(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  const Shape& in = ctx.in[0]->shape;
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ReadInts(ctx, 1, "axes"));
  const int r = static_cast<int>(in.size() + axes.size());
  if (r > kMaxRank) return ctx.Error("result rank too large");
  std::vector<bool> ins(static_cast<size_t>(r), false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, r));
    if (ins[static_cast<size_t>(ax)]) return ctx.Error("repeated axis");
    ins[static_cast<size_t>(ax)] = true;
  }
  Shape out;
  size_t j = 0;
  for (int i = 0; i < r; ++i) out.push_back(ins[static_cast<size_t>(i)] ? 1 : in[j++]);
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

// ---- Transpose ----
std::vector<int> Perm(const OpContext& ctx, int r, absl::Status* st) {
  std::vector<int> p;
  const auto* o = ctx.options<fb::TransposeOptions>();
  if (o && o->perm() && o->perm()->size() > 0) {
    for (int v : *o->perm()) p.push_back(v);
  } else {
    for (int i = r - 1; i >= 0; --i) p.push_back(i);
  }
  std::vector<bool> seen(static_cast<size_t>(r), false);
  if (static_cast<int>(p.size()) != r) {
    *st = ctx.Error(absl::StrCat("perm has ", p.size(), " entries for rank ", r));
    return p;
  }
  for (int v : p) {
    if (v < 0 || v >= r || seen[static_cast<size_t>(v)]) {
      *st = ctx.Error("perm is not a permutation");
      return p;
    }
    seen[static_cast<size_t>(v)] = true;
  }
  return p;
}

absl::Status InferTranspose(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  const Shape& in = ctx.in[0]->shape;
  absl::Status st;
  std::vector<int> p = Perm(ctx, static_cast<int>(in.size()), &st);
  RETURN_IF_ERROR(st);
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[static_cast<size_t>(p[i])];
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

// Output rows (runs along the output's last axis) [row_begin, row_end) of a transpose: the first
// row's source offset by division, then an odometer over the output's leading dims.
template <typename T>
void TransposeRows(const T* src, T* dst, const Shape& out, const std::vector<int64_t>& st, int64_t row_begin,
                   int64_t row_end) {
  const size_t r = out.size();
  const int64_t inner = out[r - 1], ist = st[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0, rest = row_begin;
  for (size_t d = r - 1; d-- > 0;) {
    idx[d] = rest % out[d];
    rest /= out[d];
    off += idx[d] * st[d];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t o = row * inner;
    if (ist == 1) {  // the last axis stays last (e.g. attention heads [B, S, H, D] -> [B, H, S, D])
      std::memcpy(dst + o, src + off, static_cast<size_t>(inner) * sizeof(T));
    } else {
      for (int64_t i = 0; i < inner; ++i) dst[o + i] = src[off + i * ist];
    }
    for (size_t d = r - 1; d-- > 0;) {
      off += st[d];
      if (++idx[d] < out[d]) break;
      off -= st[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
struct TransposeTask {
  const T* src;
  T* dst;
  Shape out;
  std::vector<int64_t> st;
};

template <typename T>
void TransposeRange(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const TransposeTask<T>*>(arg);
  TransposeRows(t->src, t->dst, t->out, t->st, static_cast<int64_t>(start), static_cast<int64_t>(start + count));
}

// Split over the session's pool in blocks of output rows (>= 16K elements each); every element is
// a plain copy, so any split gives the same result.
template <typename T>
void TransposeT(const T* src, T* dst, const Shape& in, const std::vector<int>& p, pthreadpool_t pool) {
  const size_t r = in.size();
  std::vector<int64_t> istride(r, 1);
  for (size_t i = r; i-- > 1;) istride[i - 1] = istride[i] * in[i];
  TransposeTask<T> t{src, dst, Shape(r), std::vector<int64_t>(r)};
  for (size_t i = 0; i < r; ++i) {
    t.out[i] = in[static_cast<size_t>(p[i])];
    t.st[i] = istride[static_cast<size_t>(p[i])];
  }
  const int64_t total = NumElementsUnchecked(in);
  if (total == 0) return;
  if (r == 0) { dst[0] = src[0]; return; }
  const int64_t inner = t.out[r - 1], rows = total / inner;
  const int64_t tile = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner));
  if (pool == nullptr || rows <= tile) {
    TransposeRows(src, dst, t.out, t.st, 0, rows);
    return;
  }
  pthreadpool_parallelize_1d_tile_1d(pool, TransposeRange<T>, &t, static_cast<size_t>(rows),
                                     static_cast<size_t>(tile), 0);
}

absl::Status RunTranspose(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  absl::Status st;
  std::vector<int> p = Perm(ctx, x.rank(), &st);
  RETURN_IF_ERROR(st);
  switch (DTypeSize(x.dtype)) {
    case 1: TransposeT(x.as<uint8_t>(), ctx.out[0]->as<uint8_t>(), x.shape, p, ctx.pool); break;
    case 2: TransposeT(x.as<uint16_t>(), ctx.out[0]->as<uint16_t>(), x.shape, p, ctx.pool); break;
    case 4: TransposeT(x.as<uint32_t>(), ctx.out[0]->as<uint32_t>(), x.shape, p, ctx.pool); break;
    case 8: TransposeT(x.as<uint64_t>(), ctx.out[0]->as<uint64_t>(), x.shape, p, ctx.pool); break;
    default: return ctx.Error("unsupported dtype");
  }
  return absl::OkStatus();
}

// ---- Concat ----
absl::Status InferConcat(OpContext& ctx) {
  const Value& a = *ctx.in[0];
  RETURN_IF_ERROR(CheckCopyable(ctx));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), a.rank()));
  Shape out = a.shape;
  if (out.empty()) return ctx.Error("cannot concatenate scalars");
  out[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < ctx.in.size(); ++i) {
    if (!ctx.in[i]) return ctx.Error("missing input");
    const Value& v = *ctx.in[i];
    if (v.dtype != a.dtype || v.rank() != a.rank()) {
      return ctx.Error(absl::StrCat("input ", i, " (", DTypeName(v.dtype), " ", ShapeString(v.shape),
                                    ") does not match input 0 (", DTypeName(a.dtype), " ", ShapeString(a.shape), ")"));
    }
    for (size_t d = 0; d < out.size(); ++d) {
      if (static_cast<int>(d) != axis && v.shape[d] != a.shape[d]) {
        return ctx.Error(absl::StrCat("input ", i, " shape ", ShapeString(v.shape), " differs from ",
                                      ShapeString(a.shape), " outside axis ", axis));
      }
    }
    out[static_cast<size_t>(axis)] += v.shape[static_cast<size_t>(axis)];
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = a.dtype;
  return absl::OkStatus();
}

absl::Status RunConcat(OpContext& ctx) {
  const Value& a = *ctx.in[0];
  const int axis = static_cast<int>(*NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), a.rank()));
  const size_t es = DTypeSize(a.dtype);
  int64_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= a.shape[static_cast<size_t>(i)];
  const Shape& os = ctx.out[0]->shape;
  int64_t inner = 1;
  for (size_t i = static_cast<size_t>(axis) + 1; i < os.size(); ++i) inner *= os[i];
  const int64_t out_row = os[static_cast<size_t>(axis)] * inner * static_cast<int64_t>(es);
  uint8_t* dst = ctx.out[0]->as<uint8_t>();
  int64_t col = 0;
  for (const Value* v : ctx.in) {
    const int64_t row = v->shape[static_cast<size_t>(axis)] * inner * static_cast<int64_t>(es);
    for (int64_t o = 0; o < outer && row > 0; ++o) {
      std::memcpy(dst + o * out_row + col, v->as<uint8_t>() + o * row, static_cast<size_t>(row));
    }
    col += row;
  }
  return absl::OkStatus();
}

// ---- Gather ----
absl::Status InferGather(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const Value& idx = *ctx.in[1];
  RETURN_IF_ERROR(CheckCopyable(ctx));
  if (idx.dtype != DType::I64 && idx.dtype != DType::I32) return ctx.Error("indices must be i32 or i64");
  if (x.rank() == 0) return ctx.Error("cannot gather from a scalar");
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), x.rank()));
  Shape out(x.shape.begin(), x.shape.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
  if (out.size() > static_cast<size_t>(kMaxRank)) return ctx.Error("result rank too large");
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = x.dtype;
  return absl::OkStatus();
}

absl::Status RunGather(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const Value& iv = *ctx.in[1];
  const int axis = *NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), x.rank());
  const size_t es = DTypeSize(x.dtype);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= x.shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
  const int64_t len = x.shape[static_cast<size_t>(axis)];
  const int64_t ni = iv.num_elements();
  const size_t chunk = static_cast<size_t>(inner) * es;
  const uint8_t* src = x.as<uint8_t>();
  uint8_t* dst = ctx.out[0]->as<uint8_t>();
  for (int64_t j = 0; j < ni; ++j) {
    int64_t k = iv.dtype == DType::I64 ? iv.as<int64_t>()[j] : iv.as<int32_t>()[j];
    if (k < -len || k >= len) {
      return ctx.Error(absl::StrCat("index ", k, " out of range for axis ", axis, " of size ", len));
    }
    if (k < 0) k += len;
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + (o * ni + j) * static_cast<int64_t>(chunk), src + (o * len + k) * static_cast<int64_t>(chunk), chunk);
    }
  }
  return absl::OkStatus();
}

// ---- GatherElements ----
absl::Status InferGatherElements(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const Value& idx = *ctx.in[1];
  RETURN_IF_ERROR(CheckCopyable(ctx));
  if (idx.dtype != DType::I64 && idx.dtype != DType::I32) return ctx.Error("indices must be i32 or i64");
  if (idx.rank() != x.rank() || x.rank() == 0) return ctx.Error("indices must have the data's rank");
  RETURN_IF_ERROR(NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), x.rank()).status());
  ctx.out[0]->shape = idx.shape;
  ctx.out[0]->dtype = x.dtype;
  return absl::OkStatus();
}

absl::Status RunGatherElements(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const Value& iv = *ctx.in[1];
  const int axis = *NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), x.rank());
  const size_t es = DTypeSize(x.dtype);
  const size_t r = x.shape.size();
  std::vector<int64_t> xs(r, 1);
  for (size_t i = r - 1; i-- > 0;) xs[i] = xs[i + 1] * x.shape[i + 1];
  const Shape& is = iv.shape;
  std::vector<int64_t> id(r, 0);
  const int64_t n = iv.num_elements();
  for (int64_t j = 0; j < n; ++j) {
    int64_t k = iv.dtype == DType::I64 ? iv.as<int64_t>()[j] : iv.as<int32_t>()[j];
    const int64_t len = x.shape[static_cast<size_t>(axis)];
    if (k < -len || k >= len) return ctx.Error(absl::StrCat("index ", k, " out of range for axis size ", len));
    if (k < 0) k += len;
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) {
      const int64_t c = static_cast<int>(d) == axis ? k : id[d];
      if (c >= x.shape[d]) return ctx.Error("indices shape exceeds data shape");
      off += c * xs[d];
    }
    std::memcpy(ctx.out[0]->as<uint8_t>() + j * static_cast<int64_t>(es), x.as<uint8_t>() + off * static_cast<int64_t>(es), es);
    for (size_t d = r; d-- > 0;) {
      if (++id[d] < is[d]) break;
      id[d] = 0;
    }
  }
  return absl::OkStatus();
}

// ---- Slice ----
struct SliceSpec {
  Shape out;
  std::vector<int64_t> start, step;
};

absl::StatusOr<SliceSpec> ComputeSlice(const OpContext& ctx) {
  const Shape& in = ctx.in[0]->shape;
  const int r = static_cast<int>(in.size());
  ASSIGN_OR_RETURN(std::vector<int64_t> starts, ReadInts(ctx, 1, "starts"));
  ASSIGN_OR_RETURN(std::vector<int64_t> ends, ReadInts(ctx, 2, "ends"));
  std::vector<int64_t> axes, steps;
  if (ctx.has_input(3)) {
    ASSIGN_OR_RETURN(axes, ReadInts(ctx, 3, "axes"));
  } else {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (ctx.has_input(4)) {
    ASSIGN_OR_RETURN(steps, ReadInts(ctx, 4, "steps"));
  } else {
    steps.assign(starts.size(), 1);
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return ctx.Error("starts, ends, axes and steps differ in length");
  }
  SliceSpec s;
  s.out = in;
  s.start.assign(in.size(), 0);
  s.step.assign(in.size(), 1);
  std::vector<bool> seen(in.size(), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    ASSIGN_OR_RETURN(int a, NormalizeAxis(ctx, axes[i], r));
    if (seen[static_cast<size_t>(a)]) return ctx.Error("repeated axis");
    seen[static_cast<size_t>(a)] = true;
    const int64_t dim = in[static_cast<size_t>(a)];
    const int64_t step = steps[i];
    if (step == 0) return ctx.Error("step 0");
    int64_t st = starts[i], en = ends[i];
    if (st < 0) st = st < -dim ? -1 : st + dim;  // clamp below
    if (en < 0) en = en < -dim ? -1 : en + dim;
    int64_t n;
    if (step > 0) {
      st = std::clamp<int64_t>(st, 0, dim);
      en = std::clamp<int64_t>(en, 0, dim);
      n = en > st ? (en - st + step - 1) / step : 0;
    } else {
      st = std::clamp<int64_t>(st, -1, dim - 1);
      en = std::clamp<int64_t>(en, -1, dim - 1);
      n = st > en ? (st - en + (-step) - 1) / (-step) : 0;
    }
    s.out[static_cast<size_t>(a)] = n;
    s.start[static_cast<size_t>(a)] = n > 0 ? st : 0;
    s.step[static_cast<size_t>(a)] = step;
  }
  return s;
}

absl::Status InferSlice(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  ASSIGN_OR_RETURN(SliceSpec s, ComputeSlice(ctx));
  ctx.out[0]->shape = s.out;
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

// Generic strided copy: out[i] = in[start + i*step] per dim.
void StridedCopy(const uint8_t* src, uint8_t* dst, const Shape& in, const Shape& out,
                 const std::vector<int64_t>& start, const std::vector<int64_t>& step, size_t es) {
  const size_t r = in.size();
  const int64_t total = NumElementsUnchecked(out);
  if (total == 0) return;
  if (r == 0) { std::memcpy(dst, src, es); return; }
  std::vector<int64_t> is(r, 1);
  for (size_t i = r - 1; i-- > 0;) is[i] = is[i + 1] * in[i + 1];
  int64_t base = 0;
  for (size_t d = 0; d < r; ++d) base += start[d] * is[d];
  std::vector<int64_t> idx(r, 0);
  const int64_t inner = out[r - 1];
  const int64_t ist = step[r - 1] * is[r - 1];
  int64_t off = base;
  for (int64_t o = 0; o < total; o += inner) {
    if (ist == 1) {
      std::memcpy(dst + o * static_cast<int64_t>(es), src + off * static_cast<int64_t>(es), static_cast<size_t>(inner) * es);
    } else {
      for (int64_t i = 0; i < inner; ++i)
        std::memcpy(dst + (o + i) * static_cast<int64_t>(es), src + (off + i * ist) * static_cast<int64_t>(es), es);
    }
    for (size_t d = r - 1; d-- > 0;) {
      off += step[d] * is[d];
      if (++idx[d] < out[d]) break;
      off -= step[d] * is[d] * idx[d];
      idx[d] = 0;
    }
  }
}

absl::Status RunSlice(OpContext& ctx) {
  ASSIGN_OR_RETURN(SliceSpec s, ComputeSlice(ctx));
  const Value& x = *ctx.in[0];
  StridedCopy(x.as<uint8_t>(), ctx.out[0]->as<uint8_t>(), x.shape, s.out, s.start, s.step, DTypeSize(x.dtype));
  return absl::OkStatus();
}

// ---- Split ----
absl::StatusOr<std::vector<int64_t>> SplitSizes(const OpContext& ctx, int* axis_out) {
  const Value& x = *ctx.in[0];
  const auto* o = ctx.options<fb::SplitOptions>();
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, o->axis(), x.rank()));
  *axis_out = axis;
  const int64_t len = x.shape[static_cast<size_t>(axis)];
  const size_t nout = ctx.out.size();
  std::vector<int64_t> sizes;
  if (ctx.has_input(1)) {
    ASSIGN_OR_RETURN(sizes, ReadInts(ctx, 1, "split"));
    if (sizes.size() != nout) return ctx.Error(absl::StrCat("split has ", sizes.size(), " sizes for ", nout, " outputs"));
    int64_t sum = 0;
    for (int64_t v : sizes) {
      if (v < 0) return ctx.Error("negative split size");
      sum += v;
    }
    if (sum != len) return ctx.Error(absl::StrCat("split sizes sum to ", sum, ", axis has ", len));
  } else {
    const int64_t chunk = (len + static_cast<int64_t>(nout) - 1) / static_cast<int64_t>(nout);
    int64_t left = len;
    for (size_t i = 0; i < nout; ++i) {
      sizes.push_back(std::min(chunk, left));
      left -= sizes.back();
    }
  }
  return sizes;
}

absl::Status InferSplit(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  if (ctx.in[0]->rank() == 0) return ctx.Error("cannot split a scalar");
  int axis;
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, SplitSizes(ctx, &axis));
  for (size_t i = 0; i < ctx.out.size(); ++i) {
    ctx.out[i]->shape = ctx.in[0]->shape;
    ctx.out[i]->shape[static_cast<size_t>(axis)] = sizes[i];
    ctx.out[i]->dtype = ctx.in[0]->dtype;
  }
  return absl::OkStatus();
}

absl::Status RunSplit(OpContext& ctx) {
  int axis;
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, SplitSizes(ctx, &axis));
  const Value& x = *ctx.in[0];
  std::vector<int64_t> start(x.shape.size(), 0), step(x.shape.size(), 1);
  for (size_t i = 0; i < ctx.out.size(); ++i) {
    StridedCopy(x.as<uint8_t>(), ctx.out[i]->as<uint8_t>(), x.shape, ctx.out[i]->shape, start, step, DTypeSize(x.dtype));
    start[static_cast<size_t>(axis)] += sizes[i];
  }
  return absl::OkStatus();
}

// ---- Shape ----
absl::Status InferShape(OpContext& ctx) {
  const int64_t r = ctx.in[0]->rank();
  const auto* o = ctx.options<fb::SliceRangeOptions>();
  int64_t s = o ? o->start() : 0, e = o ? o->end() : r;
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = std::clamp<int64_t>(s, 0, r);
  e = std::clamp<int64_t>(e, 0, r);
  ctx.out[0]->shape = {std::max<int64_t>(0, e - s)};
  ctx.out[0]->dtype = DType::I64;
  return absl::OkStatus();
}

absl::Status RunShape(OpContext& ctx) {
  const int64_t r = ctx.in[0]->rank();
  const auto* o = ctx.options<fb::SliceRangeOptions>();
  int64_t s = o ? o->start() : 0;
  if (s < 0) s += r;
  s = std::clamp<int64_t>(s, 0, r);
  for (int64_t i = 0; i < ctx.out[0]->num_elements(); ++i) {
    ctx.out[0]->as<int64_t>()[i] = ctx.in[0]->shape[static_cast<size_t>(s + i)];
  }
  return absl::OkStatus();
}

// ---- Expand / Tile / ConstantOfShape / Range ----
absl::Status InferExpand(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  ASSIGN_OR_RETURN(std::vector<int64_t> s, ReadInts(ctx, 1, "shape"));
  for (int64_t d : s) if (d < 0) return ctx.Error("negative dim in expand shape");
  if (s.size() > static_cast<size_t>(kMaxRank)) return ctx.Error("expand rank too large");
  ASSIGN_OR_RETURN(ctx.out[0]->shape, BroadcastShapes(ctx, ctx.in[0]->shape, Shape(s.begin(), s.end())));
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

absl::Status RunExpand(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const size_t r = y.shape.size();
  Shape xs = x.shape;
  xs.insert(xs.begin(), r - xs.size(), 1);
  std::vector<int64_t> start(r, 0), step(r);
  // Broadcast = a strided read with step 0 along expanded dims.
  Shape in_dims = xs;
  for (size_t d = 0; d < r; ++d) step[d] = xs[d] == 1 ? 0 : 1;
  StridedCopy(x.as<uint8_t>(), y.as<uint8_t>(), in_dims, y.shape, start, step, DTypeSize(x.dtype));
  return absl::OkStatus();
}

absl::Status InferTile(OpContext& ctx) {
  RETURN_IF_ERROR(CheckCopyable(ctx));
  ASSIGN_OR_RETURN(std::vector<int64_t> rep, ReadInts(ctx, 1, "repeats"));
  const Shape& in = ctx.in[0]->shape;
  if (rep.size() != in.size()) return ctx.Error("repeats length differs from the rank");
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (rep[i] < 0) return ctx.Error("negative repeat");
    if (rep[i] != 0 && in[i] > kMaxTensorBytes / rep[i]) return ctx.Error("tile result too large");
    out[i] = in[i] * rep[i];
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = ctx.in[0]->dtype;
  return absl::OkStatus();
}

absl::Status RunTile(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const size_t r = x.shape.size(), es = DTypeSize(x.dtype);
  const int64_t total = y.num_elements();
  std::vector<int64_t> xs(r, 1);
  for (size_t i = r; i-- > 1;) xs[i - 1] = xs[i] * x.shape[i];
  std::vector<int64_t> idx(r, 0);
  for (int64_t o = 0; o < total; ++o) {
    int64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += (idx[d] % x.shape[d]) * xs[d];
    std::memcpy(y.as<uint8_t>() + o * static_cast<int64_t>(es), x.as<uint8_t>() + off * static_cast<int64_t>(es), es);
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < y.shape[d]) break;
      idx[d] = 0;
    }
  }
  return absl::OkStatus();
}

absl::Status InferConstantOfShape(OpContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<int64_t> s, ReadInts(ctx, 0, "shape"));
  if (s.size() > static_cast<size_t>(kMaxRank)) return ctx.Error("rank too large");
  for (int64_t d : s) if (d < 0) return ctx.Error("negative dim");
  ctx.out[0]->shape = Shape(s.begin(), s.end());
  if (ctx.has_input(1)) {
    if (ctx.in[1]->num_elements() != 1 || DTypeSize(ctx.in[1]->dtype) == 0) return ctx.Error("value must have one element");
    ctx.out[0]->dtype = ctx.in[1]->dtype;
  } else {
    ctx.out[0]->dtype = DType::F32;
  }
  return absl::OkStatus();
}

absl::Status RunConstantOfShape(OpContext& ctx) {
  Value& y = *ctx.out[0];
  const size_t es = DTypeSize(y.dtype);
  uint8_t zero[8] = {0};
  const uint8_t* v = ctx.has_input(1) ? ctx.in[1]->as<uint8_t>() : zero;
  for (int64_t i = 0; i < y.num_elements(); ++i) std::memcpy(y.as<uint8_t>() + i * static_cast<int64_t>(es), v, es);
  return absl::OkStatus();
}

template <typename T>
double Scalar(const Value& v) { return static_cast<double>(*v.as<T>()); }

absl::StatusOr<double> ReadScalar(const OpContext& ctx, size_t i) {
  const Value& v = *ctx.in[i];
  if (v.data == nullptr || !v.known_at_plan) return ctx.Error("range bounds must be known before the run");
  if (v.num_elements() != 1) return ctx.Error("range bounds must be scalars");
  switch (v.dtype) {
    case DType::F32: return Scalar<float>(v);
    case DType::I32: return Scalar<int32_t>(v);
    case DType::I64: return Scalar<int64_t>(v);
    default: return ctx.Error("range dtype must be f32, i32 or i64");
  }
}

absl::Status InferRange(OpContext& ctx) {
  const DType t = ctx.in[0]->dtype;
  if (ctx.in[1]->dtype != t || ctx.in[2]->dtype != t) return ctx.Error("start, limit and delta differ in dtype");
  ASSIGN_OR_RETURN(double s, ReadScalar(ctx, 0));
  ASSIGN_OR_RETURN(double l, ReadScalar(ctx, 1));
  ASSIGN_OR_RETURN(double d, ReadScalar(ctx, 2));
  if (d == 0) return ctx.Error("delta is 0");
  const double n = std::max(0.0, std::ceil((l - s) / d));
  if (!(n < 1e10)) return ctx.Error("range too long");
  ctx.out[0]->shape = {static_cast<int64_t>(n)};
  ctx.out[0]->dtype = t;
  return absl::OkStatus();
}

absl::Status RunRange(OpContext& ctx) {
  const double s = *ReadScalar(ctx, 0), d = *ReadScalar(ctx, 2);
  Value& y = *ctx.out[0];
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    switch (y.dtype) {
      case DType::F32: y.as<float>()[i] = static_cast<float>(s + static_cast<double>(i) * d); break;
      case DType::I32: y.as<int32_t>()[i] = static_cast<int32_t>(s + static_cast<double>(i) * d); break;
      default: y.as<int64_t>()[i] = static_cast<int64_t>(s) + i * static_cast<int64_t>(d); break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterShapeOps(std::vector<OpDef>& ops) {
  using fb::OpType;
  using fb::OpOptions;
  OpDef reshape{OpType::RESHAPE, OpOptions::ReshapeOptions, 2, 2, 1, 1, InferReshape, CopyRun};
  reshape.options_required = false;
  ops.push_back(reshape);
  ops.push_back({OpType::FLATTEN, OpOptions::AxisOptions, 1, 1, 1, 1, InferFlatten, CopyRun});
  ops.push_back({OpType::SQUEEZE, OpOptions::NONE, 1, 2, 1, 1, InferSqueeze, CopyRun});
  ops.push_back({OpType::UNSQUEEZE, OpOptions::NONE, 2, 2, 1, 1, InferUnsqueeze, CopyRun});
  OpDef tr{OpType::TRANSPOSE, OpOptions::TransposeOptions, 1, 1, 1, 1, InferTranspose, RunTranspose};
  tr.options_required = false;
  ops.push_back(tr);
  ops.push_back({OpType::CONCAT, OpOptions::AxisOptions, 1, 1024, 1, 1, InferConcat, RunConcat});
  ops.push_back({OpType::GATHER, OpOptions::AxisOptions, 2, 2, 1, 1, InferGather, RunGather});
  ops.push_back({OpType::GATHER_ELEMENTS, OpOptions::AxisOptions, 2, 2, 1, 1, InferGatherElements, RunGatherElements});
  ops.push_back({OpType::SLICE, OpOptions::NONE, 3, 5, 1, 1, InferSlice, RunSlice});
  ops.push_back({OpType::SPLIT, OpOptions::SplitOptions, 1, 2, 1, 64, InferSplit, RunSplit});
  OpDef shape{OpType::SHAPE, OpOptions::SliceRangeOptions, 1, 1, 1, 1, InferShape, RunShape};
  shape.options_required = false;
  shape.reads_input_values = false;
  ops.push_back(shape);
  ops.push_back({OpType::EXPAND, OpOptions::NONE, 2, 2, 1, 1, InferExpand, RunExpand});
  ops.push_back({OpType::TILE, OpOptions::NONE, 2, 2, 1, 1, InferTile, RunTile});
  ops.push_back({OpType::CONSTANT_OF_SHAPE, OpOptions::NONE, 1, 2, 1, 1, InferConstantOfShape, RunConstantOfShape});
  ops.push_back({OpType::RANGE, OpOptions::NONE, 3, 3, 1, 1, InferRange, RunRange});
}

// Reductions, pooling, convolution and the remaining ops are registered from their own files.

}  // namespace edgert
