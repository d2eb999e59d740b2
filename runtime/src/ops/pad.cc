// Pad (constant / reflect / edge; negative pads crop) and Resize (nearest / linear / cubic with
// every ONNX coordinate transformation). Pad moves bytes, so it takes any dtype; Resize is f32.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "op.h"

namespace edgert {
namespace {

using fb::OpType;

// ---- Pad ----
// inputs: data, pads (i64 [2 * rank]: begins then ends, known at plan time), [constant_value].
absl::StatusOr<std::vector<int64_t>> ReadPads(const OpContext& ctx) {
  const Value& x = *ctx.in[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ReadInts(ctx, 1, "pads"));
  if (pads.size() != 2 * x.shape.size()) {
    return ctx.Error(absl::StrCat("pads has ", pads.size(), " values, expected 2 x rank = ", 2 * x.shape.size()));
  }
  return pads;
}

absl::Status InferPad(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  if (DTypeSize(x.dtype) == 0) return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  const int mode = ctx.options<fb::PadOptions>() ? ctx.options<fb::PadOptions>()->mode() : 0;
  if (mode < 0 || mode > 2) return ctx.Error(absl::StrCat("mode ", mode, " is not 0 (constant), 1 (reflect) or 2 (edge)"));
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ReadPads(ctx));
  const size_t r = x.shape.size();
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t pb = pads[i], pe = pads[i + r];
    if (std::abs(pb) > (int64_t{1} << 40) || std::abs(pe) > (int64_t{1} << 40)) return ctx.Error("pads are too large");
    out[i] = x.shape[i] + pb + pe;
    if (out[i] < 0) return ctx.Error(absl::StrCat("pads crop dim ", i, " (", x.shape[i], ") below zero"));
    if (mode != 0 && out[i] > 0 && x.shape[i] == 0) {
      return ctx.Error(absl::StrCat("cannot ", mode == 1 ? "reflect" : "edge", "-pad the empty dim ", i));
    }
    if (mode == 1 && (pb >= x.shape[i] || pe >= x.shape[i]) && (pb > 0 || pe > 0) && x.shape[i] > 0) {
      // numpy allows repeated reflection; ONNX requires pads < dim for reflect. Both are handled
      // by the folding below, so only an empty input is an error.
    }
  }
  if (ctx.has_input(2)) {
    const Value& c = *ctx.in[2];
    if (c.dtype != x.dtype) {
      return ctx.Error(absl::StrCat("constant_value has dtype ", DTypeName(c.dtype), ", data has ", DTypeName(x.dtype)));
    }
    if (c.num_elements() != 1) return ctx.Error("constant_value must have one element");
  }
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = x.dtype;
  return absl::OkStatus();
}

// Maps an output coordinate to the input coordinate along one dim; -1 = the constant.
int64_t PadSource(int64_t o, int64_t pb, int64_t n, int mode) {
  int64_t c = o - pb;
  if (c >= 0 && c < n) return c;
  if (mode == 0) return -1;
  if (mode == 2) return c < 0 ? 0 : n - 1;
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  c %= period;
  if (c < 0) c += period;
  return c < n ? c : period - c;
}

