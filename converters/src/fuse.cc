// Graph fusions. Each matches a small pattern whose intermediates have no other reader and
// rewrites it in place (the last node of the pattern keeps its output name).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "passes.h"

namespace edgert::converter {
namespace {

bool ConstScalar(const Graph& g, const std::string& name, float* v) {
  const Tensor* t = g.Find(name);
  if (!t || !t->is_const || t->NumElements() != 1 || !IsFloat(t->dtype)) return false;
  *v = ToFloats(*t)[0];
  return true;
}

bool Near(float a, float b, float tol = 1e-3f) { return std::fabs(a - b) <= tol * std::max(1.0f, std::fabs(b)); }

// The only live consumer of `name`, or nullptr (none, several, or a graph output).
Node* SoleConsumer(Graph& g, const std::unordered_map<std::string, std::vector<size_t>>& cons,
                   const std::string& name) {
  if (g.IsOutput(name)) return nullptr;
  auto it = cons.find(name);
  if (it == cons.end() || it->second.size() != 1) return nullptr;
  Node* n = &g.nodes[it->second[0]];
  return n->dead ? nullptr : n;
}

Node* ProducerOf(Graph& g, const std::unordered_map<std::string, size_t>& prod, const std::string& name) {
  auto it = prod.find(name);
  if (it == prod.end()) return nullptr;
  Node* n = &g.nodes[it->second];
  return n->dead ? nullptr : n;
}

// The other input of a binary node, given one of them.
std::string Other(const Node& n, const std::string& one) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == one) return n.inputs[1];
  if (n.inputs[1] == one) return n.inputs[0];
  return "";
}

std::vector<float> Transpose2D(const std::vector<float>& b, int64_t rows, int64_t cols) {
  std::vector<float> t(b.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = b[r * cols + c];
  return t;
}

int ActivationOf(const Graph& g, const Node& n) {
  if (n.domain == "edgert" && n.op == "Gelu") return n.Int("approximate_tanh", 0) ? 4 : 3;
  if (n.domain == "edgert" && n.op == "Silu") return 5;
  if (!n.domain.empty()) return 0;
  if (n.op == "Relu") return 1;
  if (n.op == "Sigmoid") return 6;
  if (n.op == "Tanh") return 7;
  if (n.op == "Clip" && n.inputs.size() == 1) {
    float lo = n.Float("min", -3.4e38f), hi = n.Float("max", 3.4e38f);
    if (lo == 0.0f && hi == 6.0f) return 2;
    if (lo == 0.0f && hi >= 3.4e38f) return 1;
  }
  (void)g;
  return 0;
}

}  // namespace

int FuseQdqWeights(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  for (Node& n : g.nodes) {
    if (n.dead || n.op != "DequantizeLinear" || !n.domain.empty()) continue;
    const Tensor* q = g.Find(n.In(0));
    const Tensor* s = g.Find(n.In(1));
    const Tensor* z = n.In(2).empty() ? nullptr : g.Find(n.In(2));
    if (!q || !q->is_const || !s || !s->is_const || (z && !z->is_const)) continue;
    if (q->dtype != DType::kI8 || !q->StaticShape()) continue;
    bool zero_zp = true;
    if (z) for (int64_t v : ToInt64s(*z)) if (v != 0) zero_zp = false;
    // Weight of MatMul / Gemm / Conv (input 1) only.
    auto it = cons.find(n.outputs[0]);
    if (it == cons.end() || g.IsOutput(n.outputs[0])) continue;
    bool weight_only = true;
    for (size_t c : it->second) {
      const Node& m = g.nodes[c];
      bool is_w = (m.op == "MatMul" || m.op == "Gemm" || m.op == "Conv") && m.In(1) == n.outputs[0] &&
                  m.In(0) != n.outputs[0];
      if (!is_w) weight_only = false;
    }
    if (!weight_only) continue;
    std::vector<float> qv = ToFloats(*q), sv = ToFloats(*s);
    std::vector<int64_t> zv = z ? ToInt64s(*z) : std::vector<int64_t>{};
    int64_t r = static_cast<int64_t>(q->dims.size());
    int64_t axis = n.Int("axis", 1);
    if (axis < 0) axis += r;
    if (sv.empty() || (sv.size() > 1 && (axis < 0 || axis >= r || static_cast<int64_t>(sv.size()) != q->dims[axis].value))) continue;
    int64_t inner = 1;  // only used per axis (then 0 <= axis < r holds)
    if (sv.size() > 1) for (int64_t i = axis + 1; i < r; ++i) inner *= q->dims[i].value;
    std::vector<float> w(qv.size());
    for (size_t i = 0; i < qv.size(); ++i) {
      size_t c = sv.size() == 1 ? 0 : (i / inner) % q->dims[axis].value;
      float zp = zv.empty() ? 0.0f : static_cast<float>(zv[zv.size() == 1 ? 0 : c]);
      w[i] = (qv[i] - zp) * sv[c];
    }
    Tensor t = MakeF32(n.outputs[0], q->Shape(), w);
    if (zero_zp) {
      Quant qq;
      qq.scheme = sv.size() == 1 ? 1 : 2;
      qq.axis = static_cast<int>(axis);
      qq.scales = sv;
      t.qdq = qq;
    }
    g.tensors[t.name] = std::move(t);
    n.dead = true;
    ++count;
  }
  g.Compact();
  return count;
}

