// edgert kernel benchmarks (Google Benchmark). Counters: GOPS = 2*M*N*K / s; weight_GBps =
// bytes of (packed) weights streamed per second. Nothing here is asserted; run.sh turns the JSON
// into the ratio table recorded in docs/performance.md. Also (not in run.sh's passes; run with
// --benchmark_filter='Softmax|Activation'): softmax rows and GELU per variant, items = rows / elements.
//
// Variants: qd8 x qc8w and qd8 x qb4w (block 32, symmetric, f16 scales) at a forced ISA
// (activation quantization included), the FP32 path (SGemmPacked), oneDNN u8 x s8 matmul (src
// zero point, per-channel output scales, f32 dst; weights reordered once outside the timing,
// activation quantization NOT included), oneDNN sgemm, register-only int8 peaks and a DRAM
// read-sum over 1 GiB. M = 1 shapes with >= 64 Mi weights rotate through enough weight copies to
// touch >= 1 GiB, so weights come from DRAM whatever the L3 size.
#include <benchmark/benchmark.h>
#include <pthreadpool.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "edgert/kernels/internal.h"
#include "edgert/kernels/softmax.h"

#if defined(EDGERT_BENCH_DNNL)
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <cpuid.h>

namespace edgert::bench {
void PeakMaddubsOnly(size_t iters);
void PeakMaddubsChain(size_t iters);
void PeakVnniYmm(size_t iters);
void PeakVnniZmm(size_t iters);
uint64_t ReadSum(const uint8_t* p, size_t n, int prefetch);  // 0 none, 1 T0, 2 NTA prefetch
}  // namespace edgert::bench

namespace {

using namespace edgert::kernels;
namespace eb = edgert::bench;

struct Shape {
  size_t m, n, k;
};
const Shape kShapes[] = {{1, 4096, 4096}, {1, 8192, 8192}, {16, 4096, 4096}, {128, 1024, 1024}, {128, 1536, 384}, {1024, 1024, 1024}};

struct AlignedBuf {
  explicit AlignedBuf(size_t n) : size(n), p(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64))) {}
  ~AlignedBuf() { std::free(p); }
  size_t size;
  uint8_t* p;
};

size_t Copies(const Shape& s, size_t bytes) {
  if (s.m != 1 || s.n * s.k < size_t{8192} * 8192) return 1;
  return ((size_t{1} << 30) + bytes - 1) / bytes;
}

struct Pool {
  explicit Pool(size_t t) : p(pthreadpool_create(t)) {}
  ~Pool() { pthreadpool_destroy(p); }
  pthreadpool_t p;
};

