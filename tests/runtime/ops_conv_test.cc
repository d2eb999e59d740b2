// Conv (f32 and i8 per-channel weights), ConvTranspose, MaxPool, AveragePool and the global
// pools against plain reference loops, over sweeps of groups, strides, dilations and padding;
// plus the errors malformed attributes must give.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model_builder.h"
#include "ops_test_util.h"

namespace edgert {
namespace {

using test::D;
using test::ModelBuilder;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

std::vector<float> Random(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<D> Dims(const Shape& s) { return std::vector<D>(s.begin(), s.end()); }

// Builds and runs a one-op model; returns the error message (either from planning or running).
std::string ErrorOf(ModelBuilder& b, const std::vector<HostTensor>& inputs) {
  Runner r(b);
  if (!r.ok()) return r.error();
  auto out = r.Run(inputs);
  return out.ok() ? std::string() : std::string(out.status().message());
}

struct ConvCase {
  Shape x;       // [N, C, spatial...]
  int64_t m;     // output channels
  Shape k;       // kernel spatial dims
  int group = 1;
  std::vector<int> strides = {}, dilations = {}, pads = {};  // empty = defaults
  int auto_pad = 0;
  bool bias = true;
};

// Reference: direct N-D (1..3) convolution with explicit begin pads (computed for auto_pad).
std::vector<float> RefConv(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& b, Shape* out_shape) {
  const int nsp = static_cast<int>(c.x.size()) - 2;
  std::vector<int64_t> in(3, 1), k(3, 1), st(3, 1), dl(3, 1), pb(3, 0), pe(3, 0), out(3, 1);
  for (int i = 0; i < nsp; ++i) {
    const int j = 3 - nsp + i;
    in[j] = c.x[2 + i];
    k[j] = c.k[i];
    st[j] = c.strides.empty() ? 1 : c.strides[i];
    dl[j] = c.dilations.empty() ? 1 : c.dilations[i];
    const int64_t ek = (k[j] - 1) * dl[j] + 1;
    if (c.auto_pad == 1 || c.auto_pad == 2) {
      out[j] = (in[j] + st[j] - 1) / st[j];
      const int64_t total = std::max<int64_t>(0, (out[j] - 1) * st[j] + ek - in[j]);
      pb[j] = c.auto_pad == 1 ? total / 2 : total - total / 2;
    } else {
      if (c.auto_pad == 0 && !c.pads.empty()) {
        pb[j] = c.pads[i];
        pe[j] = c.pads[i + nsp];
      }
      out[j] = (in[j] + pb[j] + pe[j] - ek) / st[j] + 1;
    }
  }
  const int64_t n = c.x[0], ch = c.x[1], cg = ch / c.group, mg = c.m / c.group;
  *out_shape = {n, c.m};
  for (int i = 3 - nsp; i < 3; ++i) out_shape->push_back(out[i]);
  std::vector<float> y(static_cast<size_t>(n * c.m * out[0] * out[1] * out[2]));
  size_t yi = 0;
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oc = 0; oc < c.m; ++oc)
      for (int64_t od = 0; od < out[0]; ++od)
        for (int64_t oh = 0; oh < out[1]; ++oh)
          for (int64_t ow = 0; ow < out[2]; ++ow) {
            double acc = b.empty() ? 0 : b[static_cast<size_t>(oc)];
            const int64_t g = oc / mg;
            for (int64_t ic = 0; ic < cg; ++ic)
              for (int64_t kd = 0; kd < k[0]; ++kd)
                for (int64_t kh = 0; kh < k[1]; ++kh)
                  for (int64_t kw = 0; kw < k[2]; ++kw) {
                    const int64_t id = od * st[0] - pb[0] + kd * dl[0];
                    const int64_t ih = oh * st[1] - pb[1] + kh * dl[1];
                    const int64_t iw = ow * st[2] - pb[2] + kw * dl[2];
                    if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || iw < 0 || iw >= in[2]) continue;
                    const float xv = x[static_cast<size_t>((((b0 * ch + g * cg + ic) * in[0] + id) * in[1] + ih) * in[2] + iw)];
                    const float wv = w[static_cast<size_t>((((oc * cg + ic) * k[0] + kd) * k[1] + kh) * k[2] + kw)];
                    acc += static_cast<double>(xv) * wv;
                  }
            y[yi++] = static_cast<float>(acc);
          }
  return y;
}

fb::ConvOptionsT ConvOpts(const ConvCase& c) {
  fb::ConvOptionsT o;
  o.group = c.group;
  o.strides = c.strides;
  o.dilations = c.dilations;
  o.pads = c.pads;
  o.auto_pad = static_cast<int8_t>(c.auto_pad);
  return o;
}

Shape WeightShape(const ConvCase& c) {
  Shape w = {c.m, c.x[1] / c.group};
  w.insert(w.end(), c.k.begin(), c.k.end());
  return w;
}

class ConvF32 : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvF32, MatchesReference) {
  const ConvCase& c = GetParam();
  const Shape ws = WeightShape(c);
  const auto x = Random(static_cast<size_t>(NumElementsUnchecked(c.x)), 1);
  const auto w = Random(static_cast<size_t>(NumElementsUnchecked(ws)), 2);
  const auto bias = c.bias ? Random(static_cast<size_t>(c.m), 3) : std::vector<float>();
  Shape want_shape;
  const auto want = RefConv(c, x, w, bias, &want_shape);
  for (bool weights_as_input : {false, true}) {
    ModelBuilder b;
    int xi = b.Input("x", fb::DType::F32, Dims(c.x));
    int wi = weights_as_input ? b.Input("w", fb::DType::F32, Dims(ws)) : b.ConstF32("w", Dims(ws), w);
    std::vector<int> ins = {xi, wi};
    if (c.bias) ins.push_back(b.ConstF32("b", {c.m}, bias));
    int y = b.Tensor("y", fb::DType::F32, Dims(want_shape));
    b.Op(fb::OpType::CONV, ins, {y}, ModelBuilder::Opt(ConvOpts(c)));
    b.Output(y);
    Runner r(b, 2);
    ASSERT_TRUE(r.ok()) << r.error();
    std::vector<HostTensor> in = {F32(c.x, x)};
    if (weights_as_input) in.push_back(F32(ws, w));
    auto out = r.Run(in);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape, want_shape);
    EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(1e-4), want)) << "weights_as_input " << weights_as_input;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sweep, ConvF32,
    ::testing::Values(
        ConvCase{{1, 3, 7, 7}, 4, {3, 3}},                                          // plain 2-D
        ConvCase{{2, 3, 6, 5}, 5, {3, 2}, 1, {2, 1}, {}, {1, 0, 2, 1}},             // strides, asymmetric pads
        ConvCase{{1, 2, 9, 9}, 3, {3, 3}, 1, {}, {2, 2}, {2, 2, 2, 2}},             // dilation
        ConvCase{{1, 4, 5, 5}, 6, {3, 3}, 2, {}, {}, {1, 1, 1, 1}},                 // groups
        ConvCase{{1, 4, 8, 8}, 4, {3, 3}, 4, {2, 2}, {}, {1, 1, 1, 1}},             // depthwise
        ConvCase{{1, 3, 8, 8}, 6, {5, 5}, 3, {1, 1}, {2, 2}, {4, 4, 4, 4}},         // depthwise x2, dilated
        ConvCase{{1, 8, 6, 6}, 5, {1, 1}},                                          // pointwise (no im2col)
        ConvCase{{1, 3, 7, 6}, 2, {3, 3}, 1, {2, 2}, {}, {}, 1},                    // SAME_UPPER
        ConvCase{{1, 3, 7, 6}, 2, {4, 4}, 1, {2, 3}, {}, {}, 2},                    // SAME_LOWER
        ConvCase{{1, 3, 7, 6}, 2, {3, 3}, 1, {2, 2}, {}, {}, 3, false},             // VALID, no bias
        ConvCase{{2, 3, 11}, 4, {3}, 1, {2}, {2}, {1, 2}},                          // 1-D
        ConvCase{{1, 2, 4, 5, 6}, 3, {2, 3, 3}, 1, {1, 2, 1}, {}, {0, 1, 1, 1, 0, 1}}  // 3-D
        ));

