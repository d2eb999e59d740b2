// Pad, Resize, QuantizeLinear / DequantizeLinear and Einsum.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

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

std::vector<D> Dims(const Shape& s) { return std::vector<D>(s.begin(), s.end()); }

struct Result {
  std::string error;
  HostTensor y;
};

Result RunOne(ModelBuilder& b, const std::vector<HostTensor>& in) {
  Runner r(b);
  if (!r.ok()) return {r.error(), {}};
  auto out = r.Run(in);
  if (!out.ok()) return {std::string(out.status().message()), {}};
  return {"", (*out)[0]};
}

// ---- Pad ----
Result Pad(int mode, const Shape& xs, const std::vector<float>& x, const std::vector<int64_t>& pads,
           const float* value = nullptr) {
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(xs));
  std::vector<int> ins = {xi, b.ConstI64("pads", {static_cast<int64_t>(pads.size())}, pads)};
  if (value) ins.push_back(b.ConstF32("v", {}, {*value}));
  int y = b.Tensor("y", fb::DType::F32, {});
  fb::PadOptionsT o;
  o.mode = static_cast<int8_t>(mode);
  b.Op(fb::OpType::PAD, ins, {y}, ModelBuilder::Opt(o), "pad");
  b.Output(y);
  return RunOne(b, {F32(xs, x)});
}

TEST(Pad, ConstantReflectEdge) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const float v = 9;
  auto r = Pad(0, {2, 3}, x, {0, 1, 1, 0}, &v);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.y.shape, (Shape{3, 4}));
  EXPECT_THAT(r.y.f32(), ElementsAre(9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9));
  r = Pad(1, {2, 3}, x, {0, 2, 0, 2});
  EXPECT_EQ(r.y.shape, (Shape{2, 7}));
  EXPECT_THAT(r.y.f32(), ElementsAre(3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4));
  r = Pad(2, {2, 3}, x, {1, 1, 0, 1});
  EXPECT_EQ(r.y.shape, (Shape{3, 5}));
  EXPECT_THAT(r.y.f32(), ElementsAre(1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6));
}

TEST(Pad, NegativePadsCrop) {
  auto r = Pad(0, {2, 3}, {1, 2, 3, 4, 5, 6}, {0, -1, -1, 1});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.y.shape, (Shape{1, 3}));
  EXPECT_THAT(r.y.f32(), ElementsAre(2, 3, 0));
}

TEST(Pad, Errors) {
  EXPECT_THAT(Pad(0, {2, 3}, std::vector<float>(6), {1, 1}).error, HasSubstr("pads has 2 values, expected 2 x rank = 4"));
  EXPECT_THAT(Pad(0, {2, 3}, std::vector<float>(6), {0, -4, 0, 0}).error, HasSubstr("below zero"));
  EXPECT_THAT(Pad(5, {2, 3}, std::vector<float>(6), {0, 0, 0, 0}).error, HasSubstr("mode 5"));
  EXPECT_THAT(Pad(1, {2, 0}, {}, {0, 1, 0, 1}).error, HasSubstr("empty dim 1"));
}

// ---- Resize ----
Result Resize(const fb::ResizeOptionsT& o, const Shape& xs, const std::vector<float>& x,
              const std::vector<float>& scales, const std::vector<int64_t>& sizes,
              const std::vector<float>& roi = {}) {
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(xs));
  int ri = roi.empty() ? -1 : b.ConstF32("roi", {static_cast<int64_t>(roi.size())}, roi);
  int si = scales.empty() ? -1 : b.ConstF32("scales", {static_cast<int64_t>(scales.size())}, scales);
  int zi = sizes.empty() ? -1 : b.ConstI64("sizes", {static_cast<int64_t>(sizes.size())}, sizes);
  int y = b.Tensor("y", fb::DType::F32, {});
  b.Op(fb::OpType::RESIZE, {xi, ri, si, zi}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  return RunOne(b, {F32(xs, x)});
}

TEST(Resize, NearestUpsampleAsymmetricFloor) {
  fb::ResizeOptionsT o;
  o.mode = 0;
  o.coordinate_transformation = 1;  // asymmetric
  o.nearest_mode = 2;                // floor
  auto r = Resize(o, {1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 1.5f}, {});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.y.shape, (Shape{1, 1, 4, 3}));
  EXPECT_THAT(r.y.f32(), ElementsAre(1, 1, 2, 1, 1, 2, 3, 3, 4, 3, 3, 4));
}

