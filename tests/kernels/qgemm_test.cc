// Every qd8 variant against the reference: quantization and int32 accumulators bit-exact,
// fp32 outputs bit-exact (the output stages use the reference's float operation order), sweeps
// over M/K/N/zero points/block formats, extremes, guard bytes, thread-count invariance.
#include <pthreadpool.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "test_util.h"

namespace edgert::kernels::test {
namespace {

class QGemmTest : public ::testing::TestWithParam<Variant> {};

std::vector<uint8_t> Pack8(size_t n, size_t k, const std::vector<int8_t>& w,
                           const std::vector<float>& scales) {
  std::vector<uint8_t> p(PackedQc8wBytes(n, k));
  PackQc8w(n, k, w.data(), scales.data(), p.data());
  return p;
}

struct Int4Format {
  size_t block;
  bool asym, f16;
};
constexpr Int4Format kInt4Formats[] = {{32, false, false}, {32, true, false},  {32, false, true},
                                       {32, true, true},   {64, false, false}, {64, true, true},
                                       {64, true, false},  {64, false, true},  {128, false, false},
                                       {128, true, true},  {128, false, true}, {128, true, false}};

struct Int4Weights {
  std::vector<uint8_t> w;       // [N][ceil(K/2)]
  std::vector<float> s32;       // [N][nb]
  std::vector<uint16_t> s16;    // [N][nb]
  std::vector<int8_t> zp;       // [N][nb] (asym)
  std::vector<uint8_t> packed;
  const void* scales() const { return s16.empty() ? static_cast<const void*>(s32.data()) : s16.data(); }
  const int8_t* zps() const { return zp.empty() ? nullptr : zp.data(); }
};

// mode: 0 random, 1 all weights -8, 2 all 7; unit_scales for exact-integer checks.
Int4Weights MakeInt4(size_t n, size_t k, const Int4Format& f, std::mt19937& rng, bool unit_scales,
                     int mode = 0) {
  Int4Weights x;
  const size_t nb = (k + f.block - 1) / f.block, rb = (k + 1) / 2;
  x.w.resize(n * rb);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : x.w) b = mode == 0 ? byte(rng) : mode == 1 ? 0x88 : 0x77;
  std::uniform_real_distribution<float> sd(0.001f, 0.1f);
  x.s32.resize(n * nb);
  for (auto& s : x.s32) s = unit_scales ? 1.0f : sd(rng);
  if (f.f16) {
    x.s16.resize(n * nb);
    for (size_t i = 0; i < x.s32.size(); ++i) x.s16[i] = F32ToF16(x.s32[i]);
  }
  if (f.asym) {
    std::uniform_int_distribution<int> z(-8, 7);
    x.zp.resize(n * nb);
    for (auto& v : x.zp) v = static_cast<int8_t>(mode == 1 ? 7 : mode == 2 ? -8 : z(rng));
  }
  x.packed.resize(PackedQb4wBytes(n, k, f.block));
  PackQb4w(n, k, f.block, x.w.data(), x.scales(), f.f16, x.zps(), x.packed.data());
  return x;
}

int32_t Int4(const Int4Weights& x, size_t k, size_t j, size_t kk) {
  const uint8_t b = x.w[j * ((k + 1) / 2) + kk / 2];
  const int v = (kk & 1) ? b >> 4 : b & 15;
  return v >= 8 ? v - 16 : v;
}

// ---------------- quantization ----------------
TEST_P(QGemmTest, QuantizeMatchesReference) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  std::mt19937 rng(1);
  for (int32_t qmax : {127, 255}) {
    for (size_t k : kK) {
      const size_t m = 10, stride = QRowStride(k);
      std::vector<float> a = RandomFloats(m * k, rng, -3.0f, 5.0f);
      for (size_t j = 0; j < k; ++j) {
        a[1 * k + j] = 0.0f;                              // all zero
        a[2 * k + j] = -std::fabs(a[2 * k + j]);          // all negative -> zp = qmax
        a[3 * k + j] = std::fabs(a[3 * k + j]);           // all positive -> zp = 0
        a[5 * k + j] *= 1e-30f;                           // tiny range
        a[6 * k + j] *= 1e30f;                            // huge
        a[7 * k + j] = static_cast<float>(j % 7) - 3.0f;  // exact ties in x * inv
      }
      a[4 * k + k / 2] = std::numeric_limits<float>::quiet_NaN();  // NaN is ignored
      a[8 * k] = 0.5f;  // ties
      a[9 * k] = -std::numeric_limits<float>::infinity();  // infinite range
      a[9 * k + k - 1] = std::numeric_limits<float>::infinity();
      std::vector<uint8_t> qr(m * stride, 0xEE);
      std::vector<QRowParams> pr(m);
      QuantizeRowsRef(m, k, a.data(), k, qmax, qr.data(), stride, pr.data());
      Guarded<uint8_t> q(m * stride);
      Guarded<QRowParams> p(m);
      cfg->quantize(m, k, a.data(), k, qmax, q.data(), stride, p.data());
      ASSERT_TRUE(q.GuardsIntact() && p.GuardsIntact()) << "k=" << k;
      ASSERT_EQ(0, std::memcmp(qr.data(), q.data(), qr.size())) << "k=" << k << " qmax=" << qmax;
      ASSERT_EQ(0, std::memcmp(pr.data(), p.data(), m * sizeof(QRowParams))) << "k=" << k;
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < k; ++j) ASSERT_LE(qr[i * stride + j], qmax);
    }
  }
}