// An EfficientNet-like chain: 3x3/2 stem -> Relu6 -> depthwise 3x3 -> Relu6 -> two 1x1 convs
// -> Add -> 1x1 -> graph output. The session keeps the inner tensors channels-last; the result
// must match the all-NCHW plan (EDGERT_CHANNELS_LAST=0) to rounding, and be bitwise identical
// across thread counts.
int AddConv(ModelBuilder& b, const std::string& name, int x, bool i8, int64_t m, int64_t cg, int64_t k, int stride,
            int group, fb::Activation act, Shape out_shape, uint32_t seed) {
  const Shape ws = {m, cg, k, k};
  const auto wf = Random(static_cast<size_t>(NumElementsUnchecked(ws)), seed, -0.5f, 0.5f);
  int wi;
  if (i8) {
    const size_t per = wf.size() / static_cast<size_t>(m);
    std::vector<int8_t> wq(wf.size());
    std::vector<float> scales(static_cast<size_t>(m));
    for (size_t o = 0; o < scales.size(); ++o) {
      float mx = 0;
      for (size_t i = 0; i < per; ++i) mx = std::max(mx, std::fabs(wf[o * per + i]));
      scales[o] = mx / 127.f;
      for (size_t i = 0; i < per; ++i) wq[o * per + i] = static_cast<int8_t>(std::lrint(wf[o * per + i] / scales[o]));
    }
    wi = b.Const(name + "_w", fb::DType::I8, Dims(ws), wq.data(), wq.size());
    auto q = std::make_unique<fb::QuantizationT>();
    q->scheme = fb::QuantScheme::PER_CHANNEL;
    q->axis = 0;
    q->scales = scales;
    b.tensor(wi).quant = std::move(q);
  } else {
    wi = b.ConstF32(name + "_w", Dims(ws), wf);
  }
  const int bi = b.ConstF32(name + "_b", {m}, Random(static_cast<size_t>(m), seed + 100));
  const int y = b.Tensor(name, fb::DType::F32, Dims(out_shape));
  fb::ConvOptionsT o;
  o.group = group;
  o.strides = {stride, stride};
  const int p = static_cast<int>(k / 2);
  o.pads = {p, p, p, p};
  o.fused_activation = act;
  b.Op(fb::OpType::CONV, {x, wi, bi}, {y}, ModelBuilder::Opt(o));
  return y;
}

