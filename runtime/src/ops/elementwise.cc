// Elementwise binary (numpy broadcasting), unary, Clip, Cast, Where.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "broadcast.h"
#include "edgert/kernels/gemm.h"
#include "op.h"

namespace edgert {

kernels::Activation ToKernelActivation(fb::Activation a) {
  switch (a) {
    case fb::Activation::NONE: return kernels::Activation::kNone;
    case fb::Activation::RELU: return kernels::Activation::kRelu;
    case fb::Activation::RELU6: return kernels::Activation::kRelu6;
    case fb::Activation::GELU: return kernels::Activation::kGelu;
    case fb::Activation::GELU_TANH: return kernels::Activation::kGeluTanh;
    case fb::Activation::SILU: return kernels::Activation::kSilu;
    case fb::Activation::SIGMOID: return kernels::Activation::kSigmoid;
    case fb::Activation::TANH: return kernels::Activation::kTanh;
  }
  return kernels::Activation::kNone;
}

namespace {

using fb::OpType;

// Float -> integer conversion with saturation (NaN -> 0): a plain static_cast of an out-of-range
// value is undefined behaviour (fuzz_efb: UBSan in integer Pow and Cast).
template <typename To, typename From>
To CastSat(From v) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (v != v) return To(0);
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    if (v <= static_cast<From>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
  }
  return static_cast<To>(v);
}

bool IsComparison(OpType t) {
  return t == OpType::EQUAL || t == OpType::LESS || t == OpType::LESS_OR_EQUAL || t == OpType::GREATER ||
         t == OpType::GREATER_OR_EQUAL;
}
bool IsLogical(OpType t) { return t == OpType::AND || t == OpType::OR || t == OpType::XOR; }

absl::Status InferBinary(OpContext& ctx) {
  const Value& a = *ctx.in[0];
  const Value& b = *ctx.in[1];
  const OpType t = ctx.op->type();
  if (a.dtype != b.dtype && t != OpType::POW) {
    return ctx.Error(absl::StrCat("input dtypes differ: ", DTypeName(a.dtype), " and ", DTypeName(b.dtype)));
  }
  if (IsLogical(t)) {
    if (a.dtype != DType::BOOL) return ctx.Error(absl::StrCat("expects bool inputs, got ", DTypeName(a.dtype)));
  } else if (a.dtype != DType::F32 && a.dtype != DType::I32 && a.dtype != DType::I64 && a.dtype != DType::I8 &&
             a.dtype != DType::U8) {
    return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(a.dtype)));
  }
  if (t == OpType::POW && b.dtype != DType::F32 && b.dtype != DType::I32 && b.dtype != DType::I64 &&
      b.dtype != DType::I8 && b.dtype != DType::U8) {
    return ctx.Error(absl::StrCat("unsupported exponent dtype ", DTypeName(b.dtype)));
  }
  ASSIGN_OR_RETURN(ctx.out[0]->shape, BroadcastShapes(ctx, a.shape, b.shape));
  ctx.out[0]->dtype = (IsComparison(t) || IsLogical(t)) ? DType::BOOL : a.dtype;
  return absl::OkStatus();
}