int FuseLayerNorm(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  auto prod = g.Producers();
  for (Node& mean : g.nodes) {
    if (mean.dead || mean.op != "ReduceMean" || !mean.domain.empty()) continue;
    const std::string x = mean.In(0);
    const Tensor* xt = g.Find(x);
    if (!xt || !xt->shape_known || xt->dims.empty()) continue;
    int64_t r = static_cast<int64_t>(xt->dims.size());
    auto axes = mean.Ints("axes");
    if (axes.size() != 1 || (axes[0] != -1 && axes[0] != r - 1) || !mean.Int("keepdims", 1)) continue;
    Node* sub = SoleConsumer(g, cons, mean.outputs[0]);
    if (!sub || sub->op != "Sub" || sub->In(0) != x || sub->In(1) != mean.outputs[0]) continue;
    const std::string d = sub->outputs[0];
    auto dc = cons.find(d);
    if (dc == cons.end() || dc->second.size() != 2 || g.IsOutput(d)) continue;
    Node* sq = nullptr;
    Node* div = nullptr;
    for (size_t c : dc->second) {
      Node& m = g.nodes[c];
      float e;
      if (m.op == "Pow" && m.In(0) == d && ConstScalar(g, m.In(1), &e) && e == 2.0f) sq = &m;
      else if (m.op == "Mul" && m.In(0) == d && m.In(1) == d) sq = &m;
      else if (m.op == "Div" && m.In(0) == d) div = &m;
    }
    if (!sq || !div) continue;
    Node* var = SoleConsumer(g, cons, sq->outputs[0]);
    if (!var || var->op != "ReduceMean" || var->Ints("axes") != axes) continue;
    Node* add = SoleConsumer(g, cons, var->outputs[0]);
    float eps;
    if (!add || add->op != "Add" || !ConstScalar(g, Other(*add, var->outputs[0]), &eps)) continue;
    Node* sqrt = SoleConsumer(g, cons, add->outputs[0]);
    if (!sqrt || sqrt->op != "Sqrt") continue;
    if (SoleConsumer(g, cons, sqrt->outputs[0]) != div || div->In(1) != sqrt->outputs[0]) continue;
    int64_t dsize = xt->dims.back().value;
    std::vector<Node*> chain = {&mean, sub, sq, var, add, sqrt, div};
    std::string out = div->outputs[0];
    std::string gamma, beta;
    Node* mul = SoleConsumer(g, cons, out);
    if (mul && mul->op == "Mul") {
      std::string gname = Other(*mul, out);
      const Tensor* gt = g.Find(gname);
      if (gt && gt->is_const && gt->dims.size() == 1 && gt->dims[0].value == dsize) {
        gamma = gname;
        chain.push_back(mul);
        out = mul->outputs[0];
        Node* badd = SoleConsumer(g, cons, out);
        if (badd && badd->op == "Add") {
          std::string bname = Other(*badd, out);
          const Tensor* bt = g.Find(bname);
          if (bt && bt->is_const && bt->dims.size() == 1 && bt->dims[0].value == dsize) {
            beta = bname;
            chain.push_back(badd);
            out = badd->outputs[0];
          }
        }
      }
    }
    if (gamma.empty()) {
      if (dsize <= 0) continue;
      Tensor ones = MakeF32(g.UniqueName(mean.name + "/ones"), {dsize}, std::vector<float>(dsize, 1.0f));
      gamma = ones.name;
      g.AddConst(std::move(ones));
    }
    Node ln;
    ln.name = mean.name;
    ln.op = "LayerNormalization";
    ln.inputs = {x, gamma};
    if (!beta.empty()) ln.inputs.push_back(beta);
    ln.outputs = {out};
    ln.SetInt("axis", -1);
    ln.SetFloat("epsilon", eps);
    Node* last = chain.back();
    for (Node* c : chain) if (c != last) c->dead = true;
    *last = std::move(ln);
    ++count;
    cons = g.Consumers();
    prod = g.Producers();
  }
  g.Compact();
  return count;
}

int FuseGelu(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  auto prod = g.Producers();
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& erf = g.nodes[k];
    if (erf.dead || erf.op != "Erf" || !erf.domain.empty()) continue;
    Node* scale = ProducerOf(g, prod, erf.In(0));
    if (!scale || SoleConsumer(g, cons, scale->outputs[0]) != &erf) continue;
    float c;
    std::string x;
    if (scale->op == "Div" && ConstScalar(g, scale->In(1), &c) && Near(c, 1.41421356f)) x = scale->In(0);
    else if (scale->op == "Mul" && ConstScalar(g, scale->In(1), &c) && Near(c, 0.70710678f)) x = scale->In(0);
    else if (scale->op == "Mul" && ConstScalar(g, scale->In(0), &c) && Near(c, 0.70710678f)) x = scale->In(1);
    else continue;
    Node* add = SoleConsumer(g, cons, erf.outputs[0]);
    if (!add || add->op != "Add" || !ConstScalar(g, Other(*add, erf.outputs[0]), &c) || !Near(c, 1.0f)) continue;
    Node* m1 = SoleConsumer(g, cons, add->outputs[0]);
    if (!m1 || m1->op != "Mul") continue;
    std::string h = Other(*m1, add->outputs[0]);
    std::vector<Node*> chain = {scale, &erf, add, m1};
    if (h == x) {  // x * (1 + erf) then * 0.5
      Node* m2 = SoleConsumer(g, cons, m1->outputs[0]);
      if (!m2 || m2->op != "Mul" || !ConstScalar(g, Other(*m2, m1->outputs[0]), &c) || !Near(c, 0.5f)) continue;
      chain.push_back(m2);
    } else {  // (x * 0.5) * (1 + erf)
      Node* half = ProducerOf(g, prod, h);
      if (!half || half->op != "Mul" || Other(*half, x).empty() || SoleConsumer(g, cons, h) != m1) continue;
      if (!ConstScalar(g, Other(*half, x), &c) || !Near(c, 0.5f)) continue;
      chain.insert(chain.begin(), half);
    }
    Node* last = chain.back();
    Node gelu;
    gelu.name = last->name;
    gelu.op = "Gelu";
    gelu.domain = "edgert";
    gelu.inputs = {x};
    gelu.outputs = {last->outputs[0]};
    for (Node* n : chain) if (n != last) n->dead = true;
    *last = std::move(gelu);
    ++count;
    cons = g.Consumers();
    prod = g.Producers();
  }
  g.Compact();
  return count;
}

