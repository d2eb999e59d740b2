#include <algorithm>
#include <mutex>

#include "op.h"

namespace edgert {
namespace {

const std::vector<OpDef>& Registry() {
  static const std::vector<OpDef>* ops = [] {
    auto* v = new std::vector<OpDef>();
    RegisterElementwiseOps(*v);
    RegisterLinalgOps(*v);
    RegisterNormOps(*v);
    RegisterShapeOps(*v);
    RegisterReduceOps(*v);
    RegisterConvOps(*v);
    RegisterPadOps(*v);
    RegisterQuantOps(*v);
    RegisterEinsumOps(*v);
    RegisterAttentionOps(*v);
    return v;
  }();
  return *ops;
}

}  // namespace

const OpDef* FindOp(fb::OpType type) {
  for (const OpDef& d : Registry()) {
    if (d.type == type) return &d;
  }
  return nullptr;
}

const char* OpTypeName(fb::OpType type) {
  const char* n = fb::EnumNameOpType(type);
  return (n != nullptr && *n) ? n : "UNKNOWN";
}

absl::Status OpContext::Error(const std::string& msg) const {
  return absl::InvalidArgumentError(absl::StrCat("op ", op_index, " '", op->name() ? op->name()->str() : "", "' (",
                                                 OpTypeName(op->type()), "): ", msg));
}

absl::StatusOr<int> NormalizeAxis(const OpContext& ctx, int64_t axis, int rank, const char* what) {
  const int64_t lo = -static_cast<int64_t>(std::max(rank, 1));
  const int64_t hi = std::max(rank, 1) - 1;
  if (axis < lo || axis > hi) {
    return ctx.Error(absl::StrCat(what, " ", axis, " out of range for rank ", rank));
  }
  return static_cast<int>(axis < 0 ? axis + std::max(rank, 1) : axis);
}

absl::StatusOr<std::vector<int64_t>> ReadInts(const OpContext& ctx, size_t input, const char* what) {
  if (!ctx.has_input(input)) return ctx.Error(absl::StrCat("missing ", what, " input"));
  const Value& v = *ctx.in[input];
  // Graph inputs have data at plan time (zero-filled storage) but their values may change with
  // each run, so only values known at plan time (constants, folded shape arithmetic) qualify.
  if (v.data == nullptr || !v.known_at_plan) {
    return ctx.Error(absl::StrCat(what, " (input ", input,
                                  ") is not known before the run: data-dependent shapes are not supported"));
  }
  const int64_t n = v.num_elements();
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (v.dtype == DType::I64) {
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = v.as<int64_t>()[i];
  } else if (v.dtype == DType::I32) {
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = v.as<int32_t>()[i];
  } else {
    return ctx.Error(absl::StrCat(what, " must be i32 or i64, got ", DTypeName(v.dtype)));
  }
  return out;
}

absl::StatusOr<Shape> BroadcastShapes(const OpContext& ctx, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return ctx.Error(absl::StrCat("shapes ", ShapeString(a), " and ", ShapeString(b), " do not broadcast"));
    }
  }
  return out;
}

absl::Status ExpectDType(const OpContext& ctx, size_t input, DType want) {
  if (ctx.has_input(input) && ctx.in[input]->dtype != want) {
    return ctx.Error(absl::StrCat("input ", input, " has dtype ", DTypeName(ctx.in[input]->dtype), ", expected ",
                                  DTypeName(want)));
  }
  return absl::OkStatus();
}

absl::Status ExpectFloat(const OpContext& ctx, size_t input) { return ExpectDType(ctx, input, DType::F32); }

}  // namespace edgert