template <typename T>
T PyMod(T a, T b) {
  if (b == 0) return 0;
  T r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

template <typename T, typename O, typename F>
struct BinaryRows {
  const Value* a;
  const Value* b;
  Value* out;
  F* f;
  int64_t rows_per_task;
  int64_t rows;
};

template <typename T, typename O, typename F>
void BinaryRange(const Value& a, const Value& b, Value& out, F& f, int64_t row0, int64_t row1) {
  const T* pa = a.as<T>();
  const T* pb = b.as<T>();
  O* po = out.as<O>();
  ForEachBroadcastRowRange<2>(out.shape, {&a.shape, &b.shape}, row0, row1,
                              [&](const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t o,
                                  int64_t n) {
                                const T* x = pa + off[0];
                                const T* y = pb + off[1];
                                O* z = po + o;
                                if (st[0] == 1 && st[1] == 1) {
                                  for (int64_t i = 0; i < n; ++i) z[i] = f(x[i], y[i]);
                                } else if (st[0] == 1 && st[1] == 0) {
                                  const T yv = *y;
                                  for (int64_t i = 0; i < n; ++i) z[i] = f(x[i], yv);
                                } else {
                                  for (int64_t i = 0; i < n; ++i) z[i] = f(x[i * st[0]], y[i * st[1]]);
                                }
                              });
}

template <typename T, typename O, typename F>
void BinaryTask(void* arg, size_t task) {
  const auto* t = static_cast<const BinaryRows<T, O, F>*>(arg);
  const int64_t r0 = static_cast<int64_t>(task) * t->rows_per_task;
  BinaryRange<T, O, F>(*t->a, *t->b, *t->out, *t->f, r0, std::min(t->rows, r0 + t->rows_per_task));
}

// Rows of the output's innermost dim are split over the pool when there is enough work (each
// element is computed the same way on any thread: bit-identical for every thread count).
template <typename T, typename O, typename F>
void Binary(const Value& a, const Value& b, Value& out, F f, pthreadpool_t pool = nullptr) {
  const int64_t total = out.num_elements();
  if (total == 0) return;
  const int64_t inner = out.rank() == 0 ? 1 : out.shape.back();
  const int64_t rows = inner == 0 ? 0 : total / inner;
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  constexpr int64_t kMinElementsPerTask = 16384;
  const int64_t tasks = std::min<int64_t>({static_cast<int64_t>(threads), rows, total / kMinElementsPerTask});
  if (tasks <= 1) {
    BinaryRange<T, O, F>(a, b, out, f, 0, rows);
    return;
  }
  BinaryRows<T, O, F> t{&a, &b, &out, &f, (rows + tasks - 1) / tasks, rows};
  pthreadpool_parallelize_1d(pool, BinaryTask<T, O, F>, &t, static_cast<size_t>(tasks), 0);
}

// Float Add / Sub / Mul / Div of same-shape tensors as one flat loop, built for AVX-512, AVX2 and
// the baseline, picked once by the CPU's features. One IEEE operation per element in every build:
// the same bits as the broadcasting loop. (The residual Adds of a transformer: the baseline
// build's row-by-row SSE loop was 1.7% of MiniLM INT8.) Plain target attributes and a function
// pointer rather than target_clones: the ifunc resolvers that target_clones makes run before
// ThreadSanitizer's runtime is up and crashed the TSan test binary at start.
using FlatFn = void (*)(const float*, const float*, float*, int64_t);
#define EDGERT_FLAT_LOOP(op) \
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] op y[i];
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EDGERT_FLAT_F32(name, op)                                                                      \
  void name##Base(const float* x, const float* y, float* z, int64_t n) { EDGERT_FLAT_LOOP(op) }         \
  __attribute__((target("avx2"))) void name##Avx2(const float* x, const float* y, float* z, int64_t n) { \
    EDGERT_FLAT_LOOP(op)                                                                               \
  }                                                                                                    \
  __attribute__((target("avx512f"))) void name##Avx512(const float* x, const float* y, float* z,        \
                                                       int64_t n) {                                    \
    EDGERT_FLAT_LOOP(op)                                                                               \
  }                                                                                                    \
  FlatFn name() {                                                                                      \
    static const FlatFn fn = __builtin_cpu_supports("avx512f") ? name##Avx512                         \
                             : __builtin_cpu_supports("avx2")  ? name##Avx2                           \
                                                               : name##Base;                          \
    return fn;                                                                                         \
  }
