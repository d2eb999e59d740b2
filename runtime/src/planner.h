// Liveness-based arena offset planner (greedy by size, first fit between live neighbours).
#pragma once

#include <cstddef>
#include <vector>

namespace edgert {

struct PlanRequest {
  size_t bytes = 0;
  int first = 0;  // first step (op index) at which the buffer is live
  int last = 0;   // last step at which it is live (inclusive)
};

struct ArenaPlan {
  std::vector<size_t> offsets;  // per request, multiples of `alignment`
  size_t arena_bytes = 0;
};

// Two requests whose [first, last] ranges intersect never overlap in memory. The arena is never
// larger than the sum of the (aligned) sizes.
ArenaPlan PlanArena(const std::vector<PlanRequest>& requests, size_t alignment = 64);

}  // namespace edgert