int FuseSilu(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  for (Node& sig : g.nodes) {
    if (sig.dead || sig.op != "Sigmoid" || !sig.domain.empty()) continue;
    Node* mul = SoleConsumer(g, cons, sig.outputs[0]);
    if (!mul || mul->op != "Mul" || Other(*mul, sig.outputs[0]) != sig.In(0)) continue;
    std::string x = sig.In(0);
    sig.dead = true;
    Node silu;
    silu.name = mul->name;
    silu.op = "Silu";
    silu.domain = "edgert";
    silu.inputs = {x};
    silu.outputs = {mul->outputs[0]};
    *mul = std::move(silu);
    ++count;
  }
  g.Compact();
  return count;
}

int FuseConvBatchNorm(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  for (Node& conv : g.nodes) {
    if (conv.dead || conv.op != "Conv" || !conv.domain.empty()) continue;
    const Tensor* w = g.Find(conv.In(1));
    if (!w || !w->is_const || !w->StaticShape() || w->dims.empty() || w->dtype != DType::kF32) continue;
    if (!conv.In(2).empty() && !g.IsConst(conv.In(2))) continue;
    Node* bn = SoleConsumer(g, cons, conv.outputs[0]);
    if (!bn || bn->op != "BatchNormalization" || bn->In(0) != conv.outputs[0]) continue;
    bool ok = true;
    for (int i = 1; i <= 4; ++i) if (!g.IsConst(bn->In(i))) ok = false;
    if (!ok) continue;
    int64_t m = w->dims[0].value;
    std::vector<float> gm = ToFloats(*g.Find(bn->In(1))), bt = ToFloats(*g.Find(bn->In(2))),
                       mu = ToFloats(*g.Find(bn->In(3))), var = ToFloats(*g.Find(bn->In(4)));
    if (static_cast<int64_t>(gm.size()) != m || bt.size() != gm.size() || mu.size() != gm.size() ||
        var.size() != gm.size()) continue;
    float eps = bn->Float("epsilon", 1e-5f);
    std::vector<float> wv = ToFloats(*w);
    std::vector<float> b = conv.In(2).empty() ? std::vector<float>(m, 0.0f) : ToFloats(*g.Find(conv.In(2)));
    if (static_cast<int64_t>(b.size()) != m) continue;
    int64_t per = static_cast<int64_t>(wv.size()) / m;
    for (int64_t o = 0; o < m; ++o) {
      double f = gm[o] / std::sqrt(static_cast<double>(var[o]) + eps);
      for (int64_t i = 0; i < per; ++i) wv[o * per + i] = static_cast<float>(wv[o * per + i] * f);
      b[o] = static_cast<float>((b[o] - mu[o]) * f + bt[o]);
    }
    Tensor nw = MakeF32(g.UniqueName(conv.In(1) + "/bn_folded"), w->Shape(), wv);
    Tensor nb = MakeF32(g.UniqueName(conv.name + "/bias_bn_folded"), {m}, b);
    conv.inputs.resize(3);
    conv.inputs[1] = nw.name;
    conv.inputs[2] = nb.name;
    g.AddConst(std::move(nw));
    g.AddConst(std::move(nb));
    conv.outputs[0] = bn->outputs[0];
    bn->dead = true;
    ++count;
  }
  g.Compact();
  return count;
}

namespace {

// Adds `Transpose(x, perm=[1, 0])` before node k (x is 2-D, Gemm's A or B) and returns its output.
std::string InsertTranspose2D(Graph& g, size_t k, const std::string& x) {
  const std::string name = g.Find(x) ? x : std::string("t");
  std::string out = g.UniqueName(name + "/transposed");
  Tensor& t = g.tensors[out];
  t.name = out;
  t.dtype = DType::kF32;
  if (const Tensor* in = g.Find(x); in && in->shape_known && in->dims.size() == 2) {
    t.shape_known = true;
    t.dims = {in->dims[1], in->dims[0]};
  }
  Node tr;
  tr.name = g.UniqueName(g.nodes[k].name + "/transpose");
  tr.op = "Transpose";
  tr.inputs = {x};
  tr.outputs = {out};
  tr.SetInts("perm", {1, 0});
  g.nodes.insert(g.nodes.begin() + k, std::move(tr));
  return out;
}

// Gemm's transA (always) and transB (when B is computed at run time) become explicit
// Transposes, so that the rewrites below see transA = 0 and a run-time B with transB = 0.
void ExplicitGemmTransposes(Graph& g) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (g.nodes[k].dead || !g.nodes[k].domain.empty() || g.nodes[k].op != "Gemm") continue;
    // A Gemm without both A and B is left as it is (refused later with its own message).
    if (g.nodes[k].inputs.size() < 2 || g.nodes[k].In(0).empty() || g.nodes[k].In(1).empty()) continue;
    if (g.nodes[k].Int("transA", 0) != 0) {
      std::string a = InsertTranspose2D(g, k, g.nodes[k].In(0));
      ++k;  // the Gemm moved one down
      g.nodes[k].inputs[0] = a;
      g.nodes[k].SetInt("transA", 0);
    }
    if (g.nodes[k].Int("transB", 0) != 0 && !g.IsConst(g.nodes[k].In(1))) {
      std::string b = InsertTranspose2D(g, k, g.nodes[k].In(1));
      ++k;
      g.nodes[k].inputs[1] = b;
      g.nodes[k].SetInt("transB", 0);
    }
  }
}

}  // namespace

