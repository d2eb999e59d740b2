// Small .efb models built with ModelBuilder, shared by the fuzz seed generator (make_seeds.cc)
// and the runtime concurrency/determinism tests (tests/runtime/concurrency_test.cc).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "model_builder.h"

namespace edgert::test {

enum class WeightType { kF32, kI8, kI4 };

// FULLY_CONNECTED weight W[n, k] as F32, I8 per-channel (axis 0) or I4 per-block (axis 1).
inline int FcWeight(ModelBuilder& b, const std::string& name, WeightType wt, int n, int k, int block,
                    std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 0.2f);
  std::vector<float> w(static_cast<size_t>(n) * k);
  for (float& v : w) v = nd(rng);
  if (wt == WeightType::kF32) return b.ConstF32(name, {n, k}, w);
  auto q = std::make_unique<fb::QuantizationT>();
  if (wt == WeightType::kI8) {
    std::vector<int8_t> qw(w.size());
    q->scheme = fb::QuantScheme::PER_CHANNEL;
    q->axis = 0;
    for (int r = 0; r < n; ++r) {
      float mx = 1e-8f;
      for (int c = 0; c < k; ++c) mx = std::max(mx, std::fabs(w[static_cast<size_t>(r) * k + c]));
      const float s = mx / 127.f;
      q->scales.push_back(s);
      for (int c = 0; c < k; ++c) {
        qw[static_cast<size_t>(r) * k + c] = static_cast<int8_t>(std::lround(w[static_cast<size_t>(r) * k + c] / s));
      }
    }
    int t = b.Const(name, fb::DType::I8, {n, k}, qw.data(), qw.size());
    b.tensor(t).quant = std::move(q);
    return t;
  }
  // I4: per block of `block` along K, symmetric, two per byte (low nibble first), rows padded.
  const int nb = (k + block - 1) / block;
  const int row_bytes = (k + 1) / 2;
  std::vector<uint8_t> packed(static_cast<size_t>(n) * row_bytes, 0);
  q->scheme = fb::QuantScheme::PER_BLOCK;
  q->axis = 1;
  q->block_size = block;
  for (int r = 0; r < n; ++r) {
    for (int bi = 0; bi < nb; ++bi) {
      float mx = 1e-8f;
      for (int c = bi * block; c < std::min(k, (bi + 1) * block); ++c) mx = std::max(mx, std::fabs(w[static_cast<size_t>(r) * k + c]));
      const float s = mx / 7.f;
      q->scales.push_back(s);
      for (int c = bi * block; c < std::min(k, (bi + 1) * block); ++c) {
        int v = static_cast<int>(std::lround(w[static_cast<size_t>(r) * k + c] / s));
        v = std::max(-8, std::min(7, v));
        uint8_t& byte = packed[static_cast<size_t>(r) * row_bytes + c / 2];
        byte |= static_cast<uint8_t>((v & 0xf) << ((c & 1) ? 4 : 0));
      }
    }
  }
  int t = b.Const(name, fb::DType::I4, {n, k}, packed.data(), packed.size());
  b.tensor(t).quant = std::move(q);
  return t;
}

// x[batch, 64] -> FC(64->96) gelu -> FC(96->40) -> softmax, with weights of type `wt`.
// K = 64 and 96 cover one and several int4 blocks (block 32); N = 40 is not a multiple of 16.
inline ModelBuilder MlpModel(WeightType wt, int seed = 3) {
  ModelBuilder b;
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::normal_distribution<float> nd(0.f, 0.2f);
  std::vector<float> b1(96);
  for (float& v : b1) v = nd(rng);
  int x = b.Input("x", fb::DType::F32, {"batch", 64});
  int W1 = FcWeight(b, "w1", wt, 96, 64, 32, rng);
  int B1 = b.ConstF32("b1", {96}, b1);
  int W2 = FcWeight(b, "w2", wt, 40, 96, 32, rng);
  int h = b.Tensor("h", fb::DType::F32, {"batch", 96});
  int z = b.Tensor("z", fb::DType::F32, {"batch", 40});
  int y = b.Tensor("y", fb::DType::F32, {"batch", 40});
  fb::FullyConnectedOptionsT g;
  g.fused_activation = fb::Activation::GELU;
  b.Op(fb::OpType::FULLY_CONNECTED, {x, W1, B1}, {h}, ModelBuilder::Opt(g));
  b.Op(fb::OpType::FULLY_CONNECTED, {h, W2, -1}, {z}, ModelBuilder::Opt(fb::FullyConnectedOptionsT{}));
  fb::AxisOptionsT a;
  a.axis = -1;
  b.Op(fb::OpType::SOFTMAX, {z}, {y}, ModelBuilder::Opt(a));
  b.Output(y);
  return b;
}