// ---------------- qc8w: int32 accumulators ----------------
void CheckQc8wAcc(const QGemmConfig* cfg, size_t m, size_t n, size_t k, const std::vector<uint8_t>& qa,
                  const std::vector<QRowParams>& rows, const std::vector<int8_t>& w) {
  const size_t stride = QRowStride(k);
  std::vector<float> scales(n, 1.0f);
  const auto packed = Pack8(n, k, w, scales);
  const size_t ldacc = n + 3;
  std::vector<int32_t> want(m * ldacc, 0x7EADBEEF);
  Qc8wAccRef(m, n, k, qa.data(), stride, rows.data(), w.data(), want.data(), ldacc);
  Guarded<int32_t> got(m * ldacc, 0x7E);
  Qc8wAccumulatorsForTest(cfg, m, n, k, qa.data(), stride, rows.data(), packed.data(), got.data(), ldacc);
  ASSERT_TRUE(got.GuardsIntact()) << "m=" << m << " n=" << n << " k=" << k;
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j)
      ASSERT_EQ(want[i * ldacc + j], got[i * ldacc + j])
          << "m=" << m << " n=" << n << " k=" << k << " at " << i << "," << j;
    for (size_t j = n; j < ldacc; ++j) ASSERT_EQ(got[i * ldacc + j], 0x7E7E7E7E) << "wrote past n";
  }
}

TEST_P(QGemmTest, Qc8wAccumulatorsBitExactSweep) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  const int32_t qmax = cfg->qc8w_qmax;
  std::mt19937 rng(2);
  size_t shape = 0;
  for (size_t m : kM)
    for (size_t k : kK)
      for (size_t n : kN) {
        const size_t stride = QRowStride(k);
        std::vector<uint8_t> qa(m * stride, 0);
        std::vector<QRowParams> rows(m);
        std::uniform_int_distribution<int> ua(0, qmax), uw(-128, 127);
        for (size_t i = 0; i < m; ++i) {
          // every shape with M >= 5 sees all zero points; smaller M rotate through them
          rows[i] = {1.0f, std::min(kZeroPoints[(i + shape) % 5], qmax)};
          for (size_t j = 0; j < k; ++j) qa[i * stride + j] = static_cast<uint8_t>(ua(rng));
        }
        std::vector<int8_t> w(n * k);
        for (auto& v : w) v = static_cast<int8_t>(uw(rng));
        CheckQc8wAcc(cfg, m, n, k, qa, rows, w);
        if (HasFatalFailure()) return;
        ++shape;
      }
}

