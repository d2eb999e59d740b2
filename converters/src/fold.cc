// Constant folding: a small evaluator over doubles for the ops that appear in shape
// computations and weight preprocessing. Integer results are saturated back to int64.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"
#include "passes.h"

namespace edgert::converter {
namespace {

constexpr int64_t kMaxFoldElements = int64_t{1} << 26;
// An op whose output is larger than all its inputs together (ConstantOfShape, Expand, Range,
// broadcasting, Gather with repeated indices) folds only up to this many elements: a few bytes
// of attributes must not become gigabytes of constants (fuzz_onnx: out-of-memory).
constexpr int64_t kMaxGrowElements = int64_t{1} << 20;

struct Val {
  DType dt = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<double> v;
  // Element count; -1 when a dim is negative or the product overflows int64 (shapes computed
  // from folded values can be anything: fuzz_onnx found a Reshape whose product overflowed).
  int64_t Size() const {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
    }
    return n;
  }
  // Every dim non-negative and the product of the non-zero dims within kMaxFoldElements, so that
  // no partial product of dims (outer/inner counts) can overflow — even in a zero-size value.
  bool Sane() const {
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d < 0 || __builtin_mul_overflow(n, std::max<int64_t>(d, 1), &n) || n > kMaxFoldElements) return false;
    }
    return true;
  }
};

Val FromTensor(const Tensor& t) {
  Val r;
  r.dt = t.dtype;
  r.shape = t.Shape();
  if (IsFloat(t.dtype)) {
    for (float f : ToFloats(t)) r.v.push_back(f);
  } else {
    for (int64_t i : ToInt64s(t)) r.v.push_back(static_cast<double>(i));
  }
  return r;
}

int64_t SatI64(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

Tensor ToTensor(const Val& v, const std::string& name) {
  Tensor t;
  t.name = name;
  t.dtype = v.dt;
  t.is_const = true;
  SetStaticShape(t, v.shape);
  auto put = [&](auto x) { t.data.append(reinterpret_cast<const char*>(&x), sizeof(x)); };
  for (double d : v.v) {
    switch (v.dt) {
      case DType::kF32: put(static_cast<float>(d)); break;
      case DType::kF16: put(FloatToHalf(static_cast<float>(d))); break;
      case DType::kI8: put(static_cast<int8_t>(SatI64(d))); break;
      case DType::kU8: put(static_cast<uint8_t>(SatI64(d))); break;
      case DType::kBool: put(static_cast<uint8_t>(d != 0)); break;
      case DType::kI32: put(static_cast<int32_t>(SatI64(d))); break;
      default: put(SatI64(d)); break;
    }
  }
  return t;
}

std::vector<int64_t> Strides(const std::vector<int64_t>& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

bool Broadcast(const std::vector<std::vector<int64_t>>& shapes, std::vector<int64_t>* out) {
  size_t r = 0;
  for (auto& s : shapes) r = std::max(r, s.size());
  out->assign(r, 1);
  for (auto& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = (*out)[r - s.size() + i];
      if (s[i] == o || s[i] == 1) continue;
      if (o != 1) return false;
      o = s[i];
    }
  }
  return true;
}

// Index into `v` for flat output index `i` of broadcast shape `out`.
struct BIndex {
  std::vector<int64_t> bstride;  // per output dim, 0 where broadcast
  BIndex(const std::vector<int64_t>& s, const std::vector<int64_t>& out) {
    std::vector<int64_t> st = Strides(s);
    bstride.assign(out.size(), 0);
    for (size_t i = 0; i < s.size(); ++i) {
      size_t o = out.size() - s.size() + i;
      bstride[o] = s[i] == 1 ? 0 : st[i];
    }
  }
};

// Largest output an op on `in` may fold to: its inputs' size, or kMaxGrowElements.
int64_t GrowLimit(const std::vector<const Val*>& in) {
  int64_t total = 0;
  for (const Val* v : in) total += v ? static_cast<int64_t>(v->v.size()) : 0;
  return std::max(total, kMaxGrowElements);
}

bool Elementwise(const std::vector<const Val*>& in, DType out_dt,
                 const std::function<double(const double*)>& f, Val* out) {
  std::vector<std::vector<int64_t>> shapes;
  for (auto* v : in) shapes.push_back(v->shape);
  if (!Broadcast(shapes, &out->shape)) return false;
  out->dt = out_dt;
  int64_t n = out->Size();
  if (n < 0 || n > GrowLimit(in)) return false;
  out->v.resize(n);
  std::vector<BIndex> bi;
  for (auto* v : in) bi.emplace_back(v->shape, out->shape);
  std::vector<int64_t> ost = Strides(out->shape);
  std::vector<double> args(in.size());
  for (int64_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < in.size(); ++k) {
      int64_t off = 0, rem = i;
      for (size_t d = 0; d < ost.size(); ++d) {
        int64_t idx = rem / ost[d];
        rem %= ost[d];
        off += idx * bi[k].bstride[d];
      }
      args[k] = in[k]->v[off];
    }
    out->v[i] = f(args.data());
  }
  return true;
}

