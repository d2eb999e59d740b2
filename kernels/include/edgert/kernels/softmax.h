// Row helpers of the softmax (runtime ops SOFTMAX and SCALED_SOFTMAX). Selected with the f32
// variant (EDGERT_ISA respected); every variant computes the same bits.
#pragma once

#include <cstddef>

namespace edgert::kernels {
// max over p[0, len) (-inf for len 0).
float SoftmaxRowMax(const float* p, size_t len);
// q[i] = exp(p[i] - mx) for i < len (p == q allowed); returns the sum of the q[i]. exp is a
// Cody-Waite reduction + degree-6 polynomial (~2 ulp); p[i] - mx < -80 gives exactly 0 (no
// denormal probabilities reach the next MatMul), NaN stays NaN. The sum: 8 float lane sums over
// consecutive 8-element chunks, added in lane order in double, then the last len % 8 in double.
double SoftmaxRowExp(const float* p, float mx, float* q, size_t len);
}  // namespace edgert::kernels