TEST_P(QGemmTest, Qc8wAccumulatorsExtremes) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  const int32_t qmax = cfg->qc8w_qmax;
  for (size_t m : {1, 4, 7, 33})
    for (size_t k : {1, 33, 1023, 4096})
      for (size_t n : {17, 64})
        for (int a_val : {qmax, 0})
          for (int w_val : {-128, 127, 1000 /* alternating -128, 127 */})
            for (int32_t zp : {0, qmax}) {
              const size_t stride = QRowStride(k);
              std::vector<uint8_t> qa(m * stride, 0);
              std::vector<QRowParams> rows(m, QRowParams{1.0f, zp});
              for (size_t i = 0; i < m; ++i)
                for (size_t j = 0; j < k; ++j) qa[i * stride + j] = static_cast<uint8_t>(a_val);
              std::vector<int8_t> w(n * k);
              for (size_t i = 0; i < w.size(); ++i)
                w[i] = static_cast<int8_t>(w_val == 1000 ? (i % 2 ? 127 : -128) : w_val);
              CheckQc8wAcc(cfg, m, n, k, qa, rows, w);
              if (HasFatalFailure()) return;
            }
}

// ---------------- qc8w: end to end (fp32 in, fp32 out) ----------------
std::vector<float> TestActivations(size_t m, size_t k, std::mt19937& rng) {
  std::vector<float> a = RandomFloats(m * k, rng, -2.0f, 2.0f);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < k; ++j) {
      float& x = a[i * k + j];
      switch (i % 4) {
        case 1: x = std::fabs(x); break;             // relu-like row
        case 2: x = x * 37.0f - 5.0f; break;          // offset row
        case 3: if (i % 8 == 3) x = 0.0f; break;      // an all-zero row
        default: break;
      }
    }
  return a;
}

TEST_P(QGemmTest, Qc8wEndToEndBitExact) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  std::mt19937 rng(3);
  int act_i = 0;
  for (size_t m : kM)
    for (size_t k : {1, 7, 33, 100, 1023})
      for (size_t n : {1, 17, 64}) {
        const Activation act = static_cast<Activation>(act_i++ % 8);
        const auto a = TestActivations(m, k, rng);
        std::vector<int8_t> w(n * k);
        std::uniform_int_distribution<int> uw(-127, 127);
        for (auto& v : w) v = static_cast<int8_t>(uw(rng));
        auto scales = RandomFloats(n, rng, 0.001f, 0.02f);
        auto bias = RandomFloats(n, rng);
        const bool with_bias = (m + n) % 2;
        const auto packed = Pack8(n, k, w, scales);
        const size_t ldc = n + 5;
        std::vector<float> want(m * ldc, -7.0f);
        QGemmQc8wRef(m, n, k, cfg->qc8w_qmax, a.data(), k, w.data(), scales.data(),
                     with_bias ? bias.data() : nullptr, act, want.data(), ldc);
        Guarded<float> got(m * ldc);
        for (size_t i = 0; i < m * ldc; ++i) got[i] = -7.0f;
        Guarded<uint8_t> ws(QGemmWorkspaceBytes(m, k, 1));
        QGemmQc8wWith(cfg, m, n, k, a.data(), k, packed.data(), with_bias ? bias.data() : nullptr,
                      act, got.data(), ldc, ws.data(), nullptr);
        ASSERT_TRUE(got.GuardsIntact() && ws.GuardsIntact());
        ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
            << "m=" << m << " n=" << n << " k=" << k << " act=" << static_cast<int>(act);
      }
}

// ---------------- qb4w ----------------
// Unit scales make the fp32 result an exact integer (|partial sums| < 2^24 for K <= 4096), so
// the block accumulators are checked exactly against an independent int64 computation.
void CheckQb4wExact(const QGemmConfig* cfg, size_t m, size_t n, size_t k, const Int4Format& f,
                    const std::vector<uint8_t>& qa, const std::vector<QRowParams>& rows,
                    const Int4Weights& x) {
  const size_t stride = QRowStride(k), nb = (k + f.block - 1) / f.block;
  const size_t ldc = n + 2;
  Guarded<float> got(m * ldc, 0x7F);
  Qb4wFromQuantizedForTest(cfg, m, n, k, f.block, qa.data(), stride, rows.data(), x.packed.data(),
                           nullptr, got.data(), ldc);
  ASSERT_TRUE(got.GuardsIntact());
  std::vector<float> ref(m * ldc);
  Qb4wFromQuantizedRef(m, n, k, f.block, qa.data(), stride, rows.data(), x.w.data(), x.scales(), f.f16,
                       x.zps(), nullptr, ref.data(), ldc);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      int64_t exact = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        const int32_t zw = x.zp.empty() ? 0 : x.zp[j * nb + kk / f.block];
        exact += (int64_t{qa[i * stride + kk]} - rows[i].zero_point) * (Int4(x, k, j, kk) - zw);
      }
      ASSERT_EQ(static_cast<float>(exact), got[i * ldc + j])
          << "m=" << m << " n=" << n << " k=" << k << " block=" << f.block << " asym=" << f.asym
          << " f16=" << f.f16 << " at " << i << "," << j;
      ASSERT_EQ(ref[i * ldc + j], got[i * ldc + j]);
    }
  float sentinel;
  std::memset(&sentinel, 0x7F, 4);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = n; j < ldc; ++j) ASSERT_EQ(0, std::memcmp(&sentinel, &got[i * ldc + j], 4));
}

