// Float reference ops through a real session, against hand-computed values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "edgert/kernels/gemm.h"
#include "model.h"
#include "model_builder.h"
#include "ops_test_util.h"
#include "session.h"

namespace edgert {
namespace {

using test::D;
using test::ModelBuilder;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

TEST(Ops, AddBroadcastRowAndColumn) {
  ModelBuilder b;
  int a = b.Input("a", fb::DType::F32, {2, 1});
  int c = b.Input("c", fb::DType::F32, {1, 3});
  int y = b.Tensor("y", fb::DType::F32, {2, 3});
  b.Op(fb::OpType::ADD, {a, c}, {y}, ModelBuilder::Opt(fb::BinaryOptionsT{}));
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({2, 1}, {10, 20}), F32({1, 3}, {1, 2, 3})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape, (Shape{2, 3}));
  EXPECT_THAT((*out)[0].f32(), ElementsAre(11, 12, 13, 21, 22, 23));
}

TEST(Ops, BinaryOpsWithFusedRelu) {
  for (auto [type, want] : std::vector<std::pair<fb::OpType, std::vector<float>>>{
           {fb::OpType::SUB, {0, 0, 2, 0}}, {fb::OpType::MUL, {0, 4, 8, 0}}, {fb::OpType::DIV, {0, 1, 2, 0}},
           {fb::OpType::MAXIMUM, {2, 2, 4, 2}}, {fb::OpType::MINIMUM, {0, 2, 2, 0}}}) {
    ModelBuilder b;
    int a = b.Input("a", fb::DType::F32, {4});
    int c = b.ConstF32("c", {1}, {2});
    int y = b.Tensor("y", fb::DType::F32, {4});
    fb::BinaryOptionsT o;
    o.fused_activation = fb::Activation::RELU;
    b.Op(type, {a, c}, {y}, ModelBuilder::Opt(o));
    b.Output(y);
    Runner r(b);
    ASSERT_TRUE(r.ok()) << r.error();
    auto out = r.Run({F32({4}, {-1, 2, 4, -6})});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(1e-6), want)) << fb::EnumNameOpType(type);
  }
}

TEST(Ops, ComparisonAndWhere) {
  ModelBuilder b;
  int a = b.Input("a", fb::DType::F32, {4});
  int z = b.ConstF32("zero", {}, {0});
  int m = b.Tensor("m", fb::DType::BOOL, {4});
  int y = b.Tensor("y", fb::DType::F32, {4});
  b.Op(fb::OpType::GREATER, {a, z}, {m}, {});
  b.Op(fb::OpType::WHERE, {m, a, z}, {y}, {});
  b.Output(y);
  b.Output(m);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({4}, {-1, 2, 0, 5})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].f32(), ElementsAre(0, 2, 0, 5));
  EXPECT_EQ((*out)[1].data, std::string("\0\1\0\1", 4));
}

TEST(Ops, UnaryFloat) {
  struct U { fb::OpType t; float (*f)(float); };
  const std::vector<U> cases = {
      {fb::OpType::RELU, [](float v) { return std::max(v, 0.f); }},
      {fb::OpType::SIGMOID, [](float v) { return 1.f / (1.f + std::exp(-v)); }},
      {fb::OpType::TANH, [](float v) { return std::tanh(v); }},
      {fb::OpType::EXP, [](float v) { return std::exp(v); }},
      {fb::OpType::ERF, [](float v) { return std::erf(v); }},
      {fb::OpType::NEG, [](float v) { return -v; }},
      {fb::OpType::ABS, [](float v) { return std::fabs(v); }},
      {fb::OpType::SILU, [](float v) { return v / (1.f + std::exp(-v)); }},
      {fb::OpType::GELU, [](float v) { return 0.5f * v * (1.f + std::erf(v / std::sqrt(2.f))); }},
  };
  const std::vector<float> x = {-3, -1.5f, -0.25f, 0, 0.5f, 2, 7};
  for (const U& u : cases) {
    ModelBuilder b;
    int a = b.Input("a", fb::DType::F32, {7});
    int y = b.Tensor("y", fb::DType::F32, {7});
    b.Op(u.t, {a}, {y}, {});
    b.Output(y);
    Runner r(b);
    ASSERT_TRUE(r.ok()) << r.error();
    auto out = r.Run({F32({7}, x)});
    ASSERT_TRUE(out.ok()) << out.status();
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_NEAR((*out)[0].f32()[i], u.f(x[i]), 2e-6 * (1 + std::fabs(u.f(x[i])))) << fb::EnumNameOpType(u.t) << " x=" << x[i];
    }
  }
}

TEST(Ops, MatMulBatchedBroadcast) {
  ModelBuilder b;
  int a = b.Input("a", fb::DType::F32, {2, 2, 3});
  int w = b.ConstF32("w", {3, 2}, {1, 0, 0, 1, 1, 1});
  int y = b.Tensor("y", fb::DType::F32, {2, 2, 2});
  b.Op(fb::OpType::MATMUL, {a, w}, {y}, {});
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape, (Shape{2, 2, 2}));
  EXPECT_THAT((*out)[0].f32(), ElementsAre(4, 5, 10, 11, 16, 17, 22, 23));
}

TEST(Ops, MatMulVector) {
  ModelBuilder b;
  int a = b.Input("a", fb::DType::F32, {3});
  int w = b.ConstF32("w", {3, 2}, {1, 2, 3, 4, 5, 6});
  int y = b.Tensor("y", fb::DType::F32, {2});
  b.Op(fb::OpType::MATMUL, {a, w}, {y}, {});
  b.Output(y);
  Runner r(b);
  auto out = r.Run({F32({3}, {1, 1, 1})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape, (Shape{2}));
  EXPECT_THAT((*out)[0].f32(), ElementsAre(9, 12));
}

TEST(Ops, FullyConnectedF32WithBiasAndRelu) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {"m", 3});
  int w = b.ConstF32("w", {2, 3}, {1, 2, 3, -1, -1, -1});
  int bias = b.ConstF32("b", {2}, {0.5f, 1});
  int y = b.Tensor("y", fb::DType::F32, {"m", 2});
  fb::FullyConnectedOptionsT o;
  o.fused_activation = fb::Activation::RELU;
  b.Op(fb::OpType::FULLY_CONNECTED, {x, w, bias}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({2, 3}, {1, 1, 1, -1, 0, 2})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(1e-5), std::vector<float>{6.5f, 0, 5.5f, 0}));
}

