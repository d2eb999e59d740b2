// Softmax rows (edgert/kernels/softmax.h): every variant (reference, AVX2, AVX-512 and its SIMDe
// build) gives the same bits for every length (16-lane chunks, odd chunk counts, tails under a
// mask), row count (rows in lockstep and the rest), mask form, scale mode and in place; guard
// values around every output row stay untouched; the reference is within 1e-6 relative of a
// double-precision softmax (plus the rounding of t - max); entries more than 80 below the max give exactly 0; NaN makes the
// row NaN.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "edgert/kernels/gemm.h"
#include "edgert/kernels/softmax.h"
#include "gtest/gtest.h"

namespace edgert::kernels {
#if defined(EDGERT_TEST_SIMDE)
namespace simde_emu {
void f32_softmax_rows_avx512vnni(const ScaledSoftmaxArgs& a);
}  // namespace simde_emu
#endif
namespace {

constexpr float kGuard = -12345.0f;

// rows x len scores of a kind: 0 ordinary, 1 -10000 at every third key, 2 spread around the -80
// cutoff below the max, 3 a NaN in row 1.
std::vector<float> Scores(size_t rows, size_t len, int kind) {
  std::vector<float> v(rows * len);
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < len; ++i) {
      const float t = static_cast<float>(i) + 0.61f * static_cast<float>(r);
      float& x = v[r * len + i];
      switch (kind) {
        case 0: x = std::sin(0.37f * t) * 12.0f; break;
        case 1: x = i % 3 == 1 ? -10000.0f : 0.1f * t; break;
        case 2: x = i == 0 ? 0.0f : -79.0f - 0.25f * static_cast<float>((i + r) % 9); break;
        default: x = r == 1 && i == len / 2 ? std::numeric_limits<float>::quiet_NaN() : std::cos(t); break;
      }
    }
  return v;
}

struct Case {
  size_t rows, len;
  int kind;
  int mask;  // 0 none, 1 one mask row for all rows, 2 a mask row per row, 3 one value per row
  bool divide, in_place;
  std::string Name() const {
    return "rows " + std::to_string(rows) + " len " + std::to_string(len) + " kind " + std::to_string(kind) +
           " mask " + std::to_string(mask) + (divide ? " divide" : " multiply") + (in_place ? " in place" : "");
  }
};

// Runs `fn` on the case with outputs at a row stride of len + 5, guard values in between.
template <typename Fn>
std::vector<float> RunCase(const Case& c, Fn fn) {
  const size_t ld = c.len + 5;
  const std::vector<float> s = Scores(c.rows, c.len, c.kind);
  std::vector<float> buf(c.rows * ld + 3, kGuard), x(c.rows * ld, 0.0f);
  for (size_t r = 0; r < c.rows; ++r)
    for (size_t i = 0; i < c.len; ++i) (c.in_place ? buf : x)[r * ld + i] = s[r * c.len + i];
  std::vector<float> mask(c.rows * c.len + 1);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 5 == 2 ? -3.0e38f : 0.01f * static_cast<float>(i % 13);
  ScaledSoftmaxArgs a;
  a.rows = c.rows;
  a.len = c.len;
  a.x = c.in_place ? buf.data() : x.data();
  a.ldx = ld;
  a.scale = 5.656854f;
  a.divide = c.divide;
  a.mask = c.mask == 0 ? nullptr : mask.data();
  a.mask_ld = c.mask == 2 ? c.len : c.mask == 3 ? 1 : 0;
  a.mask_step = c.mask == 3 ? 0 : 1;
  a.y = buf.data();
  a.ldy = ld;
  fn(a);
  for (size_t r = 0; r < c.rows; ++r)
    for (size_t i = c.len; i < ld && r * ld + i < buf.size(); ++i) EXPECT_EQ(buf[r * ld + i], kGuard) << c.Name();
  for (size_t i = c.rows * ld; i < buf.size(); ++i) EXPECT_EQ(buf[i], kGuard) << c.Name();
  std::vector<float> y(c.rows * c.len);
  for (size_t r = 0; r < c.rows; ++r) std::memcpy(&y[r * c.len], &buf[r * ld], c.len * sizeof(float));
  return y;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (size_t len : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 32u, 33u, 48u, 128u, 129u, 1001u})
    for (size_t rows : {1u, 3u, 4u, 6u, 9u})
      for (int kind = 0; kind < 4; ++kind)
        for (int mask = 0; mask < 4; ++mask)
          for (int mode = 0; mode < 3; ++mode) cases.push_back({rows, len, kind, mask, mode == 1, mode == 2});
  return cases;
}