TEST_P(QGemmTest, Qb4wAccumulatorsBitExactSweep) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  const int32_t qmax = cfg->qb4w_qmax;
  std::mt19937 rng(4);
  size_t shape = 0;
  for (size_t m : kM)
    for (size_t k : kK)
      for (size_t n : kN) {
        const Int4Format& f = kInt4Formats[shape % 12];
        const size_t stride = QRowStride(k);
        std::vector<uint8_t> qa(m * stride, 0);
        std::vector<QRowParams> rows(m);
        std::uniform_int_distribution<int> ua(0, qmax);
        for (size_t i = 0; i < m; ++i) {
          rows[i] = {1.0f, std::min(kZeroPoints[(i + shape) % 5], qmax)};
          for (size_t j = 0; j < k; ++j) qa[i * stride + j] = static_cast<uint8_t>(ua(rng));
        }
        const auto x = MakeInt4(n, k, f, rng, true);
        CheckQb4wExact(cfg, m, n, k, f, qa, rows, x);
        if (HasFatalFailure()) return;
        ++shape;
      }
}

TEST_P(QGemmTest, Qb4wAccumulatorsExtremes) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  const int32_t qmax = cfg->qb4w_qmax;
  std::mt19937 rng(5);
  for (const Int4Format& f : kInt4Formats)
    for (size_t m : {1, 9})
      for (size_t k : {33, 4096})
        for (int mode : {1, 2})
          for (int a_val : {qmax, 0})
            for (int32_t zp : {0, qmax}) {
              const size_t n = 17, stride = QRowStride(k);
              std::vector<uint8_t> qa(m * stride, 0);
              for (size_t i = 0; i < m; ++i)
                for (size_t j = 0; j < k; ++j) qa[i * stride + j] = static_cast<uint8_t>(a_val);
              std::vector<QRowParams> rows(m, QRowParams{1.0f, zp});
              const auto x = MakeInt4(n, k, f, rng, true, mode);
              CheckQb4wExact(cfg, m, n, k, f, qa, rows, x);
              if (HasFatalFailure()) return;
            }
}

TEST_P(QGemmTest, Qb4wEndToEndBitExact) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  std::mt19937 rng(6);
  int act_i = 0;
  for (const Int4Format& f : kInt4Formats)
    for (size_t m : {1, 3, 16})
      for (size_t k : {7, 32, 100, 1023})
        for (size_t n : {3, 17}) {
          const Activation act = static_cast<Activation>(act_i++ % 8);
          const auto a = TestActivations(m, k, rng);
          const auto x = MakeInt4(n, k, f, rng, false);
          auto bias = RandomFloats(n, rng);
          const float* b = (m + k) % 2 ? bias.data() : nullptr;
          const size_t ldc = n + 1;
          std::vector<float> want(m * ldc, 3.0f);
          QGemmQb4wRef(m, n, k, f.block, cfg->qb4w_qmax, a.data(), k, x.w.data(), x.scales(), f.f16,
                       x.zps(), b, act, want.data(), ldc);
          Guarded<float> got(m * ldc);
          for (size_t i = 0; i < m * ldc; ++i) got[i] = 3.0f;
          Guarded<uint8_t> ws(QGemmWorkspaceBytes(m, k, 1));
          QGemmQb4wWith(cfg, m, n, k, f.block, a.data(), k, x.packed.data(), b, act, got.data(), ldc,
                        ws.data(), nullptr);
          ASSERT_TRUE(got.GuardsIntact() && ws.GuardsIntact());
          ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
              << "m=" << m << " n=" << n << " k=" << k << " block=" << f.block;
        }
}

