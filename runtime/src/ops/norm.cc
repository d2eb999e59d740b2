// Softmax / LogSoftmax, LayerNorm, BatchNorm (inference form). Float only.
#include <cmath>

#include "op.h"

namespace edgert {
namespace {

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

absl::Status RunSoftmax(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::AxisOptions>()->axis(), x.rank()));
  const bool log = ctx.op->type() == fb::OpType::LOG_SOFTMAX;
  int64_t outer, len, inner;
  Split3(x.shape, axis, &outer, &len, &inner);
  const float* a = x.as<float>();
  float* y = ctx.out[0]->as<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const float* p = a + o * len * inner + in;
      float* q = y + o * len * inner + in;
      float mx = -INFINITY;
      for (int64_t i = 0; i < len; ++i) mx = std::max(mx, p[i * inner]);
      double sum = 0;
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
  return absl::OkStatus();
}

absl::Status InferLayerNorm(OpContext& ctx) {
  RETURN_IF_ERROR(InferSameFloat(ctx));
  const Value& x = *ctx.in[0];
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, ctx.options<fb::LayerNormOptions>()->axis(), x.rank()));
  int64_t norm = 1;
  for (size_t i = static_cast<size_t>(axis); i < x.shape.size(); ++i) norm *= x.shape[i];
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

absl::Status RunLayerNorm(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const auto* o = ctx.options<fb::LayerNormOptions>();
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, o->axis(), x.rank()));
  int64_t norm = 1;
  for (size_t i = static_cast<size_t>(axis); i < x.shape.size(); ++i) norm *= x.shape[i];
  const int64_t rows = norm == 0 ? 0 : x.num_elements() / norm;
  const float* g = ctx.in[1]->as<float>();
  const float* b = ctx.has_input(2) ? ctx.in[2]->as<float>() : nullptr;
  const float eps = o->epsilon();
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x.as<float>() + r * norm;
    float* q = ctx.out[0]->as<float>() + r * norm;
    double mean = 0;
    for (int64_t i = 0; i < norm; ++i) mean += p[i];
    mean /= static_cast<double>(norm);
    double var = 0;
    for (int64_t i = 0; i < norm; ++i) {
      const double d = p[i] - mean;
      var += d * d;
    }
    var /= static_cast<double>(norm);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < norm; ++i) q[i] = (p[i] - m) * inv * g[i] + (b ? b[i] : 0.f);
  }
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
  ops.push_back({fb::OpType::LAYER_NORM, fb::OpOptions::LayerNormOptions, 2, 3, 1, 1, InferLayerNorm, RunLayerNorm});
  ops.push_back({fb::OpType::BATCH_NORM, fb::OpOptions::LayerNormOptions, 5, 5, 1, 1, InferBatchNorm, RunBatchNorm});
}

}  // namespace edgert