TEST(Ops, SoftmaxAndLogSoftmax) {
  for (fb::OpType t : {fb::OpType::SOFTMAX, fb::OpType::LOG_SOFTMAX}) {
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, {2, 3});
    int y = b.Tensor("y", fb::DType::F32, {2, 3});
    fb::AxisOptionsT o;
    o.axis = -1;
    b.Op(t, {x}, {y}, ModelBuilder::Opt(o));
    b.Output(y);
    Runner r(b);
    auto out = r.Run({F32({2, 3}, {1, 2, 3, 1000, 1000, 1000})});
    ASSERT_TRUE(out.ok()) << out.status();
    const float s = std::exp(1.f) + std::exp(2.f) + std::exp(3.f);
    std::vector<float> want = {std::exp(1.f) / s, std::exp(2.f) / s, std::exp(3.f) / s, 1.f / 3, 1.f / 3, 1.f / 3};
    if (t == fb::OpType::LOG_SOFTMAX) for (float& v : want) v = std::log(v);
    EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(1e-6), want));
  }
}

// Long contiguous rows take the vectorized exp (8 at a time + scalar tail); masked entries at
// -10000 must give exactly 0 (no denormals), NaN must propagate.
TEST(Ops, SoftmaxLongRows) {
  const int n = 37;
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {3, n});
  int y = b.Tensor("y", fb::DType::F32, {3, n});
  fb::AxisOptionsT o;
  o.axis = -1;
  b.Op(fb::OpType::SOFTMAX, {x}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  std::vector<float> in(3 * n);
  for (int i = 0; i < n; ++i) {
    in[i] = 0.37f * i - 6.0f - (i % 5 == 0 ? 60.0f : 0.0f);  // spans exp(-85 .. +7)
    in[n + i] = i < 30 ? 0.1f * i : -10000.0f;                 // masked tail
    in[2 * n + i] = i == 9 ? NAN : 1.0f;
  }
  auto out = r.Run({F32({3, n}, in)});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::vector<float> got = (*out)[0].f32();
  for (int row = 0; row < 2; ++row) {
    double mx = -1e30, s = 0;
    for (int i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(in[row * n + i]));
    for (int i = 0; i < n; ++i) s += std::exp(in[row * n + i] - mx);
    for (int i = 0; i < n; ++i) {
      const double want = std::exp(in[row * n + i] - mx) / s;
      EXPECT_NEAR(got[row * n + i], want, 1e-6 * want + 1e-30) << row << " " << i;
    }
  }
  for (int i = 30; i < n; ++i) EXPECT_EQ(got[n + i], 0.0f) << i;
  EXPECT_TRUE(std::isnan(got[2 * n + 9]));
}

// Softmax (contiguous rows and inner > 1), LogSoftmax and LayerNorm run over the session's thread
// pool, split on rows: outputs must be bitwise identical for 1..5 threads.
TEST(Ops, SoftmaxLayerNormBitwiseIdenticalAcrossThreadCounts) {
  struct C {
    fb::OpType t;
    int axis;
  };
  std::vector<float> in(6 * 37 * 5);
  for (size_t i = 0; i < in.size(); ++i) in[i] = std::sin(0.37f * static_cast<float>(i)) * 7.f;
  for (C c : {C{fb::OpType::SOFTMAX, -1}, C{fb::OpType::SOFTMAX, 1}, C{fb::OpType::LOG_SOFTMAX, -1},
              C{fb::OpType::LAYER_NORM, -1}, C{fb::OpType::LAYER_NORM, 1}}) {
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, {6, 37, 5});
    int y = b.Tensor("y", fb::DType::F32, {6, 37, 5});
    if (c.t == fb::OpType::LAYER_NORM) {
      const size_t norm = c.axis == 1 ? 37 * 5 : 5;
      std::vector<float> g(norm), be(norm);
      for (size_t i = 0; i < norm; ++i) {
        g[i] = 1.f + 0.01f * static_cast<float>(i);
        be[i] = -0.5f + 0.02f * static_cast<float>(i);
      }
      const std::vector<D> gd = c.axis == 1 ? std::vector<D>{37, 5} : std::vector<D>{5};
      int gi = b.ConstF32("g", gd, g);
      int bi = b.ConstF32("b", gd, be);
      fb::LayerNormOptionsT o;
      o.axis = c.axis;
      o.epsilon = 1e-5f;
      b.Op(c.t, {x, gi, bi}, {y}, ModelBuilder::Opt(o));
    } else {
      fb::AxisOptionsT o;
      o.axis = c.axis;
      b.Op(c.t, {x}, {y}, ModelBuilder::Opt(o));
    }
    b.Output(y);
    std::vector<float> first;
    for (int threads = 1; threads <= 5; ++threads) {
      Runner r(b, threads);
      ASSERT_TRUE(r.ok()) << r.error();
      auto out = r.Run({F32({6, 37, 5}, in)});
      ASSERT_TRUE(out.ok()) << out.status();
      const std::vector<float> got = (*out)[0].f32();
      if (first.empty()) first = got;
      ASSERT_EQ(std::memcmp(got.data(), first.data(), got.size() * 4), 0)
          << OpTypeName(c.t) << " axis " << c.axis << ", " << threads << " threads";
    }
  }
}

// Float Add/Sub/Mul/Div split output rows over the pool above 16384 elements per task: bitwise
// identical for every thread count, with and without broadcasting.
TEST(Ops, ArithmeticBitwiseIdenticalAcrossThreadCounts) {
  const Shape xs = {6, 64, 131};
  std::vector<float> in(6 * 64 * 131);
  for (size_t i = 0; i < in.size(); ++i) in[i] = std::cos(0.11f * static_cast<float>(i)) * 3.f;
  for (fb::OpType t : {fb::OpType::ADD, fb::OpType::SUB, fb::OpType::MUL, fb::OpType::DIV}) {
    for (const std::vector<D>& bs : {std::vector<D>{6, 64, 131}, std::vector<D>{64, 1}, std::vector<D>{131}}) {
      ModelBuilder b;
      int x = b.Input("x", fb::DType::F32, {6, 64, 131});
      size_t bn = 1;
      for (D d : bs) bn *= static_cast<size_t>(d.value);
      std::vector<float> bv(bn);
      for (size_t i = 0; i < bn; ++i) bv[i] = 0.5f + 0.001f * static_cast<float>(i);
      int c = b.ConstF32("c", bs, bv);
      int y = b.Tensor("y", fb::DType::F32, {6, 64, 131});
      b.Op(t, {x, c}, {y}, ModelBuilder::Opt(fb::BinaryOptionsT{}));
      b.Output(y);
      std::vector<float> first;
      for (int threads = 1; threads <= 4; ++threads) {
        Runner r(b, threads);
        ASSERT_TRUE(r.ok()) << r.error();
        auto out = r.Run({F32(xs, in)});
        ASSERT_TRUE(out.ok()) << out.status();
        const std::vector<float> got = (*out)[0].f32();
        if (first.empty()) {
          first = got;
          // Spot check against the plain formula (element 12345, broadcast index by shape).
          const size_t i = 12345, j = bn == in.size() ? i : (bn == 64 ? (i / 131) % 64 : i % 131);
          const float a = in[i], v = bv[j];
          const float want = t == fb::OpType::ADD ? a + v : t == fb::OpType::SUB ? a - v : t == fb::OpType::MUL ? a * v : a / v;
          EXPECT_EQ(got[i], want) << OpTypeName(t);
        }
        ASSERT_EQ(std::memcmp(got.data(), first.data(), got.size() * 4), 0) << OpTypeName(t) << ", " << threads << " threads";
      }
    }
  }
}

