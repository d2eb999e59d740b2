// QuantizeLinear / DequantizeLinear (ONNX 13): per-tensor or per-axis scale and zero point.
//   quantize:   y = saturate(round_half_even(x / scale) + zero_point), y is u8 (default) or i8
//   dequantize: y = (x - zero_point) * scale, x is u8, i8 or i32 (i32: zero point 0)
#include <algorithm>
#include <cmath>
#include <limits>

#include "op.h"

namespace edgert {
namespace {

using fb::OpType;

struct QParams {
  int axis = 0;          // meaningful when per_axis
  bool per_axis = false;
  int64_t outer = 1, len = 1, inner = 1;
};

absl::StatusOr<QParams> PlanQ(const OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const Value& s = *ctx.in[1];
  RETURN_IF_ERROR(ExpectFloat(ctx, 1));
  QParams p;
  if (s.rank() > 1) return ctx.Error(absl::StrCat("scale must be a scalar or 1-D, got ", ShapeString(s.shape)));
  if (s.rank() == 1 && s.num_elements() != 1) {
    p.per_axis = true;
    const int ax_opt = ctx.options<fb::AxisOptions>() ? ctx.options<fb::AxisOptions>()->axis() : 1;
    ASSIGN_OR_RETURN(p.axis, NormalizeAxis(ctx, ax_opt, x.rank()));
    if (x.rank() == 0 || x.shape[static_cast<size_t>(p.axis)] != s.num_elements()) {
      return ctx.Error(absl::StrCat("scale has ", s.num_elements(), " values, input ", ShapeString(x.shape),
                                    " has ", x.rank() == 0 ? 0 : x.shape[static_cast<size_t>(p.axis)], " along axis ",
                                    p.axis));
    }
    for (int i = 0; i < p.axis; ++i) p.outer *= x.shape[static_cast<size_t>(i)];
    p.len = x.shape[static_cast<size_t>(p.axis)];
    for (size_t i = static_cast<size_t>(p.axis) + 1; i < x.shape.size(); ++i) p.inner *= x.shape[i];
  } else {
    if (s.num_elements() != 1) return ctx.Error("scale is empty");
    p.outer = 1;
    p.len = 1;
    p.inner = x.num_elements();
  }
  if (ctx.has_input(2)) {
    const Value& z = *ctx.in[2];
    if (z.num_elements() != s.num_elements() || z.rank() != s.rank()) {
      return ctx.Error(absl::StrCat("zero_point shape ", ShapeString(z.shape), " differs from scale shape ",
                                    ShapeString(s.shape)));
    }
  }
  return p;
}

template <typename T>
int64_t ZeroPoint(const Value* z, int64_t i) {
  return z == nullptr ? 0 : static_cast<int64_t>(z->as<T>()[i]);
}

absl::Status InferQuantize(OpContext& ctx) {
  RETURN_IF_ERROR(ExpectFloat(ctx, 0));
  ASSIGN_OR_RETURN(QParams p, PlanQ(ctx));
  (void)p;
  DType out = DType::U8;
  if (ctx.has_input(2)) {
    out = ctx.in[2]->dtype;
  } else if (ctx.out[0]->dtype == DType::I8) {
    out = DType::I8;  // the model declares it (no zero point given)
  }
  if (out != DType::U8 && out != DType::I8) {
    return ctx.Error(absl::StrCat("zero_point dtype ", DTypeName(out), " is not u8 or i8"));
  }
  ctx.out[0]->shape = ctx.in[0]->shape;
  ctx.out[0]->dtype = out;
  return absl::OkStatus();
}

template <typename Q>
void Quantize(const Value& x, const float* scale, const Value* z, const QParams& p, Q* y) {
  constexpr double lo = std::numeric_limits<Q>::min(), hi = std::numeric_limits<Q>::max();
  const float* px = x.as<float>();
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t c = 0; c < p.len; ++c) {
      const float s = scale[c];
      const double zp = static_cast<double>(ZeroPoint<Q>(z, c));
      const int64_t base = (o * p.len + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) {
        double v = std::nearbyint(static_cast<double>(px[base + i] / s)) + zp;  // half to even
        if (v != v) v = zp;
        y[base + i] = static_cast<Q>(std::min(hi, std::max(lo, v)));
      }
    }
  }
}

absl::Status RunQuantize(OpContext& ctx) {
  ASSIGN_OR_RETURN(QParams p, PlanQ(ctx));
  const Value* z = ctx.has_input(2) ? ctx.in[2] : nullptr;
  const float* s = ctx.in[1]->as<float>();
  if (ctx.out[0]->dtype == DType::I8) {
    Quantize<int8_t>(*ctx.in[0], s, z, p, ctx.out[0]->as<int8_t>());
  } else {
    Quantize<uint8_t>(*ctx.in[0], s, z, p, ctx.out[0]->as<uint8_t>());
  }
  return absl::OkStatus();
}

absl::Status InferDequantize(OpContext& ctx) {
  const DType t = ctx.in[0]->dtype;
  if (t != DType::U8 && t != DType::I8 && t != DType::I32) {
    return ctx.Error(absl::StrCat("input dtype ", DTypeName(t), " is not u8, i8 or i32"));
  }
  if (ctx.has_input(2) && ctx.in[2]->dtype != t) {
    return ctx.Error(absl::StrCat("zero_point dtype ", DTypeName(ctx.in[2]->dtype), " differs from input ", DTypeName(t)));
  }
  ASSIGN_OR_RETURN(QParams p, PlanQ(ctx));
  (void)p;
  ctx.out[0]->shape = ctx.in[0]->shape;
  ctx.out[0]->dtype = DType::F32;
  return absl::OkStatus();
}

template <typename Q>
void Dequantize(const Value& x, const float* scale, const Value* z, const QParams& p, float* y) {
  const Q* px = x.as<Q>();
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t c = 0; c < p.len; ++c) {
      const float s = scale[c];
      const int64_t zp = ZeroPoint<Q>(z, c);
      const int64_t base = (o * p.len + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) y[base + i] = static_cast<float>(static_cast<int64_t>(px[base + i]) - zp) * s;
    }
  }
}

absl::Status RunDequantize(OpContext& ctx) {
  ASSIGN_OR_RETURN(QParams p, PlanQ(ctx));
  const Value* z = ctx.has_input(2) ? ctx.in[2] : nullptr;
  const float* s = ctx.in[1]->as<float>();
  float* y = ctx.out[0]->as<float>();
  switch (ctx.in[0]->dtype) {
    case DType::U8: Dequantize<uint8_t>(*ctx.in[0], s, z, p, y); break;
    case DType::I8: Dequantize<int8_t>(*ctx.in[0], s, z, p, y); break;
    default: Dequantize<int32_t>(*ctx.in[0], s, z, p, y); break;
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterQuantOps(std::vector<OpDef>& ops) {
  OpDef q{OpType::QUANTIZE_LINEAR, fb::OpOptions::AxisOptions, 2, 3, 1, 1, InferQuantize, RunQuantize};
  q.options_required = false;
  ops.push_back(q);
  OpDef dq{OpType::DEQUANTIZE_LINEAR, fb::OpOptions::AxisOptions, 2, 3, 1, 1, InferDequantize, RunDequantize};
  dq.options_required = false;
  ops.push_back(dq);
}

}  // namespace edgert
