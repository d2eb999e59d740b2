// ONNX forms that are rewritten instead of refused: Gemm transA=1 / run-time B with transB,
// alpha, beta; LayerNormalization's Mean / InvStdDev outputs when nobody reads them.
#include "edgert/converter/convert.h"
#include "test_util.h"

namespace edgert::converter {
namespace {

using fb::OpType;
using testing::Efb;
using testing::OnnxBuilder;
using testing::TestPath;

absl::Status Conv(OnnxBuilder& b, Efb* out) {
  ConvertOptions o;
  o.input = b.Save(TestPath("m.onnx"));
  o.output = TestPath("m.efb");
  o.progress = false;
  absl::Status st = Convert(o);
  if (st.ok()) *out = testing::LoadEfb(o.output);
  return st;
}

TEST(OnnxCases, GemmTransAWithConstantBIsTransposeThenFullyConnected) {
  OnnxBuilder b;
  b.Input("a", {5, 3}).Output("y");
  b.Init("W", {5, 4}, testing::Randn(20, 1));
  OnnxBuilder::AttrI(b.Node("Gemm", {"a", "W"}, {"y"}, "gemm"), "transA", 1);
  Efb e;
  absl::Status st = Conv(b, &e);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::TRANSPOSE, OpType::FULLY_CONNECTED}));
}

TEST(OnnxCases, GemmRuntimeBTransBAlphaBeta) {
  OnnxBuilder b;
  b.Input("a", {3, 5}).Input("bm", {4, 5}).Input("c", {3, 4}).Output("y");
  auto* n = b.Node("Gemm", {"a", "bm", "c"}, {"y"}, "gemm");
  OnnxBuilder::AttrI(n, "transB", 1);
  OnnxBuilder::AttrF(n, "alpha", 0.5f);
  OnnxBuilder::AttrF(n, "beta", 2.0f);
  Efb e;
  absl::Status st = Conv(b, &e);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::TRANSPOSE, OpType::MUL, OpType::MATMUL, OpType::MUL, OpType::ADD}));
}

TEST(OnnxCases, LayerNormUnusedStatisticsDroppedUsedOnesRefused) {
  for (bool used : {false, true}) {
    OnnxBuilder b;
    b.Input("x", {2, 8}).Output("y");
    if (used) b.Output("mean");
    b.Init("g", {8}, testing::Randn(8, 1));
    b.Node("LayerNormalization", {"x", "g"}, {"y", "mean", "inv_std"}, "ln");
    Efb e;
    std::remove(TestPath("m.efb").c_str());
    absl::Status st = Conv(b, &e);
    if (!used) {
      ASSERT_TRUE(st.ok()) << st;
      ASSERT_EQ(e.OpTypes(), std::vector<OpType>{OpType::LAYER_NORM});
      EXPECT_EQ(e.model->operators[0]->outputs.size(), 1u);
    } else {
      ASSERT_FALSE(st.ok());
      EXPECT_NE(st.message().find("'ln' (LayerNormalization"), std::string::npos) << st;
      EXPECT_NE(st.message().find("Mean output 'mean' is not supported"), std::string::npos) << st;
      EXPECT_FALSE(testing::FileExists(TestPath("m.efb")));
    }
  }
}

}  // namespace
}  // namespace edgert::converter
