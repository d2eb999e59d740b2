#include "edgert/converter/convert.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "edgert/schema/writer.h"
#include "lower.h"
#include "passes.h"
#include "quantize.h"
#include "runner.h"
#include "util.h"

namespace edgert::converter {

const char* ConverterVersion() { return "0.1.0"; }

std::string OptionsString(const ConvertOptions& o) {
  std::string s = absl::StrCat("--quant ", o.quant);
  if (o.quant == "int4" || o.quant == "mixed") {
    absl::StrAppend(&s, " --block ", o.block, o.asym ? " --asym" : " --sym");
    if (o.f16_scales) absl::StrAppend(&s, " --f16-scales");
    absl::StrAppend(&s, " --int4-method ", o.int4_method);
  }
  if (!o.exclude.empty()) absl::StrAppend(&s, " --exclude '", o.exclude, "'");
  if (!o.overrides_path.empty()) absl::StrAppend(&s, " --overrides ", o.overrides_path);
  if (!o.calib_dir.empty()) absl::StrAppend(&s, " --calib ", o.calib_dir);
  if (o.calib_limit) absl::StrAppend(&s, " --calib-limit ", o.calib_limit);
  if (o.quant == "int8-static") {
    absl::StrAppend(&s, " --calib-method ", o.calib_method);
    if (o.calib_method == "percentile") absl::StrAppend(&s, " --percentile ", o.percentile);
  }
  if (o.quant == "mixed") {
    absl::StrAppend(&s, " --max-error ", o.max_error, " --mixed-margin ", o.mixed_margin, " --sensitivity-samples ",
                    o.sensitivity_samples);
  }
  return s;
}

namespace {

enum class Prec { kFp32 = 0, kInt8 = 1, kInt4 = 2 };
const char* PrecName(Prec p) { return p == Prec::kFp32 ? "fp32" : p == Prec::kInt8 ? "int8" : "int4"; }

struct Layer {
  std::string name, op, weight, input, output;
  std::vector<int64_t> wshape;
  Prec prec = Prec::kFp32;
  int block = 32;
  bool asym = false;
  std::string method;
  WeightQuantResult wq;
  bool has_act = false;
  float act_min = 0, act_max = 0;
  double out_cos = -2, out_rel = -1;
  double sens_int4 = -2, sens_int8 = -2;
  bool qdq_import = false;
  bool fixed = false;  // excluded or overridden: mixed precision leaves it alone
};

// A layer's weight quantized once at one precision; mixed precision reuses it for every
// candidate model and for the final one.
struct QuantizedWeight {
  Tensor w;
  WeightQuantResult wq;
  std::string method;
};

struct Ctx {
  explicit Ctx(const ConvertOptions& opts) : o(opts) {}
  const ConvertOptions& o;
  Graph g;
  std::vector<Layer> layers;
  std::vector<std::vector<NpyArray>> samples;
  std::string calib_hash;
  std::vector<std::vector<RunOutput>> fp32_outputs;  // per sample: graph outputs then extras
  std::map<std::string, size_t> capture_index;       // tensor -> output index in fp32 run
  int folded = 0, dead = 0, reinferred = 0;
  FusionStats fusion;
  double final_cos = -2, final_rel = -1, final_min_sample_cos = -2;
  size_t source_bytes = 0, weight_bytes_before = 0;
  // layer index -> {int8, int4} quantized weights (filled on first use)
  std::map<std::pair<size_t, Prec>, QuantizedWeight> qcache;
  struct MixedStats {
    size_t samples = 0, candidates = 0, verifications = 0;
    double seconds_sensitivity = 0, seconds_search = 0;
  } mixed;
};

absl::Status Bad(const std::string& msg) { return absl::InvalidArgumentError(msg); }

// Cosine and relative L2 error of `b` vs reference `a`, over all samples, output slot `idx`.
void Compare(const std::vector<std::vector<RunOutput>>& a, size_t ia,
             const std::vector<std::vector<RunOutput>>& b, size_t ib, double* cos, double* rel) {
  double ab = 0, aa = 0, bb = 0, ee = 0;
  for (size_t s = 0; s < a.size() && s < b.size(); ++s) {
    const auto& x = a[s][ia].v;
    const auto& y = b[s][ib].v;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      ab += static_cast<double>(x[i]) * y[i];
      aa += static_cast<double>(x[i]) * x[i];
      bb += static_cast<double>(y[i]) * y[i];
      ee += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    }
  }
  *cos = (aa == 0 && bb == 0) ? 1.0 : (aa == 0 || bb == 0) ? 0.0 : ab / std::sqrt(aa * bb);
  *rel = aa > 0 ? std::sqrt(ee / aa) : std::sqrt(ee);
}

absl::Status LoadCalibration(Ctx& c) {
  const std::string& dir = c.o.calib_dir;
  if (!IsDir(dir)) return absl::NotFoundError(absl::StrCat(dir, ": calibration folder not found"));
  std::vector<std::string> names = ListDir(dir);
  std::vector<std::vector<std::string>> files;  // per sample, per input
  const auto& inputs = c.g.inputs;
  bool has_sub = false;
  for (const auto& n : names) if (IsDir(dir + "/" + n)) has_sub = true;
  if (has_sub) {
    for (const auto& n : names) {
      std::string sd = dir + "/" + n;
      if (!IsDir(sd)) continue;
      std::vector<std::string> inner = ListDir(sd);
      std::vector<std::string> per;
      for (size_t i = 0; i < inputs.size(); ++i) {
        std::string want;
        std::string sanitized = inputs[i];
        for (char& ch : sanitized) if (ch == '/' || ch == ':') ch = '_';
        for (const std::string& cand : {sanitized + ".npy", absl::StrCat("input_", i, ".npy"), absl::StrCat(i, ".npy")}) {
          if (std::find(inner.begin(), inner.end(), cand) != inner.end()) { want = cand; break; }
        }
        if (want.empty() && inputs.size() == 1) {
          std::vector<std::string> npys;
          for (const auto& f : inner) if (f.size() > 4 && f.substr(f.size() - 4) == ".npy") npys.push_back(f);
          if (npys.size() == 1) want = npys[0];
        }
        if (want.empty()) {
          return Bad(absl::StrCat(sd, ": calibration sample has no file for input '", inputs[i], "' (expected ",
                                  sanitized, ".npy or input_", i, ".npy)"));
        }
        per.push_back(sd + "/" + want);
      }
      files.push_back(per);
    }
  } else {
    for (const auto& n : names) {
      if (n.size() <= 4 || n.substr(n.size() - 4) != ".npy") continue;
      if (inputs.size() != 1) {
        return Bad(absl::StrCat(dir, ": the model has ", inputs.size(),
                                " inputs; give one subfolder per calibration sample with one .npy per input"));
      }
      files.push_back({dir + "/" + n});
    }
  }
  if (files.empty()) return Bad(absl::StrCat(dir, ": no calibration samples (.npy files) found"));
  if (c.o.calib_limit > 0 && files.size() > static_cast<size_t>(c.o.calib_limit)) files.resize(c.o.calib_limit);
  Sha256 h;
  for (const auto& per : files) {
    std::vector<NpyArray> sample;
    for (size_t i = 0; i < per.size(); ++i) {
      absl::StatusOr<NpyArray> a = ReadNpy(per[i]);
      if (!a.ok()) return a.status();
      const Tensor* t = c.g.Find(inputs[i]);
      if (a->dtype != t->dtype) {
        return Bad(absl::StrCat(per[i], ": input '", inputs[i], "' expects dtype ", DTypeName(t->dtype), ", got ",
                                DTypeName(a->dtype)));
      }
      if (t->shape_known) {
        bool ok = a->shape.size() == t->dims.size();
        for (size_t d = 0; ok && d < a->shape.size(); ++d) {
          if (t->dims[d].value >= 0 && t->dims[d].value != a->shape[d]) ok = false;
        }
        if (!ok) {
          std::vector<std::string> want;
          for (const Dim& d : t->dims) want.push_back(d.value >= 0 ? absl::StrCat(d.value) : (d.name.empty() ? "?" : d.name));
          return Bad(absl::StrCat(per[i], ": input '", inputs[i], "' expects shape [", absl::StrJoin(want, ","),
                                  "], got [", absl::StrJoin(a->shape, ","), "]"));
        }
      }
      std::string rel = per[i].substr(dir.size());
      h.Update(rel.data(), rel.size() + 1);
      h.Update(a->data.data(), a->data.size());
      sample.push_back(std::move(*a));
    }
    c.samples.push_back(std::move(sample));
  }
  c.calib_hash = h.HexDigest();
  return absl::OkStatus();
}

absl::Status ChoosePrecisions(Ctx& c) {
  const ConvertOptions& o = c.o;
  std::unique_ptr<std::regex> exclude;
  if (!o.exclude.empty()) {
    try {
      exclude = std::make_unique<std::regex>(o.exclude, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Bad(absl::StrCat("--exclude '", o.exclude, "': invalid regular expression: ", e.what()));
    }
  }
  Json overrides;
  if (!o.overrides_path.empty()) {
    std::ifstream f(o.overrides_path);
    if (!f) return absl::NotFoundError(absl::StrCat(o.overrides_path, ": cannot open overrides file"));
    std::stringstream ss;
    ss << f.rdbuf();
    absl::StatusOr<Json> j = ParseJson(ss.str());
    if (!j.ok()) return Bad(absl::StrCat(o.overrides_path, ": invalid JSON: ", j.status().message()));
    if (j->kind != Json::kObject) return Bad(absl::StrCat(o.overrides_path, ": expected a JSON object of node name -> precision"));
    overrides = *j;
    for (const auto& [name, v] : overrides.obj) {
      bool found = false;
      for (const Layer& l : c.layers) if (l.name == name) found = true;
      if (!found) {
        return Bad(absl::StrCat(o.overrides_path, ": node '", name,
                                "' is not a quantizable layer (MatMul/Gemm with constant weight, or Conv)"));
      }
    }
  }
  for (Layer& l : c.layers) {
    bool fc = l.op == "FullyConnected";
    Prec p = Prec::kFp32;
    if (o.quant == "int8" || o.quant == "int8-static") p = Prec::kInt8;
    else if (o.quant == "int4" || o.quant == "mixed") p = fc ? Prec::kInt4 : Prec::kInt8;
    if (l.qdq_import && p != Prec::kInt4) p = Prec::kInt8;
    if (l.qdq_import && o.quant == "int4") p = Prec::kInt8;  // keep the model's own int8 scales
    l.fixed = false;
    if (exclude && std::regex_search(l.name, *exclude)) {
      p = Prec::kFp32;
      l.fixed = true;
    }
    l.block = o.block;
    l.asym = o.asym;
    if (const Json* v = overrides.kind == Json::kObject ? overrides.Get(l.name) : nullptr) {
      l.fixed = true;
      std::string prec;
      if (v->kind == Json::kString) {
        prec = v->str;
      } else if (v->kind == Json::kObject) {
        if (const Json* x = v->Get("precision")) prec = x->str;
        if (const Json* x = v->Get("block")) l.block = static_cast<int>(x->num);
        if (const Json* x = v->Get("asym")) l.asym = x->b;
      }
      if (prec == "fp32" || prec == "none") p = Prec::kFp32;
      else if (prec == "int8") p = Prec::kInt8;
      else if (prec == "int4") p = Prec::kInt4;
      else if (!prec.empty() || v->kind == Json::kString)
        return Bad(absl::StrCat(o.overrides_path, ": node '", l.name, "': precision '", prec,
                                "' (expected fp32, int8 or int4)"));
      if (l.block != 32 && l.block != 64 && l.block != 128)
        return Bad(absl::StrCat(o.overrides_path, ": node '", l.name, "': block ", l.block, " (expected 32, 64 or 128)"));
      if (p == Prec::kInt4 && !fc)
        return Bad(absl::StrCat(o.overrides_path, ": node '", l.name, "': int4 is only for fully connected layers (got ", l.op, ")"));
    }
    l.prec = p;
  }
  return absl::OkStatus();
}

void FindLayers(Ctx& c) {
  c.layers.clear();
  for (const Node& n : c.g.nodes) {
    bool fc = n.domain == "edgert" && n.op == "FullyConnected";
    bool conv = n.domain.empty() && n.op == "Conv";
    if (!fc && !conv) continue;
    const Tensor* w = c.g.Find(n.In(1));
    if (!w || !w->is_const || w->dtype != DType::kF32 || !w->StaticShape()) continue;
    Layer l;
    l.name = n.name;
    l.op = fc ? "FullyConnected" : "Conv";
    l.weight = n.In(1);
    l.input = n.In(0);
    l.output = n.outputs[0];
    l.wshape = w->Shape();
    l.qdq_import = w->qdq.has_value();
    c.layers.push_back(l);
  }
}

// Weight tensors used by more than one layer, or by a non-weight slot, are copied so that
// quantizing one use never changes another.
void UnshareWeights(Ctx& c) {
  auto uses = c.g.UseCounts();
  for (Layer& l : c.layers) {
    if (uses[l.weight] <= 1) continue;
    Tensor copy = *c.g.Find(l.weight);
    copy.name = c.g.UniqueName(l.weight + "/" + l.name);
    for (Node& n : c.g.nodes) if (n.name == l.name && n.In(1) == l.weight) n.inputs[1] = copy.name;
    uses[l.weight]--;
    l.weight = copy.name;
    c.g.AddConst(std::move(copy));
  }
}

Int4Method MethodFor(const ConvertOptions& o, bool have_x) {
  if (o.int4_method == "rtn") return Int4Method::kRtn;
  if (o.int4_method == "mse") return Int4Method::kMse;
  if (o.int4_method == "gptq") return Int4Method::kGptq;
  // Mixed precision measures errors on the calibration samples; GPTQ is fit to those same
  // samples, so its errors there are optimistic (MiniLM all-INT4: cosine 0.997 on the 16
  // calibration sentences, 0.980 mean on held-out ones; MSE: 0.971 and 0.972). Auto = MSE.
  if (o.quant == "mixed") return Int4Method::kMse;
  return have_x ? Int4Method::kGptq : Int4Method::kMse;
}

// Calibration rows [rows, K] of a layer input gathered from the FP32 run (capped).
std::vector<float> LayerRows(const Ctx& c, const Layer& l, size_t* rows) {
  std::vector<float> x;
  *rows = 0;
  auto it = c.capture_index.find(l.input);
  if (it == c.capture_index.end() || l.op != "FullyConnected") return x;
  int64_t k = l.wshape[1];
  const size_t kMaxRows = 2048;
  for (const auto& s : c.fp32_outputs) {
    const auto& v = s[it->second].v;
    size_t r = v.size() / k;
    for (size_t i = 0; i < r && *rows < kMaxRows; ++i, ++*rows) x.insert(x.end(), v.begin() + i * k, v.begin() + (i + 1) * k);
  }
  return x;
}

// Quantizes layer `i`'s FP32 weight (from c.g) at precision `p` (int8 / int4), once; later
// calls return the cached result. GPTQ uses the FP32 calibration run's layer inputs.
const QuantizedWeight& CachedQuantized(Ctx& c, size_t i, Prec p) {
  auto key = std::make_pair(i, p);
  auto it = c.qcache.find(key);
  if (it != c.qcache.end()) return it->second;
  const Layer& l = c.layers[i];
  QuantizedWeight q;
  q.w = *c.g.Find(l.weight);
  if (p == Prec::kInt8) {
    q.wq = QuantizeInt8(q.w);
    q.method = l.qdq_import && q.w.quant ? "qdq-import" : "absmax";
  } else {
    size_t rows = 0;
    std::vector<float> x = LayerRows(c, l, &rows);
    Int4Method m = MethodFor(c.o, rows > 0);
    q.wq = QuantizeInt4(q.w, l.block, l.asym, c.o.f16_scales, m, rows ? &x : nullptr, rows);
    q.method = m == Int4Method::kRtn ? "rtn" : (m == Int4Method::kGptq && rows) ? "gptq" : "mse";
  }
  return c.qcache.emplace(key, std::move(q)).first->second;
}

// Applies precision `p` to layer `i` of `g` (weights only; `g` is c.g or a copy of it).
void QuantizeLayer(Ctx& c, Graph& g, size_t i, Prec p) {
  Layer& l = c.layers[i];
  Tensor* w = g.Find(l.weight);
  if (p == Prec::kFp32) {
    l.wq = WeightQuantResult{};
    l.wq.bytes_before = l.wq.bytes_after = w->data.size();
    l.method = "";
    return;
  }
  const QuantizedWeight& q = CachedQuantized(c, i, p);
  *w = q.w;
  l.wq = q.wq;
  l.method = q.method;
}

// Static int8: a QuantizeLinear/DequantizeLinear pair before each int8 layer's input, with the
// calibrated range.
absl::Status InsertStaticActivationQdq(Ctx& c, Graph& g) {
  std::map<std::string, std::string> done;  // input -> dequantized name
  for (Layer& l : c.layers) {
    if (l.prec != Prec::kInt8 || !l.has_act) continue;
    auto it = done.find(l.input);
    std::string dq_out;
    if (it != done.end()) {
      dq_out = it->second;
    } else {
      float lo = std::min(0.0f, l.act_min), hi = std::max(0.0f, l.act_max);
      bool symmetric = c.o.calib_method == "entropy";
      float scale;
      int64_t zp;
      DType qt;
      if (symmetric) {
        float amax = std::max(std::fabs(lo), std::fabs(hi));
        scale = amax > 0 ? amax / 127.0f : 1.0f;
        zp = 0;
        qt = DType::kI8;
      } else {
        scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
        zp = std::clamp<int64_t>(static_cast<int64_t>(std::nearbyint(-lo / scale)), 0, 255);
        qt = DType::kU8;
      }
      std::string base = l.input;
      Tensor s = MakeF32(g.UniqueName(base + "/act_scale"), {}, {scale});
      Tensor z;
      z.name = g.UniqueName(base + "/act_zero_point");
      z.dtype = qt;
      z.is_const = true;
      SetStaticShape(z, {});
      z.data.assign(1, static_cast<char>(zp));
      Tensor q;
      q.name = g.UniqueName(base + "/quantized");
      q.dtype = qt;
      const Tensor* in = g.Find(l.input);
      if (in) { q.shape_known = in->shape_known; q.dims = in->dims; }
      Tensor d = q;
      d.name = g.UniqueName(base + "/dequantized");
      d.dtype = DType::kF32;
      Node qn, dn;
      qn.name = base + "/QuantizeLinear";
      qn.op = "QuantizeLinear";
      qn.inputs = {l.input, s.name, z.name};
      qn.outputs = {q.name};
      qn.SetInt("axis", 1);
      dn.name = base + "/DequantizeLinear";
      dn.op = "DequantizeLinear";
      dn.inputs = {q.name, s.name, z.name};
      dn.outputs = {d.name};
      dn.SetInt("axis", 1);
      dq_out = d.name;
      std::string sname = s.name, zname = z.name;
      g.AddConst(std::move(s));
      g.AddConst(std::move(z));
      g.tensors[q.name] = q;
      g.tensors[d.name] = d;
      // Insert right before the first consumer layer, keeping topological order.
      size_t pos = 0;
      for (size_t k = 0; k < g.nodes.size(); ++k) if (g.nodes[k].name == l.name) { pos = k; break; }
      g.nodes.insert(g.nodes.begin() + pos, {qn, dn});
      done[l.input] = dq_out;
    }
    for (Node& n : g.nodes) if (n.name == l.name) n.inputs[0] = dq_out;
  }
  return absl::OkStatus();
}

// Activation range of one tensor over the FP32 calibration run.
void ActRange(const Ctx& c, const std::string& tensor, float* lo, float* hi) {
  std::vector<float> all;
  for (const auto& s : c.fp32_outputs) {
    const auto& v = s[c.capture_index.at(tensor)].v;
    all.insert(all.end(), v.begin(), v.end());
  }
  if (all.empty()) { *lo = *hi = 0; return; }
  auto [mn, mx] = std::minmax_element(all.begin(), all.end());
  *lo = *mn;
  *hi = *mx;
  if (c.o.calib_method == "percentile") {
    std::vector<float> s = all;
    size_t n = s.size();
    size_t ilo = static_cast<size_t>((1.0 - c.o.percentile / 100.0) * (n - 1));
    size_t ihi = static_cast<size_t>(c.o.percentile / 100.0 * (n - 1));
    std::nth_element(s.begin(), s.begin() + ilo, s.end());
    *lo = s[ilo];
    std::nth_element(s.begin(), s.begin() + ihi, s.end());
    *hi = s[ihi];
  } else if (c.o.calib_method == "entropy") {
    // KL-divergence threshold over a 2048-bin histogram of |x| (128 quantized levels).
    float amax = std::max(std::fabs(*lo), std::fabs(*hi));
    if (amax <= 0) return;
    const int bins = 2048, levels = 128;
    std::vector<double> hist(bins, 0);
    for (float v : all) hist[std::min(bins - 1, static_cast<int>(std::fabs(v) / amax * bins))] += 1;
    // Sparse histograms (few calibration values) make KL favor aggressive clipping; never clip
    // below the 99.9th percentile of |x|.
    std::vector<float> mag(all.size());
    for (size_t i = 0; i < all.size(); ++i) mag[i] = std::fabs(all[i]);
    size_t k999 = static_cast<size_t>(0.999 * (mag.size() - 1));
    std::nth_element(mag.begin(), mag.begin() + k999, mag.end());
    int first = std::max(levels, std::min(bins, static_cast<int>(std::ceil(mag[k999] / amax * bins))));
    double best = 1e300;
    int best_i = bins;
    for (int i = first; i <= bins; i += 16) {
      std::vector<double> p(hist.begin(), hist.begin() + i);
      for (int j = i; j < bins; ++j) p[i - 1] += hist[j];
      std::vector<double> q(i, 0);
      double per = static_cast<double>(i) / levels;
      for (int b = 0; b < levels; ++b) {
        int s0 = static_cast<int>(b * per), s1 = static_cast<int>((b + 1) * per);
        double sum = 0;
        int nz = 0;
        for (int j = s0; j < s1; ++j) { sum += hist[j]; if (hist[j] > 0) ++nz; }
        for (int j = s0; j < s1; ++j) if (hist[j] > 0) q[j] = sum / nz;
      }
      double ps = 0, qs = 0;
      for (int j = 0; j < i; ++j) { ps += p[j]; qs += q[j]; }
      double kl = 0;
      for (int j = 0; j < i; ++j) {
        if (p[j] <= 0) continue;
        double pj = p[j] / ps, qj = q[j] > 0 ? q[j] / qs : 1e-12;
        kl += pj * std::log(pj / qj);
      }
      if (kl < best) { best = kl; best_i = i; }
    }
    float t = amax * best_i / bins;
    *lo = std::max(*lo, -t);
    *hi = std::min(*hi, t);
  }
}

std::string Fmt(double v) { return absl::StrFormat("%.6g", v); }

absl::Status WriteReport(const Ctx& c, const std::string& path, size_t out_bytes, double seconds,
                         const std::string& source_hash) {
  std::string j = "{\n";
  absl::StrAppend(&j, "  \"producer\": \"edgert_convert ", ConverterVersion(), "\",\n");
  absl::StrAppend(&j, "  \"input\": \"", JsonEscape(c.o.input), "\",\n  \"output\": \"", JsonEscape(c.o.output), "\",\n");
  absl::StrAppend(&j, "  \"options\": \"", JsonEscape(OptionsString(c.o)), "\",\n");
  absl::StrAppend(&j, "  \"source_hash\": \"", source_hash, "\",\n");
  absl::StrAppend(&j, "  \"calibration_hash\": \"", c.calib_hash, "\",\n");
  absl::StrAppend(&j, "  \"calibration_samples\": ", c.samples.size(), ",\n");
  absl::StrAppend(&j, "  \"size_before_bytes\": ", c.source_bytes, ",\n");
  absl::StrAppend(&j, "  \"weights_before_bytes\": ", c.weight_bytes_before, ",\n");
  absl::StrAppend(&j, "  \"size_after_bytes\": ", out_bytes, ",\n");
  absl::StrAppend(&j, "  \"time_seconds\": ", Fmt(seconds), ",\n");
  absl::StrAppend(&j, "  \"passes\": {\"folded\": ", c.folded, ", \"dead_removed\": ", c.dead,
                  ", \"shapes_reinferred\": ", c.reinferred,
                  ", \"fully_connected\": ", c.fusion.fully_connected, ", \"bias\": ", c.fusion.bias,
                  ", \"conv_bn\": ", c.fusion.conv_bn, ", \"activation\": ", c.fusion.activation,
                  ", \"layer_norm\": ", c.fusion.layer_norm, ", \"gelu\": ", c.fusion.gelu,
                  ", \"silu\": ", c.fusion.silu, ", \"qdq_weights\": ", c.fusion.qdq_weights,
                  ", \"scaled_softmax\": ", c.fusion.scaled_softmax, ", \"attention\": ", c.fusion.attention,
                  ", \"residual_layer_norm\": ", c.fusion.residual_layer_norm, "},\n");
  absl::StrAppend(&j, "  \"final_output\": ");
  if (c.final_cos > -2) {
    absl::StrAppend(&j, "{\"cosine\": ", Fmt(c.final_cos), ", \"relative_l2\": ", Fmt(c.final_rel),
                    ", \"worst_cosine\": ", Fmt(c.final_min_sample_cos), "},\n");
  }
  else absl::StrAppend(&j, "null,\n");
  if (c.o.quant == "mixed") {
    absl::StrAppend(&j, "  \"mixed\": {\"sensitivity_samples\": ", c.mixed.samples, ", \"candidates\": ", c.mixed.candidates,
                    ", \"verifications\": ", c.mixed.verifications, ", \"sensitivity_seconds\": ",
                    Fmt(c.mixed.seconds_sensitivity), ", \"search_seconds\": ", Fmt(c.mixed.seconds_search), "},\n");
  }
  absl::StrAppend(&j, "  \"layers\": [");
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const Layer& l = c.layers[i];
    absl::StrAppend(&j, i ? ",\n" : "\n", "    {\"name\": \"", JsonEscape(l.name), "\", \"op\": \"", l.op,
                    "\", \"weight_shape\": [", absl::StrJoin(l.wshape, ", "), "], \"precision\": \"", PrecName(l.prec), "\"");
    if (l.prec == Prec::kInt4) absl::StrAppend(&j, ", \"block\": ", l.block, ", \"asym\": ", l.asym ? "true" : "false");
    if (!l.method.empty()) absl::StrAppend(&j, ", \"method\": \"", l.method, "\"");
    absl::StrAppend(&j, ", \"weight_bytes_before\": ", l.wq.bytes_before, ", \"weight_bytes_after\": ", l.wq.bytes_after);
    if (l.prec != Prec::kFp32) absl::StrAppend(&j, ", \"weight_sqnr_db\": ", Fmt(l.wq.sqnr_db));
    if (l.has_act) absl::StrAppend(&j, ", \"activation_range\": [", Fmt(l.act_min), ", ", Fmt(l.act_max), "]");
    if (l.out_cos > -2) absl::StrAppend(&j, ", \"output_cosine\": ", Fmt(l.out_cos), ", \"output_relative_l2\": ", Fmt(l.out_rel));
    if (l.sens_int4 > -2 || l.sens_int8 > -2) {
      absl::StrAppend(&j, ", \"sensitivity_cosine\": {");
      if (l.sens_int4 > -2) absl::StrAppend(&j, "\"int4\": ", Fmt(l.sens_int4), l.sens_int8 > -2 ? ", " : "");
      if (l.sens_int8 > -2) absl::StrAppend(&j, "\"int8\": ", Fmt(l.sens_int8));
      absl::StrAppend(&j, "}");
    }
    absl::StrAppend(&j, "}");
  }
  absl::StrAppend(&j, "\n  ]\n}\n");

  std::string md = absl::StrCat("# edgert_convert report\n\n", "- input: `", c.o.input, "` (", c.source_bytes, " bytes, sha256 `",
                                source_hash, "`)\n- output: `", c.o.output, "` (", out_bytes, " bytes, ",
                                c.source_bytes ? Fmt(100.0 * out_bytes / c.source_bytes) : "-", "% of the source)\n",
                                "- options: `", OptionsString(c.o), "`\n- time: ", Fmt(seconds), " s\n");
  if (!c.samples.empty()) absl::StrAppend(&md, "- calibration: ", c.samples.size(), " samples, sha256 `", c.calib_hash, "`\n");
  if (c.final_cos > -2) {
    absl::StrAppend(&md, "- final outputs vs FP32: cosine ", Fmt(c.final_cos), ", relative L2 ", Fmt(c.final_rel),
                    ", worst (per output and sample) cosine ", Fmt(c.final_min_sample_cos), "\n");
  }
  if (c.o.quant == "mixed") {
    absl::StrAppend(&md, "- mixed precision: sensitivity on ", c.mixed.samples, " samples (", Fmt(c.mixed.seconds_sensitivity),
                    " s), search ", c.mixed.verifications, " full runs (", Fmt(c.mixed.seconds_search), " s), ",
                    c.mixed.candidates, " candidate models in all\n");
  }
  absl::StrAppend(&md, "- passes: ", c.folded, " nodes folded, ", c.dead, " dead nodes removed, ", c.reinferred,
                  " shapes re-inferred, fusions: ",
                  c.fusion.fully_connected, " FullyConnected, ", c.fusion.bias, " bias, ", c.fusion.conv_bn, " Conv+BN, ",
                  c.fusion.activation, " activation, ", c.fusion.layer_norm, " LayerNorm, ", c.fusion.gelu, " GELU, ",
                  c.fusion.silu, " SiLU, ", c.fusion.qdq_weights, " QDQ weights, ",
                  c.fusion.scaled_softmax, " scaled softmax, ", c.fusion.attention, " attention, ",
                  c.fusion.residual_layer_norm, " residual Add + LayerNorm\n\n");
  absl::StrAppend(&md, "| layer | op | weight | precision | method | SQNR dB | activation range | output cosine | bytes before | bytes after |\n",
                  "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Layer& l : c.layers) {
    absl::StrAppend(&md, "| ", l.name, " | ", l.op, " | ", absl::StrJoin(l.wshape, "x"), " | ", PrecName(l.prec),
                    l.prec == Prec::kInt4 ? absl::StrCat(" b", l.block, l.asym ? " asym" : " sym") : "", " | ",
                    l.method.empty() ? "-" : l.method, " | ", l.prec != Prec::kFp32 ? Fmt(l.wq.sqnr_db) : "-", " | ",
                    l.has_act ? absl::StrCat("[", Fmt(l.act_min), ", ", Fmt(l.act_max), "]") : "-", " | ",
                    l.out_cos > -2 ? Fmt(l.out_cos) : "-", " | ", l.wq.bytes_before, " | ", l.wq.bytes_after, " |\n");
  }
  std::string md_path = path;
  if (md_path.size() > 5 && md_path.substr(md_path.size() - 5) == ".json") md_path.resize(md_path.size() - 5);
  md_path += ".md";
  absl::Status st = format::WriteFileAtomic(path, j);
  if (!st.ok()) return st;
  return format::WriteFileAtomic(md_path, md);
}

// ---- Mixed precision ----
//
// Cost model: a "candidate" is the model with some layers' weights replaced by their cached
// quantized version. Building one swaps those tensors into c.g, lowers and serializes it, and
// swaps them back; nothing is re-quantized and the FP32 reference outputs come from the
// calibration run. Sensitivity costs one candidate per layer and precision on the first
// --sensitivity-samples samples; the search costs a handful of candidates on all samples.

double CosineOf(double ab, double aa, double bb) {
  if (aa == 0 && bb == 0) return 1.0;
  if (aa == 0 || bb == 0) return 0.0;
  double cs = ab / std::sqrt(aa * bb);
  return cs >= -1.0 ? cs : -1.0;  // NaN counts as the worst agreement
}

// Agreement of `got` (samples [0, got.size())) with the FP32 run: for every graph output, the
// cosine over all samples together and every sample's own cosine. Returns the smallest.
double WorstCosine(const Ctx& c, const std::vector<std::vector<RunOutput>>& got) {
  double worst = 1.0;
  for (size_t oi = 0; oi < c.g.outputs.size(); ++oi) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t s = 0; s < got.size() && s < c.fp32_outputs.size(); ++s) {
      const std::vector<float>& x = c.fp32_outputs[s][oi].v;
      const std::vector<float>& y = got[s][oi].v;
      double sab = 0, saa = 0, sbb = 0;
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        sab += static_cast<double>(x[i]) * y[i];
        saa += static_cast<double>(x[i]) * x[i];
        sbb += static_cast<double>(y[i]) * y[i];
      }
      if (x.size() != y.size()) sab = 0;
      worst = std::min(worst, CosineOf(sab, saa, sbb));
      ab += sab;
      aa += saa;
      bb += sbb;
    }
    worst = std::min(worst, CosineOf(ab, aa, bb));
  }
  return worst;
}