class ConvChannelsLast : public ::testing::TestWithParam<bool> {};

TEST_P(ConvChannelsLast, ChainMatchesNchwAndIsDeterministic) {
  const bool i8 = GetParam();
  const auto relu6 = fb::Activation::RELU6, none = fb::Activation::NONE;
  ModelBuilder b;
  const int x = b.Input("x", fb::DType::F32, {1, 5, 19, 17});
  const int s = AddConv(b, "stem", x, i8, 40, 5, 3, 2, 1, relu6, {1, 40, 10, 9}, 1);
  const int e = AddConv(b, "expand", s, i8, 72, 40, 1, 1, 1, relu6, {1, 72, 10, 9}, 2);
  const int d = AddConv(b, "dw", e, i8, 72, 1, 3, 1, 72, relu6, {1, 72, 10, 9}, 3);
  const int p1 = AddConv(b, "proj1", d, i8, 24, 72, 1, 1, 1, none, {1, 24, 10, 9}, 4);
  const int p2 = AddConv(b, "proj2", d, i8, 24, 72, 1, 1, 1, none, {1, 24, 10, 9}, 5);
  const int sum = b.Tensor("sum", fb::DType::F32, {1, 24, 10, 9});
  b.Op(fb::OpType::ADD, {p1, p2}, {sum});
  const int d2 = AddConv(b, "dw2", sum, i8, 24, 1, 5, 2, 24, relu6, {1, 24, 5, 5}, 6);
  const int out = AddConv(b, "head", d2, i8, 7, 24, 1, 1, 1, none, {1, 7, 5, 5}, 7);
  b.Output(out);
  const auto in = F32({1, 5, 19, 17}, Random(5 * 19 * 17, 9));
  setenv("EDGERT_CHANNELS_LAST", "0", 1);
  Runner nchw(b, 1);
  ASSERT_TRUE(nchw.ok()) << nchw.error();
  auto want = nchw.Run({in});
  unsetenv("EDGERT_CHANNELS_LAST");
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(nchw.session()->num_channels_last(), 0u);
  std::vector<float> first;
  for (int threads : {1, 2, 3}) {
    Runner r(b, threads);
    ASSERT_TRUE(r.ok()) << r.error();
    auto got = r.Run({in});
    ASSERT_TRUE(got.ok()) << got.status();
    // stem, expand, dw, proj1, proj2, sum, dw2 (F32 and I8 alike: group-1 convs of both run on
    // packed weights and write [positions, M]); head is the graph output.
    EXPECT_EQ(r.session()->num_channels_last(), 7u);
    EXPECT_EQ((*got)[0].shape, (*want)[0].shape);
    EXPECT_THAT((*got)[0].f32(), Pointwise(FloatNear(1e-4f), (*want)[0].f32()));
    if (first.empty()) first = (*got)[0].f32();
    EXPECT_EQ((*got)[0].f32(), first) << "threads " << threads;
  }
}

INSTANTIATE_TEST_SUITE_P(Weights, ConvChannelsLast, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "I8" : "F32"; });

