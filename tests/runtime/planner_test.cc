#include <gtest/gtest.h>

#include <random>

#include "planner.h"

namespace edgert {
namespace {

void CheckPlan(const std::vector<PlanRequest>& reqs, const ArenaPlan& plan) {
  size_t sum = 0;
  for (const auto& r : reqs) sum += (r.bytes + 63) / 64 * 64;
  EXPECT_LE(plan.arena_bytes, sum);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % 64, 0u);
    EXPECT_LE(plan.offsets[i] + reqs[i].bytes, plan.arena_bytes);
    for (size_t j = i + 1; j < reqs.size(); ++j) {
      const bool live_together = reqs[i].first <= reqs[j].last && reqs[j].first <= reqs[i].last;
      if (!live_together || reqs[i].bytes == 0 || reqs[j].bytes == 0) continue;
      const bool disjoint = plan.offsets[i] + reqs[i].bytes <= plan.offsets[j] ||
                            plan.offsets[j] + reqs[j].bytes <= plan.offsets[i];
      EXPECT_TRUE(disjoint) << "requests " << i << " and " << j << " overlap";
    }
  }
}

TEST(Planner, ChainReusesMemory) {
  // a -> b -> c -> d, each live only while produced and consumed by the next step.
  std::vector<PlanRequest> reqs = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  ArenaPlan p = PlanArena(reqs);
  CheckPlan(reqs, p);
  EXPECT_EQ(p.arena_bytes, 2 * 1024u);  // two buffers ping-pong
}

TEST(Planner, AllLiveNeedsTheSum) {
  std::vector<PlanRequest> reqs = {{100, 0, 9}, {200, 0, 9}, {300, 0, 9}};
  ArenaPlan p = PlanArena(reqs);
  CheckPlan(reqs, p);
  EXPECT_EQ(p.arena_bytes, 128u + 256u + 320u);
}

TEST(Planner, RandomGraphsNeverOverlap) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<PlanRequest> reqs;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      int a = static_cast<int>(rng() % 30);
      int b = a + static_cast<int>(rng() % 10);
      reqs.push_back({rng() % 5000, a, b});
    }
    ArenaPlan p = PlanArena(reqs);
    CheckPlan(reqs, p);
  }
}

TEST(Planner, Empty) {
  ArenaPlan p = PlanArena({});
  EXPECT_EQ(p.arena_bytes, 0u);
}

}  // namespace
}  // namespace edgert