TEST(Ops, LayerNorm) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 4});
  int g = b.ConstF32("g", {4}, {1, 2, 1, 1});
  int be = b.ConstF32("b", {4}, {0, 0, 0, 1});
  int y = b.Tensor("y", fb::DType::F32, {2, 4});
  fb::LayerNormOptionsT o;
  o.axis = -1;
  o.epsilon = 0;
  b.Op(fb::OpType::LAYER_NORM, {x, g, be}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  auto out = r.Run({F32({2, 4}, {1, 2, 3, 4, 5, 5, 5, 7})});
  ASSERT_TRUE(out.ok()) << out.status();
  const float sd = std::sqrt(1.25f);
  std::vector<float> want = {-1.5f / sd, 2 * -0.5f / sd, 0.5f / sd, 1.5f / sd + 1};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR((*out)[0].f32()[static_cast<size_t>(i)], want[static_cast<size_t>(i)], 1e-5);
  // second row: mean 5.5, var 0.75
  EXPECT_NEAR((*out)[0].f32()[7], 1.5f / std::sqrt(0.75f) + 1, 1e-5);
}

// SCALED_SOFTMAX is the Mul|Div(scalar) -> Add(mask) -> Softmax(last axis) chain in one pass: it
// must give the chain's bits, for masks that broadcast (also x broadcast by the mask), with and
// without the scale or the mask, and for any thread count.
TEST(Ops, ScaledSoftmaxEqualsTheChainBitwise) {
  struct C {
    std::vector<int64_t> x, mask;  // mask empty: no mask
    bool divide, scale;
  };
  const std::vector<C> cases = {
      {{2, 3, 5, 37}, {2, 1, 1, 37}, false, true},  // attention: [B, H, S, S] + [B, 1, 1, S]
      {{2, 3, 5, 37}, {37}, true, true},
      {{2, 3, 5, 37}, {3, 5, 1}, false, true},      // one mask value per row
      {{2, 1, 5, 37}, {2, 3, 1, 37}, false, true},  // the mask widens x
      {{4, 9}, {}, false, true},
      {{4, 9}, {4, 9}, false, false},
  };
  auto shape_d = [](const std::vector<int64_t>& v) {
    std::vector<D> d;
    for (int64_t x : v) d.push_back(x);
    return d;
  };
  for (const C& c : cases) {
    std::vector<int64_t> out = c.x;
    if (!c.mask.empty()) {
      for (size_t i = 0; i < c.mask.size(); ++i) {
        int64_t& o = out[out.size() - c.mask.size() + i];
        o = std::max(o, c.mask[i]);
      }
    }
    size_t nx = 1, nm = 1;
    for (int64_t d : c.x) nx *= static_cast<size_t>(d);
    for (int64_t d : c.mask) nm *= static_cast<size_t>(d);
    std::vector<float> xv(nx), mv(nm);
    for (size_t i = 0; i < nx; ++i) xv[i] = std::sin(0.91f * static_cast<float>(i)) * 9.f;
    for (size_t i = 0; i < nm; ++i) mv[i] = i % 7 == 3 ? -10000.f : 0.25f * static_cast<float>(i % 5);
    const float scale = 0.1767767f;
    std::vector<float> want;
    for (int fused = 0; fused < 2; ++fused) {
      for (int threads = 1; threads <= 3; threads += 2) {
        ModelBuilder b;
        int x = b.Input("x", fb::DType::F32, shape_d(c.x));
        int m = c.mask.empty() ? -1 : b.Input("m", fb::DType::F32, shape_d(c.mask));
        int y = b.Tensor("y", fb::DType::F32, shape_d(out));
        if (fused) {
          fb::ScaledSoftmaxOptionsT o;
          o.scale = c.scale ? scale : 1.0f;
          o.divide = c.divide;
          b.Op(fb::OpType::SCALED_SOFTMAX, m < 0 ? std::vector<int>{x} : std::vector<int>{x, m}, {y},
               ModelBuilder::Opt(o));
        } else {
          int cur = x;
          if (c.scale) {
            int k = b.ConstF32("k", {}, {scale});
            int t = b.Tensor("t", fb::DType::F32, shape_d(c.x));
            b.Op(c.divide ? fb::OpType::DIV : fb::OpType::MUL, {cur, k}, {t}, ModelBuilder::Opt(fb::BinaryOptionsT{}));
            cur = t;
          }
          if (m >= 0) {
            int u = b.Tensor("u", fb::DType::F32, shape_d(out));
            b.Op(fb::OpType::ADD, {cur, m}, {u}, ModelBuilder::Opt(fb::BinaryOptionsT{}));
            cur = u;
          }
          fb::AxisOptionsT o;
          o.axis = -1;
          b.Op(fb::OpType::SOFTMAX, {cur}, {y}, ModelBuilder::Opt(o));
        }
        b.Output(y);
        Runner r(b, threads);
        ASSERT_TRUE(r.ok()) << r.error();
        std::vector<HostTensor> in = {F32(c.x, xv)};
        if (m >= 0) in.push_back(F32(c.mask, mv));
        auto got = r.Run(in);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ((*got)[0].shape, out);
        const std::vector<float> v = (*got)[0].f32();
        if (want.empty()) want = v;
        ASSERT_EQ(std::memcmp(v.data(), want.data(), v.size() * 4), 0)
            << "case x rank " << c.x.size() << " mask rank " << c.mask.size() << " fused " << fused << " threads " << threads;
      }
    }
  }
}

