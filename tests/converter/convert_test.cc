// Structure of converted models: op mapping, folding, dead-code removal, fusions, metadata.
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "edgert/converter/convert.h"
#include "test_util.h"
#include "util.h"

namespace edgert::converter {
namespace {

using testing::Efb;
using testing::LoadEfb;
using testing::OnnxBuilder;
using testing::Randn;
using testing::TestPath;
using fb::OpType;

absl::Status ConvertIt(OnnxBuilder& b, Efb* out, ConvertOptions o = {}) {
  o.input = b.Save(TestPath("m.onnx"));
  o.output = TestPath("m.efb");
  o.progress = false;
  absl::Status st = Convert(o);
  if (st.ok()) *out = LoadEfb(o.output);
  return st;
}

TEST(Convert, MatMulAddReluBecomesFullyConnected) {
  const int K = 5, N = 3;
  std::vector<float> w = Randn(K * N, 1), bias = Randn(N, 2);
  OnnxBuilder b;
  b.Input("x", {-1, K}, onnx::TensorProto::FLOAT, {"batch"}).Output("y");
  b.Init("W", {K, N}, w);
  b.Init("B", {N}, bias);
  b.Node("MatMul", {"x", "W"}, {"mm"}, "fc");
  b.Node("Add", {"mm", "B"}, {"a"}, "add");
  b.Node("Relu", {"a"}, {"y"}, "relu");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::FULLY_CONNECTED});
  const auto* op = e.model->operators[0].get();
  ASSERT_EQ(op->inputs.size(), 3u);
  EXPECT_EQ(op->options.AsFullyConnectedOptions()->fused_activation, fb::Activation::RELU);
  const auto& wt = e.T(op->inputs[1]);
  ASSERT_EQ(wt.shape.size(), 2u);
  EXPECT_EQ(wt.shape[0]->value, N);
  EXPECT_EQ(wt.shape[1]->value, K);
  std::vector<float> wv = e.Floats(op->inputs[1]);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) EXPECT_EQ(wv[n * K + k], w[k * N + n]);
  EXPECT_EQ(e.Floats(op->inputs[2]), bias);
  // Dynamic batch keeps its name.
  const auto& x = e.T(e.model->inputs[0]);
  EXPECT_EQ(x.shape[0]->value, -1);
  EXPECT_EQ(x.shape[0]->name, "batch");
  EXPECT_EQ(e.T(e.model->outputs[0]).name, "y");
}

TEST(Convert, IntermediateWithOtherConsumerIsNotFused) {
  OnnxBuilder b;
  b.Input("x", {2, 4}).Output("y").Output("mm");
  b.Init("W", {4, 3}, Randn(12, 3));
  b.Init("B", {3}, Randn(3, 4));
  b.Node("MatMul", {"x", "W"}, {"mm"}, "fc");
  b.Node("Add", {"mm", "B"}, {"y"}, "add");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  EXPECT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::FULLY_CONNECTED, OpType::ADD}));
  EXPECT_EQ(e.model->operators[0]->inputs.size(), 2u);
}

TEST(Convert, GemmTransBAlphaBeta) {
  OnnxBuilder b;
  std::vector<float> w = Randn(12, 5), c = Randn(3, 6);
  b.Input("x", {2, 4}).Output("y");
  b.Init("B", {3, 4}, w);
  b.Init("C", {3}, c);
  auto* n = b.Node("Gemm", {"x", "B", "C"}, {"y"}, "gemm");
  OnnxBuilder::AttrI(n, "transB", 1);
  OnnxBuilder::AttrF(n, "alpha", 2.0f);
  OnnxBuilder::AttrF(n, "beta", 0.5f);
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::FULLY_CONNECTED});
  std::vector<float> wv = e.Floats(e.model->operators[0]->inputs[1]);
  for (size_t i = 0; i < w.size(); ++i) EXPECT_FLOAT_EQ(wv[i], 2.0f * w[i]);
  std::vector<float> bv = e.Floats(e.model->operators[0]->inputs[2]);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_FLOAT_EQ(bv[i], 0.5f * c[i]);
}

