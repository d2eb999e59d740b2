// FP32 path (tolerance vs a double-accumulating reference), activation, and dispatch rules.
#include <pthreadpool.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.h"

namespace edgert::kernels::test {
namespace {

class F32Test : public ::testing::TestWithParam<Isa> {};

TEST_P(F32Test, SGemmPackedMatchesReference) {
  const Isa isa = GetParam();
  if (!IsaBuilt(isa)) GTEST_SKIP() << IsaName(isa) << " is not built";
  if (!IsaSupportedByCpu(isa)) GTEST_SKIP() << "this CPU cannot run " << IsaName(isa);
  ASSERT_TRUE(ForceIsa(isa));
  std::mt19937 rng(11);
  pthreadpool_t pool = pthreadpool_create(2);
  for (size_t m : {1, 2, 7, 33})
    for (size_t k : {1, 7, 100, 1023})
      for (size_t n : {1, 17, 64}) {
        const auto a = RandomFloats(m * k, rng), w = RandomFloats(n * k, rng), bias = RandomFloats(n, rng);
        std::vector<uint8_t> packed(PackedF32wBytes(n, k));
        PackF32w(n, k, w.data(), packed.data());
        const size_t ldc = n + 3;
        std::vector<float> want(m * ldc, 9.0f);
        SGemmRef(m, n, k, a.data(), k, w.data(), bias.data(), Activation::kRelu, want.data(), ldc);
        Guarded<float> got(m * ldc);
        for (size_t i = 0; i < m * ldc; ++i) got[i] = 9.0f;
        SGemmPacked(m, n, k, a.data(), k, packed.data(), bias.data(), Activation::kRelu, got.data(), ldc,
                    (m + n) % 2 ? pool : nullptr);
        ASSERT_TRUE(got.GuardsIntact());
        // Tolerance: float summation of k products of |x| <= 1, error grows like sqrt(k) * eps.
        const float tol = 1e-5f * std::sqrt(static_cast<float>(k)) * 4.0f;
        for (size_t i = 0; i < m; ++i) {
          for (size_t j = 0; j < n; ++j) ASSERT_NEAR(want[i * ldc + j], got[i * ldc + j], tol);
          for (size_t j = n; j < ldc; ++j) ASSERT_EQ(9.0f, got[i * ldc + j]);
        }
        // General SGemm, both layouts of B.
        std::vector<float> bt(k * n);
        for (size_t j = 0; j < n; ++j)
          for (size_t kk = 0; kk < k; ++kk) bt[kk * n + j] = w[j * k + kk];
        // ... and with row strides larger than the rows (B a view into a wider matrix).
        const size_t ldp = n + 5, ldt = k + 3;
        std::vector<float> btp(k * ldp, NAN), wp(n * ldt, NAN);
        for (size_t kk = 0; kk < k; ++kk)
          for (size_t j = 0; j < n; ++j) btp[kk * ldp + j] = bt[kk * n + j];
        for (size_t j = 0; j < n; ++j)
          for (size_t kk = 0; kk < k; ++kk) wp[j * ldt + kk] = w[j * k + kk];
        std::vector<float> nob(m * n), c1(m * n), c2(m * n), c3(m * n), c4(m * n);
        SGemmRef(m, n, k, a.data(), k, w.data(), nullptr, Activation::kNone, nob.data(), n);
        SGemm(m, n, k, a.data(), k, w.data(), k, true, c1.data(), n, pool);
        SGemm(m, n, k, a.data(), k, bt.data(), n, false, c2.data(), n, pool);
        SGemm(m, n, k, a.data(), k, btp.data(), ldp, false, c3.data(), n, pool);
        SGemm(m, n, k, a.data(), k, wp.data(), ldt, true, c4.data(), n, pool);
        for (size_t i = 0; i < m * n; ++i) {
          ASSERT_NEAR(nob[i], c1[i], tol);
          ASSERT_NEAR(nob[i], c2[i], tol);
          ASSERT_NEAR(nob[i], c3[i], tol);
          ASSERT_NEAR(nob[i], c4[i], tol);
        }
      }
  pthreadpool_destroy(pool);
  ForceIsa(SelectedIsa());
}

// Relu / Relu6 run in the micro-kernels' epilogue: bit-identical to the GEMM then the separate
// ApplyActivation pass (NaN and both bounds included), every variant, short and full tiles.
TEST_P(F32Test, FusedClampEqualsSeparatePass) {
  const Isa isa = GetParam();
  if (!IsaBuilt(isa)) GTEST_SKIP() << IsaName(isa) << " is not built";
  if (!IsaSupportedByCpu(isa)) GTEST_SKIP() << "this CPU cannot run " << IsaName(isa);
  ASSERT_TRUE(ForceIsa(isa));
  std::mt19937 rng(5);
  for (Activation act : {Activation::kRelu, Activation::kRelu6})
    for (size_t m : {1, 5, 13, 40})
      for (size_t n : {3, 16, 48}) {
        const size_t k = 19;
        auto a = RandomFloats(m * k, rng), w = RandomFloats(n * k, rng), bias = RandomFloats(n, rng);
        for (auto& v : w) v *= 8.0f;  // outputs well beyond 6 and below 0
        a[0] = std::nanf("");          // a NaN row: the clamp gives the lower bound, as the pass
        std::vector<uint8_t> packed(PackedF32wBytes(n, k));
        PackF32w(n, k, w.data(), packed.data());
        std::vector<float> fused(m * n), sep(m * n);
        SGemmPacked(m, n, k, a.data(), k, packed.data(), bias.data(), act, fused.data(), n, nullptr);
        SGemmPacked(m, n, k, a.data(), k, packed.data(), bias.data(), Activation::kNone, sep.data(), n, nullptr);
        ApplyActivation(act, sep.data(), sep.size());
        ASSERT_EQ(std::memcmp(fused.data(), sep.data(), fused.size() * 4), 0)
            << IsaName(isa) << " m " << m << " n " << n << " act " << static_cast<int>(act);
      }
  ForceIsa(SelectedIsa());
}

INSTANTIATE_TEST_SUITE_P(Isas, F32Test, ::testing::Values(Isa::kRef, Isa::kAvx2, Isa::kAvx512Vnni),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(IsaName(i.param)); });

TEST(Activation, MatchesDefinitions) {
  std::vector<float> x = {-3.0f, -0.5f, 0.0f, 0.5f, 7.0f};
  auto y = x;
  ApplyActivation(Activation::kRelu6, y.data(), y.size());
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 0.5f, 6.0f}));
  y = x;
  ApplyActivation(Activation::kSilu, y.data(), y.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i] / (1 + std::exp(-x[i])), 1e-6);
  y = x;
  ApplyActivation(Activation::kGelu, y.data(), y.size());
  EXPECT_NEAR(y[3], 0.345731f, 1e-5);
}