TEST(Ops, ScaledSoftmaxMaskThatDoesNotBroadcastIsAnError) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 8});
  int m = b.Input("m", fb::DType::F32, {3, 8});
  int y = b.Tensor("y", fb::DType::F32, {2, 8});
  fb::ScaledSoftmaxOptionsT o;
  b.Op(fb::OpType::SCALED_SOFTMAX, {x, m}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  auto got = r.Run({F32({2, 8}, std::vector<float>(16, 1.f)), F32({3, 8}, std::vector<float>(24, 0.f))});
  ASSERT_FALSE(got.ok());
  EXPECT_NE(std::string(got.status().message()).find("broadcast"), std::string::npos) << got.status();
}

// ATTENTION is the Reshape -> Transpose -> MatMul -> SCALED_SOFTMAX -> MatMul -> Transpose ->
// Reshape chain in one op: the same bits for masks that broadcast differently, no mask, Sq != Sk,
// D != Dv, more query rows than one score block (256 KiB of scores), and any thread count (heads spread over the
// pool, or each product split over it).
// Padded keys (a [B, 1, 1, Sk] mask whose last keys are far below the others) are skipped by
// the fused op; the bits stay the chain's, also where skipping must not happen (scores too large
// for the mask's margin, inf in a padded V row).
TEST(Ops, AttentionEqualsTheChainBitwise) {
  struct C {
    int64_t b, sq, sk, h, d, dv;
    std::vector<int64_t> mask;  // empty: no mask
    bool divide;
    int64_t pad0 = 0, pad1 = 0;  // padded keys at the end of batch 0 / 1 ([B, 1, 1, Sk] masks)
    float pad_value = -10000.f;
    float q_mul = 1.f;   // scales q: large scores
    bool v_inf = false;  // +inf in the last V row
    float k_pad_mul = 1.f;  // scales the k rows of batch 0's padded keys
  };
  const std::vector<C> cases = {
      {2, 5, 7, 3, 4, 6, {2, 1, 1, 7}, false},
      {1, 70, 70, 2, 8, 8, {1, 1, 70, 70}, true},
      {1, 50, 1100, 2, 8, 8, {1, 1, 50, 1100}, false},  // score blocks of 48 rows
      {1, 49, 1100, 2, 8, 8, {1, 1, 1, 1100}, false, 600},  // 48 + a last row, joined
      {2, 9, 9, 1, 16, 5, {}, false},
      {1, 3, 11, 6, 5, 3, {6, 3, 11}, true},
      {3, 4, 4, 4, 3, 3, {1}, false},
      {2, 40, 100, 3, 8, 8, {2, 1, 1, 100}, false, 30, 70},
      {2, 40, 100, 3, 8, 8, {2, 1, 1, 100}, true, 53, 3, -INFINITY},
      {2, 17, 130, 2, 32, 16, {2, 1, 1, 130}, false, 100, 0, -3.4028235e38f},
      {2, 1, 64, 2, 8, 8, {2, 1, 1, 64}, false, 40, 17},  // one query row: the GEMV kernel
      {1, 24, 100, 2, 8, 8, {1, 1, 1, 100}, false, 60, 0, -10000.f, 300.f},   // scores to 1900: skipped
      // Padded keys with huge k rows: their scores beat the -10000 mask, so they must not be skipped.
      {1, 24, 100, 2, 8, 8, {1, 1, 1, 100}, false, 60, 0, -10000.f, 1.f, false, 4000.f},
      {1, 24, 100, 2, 8, 8, {1, 1, 1, 100}, false, 60, 0, -10000.f, 1.f, true},
  };
  for (const C& c : cases) {
    std::vector<float> qv(static_cast<size_t>(c.b * c.sq * c.h * c.d)), kv(static_cast<size_t>(c.b * c.sk * c.h * c.d)),
        vv(static_cast<size_t>(c.b * c.sk * c.h * c.dv));
    for (size_t i = 0; i < qv.size(); ++i) qv[i] = std::sin(0.37f * static_cast<float>(i)) * 2.f * c.q_mul;
    for (size_t i = 0; i < kv.size(); ++i) kv[i] = std::cos(0.53f * static_cast<float>(i)) * 2.f;
    for (size_t i = 0; i < vv.size(); ++i) vv[i] = std::sin(1.31f * static_cast<float>(i) + 0.5f);
    size_t nm = 1;
    for (int64_t d : c.mask) nm *= static_cast<size_t>(d);
    std::vector<float> mv(c.mask.empty() ? 0 : nm);
    for (size_t i = 0; i < mv.size(); ++i) mv[i] = i % 5 == 2 ? -10000.f : 0.1f * static_cast<float>(i % 3);
    for (int64_t bi = 0; bi < std::min<int64_t>(c.b, 2); ++bi)
      for (int64_t j = c.sk - (bi == 0 ? c.pad0 : c.pad1); j < c.sk && !mv.empty(); ++j)
        mv[static_cast<size_t>(bi * c.sk + j)] = c.pad_value;
    if (c.v_inf) vv.back() = INFINITY;
    for (int64_t j = c.sk - c.pad0; j < c.sk; ++j)
      for (int64_t e = 0; e < c.h * c.d; ++e) kv[static_cast<size_t>(j * c.h * c.d + e)] *= c.k_pad_mul;
    const float scale = c.divide ? 2.828427f : 0.3535534f;
    std::vector<float> want;
    for (int fused = 0; fused < 2; ++fused) {
      for (int threads = 1; threads <= 3; ++threads) {
        ModelBuilder b;
        int q = b.Input("q", fb::DType::F32, {c.b, c.sq, c.h * c.d});
        int k = b.Input("k", fb::DType::F32, {c.b, c.sk, c.h * c.d});
        int v = b.Input("v", fb::DType::F32, {c.b, c.sk, c.h * c.dv});
        std::vector<D> md;
        for (int64_t d : c.mask) md.push_back(d);
        int m = c.mask.empty() ? -1 : b.Input("m", fb::DType::F32, md);
        int y = b.Tensor("y", fb::DType::F32, {c.b, c.sq, c.h * c.dv});
        if (fused) {
          fb::AttentionOptionsT o;
          o.num_heads = static_cast<int32_t>(c.h);
          o.scale = scale;
          o.divide = c.divide;
          std::vector<int> in = {q, k, v};
          if (m >= 0) in.push_back(m);
          b.Op(fb::OpType::ATTENTION, in, {y}, ModelBuilder::Opt(o));
        } else {
          auto heads = [&](int x, int64_t s, int64_t d, std::vector<int32_t> perm, const char* n) {
            int tgt = b.ConstI64(std::string(n) + "_tgt", {4}, {c.b, s, c.h, d});
            int r = b.Tensor(std::string(n) + "_r", fb::DType::F32, {c.b, s, c.h, d});
            b.Op(fb::OpType::RESHAPE, {x, tgt}, {r}, {});
            std::vector<D> td;
            const std::vector<int64_t> rd = {c.b, s, c.h, d};
            for (int32_t p : perm) td.push_back(rd[static_cast<size_t>(p)]);
            int t = b.Tensor(std::string(n) + "_t", fb::DType::F32, td);
            fb::TransposeOptionsT to;
            to.perm = perm;
            b.Op(fb::OpType::TRANSPOSE, {r}, {t}, ModelBuilder::Opt(to));
            return t;
          };
          int qt = heads(q, c.sq, c.d, {0, 2, 1, 3}, "q");
          int kt = heads(k, c.sk, c.d, {0, 2, 3, 1}, "k");
          int vt = heads(v, c.sk, c.dv, {0, 2, 1, 3}, "v");
          int s = b.Tensor("s", fb::DType::F32, {c.b, c.h, c.sq, c.sk});
          b.Op(fb::OpType::MATMUL, {qt, kt}, {s}, {});
          int p = b.Tensor("p", fb::DType::F32, {c.b, c.h, c.sq, c.sk});
          fb::ScaledSoftmaxOptionsT so;
          so.scale = scale;
          so.divide = c.divide;
          b.Op(fb::OpType::SCALED_SOFTMAX, m < 0 ? std::vector<int>{s} : std::vector<int>{s, m}, {p},
               ModelBuilder::Opt(so));
          int o = b.Tensor("o", fb::DType::F32, {c.b, c.h, c.sq, c.dv});
          b.Op(fb::OpType::MATMUL, {p, vt}, {o}, {});
          int ot = b.Tensor("ot", fb::DType::F32, {c.b, c.sq, c.h, c.dv});
          fb::TransposeOptionsT to;
          to.perm = {0, 2, 1, 3};
          b.Op(fb::OpType::TRANSPOSE, {o}, {ot}, ModelBuilder::Opt(to));
          int tgt = b.ConstI64("y_tgt", {3}, {c.b, c.sq, c.h * c.dv});
          b.Op(fb::OpType::RESHAPE, {ot, tgt}, {y}, {});
        }
        b.Output(y);
        Runner r(b, threads);
        ASSERT_TRUE(r.ok()) << r.error();
        std::vector<HostTensor> in = {F32({c.b, c.sq, c.h * c.d}, qv), F32({c.b, c.sk, c.h * c.d}, kv),
                                      F32({c.b, c.sk, c.h * c.dv}, vv)};
        if (m >= 0) in.push_back(F32(c.mask, mv));
        auto got = r.Run(in);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ((*got)[0].shape, (Shape{c.b, c.sq, c.h * c.dv}));
        const std::vector<float> out = (*got)[0].f32();
        if (want.empty() && (c.v_inf || c.q_mul != 1.f || c.k_pad_mul != 1.f)) {
          // Only the bits are compared: NaN from 0 * inf in P V (as the chain computes it), or
          // scores so large that float rounding alone exceeds the reference's tolerance.
          want = out;
          if (c.v_inf) {
            EXPECT_TRUE(std::isnan(out.back()));
          }
        } else if (want.empty()) {
          want = out;
          // The chain itself against a naive double-precision attention (the bits are checked
          // above; this guards the chain's meaning).
          for (int64_t bi = 0; bi < c.b; ++bi)
            for (int64_t h = 0; h < c.h; ++h)
              for (int64_t i = 0; i < c.sq; ++i) {
                std::vector<double> p(static_cast<size_t>(c.sk));
                double mx = -1e300, sum = 0;
                for (int64_t j = 0; j < c.sk; ++j) {
                  double dot = 0;
                  for (int64_t e = 0; e < c.d; ++e)
                    dot += double(qv[static_cast<size_t>((bi * c.sq + i) * c.h * c.d + h * c.d + e)]) *
                           kv[static_cast<size_t>((bi * c.sk + j) * c.h * c.d + h * c.d + e)];
                  dot = c.divide ? dot / scale : dot * scale;
                  if (!mv.empty()) {
                    // mask broadcast to [B, H, Sq, Sk]
                    const std::vector<int64_t> full = {c.b, c.h, c.sq, c.sk}, at = {bi, h, i, j};
                    int64_t off = 0;
                    for (size_t a = 0; a < c.mask.size(); ++a) {
                      const size_t fa = 4 - c.mask.size() + a;
                      off = off * c.mask[a] + (c.mask[a] == 1 ? 0 : at[fa]);
                    }
                    dot += mv[static_cast<size_t>(off)];
                  }
                  p[static_cast<size_t>(j)] = dot;
                  mx = std::max(mx, dot);
                }
                for (double& e : p) sum += (e = std::exp(e - mx));
                for (int64_t e = 0; e < c.dv; ++e) {
                  double acc = 0;
                  for (int64_t j = 0; j < c.sk; ++j)
                    acc += p[static_cast<size_t>(j)] / sum * vv[static_cast<size_t>((bi * c.sk + j) * c.h * c.dv + h * c.dv + e)];
                  EXPECT_NEAR(out[static_cast<size_t>((bi * c.sq + i) * c.h * c.dv + h * c.dv + e)], acc,
                              1e-4 * std::max(1.0, std::fabs(acc)));
                }
              }
        }
        ASSERT_EQ(std::memcmp(out.data(), want.data(), out.size() * 4), 0)
            << "case b " << c.b << " h " << c.h << " sq " << c.sq << " fused " << fused << " threads " << threads;
      }
    }
  }
}