TEST(Convert, MatMulOfTwoRuntimeInputsStaysMatMul) {
  OnnxBuilder b;
  b.Input("a", {2, 3, 4}).Input("b", {2, 4, 5}).Output("y");
  b.Node("MatMul", {"a", "b"}, {"y"}, "mm");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  EXPECT_EQ(e.OpTypes(), std::vector<OpType>{OpType::MATMUL});
  const auto& y = e.T(e.model->outputs[0]);
  ASSERT_EQ(y.shape.size(), 3u);
  EXPECT_EQ(y.shape[2]->value, 5);  // shape inference
}

TEST(Convert, ConvBatchNormFoldAndActivation) {
  const int C = 2, M = 3;
  std::vector<float> w = Randn(M * C, 7), cb = Randn(M, 8), g = {1.5f, 0.5f, 2.0f},
                     beta = {0.1f, -0.2f, 0.3f}, mean = {0.5f, -1.0f, 0.0f}, var = {1.0f, 4.0f, 0.25f};
  OnnxBuilder b;
  b.Input("x", {1, C, 4, 4}).Output("y");
  b.Init("W", {M, C, 1, 1}, w);
  b.Init("cb", {M}, cb);
  b.Init("g", {M}, g);
  b.Init("be", {M}, beta);
  b.Init("mu", {M}, mean);
  b.Init("var", {M}, var);
  b.Node("Conv", {"x", "W", "cb"}, {"c"}, "conv");
  auto* bn = b.Node("BatchNormalization", {"c", "g", "be", "mu", "var"}, {"bn"}, "bn");
  OnnxBuilder::AttrF(bn, "epsilon", 0.0f);
  auto* clip = b.Node("Clip", {"bn", "lo", "hi"}, {"y"}, "relu6");
  (void)clip;
  b.Scalar("lo", 0.0f);
  b.Scalar("hi", 6.0f);
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::CONV});
  const auto* op = e.model->operators[0].get();
  EXPECT_EQ(op->options.AsConvOptions()->fused_activation, fb::Activation::RELU6);
  std::vector<float> wv = e.Floats(op->inputs[1]), bv = e.Floats(op->inputs[2]);
  for (int m = 0; m < M; ++m) {
    float f = g[m] / std::sqrt(var[m]);
    for (int c = 0; c < C; ++c) EXPECT_NEAR(wv[m * C + c], w[m * C + c] * f, 1e-6);
    EXPECT_NEAR(bv[m], (cb[m] - mean[m]) * f + beta[m], 1e-5);
  }
}

TEST(Convert, StandaloneBatchNormStays) {
  OnnxBuilder b;
  b.Input("x", {1, 2, 3, 3}).Output("y");
  for (const char* n : {"g", "be", "mu", "var"}) b.Init(n, {2}, {1.0f, 2.0f});
  b.Node("BatchNormalization", {"x", "g", "be", "mu", "var"}, {"y"}, "bn");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::BATCH_NORM});
  EXPECT_EQ(e.model->operators[0]->inputs.size(), 5u);
  EXPECT_NE(e.model->operators[0]->options.AsLayerNormOptions(), nullptr);
}