// Fused Conv chains (ops/op.h ConvChain): [1x1 expand ->] depthwise [-> 1x1 project], run as one
// parallel region on bands and L2-sized chunks of rows, must give exactly the bits of the ops
// run one by one, for any thread count. A 3x3 stem reads the NCHW input; a 1x1 tail (the graph
// output, NCHW) reads the chain's output. Without the 1x1 expand, the stem itself is the expand
// stage (im2col rows of the NCHW input), unless an Add sits between it and the depthwise.
struct ChainCase {
  const char* name;
  int64_t n, c, h, w;  // stem output
  int64_t ce, k;       // depthwise channels and kernel
  int stride;
  bool expand, project;
  bool add = false;  // without expand: stem -> Add(s, s) -> depthwise, so no expand stage
};

class ConvChainTest : public ::testing::TestWithParam<std::tuple<ChainCase, bool>> {};

TEST_P(ConvChainTest, BitsEqualUnfusedAtAnyThreadCount) {
  const ChainCase& cc = std::get<0>(GetParam());
  const bool i8 = std::get<1>(GetParam());
  const auto relu6 = fb::Activation::RELU6, none = fb::Activation::NONE;
  const int64_t p = cc.k / 2, oh = (cc.h + 2 * p - cc.k) / cc.stride + 1, ow = (cc.w + 2 * p - cc.k) / cc.stride + 1;
  ModelBuilder b;
  const int x = b.Input("x", fb::DType::F32, {cc.n, 3, cc.h, cc.w});
  const int s = AddConv(b, "stem", x, i8, cc.c, 3, 3, 1, 1, relu6, {cc.n, cc.c, cc.h, cc.w}, 11);
  int e = s;
  if (cc.expand) {
    e = AddConv(b, "expand", s, i8, cc.ce, cc.c, 1, 1, 1, relu6, {cc.n, cc.ce, cc.h, cc.w}, 12);
  } else if (cc.add) {
    e = b.Tensor("twice", fb::DType::F32, {cc.n, cc.c, cc.h, cc.w});
    b.Op(fb::OpType::ADD, {s, s}, {e});
  }
  const int d = AddConv(b, "dw", e, i8, cc.ce, 1, cc.k, cc.stride, static_cast<int>(cc.ce), relu6,
                        {cc.n, cc.ce, oh, ow}, 13);
  int y;
  if (cc.project) {
    y = AddConv(b, "project", d, i8, 24, cc.ce, 1, 1, 1, none, {cc.n, 24, oh, ow}, 14);
  } else {  // the depthwise output read twice: no project stage
    const int t1 = AddConv(b, "t1", d, i8, 24, cc.ce, 1, 1, 1, none, {cc.n, 24, oh, ow}, 15);
    const int t2 = AddConv(b, "t2", d, i8, 24, cc.ce, 1, 1, 1, none, {cc.n, 24, oh, ow}, 16);
    y = b.Tensor("sum", fb::DType::F32, {cc.n, 24, oh, ow});
    b.Op(fb::OpType::ADD, {t1, t2}, {y});
  }
  const int out = AddConv(b, "tail", y, i8, 5, 24, 1, 1, 1, none, {cc.n, 5, oh, ow}, 17);
  b.Output(out);
  const auto in = F32({cc.n, 3, cc.h, cc.w}, Random(static_cast<size_t>(cc.n * 3 * cc.h * cc.w), 19));
  SessionOptions off;
  off.fuse_conv_chains = false;
  Runner plain(b, 1, off);
  ASSERT_TRUE(plain.ok()) << plain.error();
  auto want = plain.Run({in});
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(plain.session()->num_conv_chains(), 0u);
  for (int threads : {1, 2, 3}) {
    Runner r(b, threads);
    ASSERT_TRUE(r.ok()) << r.error();
    auto got = r.Run({in});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(r.session()->num_conv_chains(), 1u) << "threads " << threads;
    // One thread: the whole chain. More: the expand stage may stay apart when bands would
    // recompute too many of its rows (kChainMaxHalo).
    const size_t full = 1 + (cc.add ? 0 : 1) + (cc.project ? 1 : 0);
    if (threads == 1) {
      EXPECT_EQ(r.session()->num_chained_ops(), full);
    }
    EXPECT_EQ((*got)[0].shape, (*want)[0].shape);
    EXPECT_EQ((*got)[0].f32(), (*want)[0].f32()) << "threads " << threads;
    // A second run on the same plan (workspaces reused) gives the same bits.
    auto again = r.Run({in});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)[0].f32(), (*want)[0].f32()) << "threads " << threads;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvChainTest,
    ::testing::Combine(::testing::Values(ChainCase{"expand3x3", 1, 16, 40, 36, 96, 3, 1, true, true},
                                         ChainCase{"expand5x5s2", 1, 16, 37, 29, 64, 5, 2, true, true},
                                         ChainCase{"batch2s2", 2, 8, 20, 18, 48, 3, 2, true, true},
                                         ChainCase{"stem", 1, 32, 30, 30, 32, 3, 1, false, true},
                                         ChainCase{"stems2", 2, 16, 23, 30, 16, 5, 2, false, true},
                                         ChainCase{"noexpand", 1, 32, 30, 30, 32, 3, 1, false, true, true},
                                         ChainCase{"noproject", 1, 16, 40, 20, 64, 3, 1, true, false},
                                         // Rows of 64-96 KB: several chunks per band, rows kept
                                         // between chunks (stride 1 and 2).
                                         ChainCase{"chunks3x3", 1, 24, 24, 64, 384, 3, 1, true, true},
                                         ChainCase{"chunks5x5s2", 1, 16, 33, 64, 256, 5, 2, true, true}),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<ChainCase, bool>>& i) {
      return std::string(std::get<0>(i.param).name) + (std::get<1>(i.param) ? "_I8" : "_F32");
    });