// Runs the model with layer i at plan[i] (weights from the quantization cache) on `samples`
// and returns WorstCosine against FP32.
absl::StatusOr<double> EvaluatePlan(Ctx& c, const std::vector<Prec>& plan,
                                    const std::vector<std::vector<NpyArray>>& samples) {
  std::vector<size_t> swapped;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i] == Prec::kFp32) continue;
    CachedQuantized(c, i, plan[i]);
    swapped.push_back(i);
  }
  auto swap_all = [&] {
    for (size_t i : swapped) std::swap(*c.g.Find(c.layers[i].weight), c.qcache.at({i, plan[i]}).w);
  };
  swap_all();  // c.g now holds the quantized weights; the cache the FP32 ones
  absl::StatusOr<std::string> bytes = LowerAndSerialize(c.g, nullptr);
  swap_all();  // and back
  if (!bytes.ok()) return bytes.status();
  ++c.mixed.candidates;
  auto r = RunEfb(*bytes, samples, nullptr, c.o.threads);
  if (!r.ok()) return r.status();
  return WorstCosine(c, *r);
}

size_t BytesAt(Ctx& c, size_t i, Prec p) {
  if (p == Prec::kFp32) return c.g.Find(c.layers[i].weight)->data.size();
  return CachedQuantized(c, i, p).wq.bytes_after;
}

