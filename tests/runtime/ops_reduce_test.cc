// Reductions, ArgMax/ArgMin and TopK: ONNX corner cases (axes as options or input, keepdims,
// noop_with_empty_axes, empty sets, ties) and the errors malformed models must give.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

std::vector<int64_t> I64s(const HostTensor& t) {
  std::vector<int64_t> v(t.data.size() / 8);
  if (!v.empty()) std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

struct Reduced {
  std::string error;
  HostTensor y;
};

Reduced Reduce(fb::OpType t, const Shape& xs, const std::vector<float>& x, std::vector<int> axes, bool keepdims,
               bool noop = false, const std::vector<int64_t>* axes_input = nullptr) {
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(xs));
  std::vector<int> ins = {xi};
  if (axes_input) ins.push_back(b.ConstI64("axes", {static_cast<int64_t>(axes_input->size())}, *axes_input));
  int y = b.Tensor("y", fb::DType::F32, {});
  fb::ReduceOptionsT o;
  o.axes = std::move(axes);
  o.keepdims = keepdims;
  o.noop_with_empty_axes = noop;
  b.Op(t, ins, {y}, ModelBuilder::Opt(o), "red");
  b.Output(y);
  Runner r(b);
  if (!r.ok()) return {r.error(), {}};
  auto out = r.Run({F32(xs, x)});
  if (!out.ok()) return {std::string(out.status().message()), {}};
  return {"", (*out)[0]};
}

const std::vector<float> kX = {1, 2, 3, 4, 5, 6};  // [2, 3]

TEST(Reduce, EveryKindAlongAxis1) {
  struct C { fb::OpType t; std::vector<float> want; };
  const std::vector<C> cases = {
      {fb::OpType::REDUCE_SUM, {6, 15}},
      {fb::OpType::REDUCE_MEAN, {2, 5}},
      {fb::OpType::REDUCE_MAX, {3, 6}},
      {fb::OpType::REDUCE_MIN, {1, 4}},
      {fb::OpType::REDUCE_PROD, {6, 120}},
      {fb::OpType::REDUCE_L2, {std::sqrt(14.f), std::sqrt(77.f)}},
      {fb::OpType::REDUCE_SUM_SQUARE, {14, 77}},
  };
  for (const C& c : cases) {
    auto r = Reduce(c.t, {2, 3}, kX, {1}, false);
    ASSERT_EQ(r.error, "") << fb::EnumNameOpType(c.t);
    EXPECT_EQ(r.y.shape, (Shape{2}));
    EXPECT_THAT(r.y.f32(), Pointwise(FloatNear(1e-5), c.want)) << fb::EnumNameOpType(c.t);
  }
}

TEST(Reduce, KeepdimsNegativeAxesAndAllAxes) {
  auto r = Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {-2}, true);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.y.shape, (Shape{1, 3}));
  EXPECT_THAT(r.y.f32(), ElementsAre(5, 7, 9));
  r = Reduce(fb::OpType::REDUCE_MEAN, {2, 3}, kX, {}, true);  // empty axes: all
  EXPECT_EQ(r.y.shape, (Shape{1, 1}));
  EXPECT_THAT(r.y.f32(), ElementsAre(3.5f));
  r = Reduce(fb::OpType::REDUCE_MAX, {2, 3}, kX, {}, false);
  EXPECT_EQ(r.y.shape, (Shape{}));
  EXPECT_THAT(r.y.f32(), ElementsAre(6));
  r = Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {}, true, /*noop=*/true);
  EXPECT_EQ(r.y.shape, (Shape{2, 3}));
  EXPECT_EQ(r.y.f32(), kX);
}

TEST(Reduce, MiddleAxesOf3D) {
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i);
  auto r = Reduce(fb::OpType::REDUCE_SUM, {2, 3, 4}, x, {0, 2}, false);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.y.shape, (Shape{3}));
  // sum over a, c of (12a + 4b + c) = 2*(4*4b + 6) + 12*4 = 32b + 60
  EXPECT_THAT(r.y.f32(), ElementsAre(60, 92, 124));
}