// x[batch, 4] + c[4] -> relu -> y (the malformed-file tests' base model).
inline ModelBuilder AddReluModel() {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {"batch", 4});
  int c = b.ConstF32("c", {4}, {1, -2, 3, -4});
  int s = b.Tensor("sum", fb::DType::F32, {"batch", 4});
  int y = b.Tensor("y", fb::DType::F32, {"batch", 4});
  b.Op(fb::OpType::ADD, {x, c}, {s}, ModelBuilder::Opt(fb::BinaryOptionsT{}), "add");
  b.Op(fb::OpType::RELU, {s}, {y}, {}, "relu");
  b.Output(y);
  return b;
}

// Attention scores [batch, 3, seq, seq] + mask [batch, 1, 1, seq] -> SCALED_SOFTMAX (the fused
// Mul -> Add -> Softmax the converter makes for transformer encoders).
inline ModelBuilder ScaledSoftmaxModel() {
  ModelBuilder b;
  int x = b.Input("scores", fb::DType::F32, {"batch", 3, "seq", "seq"});
  int m = b.Input("mask", fb::DType::F32, {"batch", 1, 1, "seq"});
  int y = b.Tensor("probs", fb::DType::F32, {"batch", 3, "seq", "seq"});
  fb::ScaledSoftmaxOptionsT o;
  o.scale = 0.125f;
  b.Op(fb::OpType::SCALED_SOFTMAX, {x, m}, {y}, ModelBuilder::Opt(o), "attn_softmax");
  b.Output(y);
  return b;
}

// LAYER_NORM with a residual input (the converter's Add -> LayerNormalization fusion):
// x [batch, seq, 8] + residual, then scale and bias. `broadcast`: the residual is [1, seq, 8]
// (added with numpy broadcasting into the output first); else the same shape as x.
inline ModelBuilder ResidualLayerNormModel(bool broadcast) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {"batch", "seq", 8});
  int r = broadcast ? b.Input("residual", fb::DType::F32, {1, "seq", 8})
                    : b.Input("residual", fb::DType::F32, {"batch", "seq", 8});
  int g = b.ConstF32("gamma", {8}, {1, 0.5f, 2, -1, 1, 1, 0.25f, 3});
  int be = b.ConstF32("beta", {8}, {0, 0.1f, -0.2f, 0, 1, 0, 0, -1});
  int y = b.Tensor("y", fb::DType::F32, {"batch", "seq", 8});
  fb::LayerNormOptionsT o;
  o.axis = -1;
  o.epsilon = 1e-5f;
  b.Op(fb::OpType::LAYER_NORM, {x, g, be, r}, {y}, ModelBuilder::Opt(o), "residual_ln");
  b.Output(y);
  return b;
}

// Multi-head attention: q, k, v [batch, seq, 2 heads * 4] + mask [batch, 1, 1, seq] -> ATTENTION
// (the whole Reshape/Transpose/MatMul/softmax block the converter fuses for transformer encoders).
inline ModelBuilder AttentionModel() {
  ModelBuilder b;
  int q = b.Input("q", fb::DType::F32, {"batch", "seq", 8});
  int k = b.Input("k", fb::DType::F32, {"batch", "seq", 8});
  int v = b.Input("v", fb::DType::F32, {"batch", "seq", 8});
  int m = b.Input("mask", fb::DType::F32, {"batch", 1, 1, "seq"});
  int y = b.Tensor("context", fb::DType::F32, {"batch", "seq", 8});
  fb::AttentionOptionsT o;
  o.num_heads = 2;
  o.scale = 2.0f;
  o.divide = true;
  b.Op(fb::OpType::ATTENTION, {q, k, v, m}, {y}, ModelBuilder::Opt(o), "attention");
  b.Output(y);
  return b;
}

// CONV with weights [m, cg, k, k] (F32 or I8 per channel), bias, pads k/2, fused Relu6 or none.
inline int ConvSeedOp(ModelBuilder& b, const std::string& name, int x, WeightType wt, int m, int cg, int k, int stride,
                      int group, bool relu6, const std::vector<D>& out_dims, std::mt19937& rng) {
  const int w = FcWeight(b, name + "_w", wt, m, cg * k * k, 32, rng);  // [m, cg*k*k] -> [m, cg, k, k]
  auto& shape = b.tensor(w).shape;
  shape.clear();
  for (int d : {m, cg, k, k}) {
    auto dim = std::make_unique<fb::DimT>();
    dim->value = d;
    shape.push_back(std::move(dim));
  }
  std::vector<float> bias(static_cast<size_t>(m));
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.1f * static_cast<float>(static_cast<int>(i % 7) - 3);
  const int bi = b.ConstF32(name + "_b", {m}, bias);
  const int y = b.Tensor(name, fb::DType::F32, out_dims);
  fb::ConvOptionsT o;
  o.group = group;
  o.strides = {stride, stride};
  o.pads = {k / 2, k / 2, k / 2, k / 2};
  o.fused_activation = relu6 ? fb::Activation::RELU6 : fb::Activation::NONE;
  b.Op(fb::OpType::CONV, {x, w, bi}, {y}, ModelBuilder::Opt(o), name);
  return y;
}