TEST(Resize, LinearHalfPixelAndAlignCorners) {
  fb::ResizeOptionsT o;
  o.mode = 1;
  auto r = Resize(o, {1, 1, 1, 2}, {1, 3}, {}, {1, 1, 1, 4});  // half_pixel, sizes
  ASSERT_EQ(r.error, "");
  EXPECT_THAT(r.y.f32(), Pointwise(FloatNear(1e-6), std::vector<float>{1, 1.5f, 2.5f, 3}));
  o.coordinate_transformation = 2;  // align_corners
  r = Resize(o, {1, 1, 1, 2}, {1, 3}, {}, {1, 1, 1, 3});
  EXPECT_THAT(r.y.f32(), Pointwise(FloatNear(1e-6), std::vector<float>{1, 2, 3}));
}

TEST(Resize, CubicMatchesKeysKernel) {
  // Upsampling a linear ramp with the cubic kernel (a = -0.75) reproduces the ramp inside.
  fb::ResizeOptionsT o;
  o.mode = 2;
  o.coordinate_transformation = 2;  // align_corners: output 0 and 6 land on inputs 0 and 3
  auto r = Resize(o, {1, 4}, {0, 1, 2, 3}, {}, {1, 7});
  ASSERT_EQ(r.error, "");
  EXPECT_NEAR(r.y.f32()[0], 0, 1e-6);
  EXPECT_NEAR(r.y.f32()[2], 1, 1e-6);
  EXPECT_NEAR(r.y.f32()[3], 1.5f, 1e-6);
  EXPECT_NEAR(r.y.f32()[6], 3, 1e-6);
}

TEST(Resize, CropAndResizeExtrapolates) {
  fb::ResizeOptionsT o;
  o.mode = 1;
  o.coordinate_transformation = 4;
  o.extrapolation_value = 7;
  // roi [0.5, 1.5] on a length-3 axis: source coordinates 1, 2, 3 (3 is outside).
  auto r = Resize(o, {3}, {10, 20, 30}, {}, {3}, {0.5f, 1.5f});
  ASSERT_EQ(r.error, "");
  EXPECT_THAT(r.y.f32(), Pointwise(FloatNear(1e-5), std::vector<float>{20, 30, 7}));
}

TEST(Resize, Errors) {
  fb::ResizeOptionsT o;
  EXPECT_THAT(Resize(o, {1, 2}, {1, 2}, {1, 2}, {1, 4}).error, HasSubstr("exactly one of scales and sizes"));
  EXPECT_THAT(Resize(o, {1, 2}, {1, 2}, {}, {}).error, HasSubstr("exactly one of scales and sizes"));
  EXPECT_THAT(Resize(o, {1, 2}, {1, 2}, {1, 0}, {}).error, HasSubstr("scales[1] = 0"));
  EXPECT_THAT(Resize(o, {1, 2}, {1, 2}, {}, {4}).error, HasSubstr("sizes has 1 values, rank is 2"));
  o.mode = 9;
  EXPECT_THAT(Resize(o, {1, 2}, {1, 2}, {}, {1, 4}).error, HasSubstr("mode 9"));
}

// ---- QuantizeLinear / DequantizeLinear ----
TEST(Quant, PerTensorU8RoundTrip) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {6});
  int s = b.ConstF32("s", {}, {0.5f});
  const uint8_t zp = 10;
  int z = b.Const("z", fb::DType::U8, {}, &zp, 1);
  int q = b.Tensor("q", fb::DType::U8, {});
  int y = b.Tensor("y", fb::DType::F32, {});
  b.Op(fb::OpType::QUANTIZE_LINEAR, {x, s, z}, {q}, ModelBuilder::Opt(fb::AxisOptionsT{}));
  b.Op(fb::OpType::DEQUANTIZE_LINEAR, {q, s, z}, {y}, ModelBuilder::Opt(fb::AxisOptionsT{}));
  b.Output(q);
  b.Output(y);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  // 0.25/0.5 = 0.5 rounds to even (0); 0.75/0.5 = 1.5 rounds to 2; -100 saturates at 0; 1000 at 255.
  auto out = r.Run({F32({6}, {0.25f, 0.75f, -100, 1000, 1, -1})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].dtype, DType::U8);
  EXPECT_EQ((*out)[0].data, std::string("\x0a\x0c\x00\xff\x0c\x08", 6));
  EXPECT_THAT((*out)[1].f32(), ElementsAre(0, 1, -5, 122.5f, 1, -1));
}

