#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "../fuzz/seed_models.h"
#include "model_builder.h"
#include "ops_test_util.h"

namespace edgert {
namespace {

using test::D;
using test::ModelBuilder;
using ::testing::HasSubstr;

// x[b, 64] -> FC(64->96) gelu -> FC(96->32) -> softmax
ModelBuilder Mlp() {
  ModelBuilder b;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 0.2f);
  std::vector<float> w1(96 * 64), w2(32 * 96), b1(96);
  for (float& v : w1) v = nd(rng);
  for (float& v : w2) v = nd(rng);
  for (float& v : b1) v = nd(rng);
  int x = b.Input("x", fb::DType::F32, {"batch", 64});
  int W1 = b.ConstF32("w1", {96, 64}, w1);
  int B1 = b.ConstF32("b1", {96}, b1);
  int W2 = b.ConstF32("w2", {32, 96}, w2);
  int h = b.Tensor("h", fb::DType::F32, {"batch", 96});
  int z = b.Tensor("z", fb::DType::F32, {"batch", 32});
  int y = b.Tensor("y", fb::DType::F32, {"batch", 32});
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

std::vector<float> RandomInput(size_t n, int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<float> u(-2, 2);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// FCs reading one tensor one after the other quantize it once when their kernels quantize it
// the same way (two INT8 FCs, two INT4 ones, two INT8 ones; not the INT8 -> INT4 step, not
// across the FP32 FC): every output has the bits of its FC run alone.
TEST(Session, FcsReadingOneTensorQuantizeItOnce) {
  using test::WeightType;
  struct Fc {
    WeightType wt;
    int n;
  };
  const std::vector<Fc> fcs = {{WeightType::kI8, 48}, {WeightType::kI8, 40}, {WeightType::kI4, 24},
                               {WeightType::kI4, 56}, {WeightType::kF32, 8},  {WeightType::kI8, 16},
                               {WeightType::kI8, 32}};
  auto build = [&](int only) {  // only < 0: all FCs in one model
    ModelBuilder b;
    int x = b.Input("x", fb::DType::F32, {"batch", 64});
    for (int i = 0; i < static_cast<int>(fcs.size()); ++i) {
      std::mt19937 rng(static_cast<unsigned>(10 + i));
      const std::string n = std::to_string(i);
      int w = test::FcWeight(b, "w" + n, fcs[static_cast<size_t>(i)].wt, fcs[static_cast<size_t>(i)].n, 64, 32, rng);
      if (only >= 0 && i != only) continue;
      int y = b.Tensor("y" + n, fb::DType::F32, {"batch", fcs[static_cast<size_t>(i)].n});
      b.Op(fb::OpType::FULLY_CONNECTED, {x, w, -1}, {y}, ModelBuilder::Opt(fb::FullyConnectedOptionsT{}));
      b.Output(y);
    }
    return b;
  };
  const std::vector<float> in = RandomInput(5 * 64, 7);
  for (int threads : {1, 2}) {
    ModelBuilder all = build(-1);
    Runner r(all, threads);
    ASSERT_TRUE(r.ok()) << r.error();
    auto got = r.Run({F32({5, 64}, in)});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(r.session()->num_prequantized_ops(), 3u);  // i8 40, i4 56, i8 32
    for (int i = 0; i < static_cast<int>(fcs.size()); ++i) {
      ModelBuilder one = build(i);
      Runner ro(one, threads);
      ASSERT_TRUE(ro.ok()) << ro.error();
      auto want = ro.Run({F32({5, 64}, in)});
      ASSERT_TRUE(want.ok()) << want.status();
      EXPECT_EQ(ro.session()->num_prequantized_ops(), 0u);
      const std::vector<float> a = (*got)[static_cast<size_t>(i)].f32(), e = (*want)[0].f32();
      ASSERT_EQ(a.size(), e.size()) << "fc " << i;
      EXPECT_EQ(std::memcmp(a.data(), e.data(), a.size() * 4), 0) << "fc " << i << " threads " << threads;
    }
  }
}

TEST(Session, ReplansWhenShapesChange) {
  ModelBuilder b = Mlp();
  Runner r(b);
  ASSERT_TRUE(r.ok()) << r.error();
  auto o1 = r.Run({F32({1, 64}, RandomInput(64, 1))});
  ASSERT_TRUE(o1.ok()) << o1.status();
  const uint64_t a1 = r.session()->arena_bytes();
  auto o8 = r.Run({F32({8, 64}, RandomInput(8 * 64, 1))});
  ASSERT_TRUE(o8.ok()) << o8.status();
  EXPECT_EQ((*o8)[0].shape, (Shape{8, 32}));
  EXPECT_GT(r.session()->arena_bytes(), a1);
  // Row 0 of the batch matches the single-row run (same input row; M=1 uses another tile, so
  // float sums may be ordered differently).
  for (int i = 0; i < 32; ++i) EXPECT_NEAR((*o8)[0].f32()[static_cast<size_t>(i)], (*o1)[0].f32()[static_cast<size_t>(i)], 1e-6);
}

TEST(Session, OutputsIdenticalForEveryThreadCount) {
  ModelBuilder b = Mlp();
  std::vector<float> in = RandomInput(33 * 64, 5);
  std::string ref;
  for (int t : {1, 2, 3, 8}) {
    Runner r(b, t);
    ASSERT_TRUE(r.ok()) << r.error();
    auto o = r.Run({F32({33, 64}, in)});
    ASSERT_TRUE(o.ok()) << o.status();
    if (t == 1) ref = (*o)[0].data;
    EXPECT_EQ((*o)[0].data, ref) << t << " threads";
  }
}

TEST(Session, DynamicDimNamesMustAgree) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {"seq"});
  int m = b.Input("m", fb::DType::F32, {"seq"});
  int y = b.Tensor("y", fb::DType::F32, {"seq"});
  b.Op(fb::OpType::ADD, {x, m}, {y}, {});
  b.Output(y);
  Runner r(b);
  auto o = r.Run({F32({3}, {1, 2, 3}), F32({2}, {1, 2})});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("('seq') is 2 but input 'x' gave it 3"));
}