void AddLayerNormPattern(OnnxBuilder& b, const std::string& x, const std::string& y, int d, bool pow) {
  auto* m = b.Node("ReduceMean", {x}, {"ln_m"}, "ln_mean");
  OnnxBuilder::AttrInts(m, "axes", {-1});
  b.Node("Sub", {x, "ln_m"}, {"ln_d"}, "ln_sub");
  if (pow) {
    b.Scalar("two", 2.0f);
    b.Node("Pow", {"ln_d", "two"}, {"ln_p"}, "ln_pow");
  } else {
    b.Node("Mul", {"ln_d", "ln_d"}, {"ln_p"}, "ln_sq");
  }
  auto* v = b.Node("ReduceMean", {"ln_p"}, {"ln_v"}, "ln_var");
  OnnxBuilder::AttrInts(v, "axes", {-1});
  b.Scalar("eps", 1e-6f);
  b.Node("Add", {"ln_v", "eps"}, {"ln_e"}, "ln_add");
  b.Node("Sqrt", {"ln_e"}, {"ln_s"}, "ln_sqrt");
  b.Node("Div", {"ln_d", "ln_s"}, {"ln_n"}, "ln_div");
  b.Init("gamma", {d}, Randn(d, 11));
  b.Init("beta", {d}, Randn(d, 12));
  b.Node("Mul", {"ln_n", "gamma"}, {"ln_g"}, "ln_mul");
  b.Node("Add", {"ln_g", "beta"}, {y}, "ln_bias");
}

TEST(Convert, LayerNormPatternFuses) {
  for (bool pow : {true, false}) {
    OnnxBuilder b;
    b.Input("x", {2, 7, 8}).Output("y");
    AddLayerNormPattern(b, "x", "y", 8, pow);
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok());
    ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::LAYER_NORM});
    const auto* op = e.model->operators[0].get();
    EXPECT_EQ(op->inputs.size(), 3u);
    EXPECT_FLOAT_EQ(op->options.AsLayerNormOptions()->epsilon, 1e-6f);
    EXPECT_EQ(op->options.AsLayerNormOptions()->axis, -1);
  }
}

TEST(Convert, LayerNormalizationOpset17) {
  OnnxBuilder b(17);
  b.Input("x", {2, 8}).Output("y");
  b.Init("g", {8}, Randn(8, 1));
  auto* n = b.Node("LayerNormalization", {"x", "g"}, {"y"}, "ln");
  OnnxBuilder::AttrF(n, "epsilon", 1e-3f);
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::LAYER_NORM});
  EXPECT_FLOAT_EQ(e.model->operators[0]->options.AsLayerNormOptions()->epsilon, 1e-3f);
}

TEST(Convert, GeluPatternsFuse) {
  for (int variant = 0; variant < 2; ++variant) {
    OnnxBuilder b;
    b.Input("x", {2, 8}).Output("y");
    b.Scalar("sqrt2", 1.4142135f);
    b.Scalar("one", 1.0f);
    b.Scalar("half", 0.5f);
    b.Node("Div", {"x", "sqrt2"}, {"t1"}, "g_div");
    b.Node("Erf", {"t1"}, {"t2"}, "g_erf");
    b.Node("Add", {"t2", "one"}, {"t3"}, "g_add");
    if (variant == 0) {
      b.Node("Mul", {"x", "t3"}, {"t4"}, "g_mul");
      b.Node("Mul", {"t4", "half"}, {"y"}, "g_half");
    } else {
      b.Node("Mul", {"x", "half"}, {"xh"}, "g_half");
      b.Node("Mul", {"xh", "t3"}, {"y"}, "g_mul");
    }
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok());
    ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::GELU}) << variant;
    EXPECT_FALSE(e.model->operators[0]->options.AsGeluOptions()->approximate_tanh);
  }
}

