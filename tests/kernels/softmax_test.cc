// Softmax row helpers: every variant (reference, AVX2, AVX-512 and its SIMDe build) gives the
// same bits, for every length (vector steps of 16 and 8 and scalar tails); exp within 1e-6
// relative of libm; entries more than 80 below the max give exactly 0; NaN propagates.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "edgert/kernels/gemm.h"
#include "edgert/kernels/softmax.h"
#include "gtest/gtest.h"

namespace edgert::kernels {
#if defined(EDGERT_TEST_SIMDE)
namespace simde_emu {
size_t f32_exprow_avx512vnni(const float* p, float mx, float* q, size_t len, float lanes[8]);
float f32_maxrow_avx512vnni(const float* p, size_t len);
}  // namespace simde_emu
#endif
namespace {

std::vector<float> Row(size_t len, int kind) {
  std::vector<float> v(len);
  for (size_t i = 0; i < len; ++i) {
    const float t = static_cast<float>(i);
    switch (kind) {
      case 0: v[i] = std::sin(0.37f * t) * 12.0f; break;               // ordinary scores
      case 1: v[i] = i % 3 == 1 ? -10000.0f : 0.1f * t; break;         // masked keys
      case 2: v[i] = -79.5f - 0.25f * static_cast<float>(i % 5); break;  // around the -80 cutoff
      default: v[i] = i == len / 2 ? std::numeric_limits<float>::quiet_NaN() : 1.0f; break;
    }
  }
  return v;
}

TEST(Softmax, RowHelpersIdenticalAcrossVariantsAndAccurate) {
  const Isa saved = SelectedIsa();
  for (size_t len : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 24u, 31u, 33u, 128u, 1001u}) {
    for (int kind = 0; kind < 4; ++kind) {
      if (len == 0 && kind == 3) continue;
      const std::vector<float> p = Row(len, kind);
      ASSERT_TRUE(ForceIsa(Isa::kRef));
      const float mx_ref = SoftmaxRowMax(p.data(), len);
      std::vector<float> q_ref(len);
      const double sum_ref = SoftmaxRowExp(p.data(), kind == 2 ? 0.0f : mx_ref, q_ref.data(), len);
      const float mx = kind == 2 ? 0.0f : mx_ref;
      for (size_t i = 0; i < len && kind != 3; ++i) {
        const double x = static_cast<double>(p[i]) - mx;
        if (x < -80.0) {
          ASSERT_EQ(q_ref[i], 0.0f) << len << " " << kind << " " << i;
        } else {
          // ~2 ulp of the polynomial plus the float rounding of the argument p - mx.
          const double tol = std::exp(x) * (4e-7 + 1.2e-7 * std::fabs(x));
          ASSERT_NEAR(q_ref[i], std::exp(x), tol) << len << " " << kind << " " << i;
        }
      }
      if (kind == 3) {
        EXPECT_TRUE(std::isnan(sum_ref));
      }
      for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni}) {
        if (!ForceIsa(isa)) {
          // Not built or not supported by this CPU: nothing of it may run here.
          continue;
        }
        std::vector<float> q(len, -1.0f);
        const float m = SoftmaxRowMax(p.data(), len);
        const double sum = SoftmaxRowExp(p.data(), mx, q.data(), len);
        if (kind != 3) {
          EXPECT_EQ(m, mx_ref) << IsaName(isa) << " " << len << " " << kind;
          EXPECT_EQ(std::memcmp(&sum, &sum_ref, sizeof sum), 0) << IsaName(isa) << " " << len << " " << kind;
        }
        for (size_t i = 0; i < len; ++i) {
          if (std::isnan(q_ref[i])) {
            EXPECT_TRUE(std::isnan(q[i]));
          } else {
            ASSERT_EQ(std::memcmp(&q[i], &q_ref[i], 4), 0) << IsaName(isa) << " " << len << " " << kind << " " << i;
          }
        }
        // In place (p == q), as the fused SCALED_SOFTMAX uses it.
        std::vector<float> inplace = p;
        SoftmaxRowExp(inplace.data(), mx, inplace.data(), len);
        for (size_t i = 0; i < len && kind != 3; ++i) ASSERT_EQ(inplace[i], q_ref[i]);
      }
#if defined(EDGERT_TEST_SIMDE)
      // The AVX-512 source built against SIMDe: same vector part (lanes and values).
      if (kind != 3) {
        ASSERT_TRUE(ForceIsa(Isa::kRef));
        std::vector<float> q(len, -1.0f);
        float lanes[8];
        const size_t done = simde_emu::f32_exprow_avx512vnni(p.data(), mx, q.data(), len, lanes);
        EXPECT_EQ(done, len - len % 8);
        double sum = 0;
        for (float l : lanes) sum += l;
        std::vector<float> q2(len);
        double want = 0;
        {
          float l2[8] = {};
          for (size_t i = 0; i + 8 <= len; i += 8)
            for (size_t l = 0; l < 8; ++l) l2[l] += q_ref[i + l];
          for (float l : l2) want += l;
        }
        EXPECT_EQ(sum, want) << len << " " << kind;
        for (size_t i = 0; i < done; ++i) ASSERT_EQ(q[i], q_ref[i]) << "simde " << len << " " << kind << " " << i;
        EXPECT_EQ(simde_emu::f32_maxrow_avx512vnni(p.data(), len), mx_ref);
      }
#endif
    }
  }
  ForceIsa(saved);
}

}  // namespace
}  // namespace edgert::kernels