// ---------------- threads ----------------
// Random activations, bias, qc8w weights (scales up to max_scale) and qb4w weights (block 32,
// symmetric, f16 scales) for an m x n x k product.
struct Problem {
  Problem(size_t m, size_t n, size_t k, float max_scale, std::mt19937& rng)
      : a(TestActivations(m, k, rng)) {
    std::vector<int8_t> w(n * k);
    std::uniform_int_distribution<int> uw(-127, 127);
    for (auto& v : w) v = static_cast<int8_t>(uw(rng));
    const auto scales = RandomFloats(n, rng, 0.001f, max_scale);
    bias = RandomFloats(n, rng);
    p8 = Pack8(n, k, w, scales);
    x = MakeInt4(n, k, f, rng, false);
  }
  std::vector<float> a, bias;
  std::vector<uint8_t> p8;
  Int4Format f{32, true, true};
  Int4Weights x;
};

TEST_P(QGemmTest, BitIdenticalForAnyThreadCount) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  std::mt19937 rng(7);
  struct Shape { size_t m, n, k; };
  for (const Shape& s : {Shape{33, 1000, 100}, Shape{1, 1000, 1023}, Shape{128, 64, 4096}}) {
    const Problem pr(s.m, s.n, s.k, 0.01f, rng);
    const auto& [a, bias, p8, f, x] = pr;
    std::vector<float> first8, first4;
    for (size_t threads : {1, 2, 3, 8}) {
      pthreadpool_t pool = pthreadpool_create(threads);
      std::vector<uint8_t> ws(QGemmWorkspaceBytes(s.m, s.k, threads));
      std::vector<float> c8(s.m * s.n), c4(s.m * s.n);
      QGemmQc8wWith(cfg, s.m, s.n, s.k, a.data(), s.k, p8.data(), bias.data(), Activation::kGelu,
                    c8.data(), s.n, ws.data(), pool);
      QGemmQb4wWith(cfg, s.m, s.n, s.k, f.block, a.data(), s.k, x.packed.data(), bias.data(),
                    Activation::kSilu, c4.data(), s.n, ws.data(), pool);
      pthreadpool_destroy(pool);
      if (first8.empty()) {
        first8 = c8;
        first4 = c4;
        continue;
      }
      ASSERT_EQ(0, std::memcmp(first8.data(), c8.data(), c8.size() * 4)) << "threads=" << threads;
      ASSERT_EQ(0, std::memcmp(first4.data(), c4.data(), c4.size() * 4)) << "threads=" << threads;
    }
  }
}

// ---------------- fused Relu / Relu6 ----------------
// Relu and Relu6 run inside the micro-kernels' epilogue (QEpilogue::clamp); the result must be
// bit-identical to the GEMM without activation followed by the separate ApplyActivation pass.
// Shapes cover row tails, 16/32-column tails and M = 1 (the weight-streaming kernels).
TEST_P(QGemmTest, FusedReluEqualsSeparatePass) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  std::mt19937 rng(11);
  struct Shape { size_t m, n, k; };
  for (const Shape& s : {Shape{1, 40, 64}, Shape{13, 47, 100}, Shape{33, 96, 32}}) {
    const Problem pr(s.m, s.n, s.k, 0.05f, rng);
    const auto& [a, bias, p8, f, x] = pr;
    std::vector<uint8_t> ws(QGemmWorkspaceBytes(s.m, s.k, 1));
    for (Activation act : {Activation::kRelu, Activation::kRelu6}) {
      std::vector<float> want8(s.m * s.n), got8(s.m * s.n), want4(s.m * s.n), got4(s.m * s.n);
      QGemmQc8wWith(cfg, s.m, s.n, s.k, a.data(), s.k, p8.data(), bias.data(), Activation::kNone,
                    want8.data(), s.n, ws.data(), nullptr);
      ApplyActivation(act, want8.data(), want8.size());
      QGemmQc8wWith(cfg, s.m, s.n, s.k, a.data(), s.k, p8.data(), bias.data(), act, got8.data(), s.n,
                    ws.data(), nullptr);
      QGemmQb4wWith(cfg, s.m, s.n, s.k, f.block, a.data(), s.k, x.packed.data(), bias.data(),
                    Activation::kNone, want4.data(), s.n, ws.data(), nullptr);
      ApplyActivation(act, want4.data(), want4.size());
      QGemmQb4wWith(cfg, s.m, s.n, s.k, f.block, a.data(), s.k, x.packed.data(), bias.data(), act,
                    got4.data(), s.n, ws.data(), nullptr);
      size_t clamped = 0;
      for (float v : got8) clamped += v == 0.0f || v == 6.0f;
      EXPECT_GT(clamped, 0u) << "the test data must reach the clamp";
      ASSERT_EQ(0, std::memcmp(want8.data(), got8.data(), got8.size() * 4))
          << "qc8w m=" << s.m << " n=" << s.n << " act=" << static_cast<int>(act);
      ASSERT_EQ(0, std::memcmp(want4.data(), got4.data(), got4.size() * 4))
          << "qb4w m=" << s.m << " n=" << s.n << " act=" << static_cast<int>(act);
    }
  }
}