TEST(Conv, FusedRelu6) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1, 1, 3, 3});
  int w = b.ConstF32("w", {1, 1, 1, 1}, {10});
  int y = b.Tensor("y", fb::DType::F32, {1, 1, 3, 3});
  fb::ConvOptionsT o;
  o.fused_activation = fb::Activation::RELU6;
  b.Op(fb::OpType::CONV, {x, w}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({1, 1, 3, 3}, {-1, 0, 0.1f, 0.3f, 0.5f, 0.6f, 0.7f, 1, 2})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(1e-6), std::vector<float>{0, 0, 1, 3, 5, 6, 6, 6, 6}));
}

// I8 weights, symmetric per output channel: results match the float conv with the dequantized
// weights up to the run-time activation quantization (8-bit per row).
class ConvI8 : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvI8, MatchesDequantizedReference) {
  const ConvCase& c = GetParam();
  const Shape ws = WeightShape(c);
  const auto x = Random(static_cast<size_t>(NumElementsUnchecked(c.x)), 4);
  const auto wf = Random(static_cast<size_t>(NumElementsUnchecked(ws)), 5);
  const auto bias = Random(static_cast<size_t>(c.m), 6);
  const size_t per = wf.size() / static_cast<size_t>(c.m);
  std::vector<int8_t> wq(wf.size());
  std::vector<float> scales(static_cast<size_t>(c.m)), wd(wf.size());
  for (size_t o = 0; o < scales.size(); ++o) {
    float mx = 0;
    for (size_t i = 0; i < per; ++i) mx = std::max(mx, std::fabs(wf[o * per + i]));
    scales[o] = mx / 127.f;
    for (size_t i = 0; i < per; ++i) {
      wq[o * per + i] = static_cast<int8_t>(std::lrint(wf[o * per + i] / scales[o]));
      wd[o * per + i] = wq[o * per + i] * scales[o];
    }
  }
  Shape want_shape;
  const auto want = RefConv(c, x, wd, bias, &want_shape);
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(c.x));
  int wi = b.Const("w", fb::DType::I8, Dims(ws), wq.data(), wq.size());
  auto q = std::make_unique<fb::QuantizationT>();
  q->scheme = fb::QuantScheme::PER_CHANNEL;
  q->axis = 0;
  q->scales = scales;
  b.tensor(wi).quant = std::move(q);
  int bi = b.ConstF32("b", {c.m}, bias);
  int y = b.Tensor("y", fb::DType::F32, Dims(want_shape));
  b.Op(fb::OpType::CONV, {xi, wi, bi}, {y}, ModelBuilder::Opt(ConvOpts(c)));
  b.Output(y);
  for (int threads : {1, 2}) {
    Runner r(b, threads);
    ASSERT_TRUE(r.ok()) << r.error();
    auto out = r.Run({F32(c.x, x)});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape, want_shape);
    // Activations in [-1, 1] quantized to 8 bits: error per product <= 1/254, summed over k.
    const float tol = 0.02f * std::sqrt(static_cast<float>(per)) + 1e-3f;
    EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(tol), want));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sweep, ConvI8,
    ::testing::Values(ConvCase{{1, 3, 9, 9}, 8, {3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}},  // stem-like
                      ConvCase{{1, 16, 5, 5}, 24, {1, 1}},                           // pointwise
                      ConvCase{{2, 6, 7, 7}, 4, {3, 3}, 2, {1, 1}, {2, 2}, {}, 1},   // grouped, SAME
                      ConvCase{{1, 8, 7, 7}, 8, {5, 5}, 8, {2, 2}, {}, {2, 2, 2, 2}},  // depthwise
                      ConvCase{{1, 4, 13}, 5, {3}, 1, {2}, {}, {1, 1}}));            // 1-D