// Attention scores: Mul|Div(scalar) -> Add(mask) -> Softmax(last axis) becomes SCALED_SOFTMAX;
// a Softmax over another axis, or a scaled tensor someone else reads, does not (fully).
TEST(Convert, ScaledSoftmaxPatternsFuse) {
  struct V {
    const char* scale_op;  // "" = no Mul/Div
    bool mask;
    int64_t axis;
    std::vector<OpType> want;
    float scale;
    bool divide;
  };
  const std::vector<V> variants = {
      {"Mul", true, -1, {OpType::SCALED_SOFTMAX}, 0.125f, false},
      {"Div", true, 3, {OpType::SCALED_SOFTMAX}, 8.0f, true},
      {"", true, -1, {OpType::SCALED_SOFTMAX}, 1.0f, false},
      {"Mul", false, -1, {OpType::SCALED_SOFTMAX}, 0.125f, false},
      {"Mul", true, 1, {OpType::MUL, OpType::ADD, OpType::SOFTMAX}, 0, false},
  };
  for (const V& v : variants) {
    OnnxBuilder b;
    b.Input("s", {2, 3, 4, 6}).Input("m", {2, 1, 1, 6}).Output("y");
    b.Scalar("c", v.divide ? 8.0f : 0.125f);
    std::string cur = "s";
    if (*v.scale_op) {
      b.Node(v.scale_op, {"s", "c"}, {"t"}, "scale");
      cur = "t";
    }
    if (v.mask) {
      b.Node("Add", {cur, "m"}, {"u"}, "mask");
      cur = "u";
    }
    OnnxBuilder::AttrI(b.Node("Softmax", {cur}, {"y"}, "softmax"), "axis", v.axis);
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok());
    ASSERT_EQ(e.OpTypes(), v.want) << v.scale_op << " mask " << v.mask << " axis " << v.axis;
    if (v.want[0] != OpType::SCALED_SOFTMAX) continue;
    const auto& op = *e.model->operators[0];
    EXPECT_EQ(op.options.AsScaledSoftmaxOptions()->scale, v.scale);
    EXPECT_EQ(op.options.AsScaledSoftmaxOptions()->divide, v.divide);
    EXPECT_EQ(op.inputs.size(), v.mask ? 2u : 1u);
    EXPECT_EQ(e.T(op.outputs[0]).name, "y");
  }
  // The scaled scores are also a graph output: the Mul stays, Add + Softmax still fuse.
  OnnxBuilder b;
  b.Input("s", {2, 6}).Input("m", {6}).Output("y").Output("t");
  b.Scalar("c", 0.5f);
  b.Node("Mul", {"s", "c"}, {"t"}, "scale");
  b.Node("Add", {"t", "m"}, {"u"}, "mask");
  b.Node("Softmax", {"u"}, {"y"}, "softmax");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::MUL, OpType::SCALED_SOFTMAX}));
  EXPECT_EQ(e.model->operators[1]->options.AsScaledSoftmaxOptions()->scale, 1.0f);
}

// The static-shape attention block (constant Reshape targets) fuses into one ATTENTION op; each
// variant that breaks the pattern's meaning keeps the unfused chain.
TEST(Convert, AttentionFusesOnlyTheExactPattern) {
  enum Variant { kPlain, kHeadsAlsoOutput, kMergeToRank2, kTargetBatchWrong, kKeyPermWrong };
  for (Variant v : {kPlain, kHeadsAlsoOutput, kMergeToRank2, kTargetBatchWrong, kKeyPermWrong}) {
    const int64_t B = 2, S = 5, H = 2, D = 4, E = H * D;
    OnnxBuilder b;
    b.Input("x", {B, S, E}).Output("y");
    if (v == kHeadsAlsoOutput) b.Output("q_heads");
    b.InitI64("split", {4}, {v == kTargetBatchWrong ? 1 : B, v == kTargetBatchWrong ? B * S : S, H, D});
    if (v == kMergeToRank2) {
      b.InitI64("merge", {2}, {B * S, E});
    } else {
      b.InitI64("merge", {3}, {B, S, E});
    }
    b.Scalar("c", 0.5f);
    for (const char* p : {"q", "k", "v"}) {
      const std::string n(p);
      b.Init("W" + n, {E, E}, Randn(E * E, n[0]));
      b.Node("MatMul", {"x", "W" + n}, {n}, n + "_proj");
      b.Node("Reshape", {n, "split"}, {n + "_split"}, n + "_split");
      const bool key = n == "k" && v != kKeyPermWrong;
      OnnxBuilder::AttrInts(b.Node("Transpose", {n + "_split"}, {n + "_heads"}, n + "_heads"), "perm",
                            key ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
    }
    // With k transposed like q (kKeyPermWrong) the scores need k's last two axes swapped again.
    std::string kt = "k_heads";
    if (v == kKeyPermWrong) {
      OnnxBuilder::AttrInts(b.Node("Transpose", {"k_heads"}, {"k_heads_t"}, "k_swap"), "perm", {0, 1, 3, 2});
      kt = "k_heads_t";
    }
    b.Node("MatMul", {"q_heads", kt}, {"scores"}, "scores");
    b.Node("Mul", {"scores", "c"}, {"scaled"}, "scale");
    OnnxBuilder::AttrI(b.Node("Softmax", {"scaled"}, {"probs"}, "softmax"), "axis", -1);
    b.Node("MatMul", {"probs", "v_heads"}, {"ctx"}, "context");
    OnnxBuilder::AttrInts(b.Node("Transpose", {"ctx"}, {"ctx_t"}, "merge_t"), "perm", {0, 2, 1, 3});
    b.Node("Reshape", {"ctx_t", "merge"}, {"y"}, "merge");
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok()) << v;
    int attention = 0, matmul = 0;
    for (OpType t : e.OpTypes()) {
      attention += t == OpType::ATTENTION;
      matmul += t == OpType::MATMUL;
    }
    EXPECT_EQ(attention, v == kPlain ? 1 : 0) << "variant " << v;
    EXPECT_EQ(matmul, v == kPlain ? 0 : 2) << "variant " << v;
  }
}

