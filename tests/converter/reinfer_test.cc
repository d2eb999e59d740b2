// Shape inference runs again after constant folding: a shape computed by a folded chain that
// ONNX's own data propagation cannot follow (ReduceProd of a Shape) becomes a static shape,
// which lets the next Shape fold too.
#include "edgert/converter/convert.h"
#include "test_util.h"

namespace edgert::converter {
namespace {

using fb::OpType;
using testing::Efb;
using testing::OnnxBuilder;
using testing::TestPath;

absl::Status ConvertModel(OnnxBuilder& b, Efb* out) {
  ConvertOptions o;
  o.input = b.Save(TestPath("m.onnx"));
  o.output = TestPath("m.efb");
  o.progress = false;
  absl::Status st = Convert(o);
  if (st.ok()) *out = testing::LoadEfb(o.output);
  return st;
}

std::vector<int64_t> ShapeOf(const Efb& e, const std::string& name) {
  for (const auto& t : e.model->tensors) {
    if (t->name != name) continue;
    std::vector<int64_t> s;
    for (const auto& d : t->shape) s.push_back(d->value);
    return s;
  }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

TEST(Reinfer, FoldedShapeChainMakesLaterShapesKnown) {
  OnnxBuilder b;
  b.Input("x", {2, 3, 4}).Output("y");
  b.Node("Shape", {"x"}, {"s"}, "shape_x");
  auto* rp = b.Node("ReduceProd", {"s"}, {"p"}, "numel");  // [24]: no ONNX data propagation
  OnnxBuilder::AttrI(rp, "keepdims", 1);
  b.Node("Reshape", {"x", "p"}, {"r"}, "flatten");        // [?] at import, [24] after folding
  b.Node("Shape", {"r"}, {"s2"}, "shape_r");              // folds only once r's shape is known
  b.InitI64("two", {}, {2});
  b.Node("Div", {"s2", "two"}, {"h"}, "half");
  b.InitI64("last", {1}, {2});
  b.Node("Concat", {"h", "last"}, {"c"}, "target");
  testing::OnnxBuilder::AttrI(b.model().mutable_graph()->mutable_node(5), "axis", 0);
  b.Node("Reshape", {"r", "c"}, {"y"}, "unflatten");
  Efb e;
  absl::Status st = ConvertModel(b, &e);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::RESHAPE, OpType::RESHAPE}));
  EXPECT_EQ(ShapeOf(e, "r"), (std::vector<int64_t>{24}));
  EXPECT_EQ(ShapeOf(e, "y"), (std::vector<int64_t>{12, 2}));
}

// Fusions add tensors (Gemm with a run-time B becomes MatMul + Add through a new intermediate);
// inference after the fusions gives them their shapes.
TEST(Reinfer, TensorsAddedByFusionsGetShapes) {
  OnnxBuilder b;
  b.Input("a", {2, 4}).Input("bm", {4, 3}).Output("y");
  b.Init("c", {3}, {1, 2, 3});
  b.Node("Gemm", {"a", "bm", "c"}, {"y"}, "gemm");
  Efb e;
  absl::Status st = ConvertModel(b, &e);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::MATMUL, OpType::ADD}));
  EXPECT_EQ(ShapeOf(e, "y/matmul"), (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace edgert::converter