void ExpectSameBits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << " at " << i;
    } else {
      ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << what << " at " << i << ": " << got[i] << " vs " << want[i];
    }
  }
}

TEST(Softmax, RowsIdenticalAcrossVariants) {
  const Isa saved = SelectedIsa();
  int vector_runs = 0;
  for (const Case& c : Cases()) {
    ASSERT_TRUE(ForceIsa(Isa::kRef));
    const std::vector<float> want = RunCase(c, ScaledSoftmaxRows);
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni}) {
      if (!ForceIsa(isa)) continue;  // not built, or this CPU lacks it: none of it may run
      ExpectSameBits(RunCase(c, ScaledSoftmaxRows), want, std::string(IsaName(isa)) + " " + c.Name());
      ++vector_runs;
    }
#if defined(EDGERT_TEST_SIMDE)
    ExpectSameBits(RunCase(c, simde_emu::f32_softmax_rows_avx512vnni), want, "avx512vnni[simde] " + c.Name());
    ++vector_runs;
#endif
    if (HasFatalFailure()) break;
  }
  ForceIsa(saved);
  if (vector_runs == 0) GTEST_SKIP() << "no vector softmax variant is built or runnable here";
}

TEST(Softmax, RowsAccurateAgainstDouble) {
  const Isa saved = SelectedIsa();
  ASSERT_TRUE(ForceIsa(Isa::kRef));
  for (const Case& c : Cases()) {
    if (c.in_place) continue;
    const std::vector<float> y = RunCase(c, ScaledSoftmaxRows);
    const std::vector<float> s = Scores(c.rows, c.len, c.kind);
    std::vector<float> mask(c.rows * c.len + 1);
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 5 == 2 ? -3.0e38f : 0.01f * static_cast<float>(i % 13);
    for (size_t r = 0; r < c.rows; ++r) {
      std::vector<double> t(c.len);
      double mx = -INFINITY;
      bool nan = false;
      for (size_t i = 0; i < c.len; ++i) {
        float v = c.divide ? s[r * c.len + i] / 5.656854f : s[r * c.len + i] * 5.656854f;
        if (c.mask == 1) v = v + mask[i];
        if (c.mask == 2) v = v + mask[r * c.len + i];
        if (c.mask == 3) v = v + mask[r];
        t[i] = v;
        nan = nan || std::isnan(v);
        mx = std::max(mx, t[i]);
      }
      const float* yr = &y[r * c.len];
      if (nan) {
        for (size_t i = 0; i < c.len; ++i) ASSERT_TRUE(std::isnan(yr[i])) << c.Name() << " row " << r;
        continue;
      }
      double sum = 0;
      for (size_t i = 0; i < c.len; ++i) sum += t[i] - mx < -80.0 ? 0.0 : std::exp(t[i] - mx);
      for (size_t i = 0; i < c.len; ++i) {
        if (t[i] - mx < -80.0) {
          ASSERT_EQ(yr[i], 0.0f) << c.Name() << " row " << r << " at " << i;
        } else {
          // 1e-6 for the exp (<= 2 ulp), the sum and the two roundings after it; plus the float
          // rounding of t - max, which exp turns into a relative error of |t - max| * 2^-24.
          const double want = std::exp(t[i] - mx) / sum;
          ASSERT_NEAR(yr[i], want, want * (1e-6 + 6e-8 * std::fabs(t[i] - mx))) << c.Name() << " row " << r << " at " << i;
        }
      }
    }
  }
  ForceIsa(saved);
}

}  // namespace
}  // namespace edgert::kernels
