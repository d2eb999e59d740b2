// Broadcast iteration shared by elementwise ops: walks the output in rows of its innermost dim,
// giving each input's offset and inner stride (0 when that input is broadcast along it).
#pragma once

#include <array>
#include <utility>
#include <vector>

#include "op.h"

namespace edgert {

// The walk of ForEachBroadcastRow (below) restricted to output rows [row0, row1): threads split
// rows; every element is computed exactly as by the full walk.
template <size_t N, typename F>
void ForEachBroadcastRowRange(const Shape& out, const std::array<const Shape*, N>& ins, int64_t row0, int64_t row1,
                              F&& f) {
  const size_t r = out.size();
  if (NumElementsUnchecked(out) == 0 || row0 >= row1) return;
  std::array<std::vector<int64_t>, N> strides;
  for (size_t k = 0; k < N; ++k) {
    const Shape& s = *ins[k];
    strides[k].assign(r, 0);
    int64_t st = 1;
    for (size_t i = s.size(); i-- > 0;) {
      const size_t oi = i + (r - s.size());
      strides[k][oi] = s[i] == 1 ? 0 : st;
      st *= s[i];
    }
  }
  const int64_t inner = r == 0 ? 1 : out[r - 1];
  std::array<int64_t, N> inner_stride{};
  for (size_t k = 0; k < N; ++k) inner_stride[k] = r == 0 ? 0 : strides[k][r - 1];
  std::vector<int64_t> idx(r, 0);
  std::array<int64_t, N> off{};
  int64_t rem = row0;
  for (size_t d = r >= 1 ? r - 1 : 0; d-- > 0;) {
    idx[d] = rem % out[d];
    rem /= out[d];
    for (size_t k = 0; k < N; ++k) off[k] += strides[k][d] * idx[d];
  }
  for (int64_t row = row0; row < row1; ++row) {
    f(off, inner_stride, row * inner, inner);
    for (size_t d = r >= 1 ? r - 1 : 0; d-- > 0;) {
      idx[d]++;
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <size_t N, typename F>
void ForEachBroadcastRow(const Shape& out, const std::array<const Shape*, N>& ins, F&& f) {
  const int64_t total = NumElementsUnchecked(out);
  if (total == 0) return;
  const int64_t inner = out.empty() ? 1 : out.back();
  ForEachBroadcastRowRange(out, ins, 0, total / inner, std::forward<F>(f));
}

}  // namespace edgert