#else
#define EDGERT_FLAT_F32(name, op)                                                              \
  void name##Base(const float* x, const float* y, float* z, int64_t n) { EDGERT_FLAT_LOOP(op) } \
  FlatFn name() { return name##Base; }
#endif
EDGERT_FLAT_F32(FlatAddF32, +)
EDGERT_FLAT_F32(FlatSubF32, -)
EDGERT_FLAT_F32(FlatMulF32, *)
EDGERT_FLAT_F32(FlatDivF32, /)
#undef EDGERT_FLAT_F32
#undef EDGERT_FLAT_LOOP

struct FlatTask {
  FlatFn fn;
  const float *x, *y;
  float* z;
  int64_t n;
};

constexpr size_t kFlatChunk = 16384;

void FlatChunk(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const FlatTask*>(arg);
  const auto i0 = static_cast<int64_t>(start);
  t->fn(t->x + i0, t->y + i0, t->z + i0, std::min(t->n, static_cast<int64_t>(start + count)) - i0);
}

// True (and done) when a float Add/Sub/Mul/Div has no broadcasting.
bool FlatArithF32(OpContext& ctx, OpType t) {
  const Value& a = *ctx.in[0];
  const Value& b = *ctx.in[1];
  Value& o = *ctx.out[0];
  if (a.dtype != DType::F32 || a.shape != b.shape || a.shape != o.shape) return false;
  FlatTask task{nullptr, a.as<float>(), b.as<float>(), o.as<float>(), o.num_elements()};
  switch (t) {
    case OpType::ADD: task.fn = FlatAddF32(); break;
    case OpType::SUB: task.fn = FlatSubF32(); break;
    case OpType::MUL: task.fn = FlatMulF32(); break;
    case OpType::DIV: task.fn = FlatDivF32(); break;
    default: return false;
  }
  if (task.n > 0) {
    pthreadpool_parallelize_1d_tile_1d(ctx.pool, FlatChunk, &task, static_cast<size_t>(task.n), kFlatChunk, 0);
  }
  return true;
}

template <typename T>
absl::Status RunArith(OpContext& ctx, OpType t) {
  const Value& a = *ctx.in[0];
  const Value& b = *ctx.in[1];
  Value& o = *ctx.out[0];
  if (FlatArithF32(ctx, t)) return absl::OkStatus();
  switch (t) {
    case OpType::ADD: Binary<T, T>(a, b, o, [](T x, T y) { return x + y; }, ctx.pool); break;
    case OpType::SUB: Binary<T, T>(a, b, o, [](T x, T y) { return x - y; }, ctx.pool); break;
    case OpType::MUL: Binary<T, T>(a, b, o, [](T x, T y) { return x * y; }, ctx.pool); break;
    case OpType::DIV:
      if constexpr (std::is_integral_v<T>) {
        Binary<T, T>(a, b, o, [](T x, T y) { return y == 0 ? T(0) : T(x / y); });
      } else {
        Binary<T, T>(a, b, o, [](T x, T y) { return x / y; }, ctx.pool);
      }
      break;
    case OpType::MAXIMUM: Binary<T, T>(a, b, o, [](T x, T y) { return (x != x) ? x : (x > y ? x : y); }); break;
    case OpType::MINIMUM: Binary<T, T>(a, b, o, [](T x, T y) { return (x != x) ? x : (x < y ? x : y); }); break;
    case OpType::MOD:
      if constexpr (std::is_integral_v<T>) {
        Binary<T, T>(a, b, o, [](T x, T y) { return PyMod(x, y); });
      } else {
        Binary<T, T>(a, b, o, [](T x, T y) { return std::fmod(x, y); });
      }
      break;
    case OpType::POW:
      Binary<T, T>(a, b, o, [](T x, T y) { return CastSat<T>(std::pow(static_cast<double>(x), static_cast<double>(y))); });
      break;
    case OpType::EQUAL: Binary<T, uint8_t>(a, b, o, [](T x, T y) { return x == y; }); break;
    case OpType::LESS: Binary<T, uint8_t>(a, b, o, [](T x, T y) { return x < y; }); break;
    case OpType::LESS_OR_EQUAL: Binary<T, uint8_t>(a, b, o, [](T x, T y) { return x <= y; }); break;
    case OpType::GREATER: Binary<T, uint8_t>(a, b, o, [](T x, T y) { return x > y; }); break;
    case OpType::GREATER_OR_EQUAL: Binary<T, uint8_t>(a, b, o, [](T x, T y) { return x >= y; }); break;
    default: return ctx.Error("not a binary op");
  }
  return absl::OkStatus();
}

absl::Status RunBinary(OpContext& ctx) {
  const OpType t = ctx.op->type();
  const DType dt = ctx.in[0]->dtype;
  if (t == OpType::POW && dt == DType::F32 && ctx.in[1]->dtype != DType::F32) {
    // float base, integer exponent
    const Value& b = *ctx.in[1];
    std::vector<float> e(static_cast<size_t>(b.num_elements()));
    for (size_t i = 0; i < e.size(); ++i) {
      e[i] = b.dtype == DType::I64 ? static_cast<float>(b.as<int64_t>()[i])
             : b.dtype == DType::I32 ? static_cast<float>(b.as<int32_t>()[i]) : 0.f;
    }
    Value tmp = b;
    tmp.dtype = DType::F32;
    tmp.data = e.data();
    Binary<float, float>(*ctx.in[0], tmp, *ctx.out[0], [](float x, float y) {
      return y == 2.f ? x * x : std::pow(x, y);
    });
    return absl::OkStatus();
  }
  if (t == OpType::POW && ctx.in[0]->dtype != ctx.in[1]->dtype) {
    // Mixed types (e.g. integer base, float exponent): compute in double, store as the base type.
    auto to_double = [](const Value& v) {
      std::vector<double> d(static_cast<size_t>(v.num_elements()));
      for (size_t i = 0; i < d.size(); ++i) {
        switch (v.dtype) {
          case DType::F32: d[i] = v.as<float>()[i]; break;
          case DType::I32: d[i] = v.as<int32_t>()[i]; break;
          case DType::I64: d[i] = static_cast<double>(v.as<int64_t>()[i]); break;
          case DType::I8: d[i] = v.as<int8_t>()[i]; break;
          default: d[i] = v.as<uint8_t>()[i]; break;
        }
      }
      return d;
    };
    std::vector<double> da = to_double(*ctx.in[0]), db = to_double(*ctx.in[1]);
    std::vector<double> dz(static_cast<size_t>(ctx.out[0]->num_elements()));
    Value va = *ctx.in[0], vb = *ctx.in[1], vz = *ctx.out[0];
    va.data = da.data();
    vb.data = db.data();
    vz.data = dz.data();
    Binary<double, double>(va, vb, vz, [](double x, double y) { return std::pow(x, y); });
    Value& o = *ctx.out[0];
    for (size_t i = 0; i < dz.size(); ++i) {
      const double v = dz[i];
      const bool ok = std::isfinite(v);
      switch (o.dtype) {
        case DType::F32: o.as<float>()[i] = static_cast<float>(v); break;
        case DType::I32: o.as<int32_t>()[i] = ok && std::fabs(v) < 2.1e9 ? static_cast<int32_t>(v) : 0; break;
        case DType::I64: o.as<int64_t>()[i] = ok && std::fabs(v) < 9.2e18 ? static_cast<int64_t>(v) : 0; break;
        case DType::I8: o.as<int8_t>()[i] = static_cast<int8_t>(ok && std::fabs(v) < 1e9 ? static_cast<int32_t>(v) : 0); break;
        default: o.as<uint8_t>()[i] = static_cast<uint8_t>(ok && std::fabs(v) < 1e9 ? static_cast<int32_t>(v) : 0); break;
      }
    }
    return absl::OkStatus();
  }
  if (IsLogical(t)) {
    const Value& a = *ctx.in[0];
    const Value& b = *ctx.in[1];
    Value& o = *ctx.out[0];
    if (t == OpType::AND) Binary<uint8_t, uint8_t>(a, b, o, [](uint8_t x, uint8_t y) -> uint8_t { return x && y; });
    if (t == OpType::OR) Binary<uint8_t, uint8_t>(a, b, o, [](uint8_t x, uint8_t y) -> uint8_t { return x || y; });
    if (t == OpType::XOR) Binary<uint8_t, uint8_t>(a, b, o, [](uint8_t x, uint8_t y) -> uint8_t { return x != y; });
    return absl::OkStatus();
  }
  absl::Status st;
  if (dt == DType::F32) {
    if (t == OpType::POW) {
      Binary<float, float>(*ctx.in[0], *ctx.in[1], *ctx.out[0], [](float x, float y) {
        return y == 2.f ? x * x : std::pow(x, y);
      });
    } else {
      st = RunArith<float>(ctx, t);
    }
  } else if (dt == DType::I32) {
    st = RunArith<int32_t>(ctx, t);
  } else if (dt == DType::I8) {
    st = RunArith<int8_t>(ctx, t);
  } else if (dt == DType::U8) {
    st = RunArith<uint8_t>(ctx, t);
  } else {
    st = RunArith<int64_t>(ctx, t);
  }
  RETURN_IF_ERROR(st);
  const auto* opts = ctx.options<fb::BinaryOptions>();
  if (opts && opts->fused_activation() != fb::Activation::NONE && ctx.out[0]->dtype == DType::F32) {
    kernels::ApplyActivation(ToKernelActivation(opts->fused_activation()), ctx.out[0]->as<float>(),
                             static_cast<size_t>(ctx.out[0]->num_elements()));
  }
  return absl::OkStatus();
}

// ---- unary ----

bool UnaryAllowsInt(OpType t) {
  return t == OpType::NEG || t == OpType::ABS || t == OpType::SIGN || t == OpType::IDENTITY || t == OpType::RELU;
}

absl::Status InferUnary(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  const OpType t = ctx.op->type();
  if (t == OpType::NOT) {
    if (x.dtype != DType::BOOL) return ctx.Error(absl::StrCat("expects bool, got ", DTypeName(x.dtype)));
  } else if (t == OpType::IDENTITY) {
    // any dtype
  } else if (x.dtype != DType::F32 && !(UnaryAllowsInt(t) && (x.dtype == DType::I32 || x.dtype == DType::I64))) {
    return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  }
  ctx.out[0]->shape = x.shape;
  ctx.out[0]->dtype = x.dtype;
  return absl::OkStatus();
}

template <typename F>
void MapF(const Value& x, Value& y, F f) {
  const float* a = x.as<float>();
  float* b = y.as<float>();
  const int64_t n = x.num_elements();
  for (int64_t i = 0; i < n; ++i) b[i] = f(a[i]);
}

template <typename T>
void MapInt(OpType t, const Value& x, Value& y) {
  const T* a = x.as<T>();
  T* b = y.as<T>();
  const int64_t n = x.num_elements();
  for (int64_t i = 0; i < n; ++i) {
    T v = a[i];
    switch (t) {
      case OpType::NEG: b[i] = -v; break;
      case OpType::ABS: b[i] = v < 0 ? -v : v; break;
      case OpType::SIGN: b[i] = v > 0 ? 1 : (v < 0 ? -1 : 0); break;
      case OpType::RELU: b[i] = v > 0 ? v : 0; break;
      default: b[i] = v;
    }
  }
}

float RoundHalfEven(float v) { return std::nearbyint(v); }  // default FE_TONEAREST

absl::Status RunUnary(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const OpType t = ctx.op->type();
  if (t == OpType::IDENTITY) {
    if (x.bytes() > 0 && x.data != y.data) std::memcpy(y.data, x.data, static_cast<size_t>(x.bytes()));
    return absl::OkStatus();
  }
  if (t == OpType::NOT) {
    const uint8_t* a = x.as<uint8_t>();
    uint8_t* b = y.as<uint8_t>();
    for (int64_t i = 0; i < x.num_elements(); ++i) b[i] = !a[i];
    return absl::OkStatus();
  }
  if (x.dtype == DType::I32) { MapInt<int32_t>(t, x, y); return absl::OkStatus(); }
  if (x.dtype == DType::I64) { MapInt<int64_t>(t, x, y); return absl::OkStatus(); }
  const size_t n = static_cast<size_t>(x.num_elements());
  switch (t) {
    case OpType::RELU:
      if (x.data != y.data) std::memcpy(y.data, x.data, n * 4);
      kernels::ApplyActivation(kernels::Activation::kRelu, y.as<float>(), n);
      break;
    case OpType::GELU: {
      const auto* o = ctx.options<fb::GeluOptions>();
      if (x.data != y.data) std::memcpy(y.data, x.data, n * 4);
      kernels::ApplyActivation(o && o->approximate_tanh() ? kernels::Activation::kGeluTanh : kernels::Activation::kGelu,
                               y.as<float>(), n);
      break;
    }
    case OpType::SILU:
      MapF(x, y, [](float v) { return v / (1.f + std::exp(-v)); });
      break;
    case OpType::SIGMOID: MapF(x, y, [](float v) { return 1.f / (1.f + std::exp(-v)); }); break;
    case OpType::TANH: MapF(x, y, [](float v) { return std::tanh(v); }); break;
    case OpType::EXP: MapF(x, y, [](float v) { return std::exp(v); }); break;
    case OpType::LOG: MapF(x, y, [](float v) { return std::log(v); }); break;
    case OpType::SQRT: MapF(x, y, [](float v) { return std::sqrt(v); }); break;
    case OpType::ERF: MapF(x, y, [](float v) { return std::erf(v); }); break;
    case OpType::NEG: MapF(x, y, [](float v) { return -v; }); break;
    case OpType::ABS: MapF(x, y, [](float v) { return std::fabs(v); }); break;
    case OpType::RECIPROCAL: MapF(x, y, [](float v) { return 1.f / v; }); break;
    case OpType::FLOOR: MapF(x, y, [](float v) { return std::floor(v); }); break;
    case OpType::CEIL: MapF(x, y, [](float v) { return std::ceil(v); }); break;
    case OpType::ROUND: MapF(x, y, RoundHalfEven); break;
    case OpType::SIN: MapF(x, y, [](float v) { return std::sin(v); }); break;
    case OpType::COS: MapF(x, y, [](float v) { return std::cos(v); }); break;
    case OpType::SIGN: MapF(x, y, [](float v) { return v > 0 ? 1.f : (v < 0 ? -1.f : 0.f); }); break;
    case OpType::SOFTPLUS:
      MapF(x, y, [](float v) { return v > 20.f ? v : std::log1p(std::exp(v)); });
      break;
    case OpType::HARD_SWISH:
      MapF(x, y, [](float v) { return v * std::min(1.f, std::max(0.f, v / 6.f + 0.5f)); });
      break;
    case OpType::LEAKY_RELU: {
      const float alpha = ctx.options<fb::AlphaBetaOptions>()->alpha();
      MapF(x, y, [alpha](float v) { return v >= 0 ? v : alpha * v; });
      break;
    }
    case OpType::ELU: {
      const float alpha = ctx.options<fb::AlphaBetaOptions>()->alpha();
      MapF(x, y, [alpha](float v) { return v >= 0 ? v : alpha * (std::exp(v) - 1.f); });
      break;
    }
    case OpType::HARD_SIGMOID: {
      const auto* o = ctx.options<fb::AlphaBetaOptions>();
      const float a = o->alpha(), b = o->beta();
      MapF(x, y, [a, b](float v) { return std::min(1.f, std::max(0.f, a * v + b)); });
      break;
    }
    default:
      return ctx.Error("not a unary op");
  }
  return absl::OkStatus();
}

// ---- Clip ----
// f32, or integers (min/max inputs of the same dtype; options' float bounds are for f32 only).
absl::Status InferClip(OpContext& ctx) {
  const DType t = ctx.in[0]->dtype;
  if (t != DType::F32 && t != DType::I32 && t != DType::I64 && t != DType::I8 && t != DType::U8) {
    return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(t)));
  }
  for (size_t i = 1; i < 3; ++i) {
    if (ctx.has_input(i)) {
      RETURN_IF_ERROR(ExpectDType(ctx, i, t));
      if (ctx.in[i]->num_elements() != 1) return ctx.Error("min/max must be scalars");
    }
  }
  ctx.out[0]->shape = ctx.in[0]->shape;
  ctx.out[0]->dtype = t;
  return absl::OkStatus();
}