// GELU (piecewise erf, activation_impl.h): the same bits from every variant this CPU runs, over
// [-12, 12] in steps of 1e-3 plus the specials, with lengths that leave vector tails; within
// 4.5e-7 absolute of the double-precision definition; exactly x above 5.25, exactly 0 below -5.25.
TEST(Activation, GeluIdenticalAcrossVariantsAndAccurate) {
  std::vector<float> x;
  for (int i = -12000; i <= 12000; ++i) x.push_back(static_cast<float>(i) * 1e-3f);
  for (float s : {0.0f, -0.0f, 1e-30f, -1e-30f, 5.2499995f, 5.25f, 5.9999995f, 6.0f, -6.0f, 1e30f, -1e30f,
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
    x.push_back(s);
  const Isa saved = SelectedIsa();
  ASSERT_TRUE(ForceIsa(Isa::kRef));
  std::vector<float> want = x;
  ApplyActivation(Activation::kGelu, want.data(), want.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(want[i]));
    } else if (std::isinf(v)) {
      EXPECT_EQ(want[i], x[i]);
    } else if (v > 5.25) {
      EXPECT_EQ(want[i], x[i]) << v;
    } else if (v < -5.25) {
      EXPECT_EQ(want[i], 0.0f) << v;
    } else {
      EXPECT_NEAR(want[i], 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))), 4.5e-7) << v;
    }
  }
  int vector_runs = 0;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni}) {
    if (!ForceIsa(isa)) continue;  // not built, or this CPU lacks it
    for (size_t len : {x.size(), size_t{7}, size_t{23}}) {
      std::vector<float> got(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(len));
      ApplyActivation(Activation::kGelu, got.data(), got.size());
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), len * sizeof(float))) << IsaName(isa) << " len " << len;
    }
    ++vector_runs;
  }
  ForceIsa(saved);
  if (vector_runs == 0) GTEST_SKIP() << "no vector activation variant is built or runnable here";
}

TEST(Dispatch, SelectedIsBuiltAndSupported) {
  const Isa s = SelectedIsa();
  EXPECT_TRUE(IsaBuilt(s));
  EXPECT_TRUE(IsaSupportedByCpu(s));
  EXPECT_NE(QGemmConfigFor(s), nullptr);
  // Nothing higher is both built and supported.
  for (int i = static_cast<int>(s) + 1; i <= static_cast<int>(Isa::kAvx512Vnni); ++i) {
    const Isa h = static_cast<Isa>(i);
    if (std::getenv("EDGERT_ISA") == nullptr) {
      EXPECT_FALSE(IsaBuilt(h) && IsaSupportedByCpu(h)) << IsaName(h);
    }
  }
  std::printf("selected ISA: %s (qc8w %s, qb4w %s)\n", IsaName(s), QGemmConfigFor(s)->qc8w.name,
              QGemmConfigFor(s)->qb4w.name);
}

TEST(Dispatch, ForceRefusesWhatCannotRun) {
  EXPECT_FALSE(ForceIsa(Isa::kNeon));  // never built on x86
  for (Isa isa : {Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni})
    if (!IsaSupportedByCpu(isa)) {
      EXPECT_FALSE(ForceIsa(isa)) << IsaName(isa);
    }
  EXPECT_TRUE(ForceIsa(Isa::kRef));
  EXPECT_EQ(CurrentQGemmConfig()->isa, Isa::kRef);
  EXPECT_TRUE(ForceIsa(SelectedIsa()));
  EXPECT_STREQ(IsaName(Isa::kAvx512Vnni), "avx512vnni");
}

}  // namespace
}  // namespace edgert::kernels::test