void SetCounters(benchmark::State& st, const Shape& s, double weight_bytes) {
  st.counters["GOPS"] = benchmark::Counter(2.0 * s.m * s.n * s.k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["weight_GBps"] = benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

std::vector<float> Rand(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool Force(benchmark::State& st, Isa isa) {
  if (!ForceIsa(isa)) {
    st.SkipWithError("ISA not available on this CPU");
    return false;
  }
  return true;
}

void BM_QGemm(benchmark::State& st, Isa isa, bool int4, Shape s, size_t threads) {
  if (!Force(st, isa)) return;
  const auto a = Rand(s.m * s.k, 1);
  const size_t block = 32;
  size_t bytes;
  std::unique_ptr<AlignedBuf> one;
  if (!int4) {
    std::vector<int8_t> w(s.n * s.k);
    std::mt19937 rng(2);
    for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    const auto sc = Rand(s.n, 3, 0.001f, 0.01f);
    bytes = PackedQc8wBytes(s.n, s.k);
    one = std::make_unique<AlignedBuf>(bytes);
    PackQc8w(s.n, s.k, w.data(), sc.data(), one->p);
  } else {
    std::vector<uint8_t> w(s.n * ((s.k + 1) / 2));
    std::mt19937 rng(2);
    for (auto& v : w) v = static_cast<uint8_t>(rng());
    const size_t nb = (s.k + block - 1) / block;
    std::vector<uint16_t> sc(s.n * nb);
    for (auto& v : sc) v = F32ToF16(0.01f);
    bytes = PackedQb4wBytes(s.n, s.k, block);
    one = std::make_unique<AlignedBuf>(bytes);
    PackQb4w(s.n, s.k, block, w.data(), sc.data(), true, nullptr, one->p);
    bytes = sizeof(PackedHeader) + (s.n + 15) / 16 * Qb4wPanelBytes(s.k, block, true, false);
  }
  const size_t copies = Copies(s, bytes);
  std::vector<std::unique_ptr<AlignedBuf>> ws_copies;
  std::vector<const void*> w_ptrs{one->p};
  for (size_t i = 1; i < copies; ++i) {
    ws_copies.push_back(std::make_unique<AlignedBuf>(bytes));
    std::memcpy(ws_copies.back()->p, one->p, bytes);
    w_ptrs.push_back(ws_copies.back()->p);
  }
  const auto bias = Rand(s.n, 4);
  std::vector<float> c(s.m * s.n);
  AlignedBuf ws(QGemmWorkspaceBytes(s.m, s.k, threads));
  Pool pool(threads);
  size_t it = 0;
  for (auto _ : st) {
    const void* w = w_ptrs[it++ % copies];
    if (int4)
      QGemmQb4w(s.m, s.n, s.k, block, a.data(), s.k, w, bias.data(), Activation::kNone, c.data(), s.n, ws.p, pool.p);
    else
      QGemmQc8w(s.m, s.n, s.k, a.data(), s.k, w, bias.data(), Activation::kNone, c.data(), s.n, ws.p, pool.p);
    benchmark::ClobberMemory();
  }
  SetCounters(st, s, static_cast<double>(bytes));
  st.SetLabel(std::string(IsaName(isa)) + (int4 ? " qb4w" : " qc8w") + (copies > 1 ? " cold" : ""));
  ForceIsa(SelectedIsa());
}

void BM_F32(benchmark::State& st, Isa isa, Shape s, size_t threads) {
  if (!Force(st, isa)) return;
  const auto a = Rand(s.m * s.k, 1);
  const auto w = Rand(s.n * s.k, 2);
  const size_t bytes = PackedF32wBytes(s.n, s.k);
  const size_t copies = Copies(s, bytes);
  std::vector<std::unique_ptr<AlignedBuf>> bufs;
  for (size_t i = 0; i < copies; ++i) {
    bufs.push_back(std::make_unique<AlignedBuf>(bytes));
    if (i == 0) PackF32w(s.n, s.k, w.data(), bufs[0]->p);
    else std::memcpy(bufs[i]->p, bufs[0]->p, bytes);
  }
  const auto bias = Rand(s.n, 4);
  std::vector<float> c(s.m * s.n);
  Pool pool(threads);
  size_t it = 0;
  for (auto _ : st) {
    SGemmPacked(s.m, s.n, s.k, a.data(), s.k, bufs[it++ % copies]->p, bias.data(), Activation::kNone, c.data(), s.n, pool.p);
    benchmark::ClobberMemory();
  }
  SetCounters(st, s, static_cast<double>(bytes));
  st.SetLabel(std::string("f32 ") + CurrentF32GemmConfig()->gemm.name + (copies > 1 ? " cold" : ""));
  ForceIsa(SelectedIsa());
}

#if defined(EDGERT_BENCH_DNNL)
void BM_OneDnnU8S8(benchmark::State& st, Shape s, size_t threads) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  omp_set_num_threads(static_cast<int>(threads));
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dim M = s.m, N = s.n, K = s.k;
  memory::desc a_md({M, K}, dt::u8, tag::ab), w_plain({K, N}, dt::s8, tag::ba), w_any({K, N}, dt::s8, tag::any),
      c_md({M, N}, dt::f32, tag::ab);
  primitive_attr attr;
  attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
  attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  matmul::primitive_desc pd;
  try {
    pd = matmul::primitive_desc(matmul::desc(a_md, w_any, c_md), attr, eng);
  } catch (const dnnl::error& e) {
    st.SkipWithError(e.what());
    return;
  }
  std::vector<uint8_t> a(M * K, 100);
  std::vector<int8_t> w(N * K, 3);
  std::vector<float> scales(N, 0.01f), c(M * N);
  int32_t zp = 128;
  memory a_m(a_md, eng, a.data()), w_src(w_plain, eng, w.data()), c_m(c_md, eng, c.data());
  memory sc_m({{N}, dt::f32, tag::a}, eng, scales.data()), zp_m({{1}, dt::s32, tag::a}, eng, &zp);
  const size_t bytes = pd.weights_desc().get_size();
  const size_t copies = Copies(s, bytes);
  std::vector<memory> wm;
  for (size_t i = 0; i < copies; ++i) {
    wm.emplace_back(pd.weights_desc(), eng);
    reorder(w_src, wm.back()).execute(strm, w_src, wm.back());
  }
  strm.wait();
  matmul prim(pd);
  size_t it = 0;
  for (auto _ : st) {
    prim.execute(strm, {{DNNL_ARG_SRC, a_m}, {DNNL_ARG_WEIGHTS, wm[it++ % copies]}, {DNNL_ARG_DST, c_m},
                        {DNNL_ARG_ATTR_OUTPUT_SCALES, sc_m}, {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zp_m}});
    strm.wait();
  }
  SetCounters(st, s, static_cast<double>(bytes));
  st.SetLabel(std::string("onednn ") + pd.impl_info_str() + (copies > 1 ? " cold" : ""));
}

void BM_OneDnnSgemm(benchmark::State& st, Shape s, size_t threads) {
  omp_set_num_threads(static_cast<int>(threads));
  const auto a = Rand(s.m * s.k, 1);
  const auto w = Rand(s.n * s.k, 2);
  std::vector<float> c(s.m * s.n);
  for (auto _ : st) {
    dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.0f, a.data(), s.k, w.data(), s.k, 0.0f, c.data(), s.n);
    benchmark::ClobberMemory();
  }
  SetCounters(st, s, 4.0 * s.n * s.k);
  st.SetLabel("onednn sgemm (warm weights)");
}
#endif

bool HasAvxVnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return IsaSupportedByCpu(Isa::kAvxVnni) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1);
}