TEST(Conv, I8WeightNeedsPerChannelQuantization) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1, 1, 3, 3});
  int8_t wq = 3;
  int w = b.Const("w", fb::DType::I8, {1, 1, 1, 1}, &wq, 1);
  auto q = std::make_unique<fb::QuantizationT>();
  q->scheme = fb::QuantScheme::PER_TENSOR;
  q->scales = {0.5f};
  b.tensor(w).quant = std::move(q);
  int y = b.Tensor("y", fb::DType::F32, {1, 1, 3, 3});
  b.Op(fb::OpType::CONV, {x, w}, {y}, ModelBuilder::Opt(fb::ConvOptionsT{}));
  b.Output(y);
  EXPECT_THAT(ErrorOf(b, {F32({1, 1, 3, 3}, std::vector<float>(9, 1))}), HasSubstr("PER_CHANNEL"));
}

TEST(Conv, MalformedAttributesAreErrors) {
  struct Bad {
    ConvCase c;
    Shape w;
    const char* msg;
  };
  const std::vector<Bad> cases = {
      {{{1, 3, 5, 5}, 2, {3, 3}, 1, {0, 1}}, {2, 3, 3, 3}, "strides[0] = 0"},
      {{{1, 3, 5, 5}, 2, {3, 3}, 1, {}, {1, -1}}, {2, 3, 3, 3}, "dilations[1] = -1"},
      {{{1, 3, 5, 5}, 2, {3, 3}, 1, {}, {}, {1, 1}}, {2, 3, 3, 3}, "pads has 2 values, expected 4"},
      {{{1, 3, 5, 5}, 2, {3, 3}, 2}, {2, 1, 3, 3}, "expects 2"},
      {{{1, 3, 5, 5}, 2, {3, 3}, 0}, {2, 3, 3, 3}, "group 0"},
      {{{1, 4, 5, 5}, 3, {3, 3}, 2}, {3, 2, 3, 3}, "does not divide"},
      {{{1, 3, 2, 2}, 2, {3, 3}}, {2, 3, 3, 3}, "larger than the padded input"},
      {{{1, 3, 5, 5}, 2, {3, 3}}, {2, 3, 3}, "ranks differ"},
      {{{1, 3, 5, 5}, 2, {3, 3}, 1, {}, {}, {}, 7}, {2, 3, 3, 3}, "auto_pad 7"},
  };
  for (const Bad& bad : cases) {
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, Dims(bad.c.x));
    int w = b.Input("w", fb::DType::F32, Dims(bad.w));
    int y = b.Tensor("y", fb::DType::F32, {});
    b.Op(fb::OpType::CONV, {x, w}, {y}, ModelBuilder::Opt(ConvOpts(bad.c)), "bad_conv");
    b.Output(y);
    const std::string err = ErrorOf(b, {F32(bad.c.x, std::vector<float>(static_cast<size_t>(NumElementsUnchecked(bad.c.x)))),
                                        F32(bad.w, std::vector<float>(static_cast<size_t>(NumElementsUnchecked(bad.w))))});
    EXPECT_THAT(err, HasSubstr(bad.msg));
    EXPECT_THAT(err, HasSubstr("'bad_conv' (CONV)"));
  }
}

