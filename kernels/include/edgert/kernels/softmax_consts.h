// Constants of the softmax exp (kernels/include/edgert/kernels/softmax.h): shared by every variant.
#pragma once

namespace edgert::kernels {
// n = (d log2 e + kExpShifter) - kExpShifter rounds to nearest even in one fma; the shifter's low
// mantissa bits then hold n + 127, so (bits << 23) is 2^n. kExpLn2Hi has 9 significant bits: n
// ln2hi is exact for |n| < 2^15.
constexpr float kExpLog2e = 1.44269504088896341f, kExpShifter = 12582912.0f + 127.0f;
constexpr float kExpLn2Hi = 0.693359375f, kExpLn2Lo = -2.12194440e-4f;
// exp(r) ~ 1 + r (c1 + r (c2 + r (c3 + r (c4 + r c5)))) on |r| <= ln2/2: relative error 9.1e-8
// (a weighted least-squares / Lawson fit of the relative error); <= 2 ulp with the float steps.
constexpr float kExpC1 = 9.9999970198e-01f, kExpC2 = 4.9999150634e-01f, kExpC3 = 1.6667635739e-01f,
                kExpC4 = 4.1897930205e-02f, kExpC5 = 8.2903150469e-03f;
constexpr float kExpLowest = -80.0f;
}  // namespace edgert::kernels