template <typename T>
void ClipInt(OpContext& ctx) {
  T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  if (ctx.has_input(1)) lo = *ctx.in[1]->as<T>();
  if (ctx.has_input(2)) hi = *ctx.in[2]->as<T>();
  const T* a = ctx.in[0]->as<T>();
  T* b = ctx.out[0]->as<T>();
  for (int64_t i = 0; i < ctx.in[0]->num_elements(); ++i) b[i] = std::min(hi, std::max(lo, a[i]));
}

absl::Status RunClip(OpContext& ctx) {
  switch (ctx.in[0]->dtype) {
    case DType::I32: ClipInt<int32_t>(ctx); return absl::OkStatus();
    case DType::I64: ClipInt<int64_t>(ctx); return absl::OkStatus();
    case DType::I8: ClipInt<int8_t>(ctx); return absl::OkStatus();
    case DType::U8: ClipInt<uint8_t>(ctx); return absl::OkStatus();
    default: break;
  }
  const auto* o = ctx.options<fb::ClipOptions>();
  float lo = o ? o->min() : -INFINITY, hi = o ? o->max() : INFINITY;
  if (ctx.has_input(1)) lo = *ctx.in[1]->as<float>();
  if (ctx.has_input(2)) hi = *ctx.in[2]->as<float>();
  MapF(*ctx.in[0], *ctx.out[0], [lo, hi](float v) { return std::min(hi, std::max(lo, v)); });
  return absl::OkStatus();
}