absl::Status RunPad(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const int mode = ctx.options<fb::PadOptions>() ? ctx.options<fb::PadOptions>()->mode() : 0;
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ReadPads(ctx));
  const size_t r = x.shape.size();
  const size_t es = DTypeSize(x.dtype);
  const int64_t total = y.num_elements();
  if (total == 0) return absl::OkStatus();
  std::vector<uint8_t> fill(es, 0);
  if (ctx.has_input(2)) std::memcpy(fill.data(), ctx.in[2]->data, es);
  const uint8_t* px = x.as<uint8_t>();
  uint8_t* py = y.as<uint8_t>();
  if (r == 0) {
    std::memcpy(py, px, es);
    return absl::OkStatus();
  }
  // Per dim: the source index of every output coordinate.
  std::vector<std::vector<int64_t>> src(r);
  std::vector<int64_t> xstride(r, 1);
  for (size_t i = r; i-- > 0;) {
    if (i + 1 < r) xstride[i] = xstride[i + 1] * x.shape[i + 1];
    src[i].resize(static_cast<size_t>(y.shape[i]));
    for (int64_t o = 0; o < y.shape[i]; ++o) src[i][static_cast<size_t>(o)] = PadSource(o, pads[i], x.shape[i], mode);
  }
  const int64_t inner = y.shape[r - 1];
  std::vector<int64_t> idx(r, 0);
  for (int64_t base = 0; base < total; base += inner) {
    int64_t off = 0;
    bool outside = false;
    for (size_t d = 0; d + 1 < r; ++d) {
      const int64_t s = src[d][static_cast<size_t>(idx[d])];
      if (s < 0) outside = true;
      off += s * xstride[d];
    }
    uint8_t* row = py + base * static_cast<int64_t>(es);
    const std::vector<int64_t>& last = src[r - 1];
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t s = last[static_cast<size_t>(i)];
      if (outside || s < 0) {
        std::memcpy(row + i * static_cast<int64_t>(es), fill.data(), es);
      } else {
        std::memcpy(row + i * static_cast<int64_t>(es), px + (off + s) * static_cast<int64_t>(es), es);
      }
    }
    for (size_t d = r - 1; d-- > 0;) {
      if (++idx[d] < y.shape[d]) break;
      idx[d] = 0;
    }
  }
  return absl::OkStatus();
}

// ---- Resize ----
// inputs (ONNX 11+): X, [roi], [scales], [sizes]; exactly one of scales / sizes is non-empty.
struct ResizePlan {
  Shape out;
  std::vector<double> scale;
  std::vector<double> roi_start, roi_end;
};

absl::StatusOr<std::vector<double>> ReadFloats(const OpContext& ctx, size_t i, const char* what) {
  const Value& v = *ctx.in[i];
  if (v.data == nullptr || !v.known_at_plan) {
    return ctx.Error(absl::StrCat(what, " (input ", i, ") is not known before the run: data-dependent shapes are not supported"));
  }
  if (v.dtype != DType::F32) return ctx.Error(absl::StrCat(what, " must be f32, got ", DTypeName(v.dtype)));
  std::vector<double> out(static_cast<size_t>(v.num_elements()));
  for (size_t k = 0; k < out.size(); ++k) out[k] = v.as<float>()[k];
  return out;
}

absl::StatusOr<ResizePlan> PlanResize(const OpContext& ctx) {
  const auto* o = ctx.options<fb::ResizeOptions>();
  const Value& x = *ctx.in[0];
  if (x.dtype != DType::F32) return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  if (o->mode() < 0 || o->mode() > 2) return ctx.Error(absl::StrCat("mode ", o->mode(), " is not 0..2"));
  if (o->coordinate_transformation() < 0 || o->coordinate_transformation() > 4) {
    return ctx.Error(absl::StrCat("coordinate_transformation ", o->coordinate_transformation(), " is not 0..4"));
  }
  if (o->nearest_mode() < 0 || o->nearest_mode() > 3) return ctx.Error("nearest_mode is not 0..3");
  const size_t r = x.shape.size();
  ResizePlan p;
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (ctx.has_input(2) && ctx.in[2]->num_elements() > 0) {
    ASSIGN_OR_RETURN(scales, ReadFloats(ctx, 2, "scales"));
  }
  if (ctx.has_input(3) && ctx.in[3]->num_elements() > 0) {
    ASSIGN_OR_RETURN(sizes, ReadInts(ctx, 3, "sizes"));
  }
  if (scales.empty() == sizes.empty()) return ctx.Error("exactly one of scales and sizes must be given");
  p.out.resize(r);
  p.scale.resize(r);
  if (!scales.empty()) {
    if (scales.size() != r) return ctx.Error(absl::StrCat("scales has ", scales.size(), " values, rank is ", r));
    for (size_t i = 0; i < r; ++i) {
      if (!(scales[i] > 0) || scales[i] > 1e6) return ctx.Error(absl::StrCat("scales[", i, "] = ", scales[i], " must be in (0, 1e6]"));
      p.scale[i] = scales[i];
      p.out[i] = static_cast<int64_t>(std::floor(static_cast<double>(x.shape[i]) * scales[i]));
    }
  } else {
    if (sizes.size() != r) return ctx.Error(absl::StrCat("sizes has ", sizes.size(), " values, rank is ", r));
    for (size_t i = 0; i < r; ++i) {
      if (sizes[i] < 0 || sizes[i] > (int64_t{1} << 32)) return ctx.Error(absl::StrCat("sizes[", i, "] = ", sizes[i], " is out of range"));
      p.out[i] = sizes[i];
      p.scale[i] = x.shape[i] == 0 ? 1.0 : static_cast<double>(sizes[i]) / static_cast<double>(x.shape[i]);
    }
  }
  p.roi_start.assign(r, 0.0);
  p.roi_end.assign(r, 1.0);
  if (o->coordinate_transformation() == 4) {
    if (!ctx.has_input(1)) return ctx.Error("tf_crop_and_resize needs the roi input");
    ASSIGN_OR_RETURN(std::vector<double> roi, ReadFloats(ctx, 1, "roi"));
    if (roi.size() != 2 * r) return ctx.Error(absl::StrCat("roi has ", roi.size(), " values, expected ", 2 * r));
    for (size_t i = 0; i < r; ++i) {
      p.roi_start[i] = roi[i];
      p.roi_end[i] = roi[i + r];
    }
  }
  return p;
}