int FuseMatMulToFullyConnected(Graph& g) {
  int count = 0;
  ExplicitGemmTransposes(g);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    if (n.dead || !n.domain.empty() || (n.op != "MatMul" && n.op != "Gemm")) continue;
    const Tensor* b = g.Find(n.In(1));
    if (!b || !b->is_const || b->dims.size() != 2 || !IsFloat(b->dtype) || g.IsConst(n.In(0))) continue;
    bool gemm = n.op == "Gemm";
    if (gemm && n.Int("transA", 0) != 0) continue;
    bool trans_b = gemm && n.Int("transB", 0) != 0;
    float alpha = gemm ? n.Float("alpha", 1.0f) : 1.0f, beta = gemm ? n.Float("beta", 1.0f) : 1.0f;
    int64_t rows = b->dims[0].value, cols = b->dims[1].value;
    int64_t nn = trans_b ? rows : cols, kk = trans_b ? cols : rows;
    std::vector<float> bv = ToFloats(*b);
    std::vector<float> w = trans_b ? bv : Transpose2D(bv, rows, cols);
    if (alpha != 1.0f) for (float& v : w) v *= alpha;
    Tensor wt = MakeF32(g.UniqueName(n.In(1) + "/fc_weight"), {nn, kk}, w);
    if (b->qdq && alpha == 1.0f) {
      Quant q = *b->qdq;
      if (q.scheme == 1 || q.axis == (trans_b ? 0 : 1)) {
        q.axis = 0;
        wt.qdq = q;
      }
    }
    std::string bias;
    if (gemm && !n.In(2).empty()) {
      const Tensor* c = g.Find(n.In(2));
      if (!c || !c->is_const || c->NumElements() < 1) continue;
      std::vector<float> cv = ToFloats(*c);
      bool row = c->NumElements() == nn && (c->dims.size() == 1 || (c->dims.size() == 2 && c->dims[0].value == 1));
      if (!row && c->NumElements() != 1) continue;  // [M, N] bias: stays Gemm (lowered as unsupported)
      std::vector<float> bb(nn);
      for (int64_t i = 0; i < nn; ++i) bb[i] = beta * cv[row ? i : 0];
      Tensor bt = MakeF32(g.UniqueName(n.name + "/bias"), {nn}, bb);
      bias = bt.name;
      g.AddConst(std::move(bt));
    }
    std::string wname = wt.name;
    g.AddConst(std::move(wt));
    Node fc;
    fc.name = n.name;
    fc.op = "FullyConnected";
    fc.domain = "edgert";
    fc.inputs = {n.In(0), wname};
    if (!bias.empty()) fc.inputs.push_back(bias);
    fc.outputs = {n.outputs[0]};
    fc.SetInt("activation", 0);
    n = std::move(fc);
    ++count;
  }
  // Any other Gemm (run-time B, or an [M, N] C): MatMul, then Mul by alpha, then Add of
  // beta * C (transposes are explicit by now).
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    if (g.nodes[k].dead || g.nodes[k].op != "Gemm" || !g.nodes[k].domain.empty()) continue;
    if (g.nodes[k].Int("transA", 0) || g.nodes[k].Int("transB", 0)) continue;  // const B, transB: FC above
    const float alpha = g.nodes[k].Float("alpha", 1), beta = g.nodes[k].Float("beta", 1);
    std::string c = g.nodes[k].In(2);
    const std::string out = g.nodes[k].outputs[0], name = g.nodes[k].name;
    if (!c.empty() && beta == 0) c.clear();
    if (!c.empty() && beta != 1) {
      const Tensor* ct = g.Find(c);
      if (ct && ct->is_const && ct->dtype == DType::kF32) {
        std::vector<float> v = ToFloats(*ct);
        for (float& x : v) x *= beta;
        Tensor scaled = MakeF32(g.UniqueName(c + "/beta"), ct->Shape(), v);
        c = scaled.name;
        g.AddConst(std::move(scaled));
      } else {
        Tensor bt = MakeF32(g.UniqueName(name + "/beta"), {}, {beta});
        std::string cs = g.UniqueName(c + "/scaled");
        g.tensors[cs].name = cs;
        g.tensors[cs].dtype = DType::kF32;
        Node mul;
        mul.name = name + "/beta";
        mul.op = "Mul";
        mul.inputs = {c, bt.name};
        mul.outputs = {cs};
        g.AddConst(std::move(bt));
        g.nodes.insert(g.nodes.begin() + k, std::move(mul));
        ++k;
        c = cs;
      }
    }
    // The chain MatMul [-> Mul alpha] [-> Add C]; each step writes `out` if it is the last.
    std::vector<Node> chain;
    std::string cur;
    auto step = [&](Node n, bool last) {
      if (last) {
        n.outputs = {out};
      } else {
        std::string mid = g.UniqueName(out + "/" + (n.op == "MatMul" ? "matmul" : "alpha"));
        g.tensors[mid].name = mid;
        g.tensors[mid].dtype = DType::kF32;
        n.outputs = {mid};
      }
      cur = n.outputs[0];
      chain.push_back(std::move(n));
    };
    Node mm;
    mm.name = name;
    mm.op = "MatMul";
    mm.inputs = {g.nodes[k].In(0), g.nodes[k].In(1)};
    step(std::move(mm), alpha == 1 && c.empty());
    if (alpha != 1) {
      Tensor at = MakeF32(g.UniqueName(name + "/alpha"), {}, {alpha});
      Node mul;
      mul.name = name + "/alpha";
      mul.op = "Mul";
      mul.inputs = {cur, at.name};
      g.AddConst(std::move(at));
      step(std::move(mul), c.empty());
    }
    if (!c.empty()) {
      Node add;
      add.name = name + "/bias";
      add.op = "Add";
      add.inputs = {cur, c};
      step(std::move(add), true);
    }
    g.nodes[k] = std::move(chain[0]);
    g.nodes.insert(g.nodes.begin() + k + 1, std::make_move_iterator(chain.begin() + 1),
                   std::make_move_iterator(chain.end()));
    k += chain.size() - 1;
  }
  g.Compact();
  return count;
}