TEST(Quant, PerAxisI8) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 2});
  int s = b.ConstF32("s", {2}, {1.f, 0.1f});
  const int8_t zp[2] = {0, -5};
  int z = b.Const("z", fb::DType::I8, {2}, zp, 2);
  int q = b.Tensor("q", fb::DType::I8, {});
  fb::AxisOptionsT o;
  o.axis = 1;
  b.Op(fb::OpType::QUANTIZE_LINEAR, {x, s, z}, {q}, ModelBuilder::Opt(o));
  b.Output(q);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({F32({2, 2}, {3.4f, 1.f, -200.f, -20.f})});
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string& d = (*out)[0].data;
  EXPECT_THAT(std::vector<int>(d.begin(), d.end()), ElementsAre(3, 5, -128, -128));
}

TEST(Quant, ScaleLengthMismatchIsAnError) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 3});
  int s = b.ConstF32("s", {2}, {1.f, 2.f});
  int q = b.Tensor("q", fb::DType::U8, {});
  fb::AxisOptionsT o;
  o.axis = 1;
  b.Op(fb::OpType::QUANTIZE_LINEAR, {x, s}, {q}, ModelBuilder::Opt(o));
  b.Output(q);
  Runner r(b);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("scale has 2 values"));
}

// ---- Einsum ----
Result Einsum(const std::string& eq, const std::vector<std::pair<Shape, std::vector<float>>>& ins) {
  ModelBuilder b;
  std::vector<int> idx;
  std::vector<HostTensor> host;
  for (size_t i = 0; i < ins.size(); ++i) {
    idx.push_back(b.Input("x" + std::to_string(i), fb::DType::F32, Dims(ins[i].first)));
    host.push_back(F32(ins[i].first, ins[i].second));
  }
  int y = b.Tensor("y", fb::DType::F32, {});
  fb::EinsumOptionsT o;
  o.equation = eq;
  b.Op(fb::OpType::EINSUM, idx, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  return RunOne(b, host);
}

TEST(Einsum, CommonEquations) {
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const std::vector<float> c = {1, 0, 2, 1, 0, 3};  // [3, 2]
  auto r = Einsum("ij,jk->ik", {{{2, 3}, a}, {{3, 2}, c}});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.y.shape, (Shape{2, 2}));
  EXPECT_THAT(r.y.f32(), ElementsAre(5, 11, 14, 23));
  r = Einsum("ij->ji", {{{2, 3}, a}});
  EXPECT_THAT(r.y.f32(), ElementsAre(1, 4, 2, 5, 3, 6));
  r = Einsum("ij", {{{2, 3}, a}});  // implicit: identity
  EXPECT_EQ(r.y.shape, (Shape{2, 3}));
  r = Einsum("ij->i", {{{2, 3}, a}});
  EXPECT_THAT(r.y.f32(), ElementsAre(6, 15));
  r = Einsum("i,i", {{{3}, {1, 2, 3}}, {{3}, {4, 5, 6}}});
  EXPECT_EQ(r.y.shape, (Shape{}));
  EXPECT_THAT(r.y.f32(), ElementsAre(32));
  r = Einsum("bij, bjk -> bik", {{{2, 1, 2}, {1, 2, 3, 4}}, {{2, 2, 1}, {1, 1, 2, 0}}});
  EXPECT_THAT(r.y.f32(), ElementsAre(3, 6));
  r = Einsum("...ii->...i", {{{2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}}});
  EXPECT_EQ(r.y.shape, (Shape{2, 2}));
  EXPECT_THAT(r.y.f32(), ElementsAre(1, 4, 5, 8));
  r = Einsum("...j,j->...", {{{2, 2}, {1, 2, 3, 4}}, {{2}, {10, 1}}});
  EXPECT_THAT(r.y.f32(), ElementsAre(12, 34));
  r = Einsum("i,j->ij", {{{2}, {1, 2}}, {{2}, {3, 4}}});
  EXPECT_THAT(r.y.f32(), ElementsAre(3, 4, 6, 8));
}

TEST(Einsum, Errors) {
  EXPECT_THAT(Einsum("ij,jk->ik", {{{2, 3}, std::vector<float>(6)}, {{2, 2}, std::vector<float>(4)}}).error,
              HasSubstr("has size 2, the same label elsewhere has 3"));
  EXPECT_THAT(Einsum("ij->k", {{{2, 3}, std::vector<float>(6)}}).error, HasSubstr("output label not in any input"));
  EXPECT_THAT(Einsum("ij,j", {{{2, 3}, std::vector<float>(6)}}).error, HasSubstr("has 2 operands"));
  EXPECT_THAT(Einsum("i1->i", {{{2, 3}, std::vector<float>(6)}}).error, HasSubstr("cannot parse"));
  EXPECT_THAT(Einsum("ijk->i", {{{2, 3}, std::vector<float>(6)}}).error, HasSubstr("rank 2"));
}

}  // namespace
}  // namespace edgert
