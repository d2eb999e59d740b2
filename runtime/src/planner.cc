#include "planner.h"

#include <algorithm>
#include <numeric>

namespace edgert {

ArenaPlan PlanArena(const std::vector<PlanRequest>& requests, size_t alignment) {
  const size_t n = requests.size();
  ArenaPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // Largest first; ties by earlier start, then index, so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].first < requests[b].first;
  });
  auto aligned = [&](size_t v) { return (v + alignment - 1) / alignment * alignment; };
  std::vector<size_t> placed;
  placed.reserve(n);
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of live-overlapping placed
  for (size_t r : order) {
    const PlanRequest& q = requests[r];
    const size_t size = aligned(q.bytes);
    busy.clear();
    for (size_t p : placed) {
      const PlanRequest& o = requests[p];
      if (o.first <= q.last && q.first <= o.last) {
        busy.emplace_back(plan.offsets[p], plan.offsets[p] + aligned(o.bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;  // fits in the gap before this one
      offset = std::max(offset, e);
    }
    plan.offsets[r] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
    placed.push_back(r);
  }
  return plan;
}

}  // namespace edgert