absl::Status ChooseMixedPrecision(Ctx& c) {
  const ConvertOptions& o = c.o;
  auto t0 = std::chrono::steady_clock::now();
  const size_t n = c.layers.size();
  size_t ns = o.sensitivity_samples > 0 ? std::min<size_t>(o.sensitivity_samples, c.samples.size()) : c.samples.size();
  std::vector<std::vector<NpyArray>> sens_samples(c.samples.begin(), c.samples.begin() + ns);
  c.mixed.samples = ns;

  // 1. Sensitivity d(i, p) = 1 - cosine with only layer i at p (the rest FP32). Fixed layers
  //    (excluded / overridden) keep their precision and are measured together once.
  std::vector<Prec> lowest(n, Prec::kFp32), fp32(n, Prec::kFp32), fixed_plan(n, Prec::kFp32);
  std::vector<double> d4(n, 0), d8(n, 0);
  size_t steps = 0;
  bool any_fixed_quantized = false;
  for (size_t i = 0; i < n; ++i) {
    const Layer& l = c.layers[i];
    if (l.fixed) {
      fixed_plan[i] = l.prec;
      any_fixed_quantized |= l.prec != Prec::kFp32;
    } else {
      lowest[i] = l.prec;
      steps += l.prec == Prec::kInt4 ? 2 : l.prec == Prec::kInt8 ? 1 : 0;
    }
  }
  double d_fixed = 0;
  {
    Progress p("sensitivity", steps, o.progress);
    for (size_t i = 0; i < n; ++i) {
      Layer& l = c.layers[i];
      if (l.fixed || l.prec == Prec::kFp32) continue;
      for (Prec pr : {Prec::kInt4, Prec::kInt8}) {
        if (pr == Prec::kInt4 && l.prec != Prec::kInt4) continue;
        std::vector<Prec> plan = fp32;
        plan[i] = pr;
        absl::StatusOr<double> cs = EvaluatePlan(c, plan, sens_samples);
        if (!cs.ok()) return cs.status();
        (pr == Prec::kInt4 ? l.sens_int4 : l.sens_int8) = *cs;
        (pr == Prec::kInt4 ? d4 : d8)[i] = std::max(0.0, 1.0 - *cs);
        p.Tick();
      }
    }
    if (any_fixed_quantized) {
      absl::StatusOr<double> cs = EvaluatePlan(c, fixed_plan, sens_samples);
      if (!cs.ok()) return cs.status();
      d_fixed = std::max(0.0, 1.0 - *cs);
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  c.mixed.seconds_sensitivity = std::chrono::duration<double>(t1 - t0).count();

  // 2. Greedy order: from every free layer at its smallest precision, repeatedly take the
  //    promotion (int4 -> int8, int4 -> fp32, int8 -> fp32) that removes the most predicted
  //    error per added byte, until every free layer is FP32. Errors are predicted additive:
  //    E = d_fixed + sum_i d(i, p_i), 1 - cosine being ~ half the squared relative error of
  //    independent perturbations. states[k] is the plan after k promotions.
  auto d = [&](size_t i, Prec p) { return p == Prec::kInt4 ? d4[i] : p == Prec::kInt8 ? d8[i] : 0.0; };
  std::vector<Prec> cur = lowest;
  for (size_t i = 0; i < n; ++i) if (c.layers[i].fixed) cur[i] = fixed_plan[i];
  std::vector<std::vector<Prec>> states = {cur};
  std::vector<double> predicted;
  auto predict = [&](const std::vector<Prec>& plan) {
    double e = d_fixed;
    for (size_t i = 0; i < n; ++i) if (!c.layers[i].fixed) e += d(i, plan[i]);
    return e;
  };
  predicted.push_back(predict(cur));
  for (;;) {
    int best = -1;
    Prec best_to = Prec::kFp32;
    double best_ratio = -1, best_gain = -1;
    for (size_t i = 0; i < n; ++i) {
      if (c.layers[i].fixed || cur[i] == Prec::kFp32) continue;
      for (Prec to : {Prec::kInt8, Prec::kFp32}) {
        if (cur[i] == Prec::kInt8 && to == Prec::kInt8) continue;
        double gain = std::max(0.0, d(i, cur[i]) - d(i, to));
        double cost = static_cast<double>(BytesAt(c, i, to)) - static_cast<double>(BytesAt(c, i, cur[i]));
        double ratio = gain / std::max(cost, 1.0);
        if (ratio > best_ratio || (ratio == best_ratio && gain > best_gain)) {
          best = static_cast<int>(i);
          best_to = to;
          best_ratio = ratio;
          best_gain = gain;
        }
      }
    }
    if (best < 0) break;
    cur[best] = best_to;
    states.push_back(cur);
    predicted.push_back(predict(cur));
  }
  const size_t m = states.size() - 1;  // states[m]: every free layer FP32

  // 3. Search along that order with full runs on all calibration samples: start at the first
  //    state predicted within --max-error; on a miss, rescale the prediction by how far off it
  //    was; once a passing state is known, bisect between the last miss and it.
  // --mixed-margin keeps that fraction of the error budget in reserve for inputs that are
  // not in the calibration set.
  const double target = 1.0 - (1.0 - o.max_error) * (1.0 - o.mixed_margin);
  const double budget = 1.0 - target;
  auto first_within = [&](double e) {
    for (size_t k = 0; k <= m; ++k) if (predicted[k] <= e) return k;
    return m;
  };
  const int kMaxVerifications = 8;
  Progress p("mixed search", kMaxVerifications, o.progress);
  long lo = -1, hi = -1;  // largest state known to miss, smallest known to pass
  size_t k = first_within(budget);
  std::map<size_t, double> measured;
  for (int v = 0; v < kMaxVerifications; ++v) {
    absl::StatusOr<double> cs = EvaluatePlan(c, states[k], c.samples);
    if (!cs.ok()) return cs.status();
    ++c.mixed.verifications;
    p.Tick();
    measured[k] = *cs;
    if (o.verbose) {
      size_t bytes = 0;
      for (size_t i = 0; i < n; ++i) bytes += BytesAt(c, i, states[k][i]);
      std::fprintf(stderr, "mixed: state %zu/%zu: weights %zu bytes, predicted cosine %.6f, measured %.6f\n", k, m,
                   bytes, 1.0 - predicted[k], *cs);
    }
    if (*cs >= target) hi = static_cast<long>(k);
    else lo = static_cast<long>(k);
    if (hi == lo + 1 || (hi < 0 && lo == static_cast<long>(m))) break;
    if (hi < 0) {
      // Scale the budget by predicted / measured error, with a 10% margin.
      double measured_err = std::max(1e-12, 1.0 - *cs);
      double scaled = predicted[k] * budget / measured_err * 0.9;
      k = std::max<size_t>(first_within(scaled), static_cast<size_t>(lo + 1));
    } else {
      k = static_cast<size_t>((lo + hi) / 2);
    }
  }
  if (hi < 0) {
    // Not found within the verification budget: fall back to the all-FP32 end (checked).
    if (lo != static_cast<long>(m)) {
      absl::StatusOr<double> cs = EvaluatePlan(c, states[m], c.samples);
      if (!cs.ok()) return cs.status();
      ++c.mixed.verifications;
      measured[m] = *cs;
      if (*cs >= target) hi = static_cast<long>(m);
      else lo = static_cast<long>(m);
    }
    if (hi < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--max-error ", o.max_error, " (with --mixed-margin ", o.mixed_margin, ": cosine ", Fmt(target), ") cannot be met: with every free layer FP32 the outputs' cosine is ",
          Fmt(measured.count(m) ? measured[m] : 0), " (layers fixed by --exclude / --overrides)"));
    }
  }
  for (size_t i = 0; i < n; ++i) c.layers[i].prec = states[hi][i];
  c.mixed.seconds_search = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return absl::OkStatus();
}