TEST(Ops, AttentionBadShapesAreErrors) {
  struct C {
    std::vector<D> q, k, v, m;
    int heads;
    const char* want;
  };
  const std::vector<C> cases = {
      {{1, 4, 6}, {1, 5, 6}, {1, 5, 6}, {}, 4, "multiples of num_heads"},
      {{1, 4, 6}, {1, 5, 6}, {1, 4, 6}, {}, 2, "sequence lengths differ"},
      {{1, 4, 6}, {2, 5, 6}, {2, 5, 6}, {}, 2, "batch dims differ"},
      {{1, 4, 6}, {1, 5, 6}, {1, 5, 6}, {1, 3, 1, 5}, 2, "does not broadcast"},
      {{4, 6}, {5, 6}, {5, 6}, {}, 2, "rank 3"},
      {{1, 4, 6}, {1, 5, 6}, {1, 5, 6}, {}, 0, "num_heads must be >= 1"},
  };
  for (const C& c : cases) {
    ModelBuilder b;
    std::vector<int> in = {b.Input("q", fb::DType::F32, c.q), b.Input("k", fb::DType::F32, c.k),
                           b.Input("v", fb::DType::F32, c.v)};
    if (!c.m.empty()) in.push_back(b.Input("m", fb::DType::F32, c.m));
    int y = b.Tensor("y", fb::DType::F32, {1, 4, 6});
    fb::AttentionOptionsT o;
    o.num_heads = c.heads;
    b.Op(fb::OpType::ATTENTION, in, {y}, ModelBuilder::Opt(o));
    b.Output(y);
    Runner r(b);
    std::vector<HostTensor> vals;
    for (const auto* dims : {&c.q, &c.k, &c.v, &c.m}) {
      if (dims->empty()) continue;
      std::vector<int64_t> s;
      size_t n = 1;
      for (const D& d : *dims) {
        s.push_back(d.value);
        n *= static_cast<size_t>(d.value);
      }
      vals.push_back(F32(s, std::vector<float>(n, 0.5f)));
    }
    absl::Status st = r.ok() ? r.Run(vals).status() : absl::InvalidArgumentError(r.error());
    ASSERT_FALSE(st.ok()) << c.want;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.want));
  }
}