TEST(Session, RunBeforeInputsAreSetFails) {
  ModelBuilder b = Mlp();
  Runner r(b);
  absl::Status st = r.session()->Run();
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("input 'x' was not set"));
}

TEST(Session, BadInputsAreRefused) {
  ModelBuilder b = Mlp();
  Runner r(b);
  std::vector<float> v(64);
  Session& s = *r.session();
  EXPECT_THAT(std::string(s.SetInput(0, DType::I64, {1, 64}, v.data(), 256).message()), HasSubstr("dtype i64, expected f32"));
  EXPECT_THAT(std::string(s.SetInput(0, DType::F32, {64}, v.data(), 256).message()), HasSubstr("rank 1"));
  EXPECT_THAT(std::string(s.SetInput(0, DType::F32, {1, 63}, v.data(), 252).message()), HasSubstr("expected [-1,64]"));
  EXPECT_THAT(std::string(s.SetInput(0, DType::F32, {1, 64}, v.data(), 100).message()), HasSubstr("got 100 bytes"));
  EXPECT_THAT(std::string(s.SetInput(3, DType::F32, {1, 64}, v.data(), 256).message()), HasSubstr("out of range"));
  EXPECT_TRUE(s.SetInput(0, DType::F32, {1, 64}, v.data(), 256).ok());
}

TEST(Session, ArenaLimitFailsAtCreation) {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {1024, 1024});
  int y = b.Tensor("y", fb::DType::F32, {1024, 1024});
  b.Op(fb::OpType::RELU, {x}, {y}, {});
  b.Output(y);
  std::string bytes = b.Build();
  std::vector<uint8_t> buf(bytes.size() + 64);
  uint8_t* p = reinterpret_cast<uint8_t*>(AlignUp(reinterpret_cast<uintptr_t>(buf.data()), 64));
  std::memcpy(p, bytes.data(), bytes.size());
  auto m = Model::LoadMemory(p, bytes.size(), "big.efb");
  ASSERT_TRUE(m.ok()) << m.status();
  SessionOptions o;
  o.num_threads = 1;
  o.arena_limit_bytes = 1 << 20;
  auto s = Session::Create(**m, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("over the session limit of 1048576"));
  o.arena_limit_bytes = 8 << 20;
  EXPECT_TRUE(Session::Create(**m, o).ok());
}

TEST(Session, ConcurrentUseIsDetected) {
  ModelBuilder b = Mlp();
  Runner r(b);
  Session::Busy first(*r.session());
  ASSERT_TRUE(first.ok());
  Session::Busy second(*r.session());
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace edgert
