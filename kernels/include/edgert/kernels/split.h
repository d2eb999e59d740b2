// How many rows one pthreadpool task takes. Every pthreadpool task costs a claim on a counter
// that the threads share; when the threads sit on cores far apart (other CCDs, other sockets,
// vCPUs of a busy host) that cache line moves between them at 0.1-1 us a time. Tasks of a few
// thousand multiply-adds (the 24-row GEMM tiles of a 112x112 conv stem with K = 27) then spend
// more time on that than on work: EfficientNet on 2 threads ran no faster than on 1. So a task
// gets at least `min_work` units of work, but the split still leaves about four tasks per thread
// (work stealing evens out the rest). Row counts are multiples of `unit` (a micro-kernel's rows),
// so the micro-kernel calls and therefore the results do not depend on the split.
#pragma once

#include <algorithm>
#include <cstddef>

namespace edgert::kernels {

// Rows per task for m rows of `work_per_row` units each, split over `threads` together with
// `col_tasks` independent column tasks per row block.
inline size_t TaskRows(size_t m, size_t unit, size_t work_per_row, size_t min_work, size_t col_tasks,
                       size_t threads) {
  unit = std::max<size_t>(unit, 1);
  const size_t by_work = (min_work + std::max<size_t>(work_per_row, 1) - 1) / std::max<size_t>(work_per_row, 1);
  const size_t want_row_tasks = std::max<size_t>(1, (4 * threads + col_tasks - 1) / std::max<size_t>(col_tasks, 1));
  const size_t by_balance = (m + want_row_tasks - 1) / want_row_tasks;
  const size_t rows = std::max<size_t>(1, std::min(by_work, by_balance));
  return (rows + unit - 1) / unit * unit;
}

// Contiguous row ranges for a split over threads: `tasks` ranges (two per thread, fewer when
// there are fewer micro-kernel row blocks), range t = rows [begin, end). The m rows form
// ceil(m / unit) blocks of `unit` rows (the micro-kernel's); each range takes a near-equal number
// of whole blocks, so only the last range has a short tile and the ranges differ by at most one
// block (a uniform tile size rounded to `unit` left 120 rows against 76 for m = 196 on 2 threads).
struct RowRanges {
  size_t m, unit, blocks, tasks;
  RowRanges(size_t m_, size_t unit_, size_t threads) : m(m_), unit(std::max<size_t>(unit_, 1)) {
    blocks = (m + unit - 1) / unit;
    tasks = std::max<size_t>(1, std::min(blocks, 2 * threads));
  }
  size_t begin(size_t t) const { return std::min(m, t * blocks / tasks * unit); }
  size_t end(size_t t) const { return std::min(m, (t + 1) * blocks / tasks * unit); }
};

// Work per task in the drivers' units: multiply-adds for GEMMs, elements for passes over data.
constexpr size_t kMinTaskMacs = size_t{1} << 20;
constexpr size_t kMinTaskElements = size_t{1} << 14;
// GEMMs with at least this many rows per thread split by contiguous row ranges only (each task
// runs its rows through every step); fewer rows also split over column tiles.
constexpr size_t kMinRowsPerThread = 16;

}  // namespace edgert::kernels
