// Constants of the softmax exp (kernels/src/softmax.cc): shared by every variant.
#pragma once

namespace edgert::kernels {
// Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (Cephes expf).
constexpr float kExpLog2e = 1.44269504088896341f, kExpLn2Hi = 0.693359375f, kExpLn2Lo = -2.12194440e-4f;
constexpr float kExpP0 = 1.9875691500e-4f, kExpP1 = 1.3981999507e-3f, kExpP2 = 8.3334519073e-3f,
                kExpP3 = 4.1665795894e-2f, kExpP4 = 1.6666665459e-1f, kExpP5 = 5.0000001201e-1f;
// Below this (relative to the row max) exp gives exactly 0: no denormal probabilities.
constexpr float kExpLowest = -80.0f;
}  // namespace edgert::kernels