int FuseBias(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  for (Node& n : g.nodes) {
    if (n.dead) continue;
    bool fc = n.domain == "edgert" && n.op == "FullyConnected";
    bool conv = n.domain.empty() && n.op == "Conv";
    if ((!fc && !conv) || !n.In(2).empty()) continue;
    const Tensor* w = g.Find(n.In(1));
    if (!w || !w->StaticShape() || w->dims.empty()) continue;
    int64_t nout = w->dims[0].value;
    Node* add = SoleConsumer(g, cons, n.outputs[0]);
    if (!add || add->op != "Add" || !add->domain.empty()) continue;
    std::string bname = Other(*add, n.outputs[0]);
    const Tensor* b = g.Find(bname);
    if (!b || !b->is_const || b->dtype != DType::kF32 || b->NumElements() != nout) continue;
    // Must broadcast along the channel axis only: FC [..., N]: shape [.., 1, N]; Conv: [N,1,1].
    std::vector<int64_t> s = b->Shape();
    bool ok = false;
    if (fc) {
      ok = !s.empty() && s.back() == nout;
    } else {
      const Tensor* y = g.Find(n.outputs[0]);
      if (y && y->shape_known) {
        size_t r = y->dims.size();
        ok = s.size() <= r && s.size() >= r - 1;
        for (size_t i = 0; ok && i < s.size(); ++i) {
          size_t ax = r - s.size() + i;
          if (ax != 1 && s[i] != 1) ok = false;
        }
      }
    }
    if (!ok) continue;
    Tensor bt = MakeF32(g.UniqueName(bname + "/bias"), {nout}, ToFloats(*b));
    n.inputs.resize(3);
    n.inputs[2] = bt.name;
    g.AddConst(std::move(bt));
    n.outputs[0] = add->outputs[0];
    add->dead = true;
    ++count;
  }
  g.Compact();
  return count;
}