int64_t NormAxis(int64_t a, int64_t rank) { return a < 0 ? a + rank : a; }

DType OnnxToDType(int64_t to) {
  switch (to) {
    case 1: return DType::kF32;
    case 10: return DType::kF16;
    case 3: return DType::kI8;
    case 2: return DType::kU8;
    case 6: return DType::kI32;
    case 7: return DType::kI64;
    case 9: return DType::kBool;
    default: return DType::kUnknown;
  }
}

double CastTo(double d, DType dt) {
  switch (dt) {
    case DType::kF32: return static_cast<float>(d);
    case DType::kF16: return HalfToFloat(FloatToHalf(static_cast<float>(d)));
    case DType::kBool: return d != 0;
    case DType::kI8: return static_cast<int8_t>(SatI64(d));
    case DType::kU8: return static_cast<uint8_t>(SatI64(d));
    case DType::kI32: return static_cast<int32_t>(SatI64(d));
    default: return static_cast<double>(SatI64(std::trunc(d)));
  }
}

// Evaluates one node; returns false if it cannot (unsupported op or shape).
bool Eval(const Node& n, const std::vector<const Val*>& in, int64_t opset, std::vector<Val>* outs) {
  const std::string& op = n.op;
  auto arg = [&](size_t i) -> const Val* { return i < in.size() ? in[i] : nullptr; };
  outs->assign(n.outputs.size(), Val());
  Val& o = (*outs)[0];
  if (!arg(0)) return false;
  const Val& a = *arg(0);
  bool isf = IsFloat(a.dt);
  static const std::map<std::string, std::function<double(double, double)>> kBin = {
      {"Add", [](double x, double y) { return x + y; }},
      {"Sub", [](double x, double y) { return x - y; }},
      {"Mul", [](double x, double y) { return x * y; }},
      {"Pow", [](double x, double y) { return std::pow(x, y); }},
      {"Max", [](double x, double y) { return std::max(x, y); }},
      {"Min", [](double x, double y) { return std::min(x, y); }},
  };
  static const std::map<std::string, std::function<double(double, double)>> kCmp = {
      {"Equal", [](double x, double y) { return x == y ? 1.0 : 0.0; }},
      {"Less", [](double x, double y) { return x < y ? 1.0 : 0.0; }},
      {"LessOrEqual", [](double x, double y) { return x <= y ? 1.0 : 0.0; }},
      {"Greater", [](double x, double y) { return x > y ? 1.0 : 0.0; }},
      {"GreaterOrEqual", [](double x, double y) { return x >= y ? 1.0 : 0.0; }},
      {"And", [](double x, double y) { return (x != 0 && y != 0) ? 1.0 : 0.0; }},
      {"Or", [](double x, double y) { return (x != 0 || y != 0) ? 1.0 : 0.0; }},
      {"Xor", [](double x, double y) { return ((x != 0) != (y != 0)) ? 1.0 : 0.0; }},
  };
  static const std::map<std::string, std::function<double(double)>> kUn = {
      {"Neg", [](double x) { return -x; }},
      {"Abs", [](double x) { return std::fabs(x); }},
      {"Sqrt", [](double x) { return std::sqrt(x); }},
      {"Exp", [](double x) { return std::exp(x); }},
      {"Log", [](double x) { return std::log(x); }},
      {"Reciprocal", [](double x) { return 1.0 / x; }},
      {"Floor", [](double x) { return std::floor(x); }},
      {"Ceil", [](double x) { return std::ceil(x); }},
      {"Round", [](double x) { return std::nearbyint(x); }},
      {"Erf", [](double x) { return std::erf(x); }},
      {"Relu", [](double x) { return x > 0 ? x : 0; }},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Tanh", [](double x) { return std::tanh(x); }},
      {"Sin", [](double x) { return std::sin(x); }},
      {"Cos", [](double x) { return std::cos(x); }},
      {"Sign", [](double x) { return static_cast<double>((x > 0) - (x < 0)); }},
      {"Not", [](double x) { return x == 0 ? 1.0 : 0.0; }},
  };
  if (auto it = kBin.find(op); it != kBin.end() && in.size() == 2 && arg(1)) {
    auto f = it->second;
    bool keep_int = !isf;
    return Elementwise({arg(0), arg(1)}, a.dt,
                       [&](const double* x) {
                         double r = f(x[0], x[1]);
                         return keep_int ? CastTo(r, a.dt) : CastTo(r, a.dt);
                       },
                       &o);
  }
  if (op == "Div" && arg(1)) {
    return Elementwise({arg(0), arg(1)}, a.dt,
                       [&](const double* x) {
                         if (isf) return CastTo(x[0] / x[1], a.dt);
                         if (x[1] == 0) return 0.0;
                         return std::trunc(x[0] / x[1]);
                       },
                       &o);
  }
  if (op == "Mod" && arg(1) && !isf && n.Int("fmod", 0) == 0) {
    return Elementwise({arg(0), arg(1)}, a.dt,
                       [&](const double* x) {
                         if (x[1] == 0) return 0.0;
                         int64_t p = SatI64(x[0]), q = SatI64(x[1]);
                         int64_t r = p % q;
                         if (r != 0 && ((r < 0) != (q < 0))) r += q;
                         return static_cast<double>(r);
                       },
                       &o);
  }
  if (auto it = kCmp.find(op); it != kCmp.end() && arg(1)) {
    auto f = it->second;
    return Elementwise({arg(0), arg(1)}, DType::kBool, [&](const double* x) { return f(x[0], x[1]); }, &o);
  }
  if (auto it = kUn.find(op); it != kUn.end()) {
    auto f = it->second;
    return Elementwise({arg(0)}, a.dt, [&](const double* x) { return CastTo(f(x[0]), a.dt); }, &o);
  }
  if (op == "Where" && arg(1) && arg(2)) {
    return Elementwise({arg(0), arg(1), arg(2)}, arg(1)->dt,
                       [](const double* x) { return x[0] != 0 ? x[1] : x[2]; }, &o);
  }
  if (op == "Identity") {
    o = a;
    return true;
  }
  if (op == "Cast") {
    DType to = OnnxToDType(n.Int("to", 1));
    if (to == DType::kUnknown) return false;
    o = a;
    o.dt = to;
    for (double& d : o.v) d = CastTo(d, to);
    return true;
  }
  if (op == "Shape") {
    int64_t r = static_cast<int64_t>(a.shape.size());
    int64_t s = std::clamp<int64_t>(NormAxis(n.Int("start", 0), r), 0, r);
    int64_t e = std::clamp<int64_t>(NormAxis(n.Int("end", r), r), 0, r);
    o.dt = DType::kI64;
    for (int64_t i = s; i < e; ++i) o.v.push_back(static_cast<double>(a.shape[i]));
    o.shape = {static_cast<int64_t>(o.v.size())};
    return true;
  }
  if (op == "Size") {
    if (a.Size() < 0) return false;
    o.dt = DType::kI64;
    o.shape = {};
    o.v = {static_cast<double>(a.Size())};
    return true;
  }
  if (op == "Reshape" && arg(1)) {
    std::vector<int64_t> s;
    for (double d : arg(1)->v) s.push_back(SatI64(d));
    bool allowzero = n.Int("allowzero", 0) != 0;
    int64_t known = 1, neg = -1;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 0 && !allowzero) {
        if (i >= a.shape.size()) return false;
        s[i] = a.shape[i];
      }
      if (s[i] == -1) {
        if (neg >= 0) return false;
        neg = static_cast<int64_t>(i);
      } else if (s[i] < 0 || __builtin_mul_overflow(known, s[i], &known)) {
        return false;
      }
    }
    if (neg >= 0) {
      if (known == 0 || a.Size() % known) return false;
      s[neg] = a.Size() / known;
    }
    o = a;
    o.shape = s;
    return o.Size() == a.Size();
  }
  if (op == "Flatten") {
    int64_t r = static_cast<int64_t>(a.shape.size());
    int64_t ax = NormAxis(n.Int("axis", 1), r);
    if (ax < 0 || ax > r) return false;
    int64_t p = 1;
    for (int64_t i = 0; i < ax; ++i) p *= a.shape[i];
    o = a;
    o.shape = {p, p ? a.Size() / p : 0};
    return true;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    std::vector<int64_t> axes;
    if (arg(1)) for (double d : arg(1)->v) axes.push_back(SatI64(d));
    o = a;
    if (op == "Unsqueeze") {
      int64_t r = static_cast<int64_t>(a.shape.size() + axes.size());
      std::vector<bool> ins(r, false);
      for (int64_t x : axes) {
        x = NormAxis(x, r);
        if (x < 0 || x >= r || ins[x]) return false;  // a repeated axis would under-fill ins
        ins[x] = true;
      }
      o.shape.clear();
      size_t k = 0;
      for (int64_t i = 0; i < r; ++i) o.shape.push_back(ins[i] ? 1 : a.shape[k++]);
    } else {
      int64_t r = static_cast<int64_t>(a.shape.size());
      std::vector<bool> rm(r, false);
      for (int64_t x : axes) {
        x = NormAxis(x, r);
        if (x < 0 || x >= r || a.shape[x] != 1) return false;
        rm[x] = true;
      }
      o.shape.clear();
      for (int64_t i = 0; i < r; ++i) {
        if (axes.empty() ? a.shape[i] != 1 : !rm[i]) o.shape.push_back(a.shape[i]);
      }
    }
    return true;
  }
  if (op == "Concat") {
    int64_t r = static_cast<int64_t>(a.shape.size());
    int64_t ax = NormAxis(n.Int("axis", 0), r);
    if (ax < 0 || ax >= r) return false;
    o.dt = a.dt;
    o.shape = a.shape;
    o.shape[ax] = 0;
    for (auto* v : in) {
      if (!v || v->shape.size() != a.shape.size()) return false;
      o.shape[ax] += v->shape[ax];
    }
    int64_t outer = 1;
    for (int64_t i = 0; i < ax; ++i) outer *= a.shape[i];
    for (int64_t b = 0; b < outer; ++b) {
      for (auto* v : in) {
        int64_t chunk = outer ? v->Size() / outer : 0;
        o.v.insert(o.v.end(), v->v.begin() + b * chunk, v->v.begin() + (b + 1) * chunk);
      }
    }
    return true;
  }
  if (op == "Gather" && arg(1)) {
    int64_t r = static_cast<int64_t>(a.shape.size());
    int64_t ax = NormAxis(n.Int("axis", 0), r);
    if (ax < 0 || ax >= r) return false;
    const Val& idx = *arg(1);
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < ax; ++i) outer *= a.shape[i];
    for (int64_t i = ax + 1; i < r; ++i) inner *= a.shape[i];
    int64_t total = 0;
    if (__builtin_mul_overflow(outer * inner, static_cast<int64_t>(idx.v.size()), &total) || total > GrowLimit(in)) {
      return false;
    }
    o.dt = a.dt;
    o.shape.assign(a.shape.begin(), a.shape.begin() + ax);
    o.shape.insert(o.shape.end(), idx.shape.begin(), idx.shape.end());
    o.shape.insert(o.shape.end(), a.shape.begin() + ax + 1, a.shape.end());
    for (int64_t b = 0; b < outer; ++b) {
      for (double di : idx.v) {
        int64_t j = SatI64(di);
        if (j < 0) j += a.shape[ax];
        if (j < 0 || j >= a.shape[ax]) return false;
        auto s = a.v.begin() + (b * a.shape[ax] + j) * inner;
        o.v.insert(o.v.end(), s, s + inner);
      }
    }
    return true;
  }
  if (op == "Transpose") {
    int64_t r = static_cast<int64_t>(a.shape.size());
    std::vector<int64_t> perm = n.Ints("perm");
    if (perm.empty()) for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != r) return false;
    o.dt = a.dt;
    o.shape.clear();
    for (int64_t p : perm) o.shape.push_back(a.shape[p]);
    std::vector<int64_t> ist = Strides(a.shape), ost = Strides(o.shape);
    o.v.resize(a.v.size());
    for (int64_t i = 0; i < static_cast<int64_t>(o.v.size()); ++i) {
      int64_t rem = i, off = 0;
      for (int64_t d = 0; d < r; ++d) {
        int64_t idx = rem / ost[d];
        rem %= ost[d];
        off += idx * ist[perm[d]];
      }
      o.v[i] = a.v[off];
    }
    return true;
  }
  if (op == "Slice" && arg(1) && arg(2)) {
    int64_t r = static_cast<int64_t>(a.shape.size());
    std::vector<int64_t> st(r, 0), en(a.shape), sp(r, 1);
    size_t m = arg(1)->v.size();
    if (arg(2)->v.size() != m || (arg(3) && arg(3)->v.size() != m) || (arg(4) && arg(4)->v.size() != m)) return false;
    for (size_t k = 0; k < m; ++k) {
      int64_t ax = arg(3) ? NormAxis(SatI64(arg(3)->v[k]), r) : static_cast<int64_t>(k);
      if (ax < 0 || ax >= r) return false;
      int64_t step = arg(4) ? SatI64(arg(4)->v[k]) : 1;
      if (step == 0) return false;
      int64_t dim = a.shape[ax];
      int64_t s = SatI64(arg(1)->v[k]), e = SatI64(arg(2)->v[k]);
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      if (step > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
      } else {
        s = std::clamp<int64_t>(s, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
      }
      st[ax] = s;
      en[ax] = e;
      sp[ax] = step;
    }
    o.dt = a.dt;
    o.shape.resize(r);
    for (int64_t d = 0; d < r; ++d) {
      int64_t len = sp[d] > 0 ? (en[d] - st[d] + sp[d] - 1) / sp[d] : (st[d] - en[d] - sp[d] - 1) / -sp[d];
      o.shape[d] = std::max<int64_t>(0, len);
    }
    std::vector<int64_t> ist = Strides(a.shape), ost = Strides(o.shape);
    o.v.resize(o.Size());
    for (int64_t i = 0; i < static_cast<int64_t>(o.v.size()); ++i) {
      int64_t rem = i, off = 0;
      for (int64_t d = 0; d < r; ++d) {
        int64_t idx = rem / ost[d];
        rem %= ost[d];
        off += (st[d] + idx * sp[d]) * ist[d];
      }
      o.v[i] = a.v[off];
    }
    return true;
  }
  if (op == "Range" && arg(1) && arg(2)) {
    double s = a.v.at(0), l = arg(1)->v.at(0), d = arg(2)->v.at(0);
    if (d == 0) return false;
    int64_t cnt = std::max<int64_t>(0, SatI64(std::ceil((l - s) / d)));
    if (cnt > kMaxGrowElements) return false;
    o.dt = a.dt;
    o.shape = {cnt};
    for (int64_t i = 0; i < cnt; ++i) o.v.push_back(s + i * d);
    return true;
  }
  if (op == "ConstantOfShape") {
    std::vector<int64_t> s;
    int64_t cnt = 1;
    for (double d : a.v) {
      s.push_back(SatI64(d));
      if (s.back() < 0 || __builtin_mul_overflow(cnt, s.back(), &cnt)) return false;
    }
    if (cnt < 0 || cnt > kMaxGrowElements) return false;
    double val = arg(1) && !arg(1)->v.empty() ? arg(1)->v[0] : 0.0;
    o.dt = arg(1) ? arg(1)->dt : DType::kF32;
    o.shape = s;
    o.v.assign(cnt, val);
    return true;
  }
  if (op == "Expand" && arg(1)) {
    Val shp;
    for (double d : arg(1)->v) shp.shape.push_back(SatI64(d));
    shp.v.assign(1, 0);
    std::vector<int64_t> tmp = shp.shape;
    Val ones;
    ones.shape = tmp;
    if (ones.Size() < 0 || ones.Size() > GrowLimit(in)) return false;
    ones.v.assign(ones.Size(), 0);
    return Elementwise({&a, &ones}, a.dt, [](const double* x) { return x[0]; }, &o);
  }
  if ((op == "ReduceProd" || op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin") &&
      a.shape.size() <= 1) {
    std::vector<int64_t> axes = n.Ints("axes");
    if (!axes.empty() && !(axes.size() == 1 && (axes[0] == 0 || axes[0] == -1))) return false;
    if (a.shape.empty()) {
      o = a;
      return true;
    }
    double r = op == "ReduceProd" ? 1 : op == "ReduceSum" ? 0 : a.v.empty() ? 0 : a.v[0];
    for (double x : a.v) {
      if (op == "ReduceProd") r *= x;
      else if (op == "ReduceSum") r += x;
      else if (op == "ReduceMax") r = std::max(r, x);
      else r = std::min(r, x);
    }
    o.dt = a.dt;
    o.shape = n.Int("keepdims", 1) ? std::vector<int64_t>{1} : std::vector<int64_t>{};
    o.v = {r};
    return true;
  }
  if (op == "DequantizeLinear" && arg(1)) {
    int64_t r = static_cast<int64_t>(a.shape.size());
    int64_t ax = NormAxis(n.Int("axis", 1), r);
    const Val& sc = *arg(1);
    const Val* zp = arg(2);
    // Per tensor (one scale) or per axis (one scale per index of a valid axis); anything else is
    // left unfolded for the checks downstream.
    const bool per_axis = sc.v.size() != 1;
    if (sc.v.empty() || (per_axis && (ax < 0 || ax >= r || static_cast<int64_t>(sc.v.size()) != a.shape[ax]))) {
      return false;
    }
    if (zp && zp->v.size() != 1 && zp->v.size() != sc.v.size()) return false;
    o.dt = DType::kF32;
    o.shape = a.shape;
    o.v.resize(a.v.size());
    int64_t inner = 1;
    if (per_axis) for (int64_t i = ax + 1; i < r; ++i) inner *= a.shape[i];
    for (size_t i = 0; i < a.v.size(); ++i) {
      size_t c = sc.v.size() == 1 ? 0 : (i / inner) % a.shape[ax];
      double z = zp ? zp->v[zp->v.size() == 1 ? 0 : c] : 0;
      o.v[i] = static_cast<float>((a.v[i] - z) * sc.v[c]);
    }
    return true;
  }
  (void)opset;
  return false;
}

}  // namespace