// Batched MatMul (attention heads) runs one product per task when there are enough of them:
// the same bits for 1-3 threads, broadcast batch dims included, and the naive product.
TEST(Ops, BatchedMatMulSameBitsForAnyThreadCount) {
  std::vector<float> av(2 * 6 * 5 * 7), bv(6 * 7 * 3);
  for (size_t i = 0; i < av.size(); ++i) av[i] = std::sin(0.3f * static_cast<float>(i));
  for (size_t i = 0; i < bv.size(); ++i) bv[i] = std::cos(0.7f * static_cast<float>(i));
  std::vector<float> first;
  for (int threads = 1; threads <= 3; ++threads) {
    ModelBuilder b;
    int a = b.Input("a", fb::DType::F32, {2, 6, 5, 7});
    int bb = b.Input("b", fb::DType::F32, {6, 7, 3});
    int y = b.Tensor("y", fb::DType::F32, {2, 6, 5, 3});
    b.Op(fb::OpType::MATMUL, {a, bb}, {y}, {});
    b.Output(y);
    Runner r(b, threads);
    auto got = r.Run({F32({2, 6, 5, 7}, av), F32({6, 7, 3}, bv)});
    ASSERT_TRUE(got.ok()) << got.status();
    const std::vector<float> v = (*got)[0].f32();
    if (first.empty()) {
      first = v;
      for (int n = 0; n < 2; ++n)
        for (int h = 0; h < 6; ++h)
          for (int i = 0; i < 5; ++i)
            for (int j = 0; j < 3; ++j) {
              double acc = 0;
              for (int k = 0; k < 7; ++k) acc += av[((n * 6 + h) * 5 + i) * 7 + k] * bv[(h * 7 + k) * 3 + j];
              ASSERT_NEAR(v[static_cast<size_t>(((n * 6 + h) * 5 + i) * 3 + j)], acc, 1e-5);
            }
    }
    ASSERT_EQ(std::memcmp(v.data(), first.data(), v.size() * 4), 0) << threads << " threads";
  }
}

// Transpose splits output rows over the pool: every permutation kind (last axis kept or moved)
// equals the element-by-element definition for 1-3 threads.
TEST(Ops, TransposeThreadedMatchesDefinition) {
  const std::vector<int64_t> in_shape = {3, 64, 40, 9};
  std::vector<float> in(3 * 64 * 40 * 9);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i);
  for (const std::vector<int32_t>& perm : {std::vector<int32_t>{0, 2, 1, 3}, std::vector<int32_t>{0, 2, 3, 1},
                                           std::vector<int32_t>{3, 2, 1, 0}}) {
    std::vector<int64_t> out_shape(4);
    for (size_t i = 0; i < 4; ++i) out_shape[i] = in_shape[static_cast<size_t>(perm[i])];
    std::vector<float> want(in.size());
    int64_t o = 0;
    for (int64_t a = 0; a < out_shape[0]; ++a)
      for (int64_t b2 = 0; b2 < out_shape[1]; ++b2)
        for (int64_t c = 0; c < out_shape[2]; ++c)
          for (int64_t d = 0; d < out_shape[3]; ++d) {
            int64_t src[4];
            const int64_t oi[4] = {a, b2, c, d};
            for (size_t i = 0; i < 4; ++i) src[perm[i]] = oi[i];
            want[static_cast<size_t>(o++)] = in[static_cast<size_t>(((src[0] * 64 + src[1]) * 40 + src[2]) * 9 + src[3])];
          }
    for (int threads = 1; threads <= 3; ++threads) {
      ModelBuilder b;
      int x = b.Input("x", fb::DType::F32, {3, 64, 40, 9});
      int y = b.Tensor("y", fb::DType::F32, {out_shape[0], out_shape[1], out_shape[2], out_shape[3]});
      fb::TransposeOptionsT to;
      to.perm = perm;
      b.Op(fb::OpType::TRANSPOSE, {x}, {y}, ModelBuilder::Opt(to));
      b.Output(y);
      Runner r(b, threads);
      auto got = r.Run({F32(in_shape, in)});
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ((*got)[0].f32(), want) << "perm " << perm[0] << perm[1] << perm[2] << perm[3] << " threads " << threads;
    }
  }
}