absl::Status ValidateOptions(const ConvertOptions& o) {
  static const std::set<std::string> modes = {"none", "int8", "int4", "mixed", "int8-static"};
  if (!modes.count(o.quant)) return Bad(absl::StrCat("--quant '", o.quant, "' (expected none, int8, int4, mixed or int8-static)"));
  if (o.block != 32 && o.block != 64 && o.block != 128) return Bad(absl::StrCat("--block ", o.block, " (expected 32, 64 or 128)"));
  static const std::set<std::string> methods = {"auto", "rtn", "mse", "gptq"};
  if (!methods.count(o.int4_method)) return Bad(absl::StrCat("--int4-method '", o.int4_method, "' (expected auto, rtn, mse or gptq)"));
  static const std::set<std::string> cm = {"minmax", "percentile", "entropy"};
  if (!cm.count(o.calib_method)) return Bad(absl::StrCat("--calib-method '", o.calib_method, "' (expected minmax, percentile or entropy)"));
  if (!(o.percentile > 50 && o.percentile <= 100)) return Bad(absl::StrCat("--percentile ", o.percentile, " (expected (50, 100])"));
  if (!(o.max_error > 0 && o.max_error <= 1)) return Bad(absl::StrCat("--max-error ", o.max_error, " (expected a cosine in (0, 1])"));
  if (!(o.mixed_margin >= 0 && o.mixed_margin < 1)) return Bad(absl::StrCat("--mixed-margin ", o.mixed_margin, " (expected [0, 1))"));
  if (o.sensitivity_samples < 0) return Bad(absl::StrCat("--sensitivity-samples ", o.sensitivity_samples, " (expected >= 0; 0 = all)"));
  if (o.threads < 0 || o.threads > 1024) return Bad(absl::StrCat("--threads ", o.threads, " (expected 0..1024; 0 = one per core)"));
  if ((o.quant == "mixed" || o.quant == "int8-static") && o.calib_dir.empty())
    return Bad(absl::StrCat("--quant ", o.quant, " needs calibration data (--calib DIR)"));
  if (o.int4_method == "gptq" && o.calib_dir.empty()) return Bad("--int4-method gptq needs calibration data (--calib DIR)");
  if (o.input.empty() || o.output.empty()) return Bad("usage: edgert_convert IN.onnx OUT.efb [options]");
  // Writing the output over the input would destroy the source model.
  struct stat in_st, out_st;
  if (o.input == o.output || (::stat(o.input.c_str(), &in_st) == 0 && ::stat(o.output.c_str(), &out_st) == 0 &&
                              in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)) {
    return Bad(absl::StrCat(o.output, ": the output is the input file"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Convert(const ConvertOptions& o, ConvertSummary* summary) {
  auto t0 = std::chrono::steady_clock::now();
  absl::Status st = ValidateOptions(o);
  if (!st.ok()) return st;
  Ctx c(o);
  absl::StatusOr<std::string> source_hash = Sha256File(o.input);
  absl::StatusOr<Graph> g = ImportOnnxFile(o.input);
  if (!g.ok()) return g.status();
  if (!source_hash.ok()) return source_hash.status();
  c.g = std::move(*g);
  {
    struct stat sb;
    if (::stat(o.input.c_str(), &sb) == 0) c.source_bytes = static_cast<size_t>(sb.st_size);
  }
  for (const auto& [n, t] : c.g.tensors) if (t.is_const) c.weight_bytes_before += t.data.size();

  // Graph passes.
  st = Normalize(c.g);
  if (!st.ok()) return st;
  c.fusion.qdq_weights = FuseQdqWeights(c.g);
  // Folding makes shapes known (a folded Reshape target), and known shapes let more fold
  // (Shape of a now static tensor): fold, remove dead code, infer shapes again, until stable.
  for (int round = 0; round < 8; ++round) {
    absl::StatusOr<int> f = FoldConstants(c.g);
    if (!f.ok()) return f.status();
    int d = RemoveDeadCode(c.g);
    int s = InferShapesAgain(c.g);
    c.folded += *f;
    c.dead += d;
    c.reinferred += s;
    if (*f == 0 && d == 0 && s == 0) break;
  }
  absl::StatusOr<FusionStats> fs = Fuse(c.g);
  if (!fs.ok()) return fs.status();
  int qdq = c.fusion.qdq_weights;
  c.fusion = *fs;
  c.fusion.qdq_weights = qdq;
  c.dead += RemoveDeadCode(c.g);
  c.reinferred += InferShapesAgain(c.g);  // tensors the fusions introduced (Gemm -> MatMul + Add)
  // Lowering check before any long step: every node must map to an edgert op.
  {
    absl::StatusOr<Lowered> l = Lower(c.g);
    if (!l.ok()) return l.status();
  }

  FindLayers(c);
  UnshareWeights(c);
  st = ChoosePrecisions(c);
  if (!st.ok()) return st;

  // Calibration: one FP32 run capturing every layer's input and output.
  if (!o.calib_dir.empty()) {
    st = LoadCalibration(c);
    if (!st.ok()) return st;
    if (!RuntimeAvailable()) {
      return absl::UnimplementedError("--calib: this edgert_convert was built without the edgert runtime");
    }
    std::vector<std::string> extra;
    for (const Layer& l : c.layers) { extra.push_back(l.input); extra.push_back(l.output); }
    std::vector<std::string> outs = c.g.outputs;
    for (const auto& e : extra) if (std::find(outs.begin(), outs.end(), e) == outs.end()) outs.push_back(e);
    for (size_t i = 0; i < outs.size(); ++i) c.capture_index.emplace(outs[i], i);
    absl::StatusOr<std::string> bytes = LowerAndSerialize(c.g, nullptr, extra);
    if (!bytes.ok()) return bytes.status();
    Progress p("calibrating", c.samples.size(), o.progress);
    auto r = RunEfb(*bytes, c.samples, &p, o.threads);
    if (!r.ok()) return r.status();
    c.fp32_outputs = std::move(*r);
    for (Layer& l : c.layers) {
      ActRange(c, l.input, &l.act_min, &l.act_max);
      l.has_act = true;
    }
  }

  if (o.quant == "mixed") {
    st = ChooseMixedPrecision(c);
    if (!st.ok()) return st;
  }

  // Final quantization.
  Graph final_graph;
  {
    Progress p("quantizing", c.layers.size(), o.progress && !c.fp32_outputs.empty());
    final_graph = c.g;
    for (size_t i = 0; i < c.layers.size(); ++i) {
      QuantizeLayer(c, final_graph, i, c.layers[i].prec);
      p.Tick();
    }
  }
  if (o.quant == "int8-static") {
    st = InsertStaticActivationQdq(c, final_graph);
    if (!st.ok()) return st;
  }

  // Errors of the final model against FP32 on the calibration data.
  if (!c.fp32_outputs.empty()) {
    std::vector<std::string> extra;
    for (const Layer& l : c.layers) extra.push_back(l.output);
    absl::StatusOr<std::string> bytes = LowerAndSerialize(final_graph, nullptr, extra);
    if (!bytes.ok()) return bytes.status();
    auto r = RunEfb(*bytes, c.samples, nullptr, o.threads);
    if (!r.ok()) return r.status();
    std::vector<std::string> outs = final_graph.outputs;
    for (const auto& e : extra) if (std::find(outs.begin(), outs.end(), e) == outs.end()) outs.push_back(e);
    c.final_cos = 1;
    c.final_rel = 0;
    for (size_t oi = 0; oi < c.g.outputs.size(); ++oi) {
      double cs, rl;
      Compare(c.fp32_outputs, oi, *r, oi, &cs, &rl);
      c.final_cos = std::min(c.final_cos, cs);
      c.final_rel = std::max(c.final_rel, rl);
    }
    c.final_min_sample_cos = WorstCosine(c, *r);
    for (Layer& l : c.layers) {
      size_t qi = std::find(outs.begin(), outs.end(), l.output) - outs.begin();
      Compare(c.fp32_outputs, c.capture_index.at(l.output), *r, qi, &l.out_cos, &l.out_rel);
    }
  }

  // Metadata and output.
  fb::MetadataT md;
  md.producer = absl::StrCat("edgert_convert ", ConverterVersion());
  md.source_hash = *source_hash;
  md.conversion_options = OptionsString(o);
  md.calibration_hash = c.calib_hash;
  auto kv = [&](const std::string& k, const std::string& v) {
    auto e = std::make_unique<fb::KeyValueT>();
    e->key = k;
    e->value = v;
    md.extra.push_back(std::move(e));
  };
  for (const Layer& l : c.layers) {
    kv("layer_precision/" + l.name, PrecName(l.prec));
    if (l.prec != Prec::kFp32) kv("layer_sqnr_db/" + l.name, Fmt(l.wq.sqnr_db));
    if (l.out_cos > -2) kv("layer_error/" + l.name, absl::StrCat("cosine=", Fmt(l.out_cos), " rel_l2=", Fmt(l.out_rel)));
  }
  if (c.final_cos > -2) kv("final_error", absl::StrCat("cosine=", Fmt(c.final_cos), " rel_l2=", Fmt(c.final_rel)));
  absl::StatusOr<std::string> bytes = LowerAndSerialize(final_graph, &md);
  if (!bytes.ok()) return bytes.status();
  st = format::WriteFileAtomic(o.output, *bytes);
  if (!st.ok()) return st;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o.report_path.empty()) {
    st = WriteReport(c, o.report_path, bytes->size(), secs, *source_hash);
    if (!st.ok()) return st;
  }
  if (summary) {
    summary->layers.clear();
    for (const Layer& l : c.layers) summary->layers.push_back({l.name, l.op, PrecName(l.prec), l.wq.sqnr_db, l.out_cos});
    summary->source_bytes = c.source_bytes;
    summary->output_bytes = bytes->size();
    summary->final_cosine = c.final_cos;
    summary->seconds = secs;
  }
  return absl::OkStatus();
}

}  // namespace edgert::converter