absl::Status InferResize(OpContext& ctx) {
  ASSIGN_OR_RETURN(ResizePlan p, PlanResize(ctx));
  ctx.out[0]->shape = p.out;
  ctx.out[0]->dtype = DType::F32;
  // Ping-pong buffers for the per-axis passes.
  Shape cur = ctx.in[0]->shape;
  int64_t biggest = 0;
  for (size_t i = 0; i < cur.size(); ++i) {
    cur[i] = p.out[i];
    auto n = NumElements(cur);  // intermediate shapes can be larger than input and output
    if (!n.ok() || DTypeBytes(DType::F32, *n) > kMaxTensorBytes) {
      return ctx.Error(absl::StrCat("resized shape ", ShapeString(cur), " is too large"));
    }
    biggest = std::max(biggest, *n);
  }
  ctx.workspace_bytes = 2 * AlignUp(static_cast<size_t>(biggest) * 4, 64);
  return absl::OkStatus();
}

// The source coordinate (in input pixels) of output coordinate `xo` along one axis. As in ONNX,
// the output length used by align_corners / pytorch_half_pixel / tf_crop_and_resize is
// scale * in, unrounded (it differs from the integer output size when scales are given).
double SourceCoord(int ct, int64_t xo, double scale, int64_t in, double rs, double re) {
  const double x = static_cast<double>(xo);
  const double out = scale * static_cast<double>(in);
  const double last = static_cast<double>(in - 1);
  switch (ct) {
    case 0: return (x + 0.5) / scale - 0.5;  // half_pixel
    case 1: return x / scale;                // asymmetric
    case 2: return out == 1 ? 0.0 : x * last / (out - 1);  // align_corners
    case 3: return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;  // pytorch_half_pixel
    default:  // tf_crop_and_resize
      return out > 1 ? rs * last + x * (re - rs) * last / (out - 1) : 0.5 * (rs + re) * last;
  }
}

struct Taps {
  int64_t idx[4];
  double w[4];
  int n = 0;
  bool outside = false;  // tf_crop_and_resize: the extrapolation value
};