TEST(Convert, SiluFusesAndFoldsIntoFullyConnected) {
  OnnxBuilder b;
  b.Input("x", {2, 4}).Output("y").Output("z");
  b.Init("W", {4, 4}, Randn(16, 1));
  b.Node("MatMul", {"x", "W"}, {"h"}, "fc");
  b.Node("Sigmoid", {"h"}, {"s"}, "sig");
  b.Node("Mul", {"h", "s"}, {"y"}, "silu");
  b.Node("Sigmoid", {"x"}, {"s2"}, "sig2");
  b.Node("Mul", {"s2", "x"}, {"z"}, "silu2");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::FULLY_CONNECTED, OpType::SILU}));
  EXPECT_EQ(e.model->operators[0]->options.AsFullyConnectedOptions()->fused_activation, fb::Activation::SILU);
}

TEST(Convert, ResidualAddReluFuses) {
  OnnxBuilder b;
  b.Input("a", {2, 4}).Input("b", {2, 4}).Output("y");
  b.Node("Add", {"a", "b"}, {"s"}, "residual");
  b.Node("Relu", {"s"}, {"y"}, "relu");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::ADD});
  EXPECT_EQ(e.model->operators[0]->options.AsBinaryOptions()->fused_activation, fb::Activation::RELU);
  EXPECT_EQ(e.T(e.model->operators[0]->outputs[0]).name, "y");
}

