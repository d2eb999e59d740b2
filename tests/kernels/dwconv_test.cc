// DwConv2dF32 (kernels/include/edgert/kernels/conv.h): every variant against the reference
// f32_dwconv2d_ref over odd sizes, padding, strides 1/2/3, dilation and fused activations.
// Outputs are guarded (sentinel past the end of every plane) and must match the reference to
// float rounding (the variants use FMA, the reference does not).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "edgert/kernels/conv.h"

namespace edgert::kernels {
namespace {

struct Case {
  size_t c, ih, iw, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  Activation act;
};

size_t OutDim(size_t in, size_t k, size_t s, size_t d, size_t p0, size_t p1) {
  return (in + p0 + p1 - ((k - 1) * d + 1)) / s + 1;
}

class DwConvTest : public ::testing::TestWithParam<Isa> {};

void Check(Isa isa, const Case& t, std::mt19937& rng) {
  DwConv2dShape s{};
  s.in_h = t.ih;
  s.in_w = t.iw;
  s.k_h = t.kh;
  s.k_w = t.kw;
  s.stride_h = t.sh;
  s.stride_w = t.sw;
  s.dil_h = t.dh;
  s.dil_w = t.dw;
  s.pad_top = t.pt;
  s.pad_left = t.pl;
  s.out_h = OutDim(t.ih, t.kh, t.sh, t.dh, t.pt, t.pb);
  s.out_w = OutDim(t.iw, t.kw, t.sw, t.dw, t.pl, t.pr);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  const size_t x_cs = t.ih * t.iw + 3, y_cs = s.out_h * s.out_w + 5;  // strides > plane
  std::vector<float> x(t.c * x_cs), w(t.c * t.kh * t.kw), b(t.c);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  const float kSentinel = 12345.f;
  std::vector<float> want(t.c * y_cs, kSentinel), got(t.c * y_cs, kSentinel);
  std::vector<float> scratch((DwConv2dScratchBytes(s) + 63) / 4 + 16);
  float* sp = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  ASSERT_TRUE(DwConv2dF32With(Isa::kRef, s, t.c, x.data(), x_cs, w.data(), b.data(), t.act, want.data(), y_cs, sp));
  ASSERT_TRUE(DwConv2dF32With(isa, s, t.c, x.data(), x_cs, w.data(), b.data(), t.act, got.data(), y_cs, sp));
  const float tol = 1e-5f * static_cast<float>(t.kh * t.kw + 1) * 4.f;
  for (size_t c = 0; c < t.c; ++c) {
    for (size_t i = 0; i < y_cs; ++i) {
      const float g = got[c * y_cs + i], e = want[c * y_cs + i];
      ASSERT_NEAR(g, e, tol) << "channel " << c << " index " << i << " of " << s.out_h << "x" << s.out_w
                             << " (k " << t.kh << "x" << t.kw << " stride " << t.sh << "," << t.sw << " dil " << t.dh
                             << "," << t.dw << " pad " << t.pt << "," << t.pl << "," << t.pb << "," << t.pr << ")";
      if (i >= s.out_h * s.out_w) {
        ASSERT_EQ(g, kSentinel) << "wrote past the plane";
      }
    }
  }
}

// Channels-last variant against the planar reference: x, w and y transposed; rows computed in
// two calls ([0, h/2) and [h/2, h)) as the runtime splits them over threads.
void CheckNhwc(Isa isa, const Case& t, std::mt19937& rng) {
  DwConv2dShape s{};
  s.in_h = t.ih;
  s.in_w = t.iw;
  s.k_h = t.kh;
  s.k_w = t.kw;
  s.stride_h = t.sh;
  s.stride_w = t.sw;
  s.dil_h = t.dh;
  s.dil_w = t.dw;
  s.pad_top = t.pt;
  s.pad_left = t.pl;
  s.out_h = OutDim(t.ih, t.kh, t.sh, t.dh, t.pt, t.pb);
  s.out_w = OutDim(t.iw, t.kw, t.sw, t.dw, t.pl, t.pr);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  const size_t C = t.c, is = t.ih * t.iw, os = s.out_h * s.out_w, kk = t.kh * t.kw;
  std::vector<float> x(C * is), w(C * kk), b(C), xh(C * is), wh(C * kk);
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  for (float& v : b) v = u(rng);
  for (size_t c = 0; c < C; ++c) {
    for (size_t i = 0; i < is; ++i) xh[i * C + c] = x[c * is + i];
    for (size_t i = 0; i < kk; ++i) wh[i * C + c] = w[c * kk + i];
  }
  const float kSentinel = 12345.f;
  std::vector<float> want(C * os), got(C * os + 7, kSentinel);
  ASSERT_TRUE(DwConv2dF32With(Isa::kRef, s, C, x.data(), is, w.data(), b.data(), t.act, want.data(), os, nullptr));
  const size_t half = s.out_h / 2;
  ASSERT_TRUE(DwConv2dNhwcF32With(isa, s, C, xh.data(), wh.data(), b.data(), t.act, got.data(), 0, half));
  ASSERT_TRUE(DwConv2dNhwcF32With(isa, s, C, xh.data(), wh.data(), b.data(), t.act, got.data(), half, s.out_h));
  const float tol = 1e-5f * static_cast<float>(kk + 1) * 4.f;
  for (size_t c = 0; c < C; ++c)
    for (size_t i = 0; i < os; ++i)
      ASSERT_NEAR(got[i * C + c], want[c * os + i], tol)
          << "channel " << c << " of " << C << ", position " << i << " of " << s.out_h << "x" << s.out_w << " (k "
          << t.kh << "x" << t.kw << " stride " << t.sh << "," << t.sw << " dil " << t.dh << "," << t.dw << " pad "
          << t.pt << "," << t.pl << "," << t.pb << "," << t.pr << ")";
  for (size_t i = C * os; i < got.size(); ++i) ASSERT_EQ(got[i], kSentinel) << "wrote past the output";
}

TEST_P(DwConvTest, NhwcMatchesReference) {
  const Isa isa = GetParam();
  if (!IsaBuilt(isa)) GTEST_SKIP() << IsaName(isa) << " is not built";
  if (!IsaSupportedByCpu(isa)) GTEST_SKIP() << "this CPU cannot run " << IsaName(isa);
  std::mt19937 rng(11);
  const Activation acts[] = {Activation::kNone, Activation::kRelu, Activation::kRelu6, Activation::kSigmoid};
  int n = 0;
  for (size_t k : {1, 3, 5})
    for (size_t stride : {1, 2})
      for (size_t dil : {1, 2})
        for (size_t size : {1, 7, 10})
          for (size_t pad : {0, 1, 2})
            for (size_t c : {1, 5, 8, 16, 37, 64, 70, 144}) {
              if (size + 2 * pad < (k - 1) * dil + 1) continue;
              Case t{c, size, size + 1, k, k, stride, stride, dil, dil, pad, pad, pad + 1, pad, acts[n++ % 4]};
              ASSERT_NO_FATAL_FAILURE(CheckNhwc(isa, t, rng));
            }
  const Case extra[] = {
      {96, 28, 28, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, Activation::kRelu6},
      {33, 9, 31, 2, 4, 1, 2, 3, 1, 0, 3, 2, 0, Activation::kRelu},
      {24, 40, 3, 7, 1, 2, 1, 1, 1, 3, 0, 3, 0, Activation::kTanh},
  };
  for (const Case& t : extra) ASSERT_NO_FATAL_FAILURE(CheckNhwc(isa, t, rng));
}

TEST_P(DwConvTest, MatchesReference) {
  const Isa isa = GetParam();
  if (!IsaBuilt(isa)) GTEST_SKIP() << IsaName(isa) << " is not built";
  if (!IsaSupportedByCpu(isa)) GTEST_SKIP() << "this CPU cannot run " << IsaName(isa);
  std::mt19937 rng(7);
  const Activation acts[] = {Activation::kNone, Activation::kRelu, Activation::kRelu6, Activation::kSigmoid};
  int n = 0;
  for (size_t k : {1, 3, 5})
    for (size_t stride : {1, 2, 3})
      for (size_t dil : {1, 2})
        for (size_t size : {1, 5, 7, 14, 17, 33})
          for (size_t pad : {0, 1, 2}) {
            const size_t ext = (k - 1) * dil + 1;
            if (size + 2 * pad < ext) continue;
            Case t{3, size, size + 2, k, k, stride, stride, dil, dil, pad, pad, pad, pad, acts[n++ % 4]};
            ASSERT_NO_FATAL_FAILURE(Check(isa, t, rng));
          }
  // Asymmetric kernels, strides, pads (SAME_UPPER-like), channel counts and 1-D (height 1).
  const Case extra[] = {
      {5, 112, 112, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, Activation::kRelu6},
      {2, 112, 112, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, Activation::kRelu6},
      {4, 14, 14, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, Activation::kRelu6},
      {4, 28, 28, 5, 5, 2, 2, 1, 1, 1, 1, 2, 2, Activation::kNone},
      {3, 9, 31, 2, 4, 1, 2, 3, 1, 0, 3, 2, 0, Activation::kRelu},
      {2, 1, 50, 1, 7, 1, 1, 1, 2, 0, 6, 0, 6, Activation::kNone},
      {1, 40, 3, 7, 1, 2, 1, 1, 1, 3, 0, 3, 0, Activation::kTanh},
  };
  for (const Case& t : extra) ASSERT_NO_FATAL_FAILURE(Check(isa, t, rng));
}

INSTANTIATE_TEST_SUITE_P(Variants, DwConvTest,
                         ::testing::Values(Isa::kRef, Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(IsaName(i.param)); });

}  // namespace
}  // namespace edgert::kernels