// ---- ConvTranspose ----
TEST(ConvTranspose, StridedWithPadsOutputPaddingAndGroups) {
  // Reference by scatter: y[oc][i*s + k*d - pb] += x[ic][i] * w[ic][oc'][k].
  const Shape xs = {1, 4, 3, 4};
  const int group = 2, mg = 3;
  const Shape ws = {4, mg, 3, 2};
  const int sh = 2, sw = 3, dh = 1, dw = 2, ph0 = 1, pw0 = 0, ph1 = 0, pw1 = 2, oph = 1, opw = 0;
  const auto x = Random(48, 7), w = Random(static_cast<size_t>(NumElementsUnchecked(ws)), 8), bias = Random(6, 9);
  const int64_t oh_n = sh * (3 - 1) + oph + (3 - 1) * dh + 1 - ph0 - ph1;
  const int64_t ow_n = sw * (4 - 1) + opw + (2 - 1) * dw + 1 - pw0 - pw1;
  std::vector<float> want(static_cast<size_t>(6 * oh_n * ow_n));
  for (int oc = 0; oc < 6; ++oc)
    for (int64_t i = 0; i < oh_n * ow_n; ++i) want[static_cast<size_t>(oc * oh_n * ow_n + i)] = bias[static_cast<size_t>(oc)];
  for (int ic = 0; ic < 4; ++ic)
    for (int j = 0; j < mg; ++j) {
      const int oc = (ic / 2) * mg + j;
      for (int ih = 0; ih < 3; ++ih)
        for (int iw = 0; iw < 4; ++iw)
          for (int kh = 0; kh < 3; ++kh)
            for (int kw = 0; kw < 2; ++kw) {
              const int64_t oh = ih * sh + kh * dh - ph0, ow = iw * sw + kw * dw - pw0;
              if (oh < 0 || oh >= oh_n || ow < 0 || ow >= ow_n) continue;
              want[static_cast<size_t>((oc * oh_n + oh) * ow_n + ow)] +=
                  x[static_cast<size_t>((ic * 3 + ih) * 4 + iw)] * w[static_cast<size_t>(((ic * mg + j) * 3 + kh) * 2 + kw)];
            }
    }
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(xs));
  int wi = b.ConstF32("w", Dims(ws), w);
  int bi = b.ConstF32("b", {6}, bias);
  int y = b.Tensor("y", fb::DType::F32, {});
  fb::ConvOptionsT o;
  o.group = group;
  o.strides = {sh, sw};
  o.dilations = {dh, dw};
  o.pads = {ph0, pw0, ph1, pw1};
  o.output_padding = {oph, opw};
  b.Op(fb::OpType::CONV_TRANSPOSE, {xi, wi, bi}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32(xs, x)});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape, (Shape{1, 6, oh_n, ow_n}));
  EXPECT_THAT((*out)[0].f32(), Pointwise(FloatNear(1e-5), want));
}

TEST(ConvTranspose, OutputPaddingMustBeBelowStride) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1, 1, 3});
  int w = b.ConstF32("w", {1, 1, 2}, {1, 1});
  int y = b.Tensor("y", fb::DType::F32, {});
  fb::ConvOptionsT o;
  o.strides = {2};
  o.output_padding = {2};
  b.Op(fb::OpType::CONV_TRANSPOSE, {x, w}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  EXPECT_THAT(ErrorOf(b, {F32({1, 1, 3}, {1, 2, 3})}), HasSubstr("output_padding[0] = 2"));
}

// ---- pools ----
HostTensor RunPool(fb::OpType t, const fb::PoolOptionsT& o, const Shape& xs, const std::vector<float>& x) {
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(xs));
  int y = b.Tensor("y", fb::DType::F32, {});
  b.Op(t, {xi}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  EXPECT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32(xs, x)});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? (*out)[0] : HostTensor{};
}

TEST(Pool, MaxPoolPadsStridesCeilMode) {
  // 1x1x4x4 = 1..16
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  fb::PoolOptionsT o;
  o.kernel_shape = {3, 3};
  o.strides = {2, 2};
  auto y = RunPool(fb::OpType::MAX_POOL, o, {1, 1, 4, 4}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 1, 1}));
  EXPECT_THAT(y.f32(), ElementsAre(11));
  o.ceil_mode = true;  // windows at 0 and 2 (the second hangs over the edge)
  y = RunPool(fb::OpType::MAX_POOL, o, {1, 1, 4, 4}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 2, 2}));
  EXPECT_THAT(y.f32(), ElementsAre(11, 12, 15, 16));
  o.ceil_mode = false;
  o.pads = {1, 1, 1, 1};
  y = RunPool(fb::OpType::MAX_POOL, o, {1, 1, 4, 4}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 2, 2}));
  EXPECT_THAT(y.f32(), ElementsAre(6, 8, 14, 16));
  o.pads.clear();
  o.strides.clear();
  o.kernel_shape = {2, 2};
  o.dilations = {2, 2};
  y = RunPool(fb::OpType::MAX_POOL, o, {1, 1, 4, 4}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 2, 2}));
  EXPECT_THAT(y.f32(), ElementsAre(11, 12, 15, 16));
}