// ---- Cast ----
absl::Status InferCast(OpContext& ctx) {
  const DType to = ctx.options<fb::CastOptions>()->to();
  const DType from = ctx.in[0]->dtype;
  auto ok = [](DType t) { return t == DType::F32 || t == DType::I32 || t == DType::I64 || t == DType::BOOL ||
                                 t == DType::I8 || t == DType::U8; };
  if (!ok(to) || !ok(from)) {
    return ctx.Error(absl::StrCat("cast from ", DTypeName(from), " to ", DTypeName(to), " is not supported"));
  }
  ctx.out[0]->shape = ctx.in[0]->shape;
  ctx.out[0]->dtype = to;
  return absl::OkStatus();
}

template <typename From>
absl::Status CastFrom(const From* src, Value& out, int64_t n) {
  switch (out.dtype) {
    case DType::F32: for (int64_t i = 0; i < n; ++i) out.as<float>()[i] = static_cast<float>(src[i]); break;
    case DType::I32: for (int64_t i = 0; i < n; ++i) out.as<int32_t>()[i] = CastSat<int32_t>(src[i]); break;
    case DType::I64: for (int64_t i = 0; i < n; ++i) out.as<int64_t>()[i] = CastSat<int64_t>(src[i]); break;
    case DType::I8: for (int64_t i = 0; i < n; ++i) out.as<int8_t>()[i] = CastSat<int8_t>(src[i]); break;
    case DType::U8: for (int64_t i = 0; i < n; ++i) out.as<uint8_t>()[i] = CastSat<uint8_t>(src[i]); break;
    case DType::BOOL: for (int64_t i = 0; i < n; ++i) out.as<uint8_t>()[i] = src[i] != From(0); break;
    default: return absl::InternalError("cast target");
  }
  return absl::OkStatus();
}