// A MobileNet/EfficientNet block on an image of dynamic size: 3x3 stem -> 1x1 expand -> 3x3/2
// depthwise -> 1x1 project -> 1x1 head (the output). The runtime runs expand -> depthwise ->
// project as one Conv chain (ops/op.h ConvChain).
inline ModelBuilder ConvChainModel(WeightType wt) {
  ModelBuilder b;
  std::mt19937 rng(7);
  const int x = b.Input("image", fb::DType::F32, {1, 3, "h", "w"});
  const int s = ConvSeedOp(b, "stem", x, wt, 8, 3, 3, 1, 1, true, {1, 8, "h", "w"}, rng);
  const int e = ConvSeedOp(b, "expand", s, wt, 24, 8, 1, 1, 1, true, {1, 24, "h", "w"}, rng);
  const int d = ConvSeedOp(b, "dw", e, wt, 24, 1, 3, 2, 24, true, {1, 24, "oh", "ow"}, rng);
  const int p = ConvSeedOp(b, "project", d, wt, 8, 24, 1, 1, 1, false, {1, 8, "oh", "ow"}, rng);
  b.Output(ConvSeedOp(b, "head", p, wt, 4, 8, 1, 1, 1, false, {1, 4, "oh", "ow"}, rng));
  return b;
}

// table[10, 8] gathered by ids[batch, seq] (i64, may be out of range at run time).
inline ModelBuilder GatherModel() {
  ModelBuilder b;
  std::vector<float> tab(80);
  for (size_t i = 0; i < tab.size(); ++i) tab[i] = static_cast<float>(i) * 0.25f;
  int t = b.ConstF32("table", {10, 8}, tab);
  int ids = b.Input("ids", fb::DType::I64, {"batch", "seq"});
  int y = b.Tensor("y", fb::DType::F32, {"batch", "seq", 8});
  fb::AxisOptionsT a;
  a.axis = 0;
  b.Op(fb::OpType::GATHER, {t, ids}, {y}, ModelBuilder::Opt(a));
  b.Output(y);
  return b;
}

// Ops whose output shape comes from constant *values*: a small file asking for a huge tensor.
// `op` is TILE, EXPAND, CONSTANT_OF_SHAPE, RANGE or RESHAPE; `big` is the size asked for.
inline ModelBuilder ShapeFromValuesModel(fb::OpType op, int64_t big) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1, 4});
  int y = b.Tensor("y", fb::DType::F32, {});
  b.model().tensors[static_cast<size_t>(y)]->shape.clear();
  switch (op) {
    case fb::OpType::TILE: {
      int r = b.ConstI64("repeats", {2}, {big, big});
      b.Op(op, {x, r}, {y});
      break;
    }
    case fb::OpType::EXPAND: {
      int s = b.ConstI64("shape", {3}, {big, big, 4});
      b.Op(op, {x, s}, {y});
      break;
    }
    case fb::OpType::CONSTANT_OF_SHAPE: {
      int s = b.ConstI64("shape", {3}, {big, big, big});
      int v = b.ConstF32("value", {1}, {1.f});
      b.Op(op, {s, v}, {y});
      break;
    }
    case fb::OpType::RANGE: {
      int s = b.ConstF32("start", {}, {0.f});
      int l = b.ConstF32("limit", {}, {static_cast<float>(big) * static_cast<float>(big)});
      int d = b.ConstF32("delta", {}, {1.f});
      b.Op(op, {s, l, d}, {y});
      break;
    }
    default: {  // RESHAPE to a shape with a different element count
      int s = b.ConstI64("shape", {3}, {big, big, -1});
      b.Op(fb::OpType::RESHAPE, {x, s}, {y}, ModelBuilder::Opt(fb::ReshapeOptionsT{}));
      break;
    }
  }
  // Consume y so the op is not the graph output directly (exercises a planned intermediate).
  int z = b.Tensor("z", fb::DType::F32, {});
  b.model().tensors[static_cast<size_t>(z)]->shape.clear();
  b.Op(fb::OpType::RELU, {y}, {z});
  b.Output(z);
  return b;
}

}  // namespace edgert::test