absl::StatusOr<int> FoldConstants(Graph& g) {
  int folded = 0;
  for (Node& n : g.nodes) {
    if (n.dead || n.domain == "edgert") continue;
    if (n.op == "QuantizeLinear") continue;  // keep QDQ activation pairs as they are
    bool all_const = !n.inputs.empty() && !n.inputs[0].empty();
    for (const auto& i : n.inputs) if (!i.empty() && !g.IsConst(i)) all_const = false;
    std::vector<Val> store;
    if (n.op == "Shape" || n.op == "Size") {
      const Tensor* t = g.Find(n.In(0));
      if (!t || !t->StaticShape()) continue;
      Val v;
      v.shape = t->Shape();
      store.push_back(v);
    } else if (all_const) {
      int64_t total = 0;
      for (const auto& i : n.inputs) if (!i.empty()) total += g.Find(i)->NumElements();
      if (total > kMaxFoldElements) continue;
      for (const auto& i : n.inputs) store.push_back(i.empty() ? Val() : FromTensor(*g.Find(i)));
      bool sane = true;
      for (const Val& v : store) sane = sane && v.Sane();
      if (!sane) continue;
    } else {
      continue;
    }
    std::vector<const Val*> in;
    for (size_t k = 0; k < store.size(); ++k) {
      in.push_back(k < n.inputs.size() && n.inputs[k].empty() ? nullptr : &store[k]);
    }
    std::vector<Val> outs;
    if (n.outputs.size() != 1 || !Eval(n, in, g.opset, &outs)) continue;
    if (outs[0].Size() != static_cast<int64_t>(outs[0].v.size())) continue;
    Tensor t = ToTensor(outs[0], n.outputs[0]);
    g.tensors[t.name] = std::move(t);
    n.dead = true;
    ++folded;
  }
  // A graph output that became a constant is produced by an IDENTITY of that constant.
  for (auto& out : g.outputs) {
    Tensor* t = g.Find(out);
    if (!t || !t->is_const) continue;
    Tensor c = *t;
    c.name = g.UniqueName(out + "_const");
    std::string cname = c.name;
    g.AddConst(std::move(c));
    t->is_const = false;
    t->data.clear();
    Node id;
    id.name = out + "_identity";
    id.op = "Identity";
    id.inputs = {cname};
    id.outputs = {out};
    g.nodes.push_back(std::move(id));
  }
  g.Compact();
  return folded;
}

int RemoveDeadCode(Graph& g) {
  int removed = 0;
  std::unordered_map<std::string, int> uses = g.UseCounts();
  for (size_t k = g.nodes.size(); k-- > 0;) {
    Node& n = g.nodes[k];
    if (n.dead) continue;
    bool used = false;
    for (const auto& o : n.outputs) if (!o.empty() && uses[o] > 0) used = true;
    if (used) continue;
    n.dead = true;
    ++removed;
    for (const auto& i : n.inputs) if (!i.empty()) uses[i]--;
  }
  g.Compact();
  return removed;
}

}  // namespace edgert::converter