absl::Status RunCast(OpContext& ctx) {
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  const int64_t n = x.num_elements();
  if (x.dtype == DType::F32 && y.dtype != DType::F32 && y.dtype != DType::BOOL) {
    // float -> int: truncation toward zero, with NaN/out-of-range mapped to 0 instead of UB.
    std::vector<int64_t> tmp(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const float v = x.as<float>()[i];
      tmp[static_cast<size_t>(i)] = (v == v && std::fabs(v) < 9.2e18f) ? static_cast<int64_t>(v) : 0;
    }
    return CastFrom(tmp.data(), y, n);
  }
  switch (x.dtype) {
    case DType::F32: return CastFrom(x.as<float>(), y, n);
    case DType::I32: return CastFrom(x.as<int32_t>(), y, n);
    case DType::I64: return CastFrom(x.as<int64_t>(), y, n);
    case DType::I8: return CastFrom(x.as<int8_t>(), y, n);
    case DType::U8: return CastFrom(x.as<uint8_t>(), y, n);
    case DType::BOOL: return CastFrom(x.as<uint8_t>(), y, n);
    default: return ctx.Error("cast source");
  }
}

// ---- Where ----
absl::Status InferWhere(OpContext& ctx) {
  RETURN_IF_ERROR(ExpectDType(ctx, 0, DType::BOOL));
  if (ctx.in[1]->dtype != ctx.in[2]->dtype) return ctx.Error("x and y dtypes differ");
  ASSIGN_OR_RETURN(Shape s, BroadcastShapes(ctx, ctx.in[0]->shape, ctx.in[1]->shape));
  ASSIGN_OR_RETURN(ctx.out[0]->shape, BroadcastShapes(ctx, s, ctx.in[2]->shape));
  ctx.out[0]->dtype = ctx.in[1]->dtype;
  if (DTypeSize(ctx.out[0]->dtype) == 0) return ctx.Error("unsupported dtype");
  return absl::OkStatus();
}