// Rows long enough for the vectorized path (16 per step) plus tails, a large mean over a small
// spread (cancellation), no bias: against a double-precision two-pass reference.
TEST(Ops, LayerNormLongRows) {
  for (int n : {7, 16, 37, 384}) {
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, {4, n});
    std::vector<float> gv(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) gv[static_cast<size_t>(i)] = 0.5f + 0.01f * i;
    int g = b.ConstF32("g", {n}, gv);
    int y = b.Tensor("y", fb::DType::F32, {4, n});
    fb::LayerNormOptionsT o;
    o.axis = -1;
    o.epsilon = 1e-5f;
    b.Op(fb::OpType::LAYER_NORM, {x, g}, {y}, ModelBuilder::Opt(o));
    b.Output(y);
    Runner r(b);
    std::vector<float> in(static_cast<size_t>(4 * n));
    for (int i = 0; i < n; ++i) {
      in[static_cast<size_t>(i)] = std::sin(0.7f * i) * 3.0f;
      in[static_cast<size_t>(n + i)] = 1000.0f + 0.01f * static_cast<float>((i * 37) % 11);
      in[static_cast<size_t>(2 * n + i)] = i % 2 ? -1e4f : 1e4f;
      // exponents 2^40 apart: a double sum that depends on the order of its terms
      in[static_cast<size_t>(3 * n + i)] = std::sin(1.3f * i) * (i % 3 == 0 ? 1e12f : 1.0f);
    }
    auto out = r.Run({F32({4, n}, in)});
    ASSERT_TRUE(out.ok()) << out.status();
    const std::vector<float> got = (*out)[0].f32();
    // The AVX2 and AVX-512 rows give the same bits (where this CPU runs them).
    const kernels::Isa saved = kernels::ActiveIsa();
    for (kernels::Isa isa : {kernels::Isa::kAvx2, kernels::Isa::kAvx512Vnni}) {
      if (!kernels::ForceIsa(isa)) continue;
      auto again = r.Run({F32({4, n}, in)});
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(std::memcmp((*again)[0].f32().data(), got.data(), got.size() * 4), 0) << kernels::IsaName(isa) << " n " << n;
    }
    kernels::ForceIsa(saved);
    for (int row = 0; row < 4; ++row) {
      double mean = 0, var = 0;
      for (int i = 0; i < n; ++i) mean += in[static_cast<size_t>(row * n + i)];
      mean /= n;
      for (int i = 0; i < n; ++i) {
        const double d = in[static_cast<size_t>(row * n + i)] - mean;
        var += d * d;
      }
      var /= n;
      for (int i = 0; i < n; ++i) {
        const double want = (in[static_cast<size_t>(row * n + i)] - mean) / std::sqrt(var + 1e-5) * gv[static_cast<size_t>(i)];
        EXPECT_NEAR(got[static_cast<size_t>(row * n + i)], want, 1e-5 * std::fabs(want) + 1e-5)
            << "n " << n << " row " << row << " i " << i;
      }
    }
  }
}

// LAYER_NORM with a residual (input 3, the converter's Add -> LayerNormalization fusion) gives
// the bits of ADD then LAYER_NORM: same shapes (added in the first pass over each row, AVX2 /
// AVX-512 and row lengths with tails) and numpy broadcasting either way (added into the output
// first; the output takes the broadcast shape); with and without bias. A non-float residual is
// an error naming it.
TEST(Ops, LayerNormResidualEqualsAddThenLayerNorm) {
  struct Case {
    std::vector<int64_t> xs, rs, ys;
    bool bias;
  };
  const std::vector<Case> cases = {{{4, 7}, {4, 7}, {4, 7}, true},      {{4, 16}, {4, 16}, {4, 16}, false},
                                   {{4, 37}, {4, 37}, {4, 37}, true},   {{3, 384}, {3, 384}, {3, 384}, true},
                                   {{4, 37}, {37}, {4, 37}, true},      {{4, 37}, {4, 1}, {4, 37}, false},
                                   {{1, 37}, {4, 37}, {4, 37}, true}};
  auto values = [](const std::vector<int64_t>& shape, float phase) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = std::sin(phase * static_cast<float>(i + 1)) * (i % 5 == 0 ? 40.0f : 2.0f);
    return v;
  };
  for (const Case& c : cases) {
    const int64_t n = c.ys.back();
    std::vector<float> gv(static_cast<size_t>(n)), bv(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      gv[static_cast<size_t>(i)] = 0.5f + 0.01f * static_cast<float>(i);
      bv[static_cast<size_t>(i)] = 0.1f - 0.003f * static_cast<float>(i);
    }
    fb::LayerNormOptionsT o;
    o.axis = -1;
    o.epsilon = 1e-5f;
    // Chain: ADD then LAYER_NORM. Fused: LAYER_NORM(x, g, bias or none, r).
    ModelBuilder chain, fused;
    auto dims = [](const std::vector<int64_t>& v) { return std::vector<D>(v.begin(), v.end()); };
    for (ModelBuilder* b : {&chain, &fused}) {
      int x = b->Input("x", fb::DType::F32, dims(c.xs));
      int r = b->Input("r", fb::DType::F32, dims(c.rs));
      int g = b->ConstF32("g", {n}, gv);
      int bb = c.bias ? b->ConstF32("b", {n}, bv) : -1;
      int y = b->Tensor("y", fb::DType::F32, dims(c.ys));
      if (b == &chain) {
        int s = b->Tensor("s", fb::DType::F32, dims(c.ys));
        b->Op(fb::OpType::ADD, {x, r}, {s}, ModelBuilder::Opt(fb::BinaryOptionsT{}));
        std::vector<int> in = {s, g};
        if (c.bias) in.push_back(bb);
        b->Op(fb::OpType::LAYER_NORM, in, {y}, ModelBuilder::Opt(o));
      } else {
        b->Op(fb::OpType::LAYER_NORM, {x, g, bb, r}, {y}, ModelBuilder::Opt(o));
      }
      b->Output(y);
    }
    Runner rc(chain), rf(fused);
    const auto xv = values(c.xs, 0.37f), rv = values(c.rs, 0.53f);
    auto want = rc.Run({F32(c.xs, xv), F32(c.rs, rv)});
    ASSERT_TRUE(want.ok()) << want.status();
    const kernels::Isa saved = kernels::ActiveIsa();
    for (kernels::Isa isa : {saved, kernels::Isa::kAvx2, kernels::Isa::kAvx512Vnni}) {
      if (!kernels::ForceIsa(isa)) continue;
      auto got = rf.Run({F32(c.xs, xv), F32(c.rs, rv)});
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ((*got)[0].shape, (*want)[0].shape);
      const std::vector<float> a = (*want)[0].f32(), g = (*got)[0].f32();
      ASSERT_EQ(a.size(), g.size());
      EXPECT_EQ(std::memcmp(a.data(), g.data(), a.size() * 4), 0)
          << kernels::IsaName(isa) << " x " << ShapeString(c.xs) << " r " << ShapeString(c.rs);
    }
    kernels::ForceIsa(saved);
  }
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 4});
  int r = b.ConstI64("r", {2, 4}, std::vector<int64_t>(8, 1));
  int g = b.ConstF32("g", {4}, {1, 1, 1, 1});
  int y = b.Tensor("y", fb::DType::F32, {2, 4});
  fb::LayerNormOptionsT o;
  b.Op(fb::OpType::LAYER_NORM, {x, g, -1, r}, {y}, ModelBuilder::Opt(o), "ln");
  b.Output(y);
  Runner bad(b);
  auto out = bad.Run({F32({2, 4}, std::vector<float>(8, 1.0f))});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("'ln' (LAYER_NORM)"));
}

