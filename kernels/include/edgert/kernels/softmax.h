// Row-wise softmax of scaled, masked scores (runtime ops SOFTMAX, SCALED_SOFTMAX, ATTENTION).
// Selected with the f32 variant (EDGERT_ISA respected); every variant computes the same bits.
#pragma once

#include <cstddef>

namespace edgert::kernels {

// rows x len scores. Row r reads x + r * ldx and writes y + r * ldy (y == x with ldy == ldx is
// allowed: in place); its mask values are mask + r * mask_ld + i * mask_step (mask_step 1: a mask
// row, 0: one value per row; mask null: no mask).
struct ScaledSoftmaxArgs {
  size_t rows = 0, len = 0;
  const float* x = nullptr;
  size_t ldx = 0;
  float scale = 1.0f;
  bool divide = false;
  const float* mask = nullptr;
  size_t mask_ld = 0, mask_step = 0;
  float* y = nullptr;
  size_t ldy = 0;
};

// For each row, exactly (this is the specification every variant follows):
//   t_i = (divide ? x_i / scale : x_i * scale) + m_i  (two rounded operations; no mask: no add)
//   mx  = max_i t_i
//   e_i = exp(t_i - mx): 0 where t_i - mx < -80 (no denormal probabilities reach the next
//         MatMul), else n = round(d log2 e) by the 1.5*2^23 shifter, Cody-Waite r = d - n ln2
//         (two fma steps), 1 + r (c1 + r (c2 + ...c5)) in five fma steps (a minimax fit,
//         <= 2 ulp), times 2^n from the shifter's bits
//   S   = full 16-element chunks added lane-wise into two float accumulators (chunk c into
//         accumulator c % 2), the two added, their 16 lanes folded in halves (l + l+8, l + l+4,
//         l + l+2, l + l+1); then, in double, the last len % 16 e_i in order
//   y_i = e_i * float(1 / S)
// A NaN anywhere in a row makes the whole row NaN (as does a row that is all -inf).
void ScaledSoftmaxRows(const ScaledSoftmaxArgs& a);

}  // namespace edgert::kernels