Taps ComputeTaps(const fb::ResizeOptions& o, int64_t xo, double scale, int64_t in, double rs, double re) {
  Taps t;
  const double xs = SourceCoord(o.coordinate_transformation(), xo, scale, in, rs, re);
  if (o.coordinate_transformation() == 4 && (xs < 0 || xs > static_cast<double>(in - 1))) {
    t.outside = true;
    return t;
  }
  auto clamp = [in](int64_t i) { return std::min(std::max<int64_t>(i, 0), in - 1); };
  if (o.mode() == 0) {
    double v;
    switch (o.nearest_mode()) {
      case 0: v = (xs - std::floor(xs) == 0.5) ? std::floor(xs) : std::round(xs); break;  // round_prefer_floor
      case 1: v = (xs - std::floor(xs) == 0.5) ? std::ceil(xs) : std::round(xs); break;   // round_prefer_ceil
      case 2: v = std::floor(xs); break;
      default: v = std::ceil(xs); break;
    }
    t.n = 1;
    t.idx[0] = clamp(static_cast<int64_t>(v));
    t.w[0] = 1;
    return t;
  }
  const double f = std::floor(xs);
  const double r = xs - f;
  const int64_t i0 = static_cast<int64_t>(f);
  if (o.mode() == 1) {
    t.n = 2;
    t.idx[0] = clamp(i0);
    t.idx[1] = clamp(i0 + 1);
    t.w[0] = 1 - r;
    t.w[1] = r;
    return t;
  }
  const double a = o.cubic_coeff_a();
  auto cubic = [a](double s) {
    s = std::fabs(s);
    if (s <= 1) return ((a + 2) * s - (a + 3)) * s * s + 1;
    if (s < 2) return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
    return 0.0;
  };
  t.n = 4;
  double sum = 0;
  for (int k = 0; k < 4; ++k) {
    const int64_t i = i0 - 1 + k;
    double w = cubic(r + 1 - k);
    if (o.exclude_outside() && (i < 0 || i >= in)) w = 0;
    t.idx[k] = clamp(i);
    t.w[k] = w;
    sum += w;
  }
  if (o.exclude_outside() && sum != 0) {
    for (double& w : t.w) w /= sum;
  }
  return t;
}

absl::Status RunResize(OpContext& ctx) {
  ASSIGN_OR_RETURN(ResizePlan p, PlanResize(ctx));
  const auto* o = ctx.options<fb::ResizeOptions>();
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const size_t r = x.shape.size();
  if (y.num_elements() == 0) return absl::OkStatus();
  if (x.num_elements() == 0) return ctx.Error("cannot resize an empty input to a non-empty output");
  // Resample one axis at a time (the interpolations are separable).
  const size_t half = ctx.workspace_bytes / 2;
  float* buf[2] = {static_cast<float*>(ctx.workspace),
                   reinterpret_cast<float*>(static_cast<uint8_t*>(ctx.workspace) + half)};
  const float* src = x.as<float>();
  Shape cur = x.shape;
  int which = 0;
  std::vector<size_t> axes;
  for (size_t a = 0; a < r; ++a) {
    if (p.out[a] != x.shape[a] || p.scale[a] != 1.0 || o->coordinate_transformation() == 4) axes.push_back(a);
  }
  if (axes.empty()) {
    std::memcpy(y.data, x.data, static_cast<size_t>(x.bytes()));
    return absl::OkStatus();
  }
  for (size_t ai = 0; ai < axes.size(); ++ai) {
    const size_t a = axes[ai];
    const bool last = ai + 1 == axes.size();
    float* dst = last ? y.as<float>() : buf[which];
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < a; ++i) outer *= cur[i];
    for (size_t i = a + 1; i < r; ++i) inner *= cur[i];
    const int64_t in = cur[a], out = p.out[a];
    std::vector<Taps> taps(static_cast<size_t>(out));
    for (int64_t k = 0; k < out; ++k) {
      taps[static_cast<size_t>(k)] = ComputeTaps(*o, k, p.scale[a], in, p.roi_start[a], p.roi_end[a]);
    }
    for (int64_t ou = 0; ou < outer; ++ou) {
      const float* s = src + ou * in * inner;
      float* d = dst + ou * out * inner;
      for (int64_t k = 0; k < out; ++k) {
        const Taps& t = taps[static_cast<size_t>(k)];
        float* dr = d + k * inner;
        if (t.outside) {
          // Separable passes stay exact: every later tap set has weights summing to one.
          for (int64_t j = 0; j < inner; ++j) dr[j] = o->extrapolation_value();
          continue;
        }
        for (int64_t j = 0; j < inner; ++j) {
          double acc = 0;
          for (int q = 0; q < t.n; ++q) acc += t.w[q] * s[t.idx[q] * inner + j];
          dr[j] = static_cast<float>(acc);
        }
      }
    }
    cur[a] = out;
    src = dst;
    which ^= 1;
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPadOps(std::vector<OpDef>& ops) {
  OpDef pad{OpType::PAD, fb::OpOptions::PadOptions, 2, 3, 1, 1, InferPad, RunPad};
  pad.options_required = false;
  ops.push_back(pad);
  ops.push_back({OpType::RESIZE, fb::OpOptions::ResizeOptions, 1, 4, 1, 1, InferResize, RunResize});
}

}  // namespace edgert