// Reshape whose target comes from Shape -> Gather -> Concat: folded at plan time, dynamic seq.
TEST(Ops, ReshapeFromShapeSubgraphWithDynamicDims) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1, "seq", 4});
  int s = b.Tensor("s", fb::DType::I64, {3});
  int i1 = b.ConstI64("i1", {1}, {1});
  int seq = b.Tensor("seq_len", fb::DType::I64, {1});
  int tail = b.ConstI64("tail", {2}, {2, 2});
  int target = b.Tensor("target", fb::DType::I64, {3});
  int y = b.Tensor("y", fb::DType::F32, {"seq", 2, 2});
  b.Op(fb::OpType::SHAPE, {x}, {s}, {});
  fb::AxisOptionsT ax;
  ax.axis = 0;
  b.Op(fb::OpType::GATHER, {s, i1}, {seq}, ModelBuilder::Opt(ax));
  b.Op(fb::OpType::CONCAT, {seq, tail}, {target}, ModelBuilder::Opt(ax));
  b.Op(fb::OpType::RESHAPE, {x, target}, {y}, {});
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  for (int64_t len : {1, 3, 5}) {
    std::vector<float> v(static_cast<size_t>(len * 4));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    auto out = r.Run({F32({1, len, 4}, v)});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape, (Shape{len, 2, 2}));
    EXPECT_EQ((*out)[0].f32(), v);
  }
}

TEST(Ops, TransposeConcatGatherSlice) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 3});
  int t = b.Tensor("t", fb::DType::F32, {3, 2});
  int c = b.Tensor("c", fb::DType::F32, {3, 4});
  int idx = b.ConstI64("idx", {2}, {-1, 0});
  int g = b.Tensor("g", fb::DType::F32, {2, 4});
  int st = b.ConstI64("st", {1}, {-1});
  int en = b.ConstI64("en", {1}, {INT64_MIN});
  int axes = b.ConstI64("axes", {1}, {1});
  int steps = b.ConstI64("steps", {1}, {-2});
  int s = b.Tensor("s", fb::DType::F32, {2, 2});
  fb::TransposeOptionsT to;
  to.perm = {1, 0};
  b.Op(fb::OpType::TRANSPOSE, {x}, {t}, ModelBuilder::Opt(to));
  fb::AxisOptionsT a1;
  a1.axis = 1;
  b.Op(fb::OpType::CONCAT, {t, t}, {c}, ModelBuilder::Opt(a1));
  fb::AxisOptionsT a0;
  b.Op(fb::OpType::GATHER, {c, idx}, {g}, ModelBuilder::Opt(a0));
  b.Op(fb::OpType::SLICE, {g, st, en, axes, steps}, {s}, {});
  b.Output(s);
  b.Output(g);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_TRUE(out.ok()) << out.status();
  // t = [[1,4],[2,5],[3,6]]; c = [[1,4,1,4],[2,5,2,5],[3,6,3,6]]; g = rows 2,0
  EXPECT_THAT((*out)[1].f32(), ElementsAre(3, 6, 3, 6, 1, 4, 1, 4));
  // slice columns 3, 1 (step -2 from the end)
  EXPECT_EQ((*out)[0].shape, (Shape{2, 2}));
  EXPECT_THAT((*out)[0].f32(), ElementsAre(6, 6, 4, 4));
}

TEST(Ops, GatherIndexOutOfRangeIsAnError) {
  ModelBuilder b;
  int x = b.ConstF32("x", {3}, {1, 2, 3});
  int i = b.Input("i", fb::DType::I64, {1});
  int y = b.Tensor("y", fb::DType::F32, {1});
  b.Op(fb::OpType::GATHER, {x, i}, {y}, ModelBuilder::Opt(fb::AxisOptionsT{}), "g");
  b.Output(y);
  Runner r(b);
  auto out = r.Run({I64({1}, {7})});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("index 7 out of range"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("'g' (GATHER)"));
}

TEST(Ops, SplitSqueezeUnsqueezeExpandRangeCast) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1, 4});
  int p0 = b.Tensor("p0", fb::DType::F32, {1, 1});
  int p1 = b.Tensor("p1", fb::DType::F32, {1, 3});
  int split = b.ConstI64("split", {2}, {1, 3});
  fb::SplitOptionsT so;
  so.axis = 1;
  b.Op(fb::OpType::SPLIT, {x, split}, {p0, p1}, ModelBuilder::Opt(so));
  int sq = b.Tensor("sq", fb::DType::F32, {3});
  b.Op(fb::OpType::SQUEEZE, {p1}, {sq}, {});
  int ax = b.ConstI64("ax", {1}, {1});
  int us = b.Tensor("us", fb::DType::F32, {3, 1});
  b.Op(fb::OpType::UNSQUEEZE, {sq, ax}, {us}, {});
  int shp = b.ConstI64("shp", {2}, {3, 2});
  int ex = b.Tensor("ex", fb::DType::F32, {3, 2});
  b.Op(fb::OpType::EXPAND, {us, shp}, {ex}, {});
  int r0 = b.ConstI64("r0", {}, {0});
  int r1 = b.ConstI64("r1", {}, {5});
  int r2 = b.ConstI64("r2", {}, {2});
  int rg = b.Tensor("rg", fb::DType::I64, {3});
  b.Op(fb::OpType::RANGE, {r0, r1, r2}, {rg}, {});
  int cf = b.Tensor("cf", fb::DType::F32, {3});
  fb::CastOptionsT co;
  co.to = fb::DType::F32;
  b.Op(fb::OpType::CAST, {rg}, {cf}, ModelBuilder::Opt(co));
  b.Output(ex);
  b.Output(cf);
  b.Output(p0);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({1, 4}, {1, 2, 3, 4})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].f32(), ElementsAre(2, 2, 3, 3, 4, 4));
  EXPECT_THAT((*out)[1].f32(), ElementsAre(0, 2, 4));
  EXPECT_THAT((*out)[2].f32(), ElementsAre(1));
}

}  // namespace
}  // namespace edgert