TEST(Pool, AveragePoolCountIncludePadAndSame) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};  // 1x1x3x3
  fb::PoolOptionsT o;
  o.kernel_shape = {2, 2};
  o.pads = {1, 1, 0, 0};
  auto y = RunPool(fb::OpType::AVERAGE_POOL, o, {1, 1, 3, 3}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 3, 3}));
  EXPECT_THAT(y.f32(), Pointwise(FloatNear(1e-6), std::vector<float>{1, 1.5f, 2.5f, 2.5f, 3, 4, 5.5f, 6, 7}));
  o.count_include_pad = true;
  y = RunPool(fb::OpType::AVERAGE_POOL, o, {1, 1, 3, 3}, x);
  EXPECT_THAT(y.f32(), Pointwise(FloatNear(1e-6), std::vector<float>{0.25f, 0.75f, 1.25f, 1.25f, 3, 4, 2.75f, 6, 7}));
  fb::PoolOptionsT s;
  s.kernel_shape = {2, 2};
  s.auto_pad = 1;  // SAME_UPPER: pad at the end
  y = RunPool(fb::OpType::AVERAGE_POOL, s, {1, 1, 3, 3}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 3, 3}));
  EXPECT_THAT(y.f32(), Pointwise(FloatNear(1e-6), std::vector<float>{3, 4, 4.5f, 6, 7, 7.5f, 7.5f, 8.5f, 9}));
  s.auto_pad = 2;  // SAME_LOWER: pad at the start
  y = RunPool(fb::OpType::AVERAGE_POOL, s, {1, 1, 3, 3}, x);
  EXPECT_THAT(y.f32(), Pointwise(FloatNear(1e-6), std::vector<float>{1, 1.5f, 2.5f, 2.5f, 3, 4, 5.5f, 6, 7}));
}

TEST(Pool, OneAndThreeDimensional) {
  fb::PoolOptionsT o;
  o.kernel_shape = {2};
  o.strides = {2};
  auto y = RunPool(fb::OpType::MAX_POOL, o, {1, 2, 5}, {1, 5, 2, 4, 3, -1, -2, -3, -4, -5});
  EXPECT_EQ(y.shape, (Shape{1, 2, 2}));
  EXPECT_THAT(y.f32(), ElementsAre(5, 4, -1, -3));
  fb::PoolOptionsT o3;
  o3.kernel_shape = {2, 2, 2};
  std::vector<float> x(8);
  for (int i = 0; i < 8; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i);
  y = RunPool(fb::OpType::AVERAGE_POOL, o3, {1, 1, 2, 2, 2}, x);
  EXPECT_EQ(y.shape, (Shape{1, 1, 1, 1, 1}));
  EXPECT_THAT(y.f32(), ElementsAre(3.5f));
}

TEST(Pool, MissingKernelAndBadStrideAreErrors) {
  for (int variant = 0; variant < 3; ++variant) {
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, {1, 1, 4, 4});
    int y = b.Tensor("y", fb::DType::F32, {});
    fb::PoolOptionsT o;
    if (variant >= 1) o.kernel_shape = {2, 2};
    if (variant == 1) o.strides = {1, 0};
    if (variant == 2) o.kernel_shape = {2, 2, 2};
    b.Op(fb::OpType::MAX_POOL, {x}, {y}, ModelBuilder::Opt(o));
    b.Output(y);
    const std::string err = ErrorOf(b, {F32({1, 1, 4, 4}, std::vector<float>(16))});
    EXPECT_THAT(err, HasSubstr(variant == 0 ? "kernel_shape is required"
                               : variant == 1 ? "strides[1] = 0" : "kernel has 3 spatial dims"));
  }
}

TEST(Pool, GlobalAverageAndMax) {
  for (auto t : {fb::OpType::GLOBAL_AVERAGE_POOL, fb::OpType::GLOBAL_MAX_POOL}) {
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, {1, 2, 2, 2});
    int y = b.Tensor("y", fb::DType::F32, {});
    b.Op(t, {x}, {y});
    b.Output(y);
    Runner r(b);
    ASSERT_TRUE(r.ok()) << r.error();
    auto out = r.Run({F32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -8})});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape, (Shape{1, 2, 1, 1}));
    if (t == fb::OpType::GLOBAL_AVERAGE_POOL) {
      EXPECT_THAT((*out)[0].f32(), ElementsAre(2.5f, -3.5f));
    } else {
      EXPECT_THAT((*out)[0].f32(), ElementsAre(4, -1));
    }
  }
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 3});
  int y = b.Tensor("y", fb::DType::F32, {});
  b.Op(fb::OpType::GLOBAL_AVERAGE_POOL, {x}, {y});
  b.Output(y);
  EXPECT_THAT(ErrorOf(b, {F32({2, 3}, std::vector<float>(6))}), HasSubstr("[N, C, spatial...]"));
}

}  // namespace
}  // namespace edgert
