// Internal helpers shared by the runtime: status macros, dtypes, shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "edgert/schema/edgert_generated.h"

#define EDGERT_CONCAT_INNER(a, b) a##b
#define EDGERT_CONCAT(a, b) EDGERT_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::absl::Status _st = (expr);                \
    if (!_st.ok()) return _st;                  \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(EDGERT_CONCAT(_statusor_, __LINE__), lhs, expr)

// Broken internal invariants only (never input): prints and aborts.
#define EDGERT_CHECK(cond)                                                        \
  do {                                                                            \
    if (!(cond)) ::edgert::CheckFailed(__FILE__, __LINE__, #cond);                \
  } while (0)

namespace edgert {

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);

using DType = fb::DType;
using Shape = std::vector<int64_t>;

inline constexpr int kMaxRank = 8;
// No single tensor may exceed this many bytes (declared or inferred), so that a tiny file cannot
// request absurd allocations. 16 GiB is far above any edge model's activation.
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 34;

const char* DTypeName(DType t);
// Bytes for `count` elements (I4: two per byte, rounded up per whole tensor).
int64_t DTypeBytes(DType t, int64_t count);
size_t DTypeSize(DType t);  // 0 for I4

std::string ShapeString(const Shape& s);
// Product of dims with overflow check; error if any dim < 0 or the product overflows int64.
absl::StatusOr<int64_t> NumElements(const Shape& s);
inline int64_t NumElementsUnchecked(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

float HalfToFloat(uint16_t h);

inline uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace edgert