int FuseActivation(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  for (Node& n : g.nodes) {
    if (n.dead) continue;
    bool fc = n.domain == "edgert" && n.op == "FullyConnected";
    bool conv = n.domain.empty() && n.op == "Conv";
    // Float elementwise arithmetic carries BinaryOptions.fused_activation (e.g. residual Add+ReLU).
    const Tensor* y = g.Find(n.outputs.empty() ? "" : n.outputs[0]);
    bool binary = n.domain.empty() && (n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") &&
                  y && y->dtype == DType::kF32;
    if ((!fc && !conv && !binary) || n.Int("activation", 0) != 0) continue;
    Node* act = SoleConsumer(g, cons, n.outputs[0]);
    if (!act) continue;
    int a = ActivationOf(g, *act);
    if (a == 0 || act->In(0) != n.outputs[0]) continue;
    n.SetInt("activation", a);
    n.outputs[0] = act->outputs[0];
    act->dead = true;
    ++count;
  }
  g.Compact();
  return count;
}

namespace {
// `n` is x * c, c * x or x / c with c a float scalar constant whose rank does not exceed x's
// (so the product has x's shape; a rank-0/1 scalar never changes the shape of the rank >= 1
// scores): sets x, the scale and divide.
bool ScalarScale(const Graph& g, const Node& n, std::string* x, float* c, bool* divide) {
  if (!n.domain.empty() || n.inputs.size() != 2) return false;
  std::string cname;
  if (n.op == "Mul" && ConstScalar(g, n.In(1), c)) {
    *x = n.In(0), cname = n.In(1), *divide = false;
  } else if (n.op == "Mul" && ConstScalar(g, n.In(0), c)) {
    *x = n.In(1), cname = n.In(0), *divide = false;
  } else if (n.op == "Div" && ConstScalar(g, n.In(1), c)) {
    *x = n.In(0), cname = n.In(1), *divide = true;
  } else {
    return false;
  }
  const Tensor* xt = g.Find(*x);
  const Tensor* ct = g.Find(cname);
  if (!ct || !ct->shape_known) return false;
  return ct->dims.size() <= 1 || (xt && xt->shape_known && ct->dims.size() <= xt->dims.size());
}
}  // namespace

int FuseScaledSoftmax(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  auto prod = g.Producers();
  for (Node& sm : g.nodes) {
    if (sm.dead || sm.op != "Softmax" || !sm.domain.empty() || sm.inputs.size() != 1) continue;
    // Only over the last axis: axis -1, or the last index of a known rank (before opset 13 the
    // default axis 1 flattens [1, rank) into one axis: the last axis only when the rank is 2).
    const Tensor* u = g.Find(sm.In(0));
    if (u && u->dtype != DType::kF32 && u->dtype != DType::kUnknown) continue;
    int64_t axis = sm.Int("axis", g.opset >= 13 ? -1 : 1);
    if (axis != -1 && !(u && u->shape_known && axis == static_cast<int64_t>(u->dims.size()) - 1)) continue;
    Node* p = ProducerOf(g, prod, sm.In(0));
    if (!p || SoleConsumer(g, cons, sm.In(0)) != &sm) continue;
    std::string x, mask;
    float scale = 1.0f;
    bool divide = false;
    std::vector<Node*> chain = {p};
    if (p->domain.empty() && p->op == "Add" && p->inputs.size() == 2) {
      // The scores are the side made by a Mul/Div by a scalar that only this Add reads; without
      // one, input 0 (float addition commutes, so either order gives the same bits). The fused
      // op broadcasts x and the mask exactly as Add does.
      for (int side = 0; side < 2 && x.empty(); ++side) {
        Node* m = ProducerOf(g, prod, p->In(static_cast<size_t>(side)));
        if (m && SoleConsumer(g, cons, m->outputs[0]) == p && ScalarScale(g, *m, &x, &scale, &divide)) {
          mask = p->In(static_cast<size_t>(1 - side));
          chain.push_back(m);
        }
      }
      if (x.empty()) {
        x = p->In(0);
        mask = p->In(1);
      }
      const Tensor* mt = g.Find(mask);
      if (!mt || (mt->dtype != DType::kF32 && mt->dtype != DType::kUnknown)) continue;
    } else if (!ScalarScale(g, *p, &x, &scale, &divide)) {
      continue;
    }
    const Tensor* xt = g.Find(x);
    if (!xt || (xt->dtype != DType::kF32 && xt->dtype != DType::kUnknown)) continue;
    Node f;
    f.name = sm.name;
    f.op = "ScaledSoftmax";
    f.domain = "edgert";
    f.inputs = mask.empty() ? std::vector<std::string>{x} : std::vector<std::string>{x, mask};
    f.outputs = sm.outputs;
    f.SetFloat("scale", scale);
    f.SetInt("divide", divide ? 1 : 0);
    for (Node* n : chain) n->dead = true;
    sm = std::move(f);
    ++count;
    cons = g.Consumers();
    prod = g.Producers();
  }
  g.Compact();
  return count;
}

// One entry of a Reshape target computed in the graph: a constant, or dim `index` of tensor `of`.
struct SymDim {
  int64_t value = 0;
  std::string of;
  int64_t index = -1;
};

// The entries of the 1-D int64 tensor `name` when it is built from constants and Gather(Shape(X), i)
// by Concat / Unsqueeze / Cast (PyTorch's `x.size()[:-1] + (heads, head_size)`).
bool SymbolicShape(const Graph& g, const std::unordered_map<std::string, size_t>& prod, const std::string& name,
                   std::vector<SymDim>* out, int depth = 0) {
  if (depth > 6) return false;
  if (const Tensor* t = g.Find(name); t && t->is_const) {
    if (t->dtype != DType::kI64 && t->dtype != DType::kI32) return false;
    for (int64_t v : ToInt64s(*t)) out->push_back({v, "", -1});
    return true;
  }
  auto it = prod.find(name);
  if (it == prod.end()) return false;
  const Node& n = g.nodes[it->second];
  if (n.dead || !n.domain.empty()) return false;
  if (n.op == "Concat") {
    for (const std::string& in : n.inputs) {
      if (!SymbolicShape(g, prod, in, out, depth + 1)) return false;
    }
    return true;
  }
  if (n.op == "Unsqueeze" || n.op == "Cast") return SymbolicShape(g, prod, n.In(0), out, depth + 1);
  if (n.op == "Gather" && n.Int("axis", 0) == 0) {
    const Tensor* idx = g.Find(n.In(1));
    auto sp = prod.find(n.In(0));
    if (!idx || !idx->is_const || sp == prod.end()) return false;
    const Node& sh = g.nodes[sp->second];
    if (sh.dead || sh.op != "Shape" || !sh.domain.empty() || sh.Has("start") || sh.Has("end")) return false;
    const std::vector<int64_t> v = ToInt64s(*idx);
    if (v.size() != 1 || v[0] < 0) return false;
    out->push_back({0, sh.In(0), v[0]});
    return true;
  }
  return false;
}

// The last dim of `name` when it is fixed: from its shape, or from the weight of the
// FullyConnected that makes it (shapes after a dynamic Reshape are often not inferred).
int64_t FixedLastDim(const Graph& g, const std::unordered_map<std::string, size_t>& prod, const std::string& name) {
  const Tensor* t = g.Find(name);
  if (t && t->shape_known && !t->dims.empty() && t->dims.back().value >= 0) return t->dims.back().value;
  auto it = prod.find(name);
  if (it == prod.end()) return -1;
  const Node& n = g.nodes[it->second];
  if (n.dead || n.domain != "edgert" || n.op != "FullyConnected") return -1;
  const Tensor* w = g.Find(n.In(1));
  if (!w || !w->is_const || w->dims.size() != 2 || w->dims[0].value < 0) return -1;
  return w->dims[0].value;
}

// Reshape `r` keeps dims 0 and 1 of its input (given as 0, as Gather(Shape(input)), as the
// input's fixed value or, for dim 1, as -1) and makes the rest `tail` entries, each a fixed value
// > 0. Returns those in `*got`.
bool KeepsTwoDims(const Graph& g, const std::unordered_map<std::string, size_t>& prod, const Node& r, size_t tail,
                  std::vector<int64_t>* got) {
  std::vector<SymDim> t;
  if (!SymbolicShape(g, prod, r.In(1), &t) || t.size() != 2 + tail) return false;
  const bool allowzero = r.Int("allowzero", 0) != 0;
  const Tensor* in = g.Find(r.In(0));
  auto keeps = [&](const SymDim& d, int64_t i) {
    if (!d.of.empty()) return d.of == r.In(0) && d.index == i;
    if (d.value == 0) return !allowzero;
    // A constant equal to the input's fixed dim (static-shape exports, or folded targets).
    return d.value >= 1 && in != nullptr && in->shape_known && static_cast<int64_t>(in->dims.size()) > i &&
           in->dims[static_cast<size_t>(i)].value == d.value;
  };
  if (!keeps(t[0], 0) || !(keeps(t[1], 1) || (t[1].of.empty() && t[1].value == -1))) return false;
  got->clear();
  for (size_t i = 2; i < t.size(); ++i) {
    if (!t[i].of.empty() || t[i].value < 1) return false;
    got->push_back(t[i].value);
  }
  return true;
}

// The head split of x [B, S, H*D]: `out` = Transpose(perm)(Reshape(x) -> [B, S, H, D]), each
// node read only by the next. Sets x, H and D, and appends both nodes to `chain`.
bool HeadSplit(Graph& g, const std::unordered_map<std::string, std::vector<size_t>>& cons,
               const std::unordered_map<std::string, size_t>& prod, const std::string& out, Node* reader,
               const std::vector<int64_t>& perm, std::string* x, int64_t* heads, int64_t* head_dim,
               std::vector<Node*>* chain) {
  Node* t = ProducerOf(g, prod, out);
  if (!t || !t->domain.empty() || t->op != "Transpose" || t->Ints("perm") != perm ||
      SoleConsumer(g, cons, out) != reader) {
    return false;
  }
  Node* r = ProducerOf(g, prod, t->In(0));
  if (!r || !r->domain.empty() || r->op != "Reshape" || SoleConsumer(g, cons, t->In(0)) != t) return false;
  std::vector<int64_t> hd;
  const int64_t last = FixedLastDim(g, prod, r->In(0));
  // hd[0] * hd[1] == last, by division: hostile constants would overflow the product (fuzz_onnx).
  if (last < 1 || !KeepsTwoDims(g, prod, *r, 2, &hd) || last % hd[1] != 0 || last / hd[1] != hd[0]) return false;
  *x = r->In(0);
  *heads = hd[0];
  *head_dim = hd[1];
  chain->push_back(t);
  chain->push_back(r);
  return true;
}

// Every result of `n` (a single-output node) is read only by `target`, directly or through
// single-output nodes whose results are read only by `target` in turn; those nodes are appended to
// `seen`. Bounded depth: shape arithmetic is a few nodes long.
bool OnlyFeeds(Graph& g, const std::unordered_map<std::string, std::vector<size_t>>& cons, const Node& n,
               const Node& target, std::vector<Node*>* seen, int depth = 0) {
  if (depth > 8 || n.outputs.size() != 1 || g.IsOutput(n.outputs[0])) return false;
  auto it = cons.find(n.outputs[0]);
  if (it == cons.end() || it->second.empty()) return false;
  for (size_t ci : it->second) {
    Node* c = &g.nodes[ci];
    if (c->dead || c == &target) continue;
    if (std::find(seen->begin(), seen->end(), c) == seen->end()) seen->push_back(c);
    if (!OnlyFeeds(g, cons, *c, target, seen, depth + 1)) return false;
  }
  return true;
}

int FuseAttention(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  auto prod = g.Producers();
  for (Node& mm2 : g.nodes) {
    if (mm2.dead || mm2.op != "MatMul" || !mm2.domain.empty() || mm2.inputs.size() != 2) continue;
    // y = Reshape(Transpose(MatMul(P, V'), perm 0,2,1,3)) -> [B, Sq, H*Dv]
    Node* to = SoleConsumer(g, cons, mm2.outputs[0]);
    if (!to || !to->domain.empty() || to->op != "Transpose" || to->Ints("perm") != std::vector<int64_t>{0, 2, 1, 3}) {
      continue;
    }
    // The merged heads go to one Reshape; other readers may only be Shape nodes whose results
    // feed nothing but that Reshape's target (PyTorch's `x.size()[:-2] + (all_head_size,)`).
    Node* ro = nullptr;
    std::vector<Node*> shape_chain;
    bool ok = !g.IsOutput(to->outputs[0]);
    for (size_t ci : cons[to->outputs[0]]) {
      Node* c = &g.nodes[ci];
      if (c->dead) continue;
      if (c->domain.empty() && c->op == "Reshape" && c->In(0) == to->outputs[0] && c->In(1) != to->outputs[0] && !ro) {
        ro = c;
      } else if (c->domain.empty() && c->op == "Shape") {
        shape_chain.push_back(c);
      } else {
        ok = false;
      }
    }
    if (!ok || !ro) continue;
    for (size_t i = 0; i < shape_chain.size() && ok; ++i) {
      ok = OnlyFeeds(g, cons, *shape_chain[i], *ro, &shape_chain);
    }
    if (!ok) continue;
    // P = ScaledSoftmax(MatMul(Q', K'), mask?)
    Node* sm = ProducerOf(g, prod, mm2.In(0));
    if (!sm || sm->domain != "edgert" || sm->op != "ScaledSoftmax" || SoleConsumer(g, cons, mm2.In(0)) != &mm2) {
      continue;
    }
    Node* mm1 = ProducerOf(g, prod, sm->In(0));
    if (!mm1 || !mm1->domain.empty() || mm1->op != "MatMul" || mm1->inputs.size() != 2 ||
        SoleConsumer(g, cons, sm->In(0)) != sm) {
      continue;
    }
    std::vector<Node*> chain = {&mm2, to, sm, mm1};
    std::string q, k, v;
    int64_t hq, dq, hk, dk, hv, dv;
    if (!HeadSplit(g, cons, prod, mm1->In(0), mm1, {0, 2, 1, 3}, &q, &hq, &dq, &chain) ||
        !HeadSplit(g, cons, prod, mm1->In(1), mm1, {0, 2, 3, 1}, &k, &hk, &dk, &chain) ||
        !HeadSplit(g, cons, prod, mm2.In(1), &mm2, {0, 2, 1, 3}, &v, &hv, &dv, &chain)) {
      continue;
    }
    // The same heads for q, k and v, one head size for q and k; the output merges the heads:
    // Reshape(Transpose(...)) -> [B, Sq, H*Dv]. Batch and sequence dims are checked at run time.
    std::vector<int64_t> merged;
    if (hk != hq || hv != hq || dk != dq || !KeepsTwoDims(g, prod, *ro, 1, &merged) || merged[0] != hv * dv) {
      continue;
    }
    Node f;
    // Named after the block ("/layer.0/self/attention" for "/layer.0/self/MatMul"), so that
    // profiles and errors point at the attention block rather than at its last Reshape.
    const size_t slash = mm1->name.rfind('/');
    f.name = slash == std::string::npos ? "attention_" + mm1->name : mm1->name.substr(0, slash + 1) + "attention";
    f.op = "Attention";
    f.domain = "edgert";
    f.inputs = {q, k, v};
    if (!sm->In(1).empty()) f.inputs.push_back(sm->In(1));
    f.outputs = ro->outputs;
    f.SetInt("num_heads", hq);
    f.SetFloat("scale", sm->Float("scale", 1.0f));
    f.SetInt("divide", sm->Int("divide", 0));
    for (Node* n : chain) n->dead = true;
    for (Node* n : shape_chain) n->dead = true;
    *ro = std::move(f);  // the chain's last node: every input is made before it
    ++count;
    cons = g.Consumers();
    prod = g.Producers();
  }
  g.Compact();
  return count;
}

// Add(a, b) -> LayerNormalization, where the Add's output feeds only the LayerNorm and a and b
// are f32, into the edgert op ResidualLayerNorm(a, scale, bias?, b): LAYER_NORM with its
// residual input. The runtime adds a + b (the same float additions as the ADD op, so the same
// bits): in the first pass over each row when the shapes are equal, instead of a separate pass
// over the whole tensor; with numpy broadcasting otherwise (shapes are often unknown here, so the
// runtime decides). Transformers have one per sub-layer (post-LN BERT: LN(x + f(x))).
int FuseResidualLayerNorm(Graph& g) {
  int count = 0;
  auto cons = g.Consumers();
  auto prod = g.Producers();
  auto is_f32 = [](const Tensor* t) { return t && t->dtype == DType::kF32; };
  for (Node& ln : g.nodes) {
    if (ln.dead || ln.op != "LayerNormalization" || !ln.domain.empty() || ln.inputs.size() < 2 ||
        ln.inputs.size() > 3) continue;
    if (ln.outputs.size() > 1) {
      bool extra = false;  // Mean / InvStdDev that something reads
      for (size_t i = 1; i < ln.outputs.size(); ++i) extra = extra || !ln.outputs[i].empty();
      if (extra) continue;
    }
    Node* add = ProducerOf(g, prod, ln.In(0));
    if (!add || add->op != "Add" || !add->domain.empty() || add->inputs.size() != 2 ||
        SoleConsumer(g, cons, ln.In(0)) != &ln || g.IsOutput(ln.In(0))) continue;
    if (!is_f32(g.Find(add->In(0))) || !is_f32(g.Find(add->In(1)))) continue;
    Node f;
    f.name = ln.name;
    f.op = "ResidualLayerNorm";
    f.domain = "edgert";
    f.inputs = {add->In(0), ln.In(1), ln.inputs.size() > 2 ? ln.In(2) : std::string(), add->In(1)};
    f.outputs = {ln.outputs[0]};
    f.SetInt("axis", ln.Int("axis", -1));
    f.SetFloat("epsilon", ln.Float("epsilon", 1e-5f));
    add->dead = true;
    ln = std::move(f);
    ++count;
    cons = g.Consumers();
    prod = g.Producers();
  }
  g.Compact();
  return count;
}

absl::StatusOr<FusionStats> Fuse(Graph& g) {
  FusionStats s;
  s.layer_norm = FuseLayerNorm(g);
  s.residual_layer_norm = FuseResidualLayerNorm(g);
  s.gelu = FuseGelu(g);
  s.silu = FuseSilu(g);
  s.conv_bn = FuseConvBatchNorm(g);
  s.fully_connected = FuseMatMulToFullyConnected(g);
  s.bias = FuseBias(g);
  s.activation = FuseActivation(g);
  s.scaled_softmax = FuseScaledSoftmax(g);
  s.attention = FuseAttention(g);
  return s;
}

}  // namespace edgert::converter