TEST(Reduce, AxesFromSecondInput) {
  const std::vector<int64_t> axes = {0};
  auto r = Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {}, false, false, &axes);
  ASSERT_EQ(r.error, "");
  EXPECT_THAT(r.y.f32(), ElementsAre(5, 7, 9));
  const std::vector<int64_t> none;
  r = Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {}, false, true, &none);  // empty input + noop
  EXPECT_EQ(r.y.shape, (Shape{2, 3}));
}

TEST(Reduce, EmptySetGivesTheIdentity) {
  for (auto [t, want] : std::vector<std::pair<fb::OpType, float>>{
           {fb::OpType::REDUCE_SUM, 0.f}, {fb::OpType::REDUCE_PROD, 1.f},
           {fb::OpType::REDUCE_MAX, -std::numeric_limits<float>::infinity()},
           {fb::OpType::REDUCE_MIN, std::numeric_limits<float>::infinity()}, {fb::OpType::REDUCE_L2, 0.f}}) {
    auto r = Reduce(t, {2, 0}, {}, {1}, true);
    ASSERT_EQ(r.error, "") << fb::EnumNameOpType(t);
    EXPECT_EQ(r.y.shape, (Shape{2, 1}));
    EXPECT_THAT(r.y.f32(), ElementsAre(want, want)) << fb::EnumNameOpType(t);
  }
}

TEST(Reduce, Errors) {
  EXPECT_THAT(Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {2}, true).error, HasSubstr("reduce axis 2 out of range"));
  EXPECT_THAT(Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {1, -1}, true).error, HasSubstr("repeated"));
  EXPECT_THAT(Reduce(fb::OpType::REDUCE_SUM, {2, 3}, kX, {1, -1}, true).error, HasSubstr("'red' (REDUCE_SUM)"));
  // axes given as a graph input: not known before the run.
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {2, 3});
  int a = b.Input("axes", fb::DType::I64, {1});
  int y = b.Tensor("y", fb::DType::F32, {});
  b.Op(fb::OpType::REDUCE_SUM, {x, a}, {y}, ModelBuilder::Opt(fb::ReduceOptionsT{}));
  b.Output(y);
  Runner r(b);
  std::string err = r.ok() ? "" : r.error();
  if (r.ok()) {
    auto out = r.Run({F32({2, 3}, kX), I64({1}, {1})});
    ASSERT_FALSE(out.ok());
    err = std::string(out.status().message());
  }
  EXPECT_THAT(err, HasSubstr("not known before the run"));
}

TEST(Reduce, IntegerSumAndMax) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::I64, {2, 2});
  int s = b.Tensor("s", fb::DType::I64, {});
  int m = b.Tensor("m", fb::DType::I64, {});
  fb::ReduceOptionsT o;
  o.axes = {1};
  o.keepdims = false;
  b.Op(fb::OpType::REDUCE_SUM, {x}, {s}, ModelBuilder::Opt(o));
  b.Op(fb::OpType::REDUCE_MAX, {x}, {m}, ModelBuilder::Opt(o));
  b.Output(s);
  b.Output(m);
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto out = r.Run({I64({2, 2}, {1, 7, -3, -9})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(I64s((*out)[0]), ElementsAre(8, -12));
  EXPECT_THAT(I64s((*out)[1]), ElementsAre(7, -3));
}

// ---- ArgMax / ArgMin ----
TEST(Arg, TiesKeepdimsAndSelectLastIndex) {
  const std::vector<float> x = {2, 5, 5, 1, 1, 0};  // [2, 3]
  struct C { fb::OpType t; int axis; bool keep, last; Shape shape; std::vector<int64_t> want; };
  const std::vector<C> cases = {
      {fb::OpType::ARG_MAX, 1, true, false, {2, 1}, {1, 0}},
      {fb::OpType::ARG_MAX, 1, false, true, {2}, {2, 1}},
      {fb::OpType::ARG_MIN, -1, false, false, {2}, {0, 2}},
      {fb::OpType::ARG_MIN, 0, true, false, {1, 3}, {1, 1, 1}},
      {fb::OpType::ARG_MAX, 0, false, true, {3}, {0, 0, 0}},
  };
  for (const C& c : cases) {
    ModelBuilder b;
    int xi = b.Input("x", fb::DType::F32, {2, 3});
    int y = b.Tensor("y", fb::DType::I64, {});
    fb::ArgOptionsT o;
    o.axis = c.axis;
    o.keepdims = c.keep;
    o.select_last_index = c.last;
    b.Op(c.t, {xi}, {y}, ModelBuilder::Opt(o));
    b.Output(y);
    Runner r(b);
    ASSERT_TRUE(r.ok()) << r.error();
    auto out = r.Run({F32({2, 3}, x)});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].dtype, DType::I64);
    EXPECT_EQ((*out)[0].shape, c.shape);
    EXPECT_EQ(I64s((*out)[0]), c.want) << fb::EnumNameOpType(c.t) << " axis " << c.axis;
  }
}