// Add -> LayerNormalization becomes one LAYER_NORM with the Add's second operand as its residual
// input (input 3; bias -1 when absent), also from the decomposed LayerNorm pattern; not when the
// sum is read elsewhere or is a graph output.
TEST(Convert, ResidualAddLayerNormFuses) {
  for (bool bias : {true, false}) {
    OnnxBuilder b(17);
    b.Input("a", {2, 8}).Input("r", {2, 8}).Output("y");
    b.Init("g", {8}, Randn(8, 1));
    if (bias) b.Init("bb", {8}, Randn(8, 2));
    b.Node("Add", {"a", "r"}, {"s"}, "residual");
    std::vector<std::string> in = {"s", "g"};
    if (bias) in.push_back("bb");
    b.Node("LayerNormalization", in, {"y"}, "ln");
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok());
    ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::LAYER_NORM});
    const auto* op = e.model->operators[0].get();
    ASSERT_EQ(op->inputs.size(), 4u);
    EXPECT_EQ(e.T(op->inputs[0]).name, "a");
    EXPECT_EQ(e.T(op->inputs[3]).name, "r");
    if (bias) {
      EXPECT_EQ(e.T(op->inputs[2]).name, "bb");
    } else {
      EXPECT_EQ(op->inputs[2], -1);
    }
  }
  {
    OnnxBuilder b;
    b.Input("a", {2, 7, 8}).Input("r", {8}).Output("y");
    b.Node("Add", {"a", "r"}, {"s"}, "residual");
    AddLayerNormPattern(b, "s", "y", 8, true);
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok());
    ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::LAYER_NORM});
    EXPECT_EQ(e.model->operators[0]->inputs.size(), 4u);
  }
  for (bool sum_is_output : {true, false}) {
    OnnxBuilder b(17);
    b.Input("a", {2, 8}).Input("r", {2, 8}).Output("y");
    if (sum_is_output) b.Output("s");
    b.Init("g", {8}, Randn(8, 1));
    b.Node("Add", {"a", "r"}, {"s"}, "residual");
    b.Node("LayerNormalization", {"s", "g"}, {"y"}, "ln");
    if (!sum_is_output) {
      b.Output("z");
      b.Node("Relu", {"s"}, {"z"}, "relu");
    }
    Efb e;
    ASSERT_TRUE(ConvertIt(b, &e).ok());
    std::vector<OpType> ops = e.OpTypes();
    EXPECT_EQ(std::count(ops.begin(), ops.end(), OpType::ADD), 1) << sum_is_output;
    for (const auto& op : e.model->operators) {
      if (op->type == OpType::LAYER_NORM) {
        EXPECT_EQ(op->inputs.size(), 2u);
      }
    }
  }
}

TEST(Convert, ConstantFoldingAndDeadCode) {
  // y = Reshape(x, Concat(Shape(x)[0], -1)) with a static x: the shape becomes a constant.
  // An unused branch disappears; Constant nodes become tensors.
  OnnxBuilder b;
  b.Input("x", {3, 4, 5}).Output("y");
  b.Node("Shape", {"x"}, {"shp"}, "shape");
  auto* c0 = b.Node("Constant", {}, {"zero"}, "c0");
  {
    auto* a = c0->add_attribute();
    a->set_name("value_ints");
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(0);
  }
  b.Node("Gather", {"shp", "zero"}, {"d0"}, "gather");
  b.InitI64("minus1", {1}, {-1});
  auto* cat = b.Node("Concat", {"d0", "minus1"}, {"newshape"}, "concat");
  OnnxBuilder::AttrI(cat, "axis", 0);
  b.Node("Reshape", {"x", "newshape"}, {"y"}, "reshape");
  b.Node("Relu", {"x"}, {"unused"}, "dead_relu");
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::RESHAPE});
  const auto* op = e.model->operators[0].get();
  const auto& shape_t = e.T(op->inputs[1]);
  ASSERT_GE(shape_t.buffer, 0);
  std::string_view sb = e.Buffer(shape_t.buffer);
  ASSERT_EQ(sb.size(), 16u);
  int64_t v[2];
  std::memcpy(v, sb.data(), 16);
  EXPECT_EQ(v[0], 3);
  EXPECT_EQ(v[1], -1);
  // (Shapes of tensors downstream of folded shape computations are not re-inferred; the
  // runtime resolves them at session time.)
}

TEST(Convert, OldOpsetAttributesBecomeInputs) {
  OnnxBuilder b(11);
  b.Input("x", {2, 1, 3}).Output("y");
  auto* sq = b.Node("Squeeze", {"x"}, {"s"}, "squeeze");
  OnnxBuilder::AttrInts(sq, "axes", {1});
  auto* sm = b.Node("Softmax", {"s"}, {"y"}, "softmax");
  OnnxBuilder::AttrI(sm, "axis", 1);
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  ASSERT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::SQUEEZE, OpType::SOFTMAX}));
  EXPECT_EQ(e.model->operators[0]->inputs.size(), 2u);
  EXPECT_EQ(e.model->operators[1]->options.AsAxisOptions()->axis, -1);
}