// Other activations (GELU, SiLU, Tanh) run in one pass over the finished rows: the same bits as
// the separate pass, also into an output with a row stride wider than N.
TEST_P(QGemmTest, OtherActivationsEqualSeparatePass) {
  EDGERT_CONFIG_OR_SKIP(cfg, GetParam());
  std::mt19937 rng(13);
  const size_t m = 29, n = 50, k = 64, ldc = 53;
  const Problem pr(m, n, k, 0.05f, rng);
  const auto& [a, bias, p8, f, x] = pr;
  std::vector<uint8_t> ws(QGemmWorkspaceBytes(m, k, 2));
  pthreadpool_t pool = pthreadpool_create(2);
  for (Activation act : {Activation::kGelu, Activation::kSilu, Activation::kTanh}) {
    for (size_t stride : {n, ldc}) {
      std::vector<float> want(m * stride, 7.0f), got(m * stride, 7.0f);
      QGemmQc8wWith(cfg, m, n, k, a.data(), k, p8.data(), bias.data(), Activation::kNone, want.data(), stride,
                    ws.data(), nullptr);
      for (size_t r = 0; r < m; ++r) ApplyActivation(act, want.data() + r * stride, n);
      QGemmQc8wWith(cfg, m, n, k, a.data(), k, p8.data(), bias.data(), act, got.data(), stride, ws.data(), pool);
      ASSERT_EQ(0, std::memcmp(want.data(), got.data(), got.size() * 4))
          << "act=" << static_cast<int>(act) << " ldc=" << stride;  // padding columns untouched too
    }
  }
  pthreadpool_destroy(pool);
}

INSTANTIATE_TEST_SUITE_P(Variants, QGemmTest, ::testing::ValuesIn(AllVariants()), VariantName);

// ---------------- the specification itself ----------------
// The quantized result must approximate the float product (sanity check of the math, not of a
// kernel): error within a few quantization steps.
TEST(QGemmSpec, ApproximatesFloatProduct) {
  std::mt19937 rng(8);
  const size_t m = 4, n = 32, k = 256;
  const auto a = RandomFloats(m * k, rng);
  const auto wf = RandomFloats(n * k, rng);
  std::vector<int8_t> w8(n * k);
  std::vector<float> sc(n), wdq(n * k);
  for (size_t j = 0; j < n; ++j) {
    float mx = 0;
    for (size_t kk = 0; kk < k; ++kk) mx = std::max(mx, std::fabs(wf[j * k + kk]));
    sc[j] = mx / 127.0f;
    for (size_t kk = 0; kk < k; ++kk) {
      w8[j * k + kk] = static_cast<int8_t>(std::nearbyint(wf[j * k + kk] / sc[j]));
      wdq[j * k + kk] = w8[j * k + kk] * sc[j];
    }
  }
  std::vector<float> want(m * n), got(m * n);
  SGemmRef(m, n, k, a.data(), k, wdq.data(), nullptr, Activation::kNone, want.data(), n);
  for (int32_t qmax : {127, 255}) {
    QGemmQc8wRef(m, n, k, qmax, a.data(), k, w8.data(), sc.data(), nullptr, Activation::kNone,
                 got.data(), n);
    for (size_t i = 0; i < m * n; ++i) EXPECT_NEAR(want[i], got[i], qmax == 255 ? 0.1 : 0.2);  // ~3 sigma of the rounding noise
  }
}

}  // namespace
}  // namespace edgert::kernels::test