struct PeakCtx {
  void (*fn)(size_t);
  size_t iters;
};

void BM_Peak(benchmark::State& st, void (*fn)(size_t), double macs_per_iter, size_t threads, bool supported) {
  if (!supported) {
    st.SkipWithError("instruction not supported by this CPU");
    return;
  }
  const size_t iters = 1 << 20;
  Pool pool(threads);
  PeakCtx ctx{fn, iters};
  for (auto _ : st) {
    pthreadpool_parallelize_1d(
        pool.p, [](void* p, size_t) { auto* c = static_cast<PeakCtx*>(p); c->fn(c->iters); }, &ctx, threads, 0);
  }
  st.counters["GOPS"] = benchmark::Counter(2.0 * macs_per_iter * iters * threads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

struct ReadCtx {
  const uint8_t* p;
  size_t chunk;
  int prefetch;
  uint64_t sums[8];
};

void BM_DramReadSum(benchmark::State& st, size_t threads, int prefetch) {
  const size_t n = size_t{1} << 30;
  AlignedBuf buf(n);
  std::memset(buf.p, 1, n);
  Pool pool(threads);
  ReadCtx ctx{buf.p, n / threads, prefetch, {}};
  for (auto _ : st) {
    pthreadpool_parallelize_1d(
        pool.p,
        [](void* p, size_t i) {
          auto* c = static_cast<ReadCtx*>(p);
          c->sums[i] = eb::ReadSum(c->p + i * c->chunk, c->chunk, c->prefetch);
        },
        &ctx, threads, 0);
    benchmark::DoNotOptimize(ctx.sums[0]);
  }
  st.counters["read_GBps"] = benchmark::Counter(n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Load-time packing cost: canonical .efb layout -> packed panels, per weight matrix.
void BM_Pack(benchmark::State& st, bool int4, size_t n, size_t k) {
  const size_t block = 32;
  std::mt19937 rng(5);
  std::vector<uint8_t> w(int4 ? n * ((k + 1) / 2) : n * k);
  for (auto& v : w) v = static_cast<uint8_t>(rng());
  const size_t nb = (k + block - 1) / block;
  std::vector<uint16_t> s16(n * nb, F32ToF16(0.01f));
  std::vector<float> s32(n, 0.01f);
  const size_t bytes = int4 ? PackedQb4wBytes(n, k, block) : PackedQc8wBytes(n, k);
  AlignedBuf out(bytes);
  for (auto _ : st) {
    if (int4)
      PackQb4w(n, k, block, w.data(), s16.data(), true, nullptr, out.p);
    else
      PackQc8w(n, k, reinterpret_cast<const int8_t*>(w.data()), s32.data(), out.p);
    benchmark::ClobberMemory();
  }
  st.counters["src_MBps"] = benchmark::Counter(w.size() * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["packed_MB"] = static_cast<double>(bytes) * 1e-6;
  st.counters["src_MB"] = static_cast<double>(w.size() + (int4 ? s16.size() * 2 : s32.size() * 4)) * 1e-6;
}

// Softmax rows as one MiniLM attention block gives them: 12 heads x 128 query rows of 128 keys,
// in place, scale multiplied, one mask row for all rows (7/8 of the keys 0, the rest -10000).
void BM_SoftmaxRows(benchmark::State& st, Isa isa) {
  if (!Force(st, isa)) return;
  const size_t rows = 12 * 128, len = 128;
  const auto x0 = Rand(rows * len, 7, -8.0f, 8.0f);
  std::vector<float> x = x0, mask(len, 0.0f);
  for (size_t i = 112; i < len; ++i) mask[i] = -10000.0f;
  ScaledSoftmaxArgs a;
  a.rows = rows;
  a.len = len;
  a.scale = 0.1767767f;
  a.mask = mask.data();
  a.mask_step = 1;
  a.x = a.y = x.data();
  a.ldx = a.ldy = len;
  for (auto _ : st) {
    st.PauseTiming();
    std::memcpy(x.data(), x0.data(), x.size() * sizeof(float));
    st.ResumeTiming();
    ScaledSoftmaxRows(a);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * rows));  // rows per second
}

// GELU (erf) over a 128 x 1536 FFN activation, in place.
void BM_ActivationGelu(benchmark::State& st, Isa isa) {
  if (!Force(st, isa)) return;
  const size_t n = 128 * 1536;
  const auto x0 = Rand(n, 8, -4.0f, 4.0f);
  std::vector<float> x = x0;
  for (auto _ : st) {
    st.PauseTiming();
    std::memcpy(x.data(), x0.data(), n * sizeof(float));
    st.ResumeTiming();
    ApplyActivation(Activation::kGelu, x.data(), n);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * n));  // elements per second
}

std::string ShapeName(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

int Register() {
  for (size_t t : {1, 2}) {
    const std::string ts = "/threads:" + std::to_string(t);
    benchmark::RegisterBenchmark(("Peak/maddubs_only" + ts).c_str(), BM_Peak, eb::PeakMaddubsOnly, 12 * 32.0, t,
                                 IsaSupportedByCpu(Isa::kAvx2))->UseRealTime();
    benchmark::RegisterBenchmark(("Peak/maddubs_chain" + ts).c_str(), BM_Peak, eb::PeakMaddubsChain, 6 * 32.0, t,
                                 IsaSupportedByCpu(Isa::kAvx2))->UseRealTime();
    benchmark::RegisterBenchmark(("Peak/vnni_ymm" + ts).c_str(), BM_Peak, eb::PeakVnniYmm, 12 * 32.0, t,
                                 HasAvxVnni())->UseRealTime();
    benchmark::RegisterBenchmark(("Peak/vnni_zmm" + ts).c_str(), BM_Peak, eb::PeakVnniZmm, 12 * 64.0, t,
                                 IsaSupportedByCpu(Isa::kAvx512Vnni))->UseRealTime();
    benchmark::RegisterBenchmark(("DramReadSum/1GiB" + ts).c_str(), BM_DramReadSum, t, 0)->UseRealTime()->Iterations(5);
    benchmark::RegisterBenchmark(("DramReadSum/1GiB_prefetch" + ts).c_str(), BM_DramReadSum, t, 1)->UseRealTime()->Iterations(5);
    benchmark::RegisterBenchmark(("DramReadSum/1GiB_prefetch_nta" + ts).c_str(), BM_DramReadSum, t, 2)->UseRealTime()->Iterations(5);
  }
  for (Isa isa : {Isa::kRef, Isa::kAvx2, Isa::kAvx512Vnni}) {
    benchmark::RegisterBenchmark(("Softmax/attention_rows/" + std::string(IsaName(isa))).c_str(), BM_SoftmaxRows, isa)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("Activation/gelu/" + std::string(IsaName(isa))).c_str(), BM_ActivationGelu, isa)
        ->UseRealTime();
  }
  for (size_t nk : {4096, 8192}) {
    const std::string sz = "/" + std::to_string(nk) + "x" + std::to_string(nk);
    benchmark::RegisterBenchmark(("Pack/qc8w" + sz).c_str(), BM_Pack, false, nk, nk)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Pack/qb4w_b32_f16" + sz).c_str(), BM_Pack, true, nk, nk)->UseRealTime()->Unit(benchmark::kMillisecond);
  }
  for (const Shape& s : kShapes)
    for (size_t t : {1, 2}) {
      const std::string suffix = "/" + ShapeName(s) + "/threads:" + std::to_string(t);
      for (Isa isa : {Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni}) {
        benchmark::RegisterBenchmark(("QGemm/qc8w/" + std::string(IsaName(isa)) + suffix).c_str(), BM_QGemm, isa, false, s, t)->UseRealTime();
        benchmark::RegisterBenchmark(("QGemm/qb4w/" + std::string(IsaName(isa)) + suffix).c_str(), BM_QGemm, isa, true, s, t)->UseRealTime();
      }
      for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni})
        benchmark::RegisterBenchmark(("F32/edgert/" + std::string(IsaName(isa)) + suffix).c_str(), BM_F32, isa, s, t)->UseRealTime();
#if defined(EDGERT_BENCH_DNNL)
      benchmark::RegisterBenchmark(("OneDnn/u8s8" + suffix).c_str(), BM_OneDnnU8S8, s, t)->UseRealTime();
      benchmark::RegisterBenchmark(("OneDnn/sgemm" + suffix).c_str(), BM_OneDnnSgemm, s, t)->UseRealTime();
#endif
    }
  return 0;
}
const int kRegistered = Register();

}  // namespace

BENCHMARK_MAIN();