TEST(Convert, MetadataRecordsHowTheModelWasMade) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Node("Relu", {"x"}, {"y"}, "relu");
  Efb e;
  ConvertOptions o;
  o.quant = "int8";
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  ASSERT_NE(e.model->metadata, nullptr);
  EXPECT_EQ(e.model->metadata->producer, std::string("edgert_convert ") + ConverterVersion());
  EXPECT_EQ(e.model->metadata->source_hash, *Sha256File(TestPath("m.onnx")));
  EXPECT_EQ(e.model->metadata->conversion_options, "--quant int8");
  EXPECT_EQ(e.model->metadata->calibration_hash, "");
}

TEST(Convert, Sha256KnownVectors) {
  Sha256 a;
  EXPECT_EQ(a.HexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 b;
  b.Update("abc", 3);
  EXPECT_EQ(b.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 c;
  std::string m(1000, 'a');
  c.Update(m.data(), m.size());
  EXPECT_EQ(c.HexDigest(), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(Convert, ExternalDataRelativeToModel) {
  std::vector<float> w = Randn(12, 9);
  OnnxBuilder b;
  b.Input("x", {2, 4}).Output("y");
  auto* t = b.Init("W", {4, 3}, {});
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const char* k, const std::string& v) {
    auto* kv = t->add_external_data();
    kv->set_key(k);
    kv->set_value(v);
  };
  add("location", "weights.bin");
  add("offset", "16");
  add("length", "48");
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  std::string bin = TestPath("weights.bin");
  {
    std::ofstream f(bin, std::ios::binary);
    f << std::string(16, '\0');
    f.write(reinterpret_cast<const char*>(w.data()), 48);
  }
  Efb e;
  ASSERT_TRUE(ConvertIt(b, &e).ok());
  std::vector<float> wv = e.Floats(e.model->operators[0]->inputs[1]);
  EXPECT_EQ(wv[0], w[0]);
  EXPECT_EQ(wv[1], w[3]);
  // Missing external data: a clear error and no output.
  std::remove(bin.c_str());
  std::remove(TestPath("m.efb").c_str());
  absl::Status st = ConvertIt(b, &e);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("external data file"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("'W'"), std::string::npos) << st.message();
  EXPECT_FALSE(testing::FileExists(TestPath("m.efb")));
}

// External data must stay inside the model's folder (no absolute paths, no '..', no symlink
// out of it), be a regular file, and hold exactly the tensor's bytes.
TEST(Convert, ExternalDataConfinedToModelFolder) {
  std::string outside = TestPath("../edgert_outside_weights.bin");
  {
    std::ofstream f(outside, std::ios::binary);
    f << std::string(64, '\1');
  }
  std::string link = TestPath("link.bin");
  std::remove(link.c_str());
  ASSERT_EQ(symlink(outside.c_str(), link.c_str()), 0);
  struct Case {
    std::string location, offset, length, expect;
  };
  const Case cases[] = {
      {outside, "0", "48", "outside the model's folder"},
      {"../edgert_outside_weights.bin", "0", "48", "outside the model's folder"},
      {"sub/../../edgert_outside_weights.bin", "0", "48", "outside the model's folder"},
      {"link.bin", "0", "48", "outside the model's folder"},
      {".", "0", "48", "not a regular file"},
      {"w.bin", "0", "44", "does not match its shape"},
      {"w.bin", "-4", "48", "is not a byte count"},
      {"w.bin", "9223372036854775807", "48", "has 64 bytes"},
      {"w.bin", "0x10", "48", "is not a byte count"},
  };
  {
    std::ofstream f(TestPath("w.bin"), std::ios::binary);
    f << std::string(64, '\2');
  }
  for (const Case& c : cases) {
    OnnxBuilder b;
    b.Input("x", {2, 4}).Output("y");
    auto* t = b.Init("W", {4, 3}, {});
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    for (auto [k, v] : {std::pair<const char*, std::string>{"location", c.location}, {"offset", c.offset},
                        {"length", c.length}}) {
      auto* kv = t->add_external_data();
      kv->set_key(k);
      kv->set_value(v);
    }
    b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
    std::remove(TestPath("m.efb").c_str());
    Efb e;
    absl::Status st = ConvertIt(b, &e);
    EXPECT_FALSE(st.ok()) << c.location;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << c.location << ": " << st.message();
    EXPECT_FALSE(testing::FileExists(TestPath("m.efb")));
  }
  std::remove(link.c_str());
  std::remove(outside.c_str());
}

TEST(Convert, UnsupportedOpsListedTogether) {
  OnnxBuilder b;
  b.Input("x", {2, 4}).Output("y");
  b.Node("Relu", {"x"}, {"a"}, "ok");
  b.Node("NonMaxSuppression", {"a"}, {"b"}, "nms1");
  auto* n = b.Node("MyCustom", {"b"}, {"y"}, "custom1");
  n->set_domain("com.example");
  auto* os = b.model().add_opset_import();
  os->set_domain("com.example");
  os->set_version(3);
  Efb e;
  absl::Status st = ConvertIt(b, &e);
  ASSERT_FALSE(st.ok());
  std::string m(st.message());
  EXPECT_NE(m.find("2 unsupported nodes"), std::string::npos) << m;
  EXPECT_NE(m.find("'nms1' (NonMaxSuppression, opset 17)"), std::string::npos) << m;
  EXPECT_NE(m.find("'custom1' (com.example.MyCustom, opset 3)"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_FALSE(testing::FileExists(TestPath("m.efb")));
}

TEST(Convert, InconsistentShapesAreAnError) {
  OnnxBuilder b;
  b.Input("x", {2, 3}).Output("y");
  b.Init("W", {4, 5}, Randn(20, 1));
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  Efb e;
  absl::Status st = ConvertIt(b, &e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("shape inference failed"), std::string::npos) << st.message();
  EXPECT_FALSE(testing::FileExists(TestPath("m.efb")));
}

TEST(Convert, CorruptAndMissingFiles) {
  ConvertOptions o;
  o.progress = false;
  o.output = TestPath("out.efb");
  o.input = TestPath("does_not_exist.onnx");
  absl::Status st = Convert(o);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  o.input = TestPath("garbage.onnx");
  {
    std::ofstream f(o.input, std::ios::binary);
    f << "\xff\xff\xff\xff this is not a protobuf \x01\x02";
  }
  st = Convert(o);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("garbage.onnx"), std::string::npos) << st;
  // Truncated valid model.
  OnnxBuilder b;
  b.Input("x", {2, 4}).Output("y");
  b.Init("W", {4, 3}, Randn(12, 1));
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  std::string full;
  b.model().SerializeToString(&full);
  o.input = TestPath("truncated.onnx");
  {
    std::ofstream f(o.input, std::ios::binary);
    f << full.substr(0, full.size() / 2);
  }
  st = Convert(o);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(testing::FileExists(o.output));
}

TEST(Convert, BadOptions) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Node("Relu", {"x"}, {"y"}, "relu");
  Efb e;
  ConvertOptions o;
  o.quant = "int3";
  EXPECT_NE(ConvertIt(b, &e, o).message().find("--quant 'int3'"), std::string::npos);
  o = {};
  o.block = 48;
  EXPECT_NE(ConvertIt(b, &e, o).message().find("--block 48"), std::string::npos);
  o = {};
  o.quant = "mixed";
  EXPECT_NE(ConvertIt(b, &e, o).message().find("needs calibration data"), std::string::npos);
  o = {};
  o.quant = "int8";
  o.exclude = "([";
  EXPECT_NE(ConvertIt(b, &e, o).message().find("invalid regular expression"), std::string::npos);
}

}  // namespace
}  // namespace edgert::converter