TEST(Arg, AxisOutOfRangeIsAnError) {
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, {2, 3});
  int y = b.Tensor("y", fb::DType::I64, {});
  fb::ArgOptionsT o;
  o.axis = 3;
  b.Op(fb::OpType::ARG_MAX, {xi}, {y}, ModelBuilder::Opt(o));
  b.Output(y);
  Runner r(b);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("axis 3 out of range for rank 2"));
}

// ---- TopK ----
struct TopKResult {
  std::string error;
  std::vector<float> values = {};
  std::vector<int64_t> indices = {};
  Shape shape = {};
};

TopKResult TopK(const Shape& xs, const std::vector<float>& x, int64_t k, int axis, bool largest) {
  ModelBuilder b;
  int xi = b.Input("x", fb::DType::F32, Dims(xs));
  int ki = b.ConstI64("k", {1}, {k});
  int v = b.Tensor("v", fb::DType::F32, {});
  int i = b.Tensor("i", fb::DType::I64, {});
  fb::TopKOptionsT o;
  o.axis = axis;
  o.largest = largest;
  b.Op(fb::OpType::TOP_K, {xi, ki}, {v, i}, ModelBuilder::Opt(o));
  b.Output(v);
  b.Output(i);
  Runner r(b);
  if (!r.ok()) return {r.error()};
  auto out = r.Run({F32(xs, x)});
  if (!out.ok()) return {std::string(out.status().message())};
  return {"", (*out)[0].f32(), I64s((*out)[1]), (*out)[0].shape};
}

TEST(TopK, LargestSmallestTiesAndAxis) {
  const std::vector<float> x = {3, 1, 3, 2, 0, 9, 9, 4};  // [2, 4]
  auto t = TopK({2, 4}, x, 2, -1, true);
  ASSERT_EQ(t.error, "");
  EXPECT_EQ(t.shape, (Shape{2, 2}));
  EXPECT_THAT(t.values, ElementsAre(3, 3, 9, 9));
  EXPECT_THAT(t.indices, ElementsAre(0, 2, 1, 2));  // ties: lower index first
  t = TopK({2, 4}, x, 3, 1, false);
  EXPECT_THAT(t.values, ElementsAre(1, 2, 3, 0, 4, 9));
  EXPECT_THAT(t.indices, ElementsAre(1, 3, 0, 0, 3, 1));
  t = TopK({2, 4}, x, 1, 0, true);
  EXPECT_EQ(t.shape, (Shape{1, 4}));
  EXPECT_THAT(t.values, ElementsAre(3, 9, 9, 4));
  EXPECT_THAT(t.indices, ElementsAre(0, 1, 1, 1));
  t = TopK({2, 4}, x, 0, -1, true);
  EXPECT_EQ(t.shape, (Shape{2, 0}));
}

TEST(TopK, KOutOfRangeIsAnError) {
  EXPECT_THAT(TopK({2, 4}, std::vector<float>(8), 5, -1, true).error, HasSubstr("k = 5 is outside [0, 4]"));
  EXPECT_THAT(TopK({2, 4}, std::vector<float>(8), -1, -1, true).error, HasSubstr("k = -1"));
}

}  // namespace
}  // namespace edgert