absl::Status RunWhere(OpContext& ctx) {
  const Value& c = *ctx.in[0];
  const Value& x = *ctx.in[1];
  const Value& y = *ctx.in[2];
  Value& o = *ctx.out[0];
  const size_t es = DTypeSize(o.dtype);
  const uint8_t* pc = c.as<uint8_t>();
  const uint8_t* px = x.as<uint8_t>();
  const uint8_t* py = y.as<uint8_t>();
  uint8_t* po = o.as<uint8_t>();
  ForEachBroadcastRow<3>(o.shape, {&c.shape, &x.shape, &y.shape},
                         [&](const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st, int64_t oo, int64_t n) {
                           for (int64_t i = 0; i < n; ++i) {
                             const bool take = pc[off[0] + i * st[0]];
                             const uint8_t* src = take ? px + (off[1] + i * st[1]) * es : py + (off[2] + i * st[2]) * es;
                             std::memcpy(po + (oo + i) * es, src, es);
                           }
                         });
  return absl::OkStatus();
}

}  // namespace

void RegisterElementwiseOps(std::vector<OpDef>& ops) {
  for (OpType t : {OpType::ADD, OpType::SUB, OpType::MUL, OpType::DIV, OpType::POW, OpType::MAXIMUM, OpType::MINIMUM,
                   OpType::MOD, OpType::EQUAL, OpType::LESS, OpType::LESS_OR_EQUAL, OpType::GREATER,
                   OpType::GREATER_OR_EQUAL, OpType::AND, OpType::OR, OpType::XOR}) {
    OpDef d{t, fb::OpOptions::BinaryOptions, 2, 2, 1, 1, InferBinary, RunBinary};
    d.options_required = false;
    ops.push_back(d);
  }
  for (OpType t : {OpType::RELU, OpType::SIGMOID, OpType::TANH, OpType::EXP, OpType::LOG, OpType::SQRT, OpType::ERF,
                   OpType::NEG, OpType::ABS, OpType::RECIPROCAL, OpType::FLOOR, OpType::CEIL, OpType::ROUND,
                   OpType::NOT, OpType::SIN, OpType::COS, OpType::SILU, OpType::IDENTITY, OpType::SIGN,
                   OpType::SOFTPLUS, OpType::HARD_SWISH}) {
    ops.push_back({t, fb::OpOptions::NONE, 1, 1, 1, 1, InferUnary, RunUnary});
  }
  {
    OpDef d{OpType::GELU, fb::OpOptions::GeluOptions, 1, 1, 1, 1, InferUnary, RunUnary};
    d.options_required = false;
    ops.push_back(d);
  }
  for (OpType t : {OpType::LEAKY_RELU, OpType::ELU, OpType::HARD_SIGMOID}) {
    ops.push_back({t, fb::OpOptions::AlphaBetaOptions, 1, 1, 1, 1, InferUnary, RunUnary});
  }
  {
    OpDef d{OpType::CLIP, fb::OpOptions::ClipOptions, 1, 3, 1, 1, InferClip, RunClip};
    d.options_required = false;
    ops.push_back(d);
  }
  ops.push_back({OpType::CAST, fb::OpOptions::CastOptions, 1, 1, 1, 1, InferCast, RunCast});
  ops.push_back({OpType::WHERE, fb::OpOptions::NONE, 3, 3, 1, 1, InferWhere, RunWhere});
}

}  // namespace edgert
