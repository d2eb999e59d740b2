// Brings every node to one convention (the .efb op's): attribute-style parameters of old
// opsets become inputs, constant parameter inputs become options, no-op nodes disappear.
#include "absl/strings/str_cat.h"
#include "passes.h"

namespace edgert::converter {
namespace {

std::string AddI64Input(Graph& g, Node& n, const std::string& what, const std::vector<int64_t>& v) {
  Tensor t = MakeI64(g.UniqueName(absl::StrCat(n.name, "/", what)), {static_cast<int64_t>(v.size())}, v);
  std::string name = t.name;
  g.AddConst(std::move(t));
  return name;
}

absl::Status Err(const Graph& g, const Node& n, const std::string& msg) {
  return absl::UnimplementedError(
      absl::StrCat(g.source_path, ": node '", n.name, "' (", n.op, ", opset ", g.opset, "): ", msg));
}

}  // namespace

absl::Status Normalize(Graph& g) {
  const int64_t opset = g.opset;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    if (n.dead) continue;
    const std::string& op = n.op;
    if (op == "Constant") {
      Tensor t;
      if (n.Has("value") && n.attrs["value"].t) {
        t = *n.attrs["value"].t;
      } else if (n.Has("value_float")) {
        t = MakeF32("", {}, {n.Float("value_float", 0)});
      } else if (n.Has("value_floats")) {
        auto f = n.Floats("value_floats");
        t = MakeF32("", {static_cast<int64_t>(f.size())}, f);
      } else if (n.Has("value_int")) {
        t = MakeI64("", {}, {n.Int("value_int", 0)});
      } else if (n.Has("value_ints")) {
        auto v = n.Ints("value_ints");
        t = MakeI64("", {static_cast<int64_t>(v.size())}, v);
      } else {
        return Err(g, n, "Constant without a supported value attribute (value, value_float(s), value_int(s))");
      }
      t.name = n.outputs.at(0);
      g.AddConst(std::move(t));
      n.dead = true;
      continue;
    }
    if (op == "Identity" || op == "Dropout") {
      if (op == "Dropout" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
        // training_mode: only a constant false makes Dropout an identity.
        const Tensor* tm = g.Find(n.inputs[2]);
        if (!g.IsConst(n.inputs[2]) || tm == nullptr || tm->data.empty() || tm->data[0] != 0) {
          return Err(g, n, "training_mode=true (random dropout) is not supported");
        }
      }
      if (op == "Dropout" && n.outputs.size() > 1 && !n.outputs[1].empty()) {
        bool used = g.IsOutput(n.outputs[1]);
        for (const Node& m : g.nodes) {
          if (m.dead) continue;
          for (const auto& i : m.inputs) if (i == n.outputs[1]) used = true;
        }
        if (used) return Err(g, n, "the Dropout mask output is not supported");
      }
      n.outputs.resize(1);
      n.inputs.resize(1);
      if (g.IsOutput(n.outputs[0]) || g.IsConst(n.inputs[0])) {
        n.op = "Identity";
        n.attrs.clear();
        continue;
      }
      ReplaceUses(g, n.outputs[0], n.inputs[0]);
      n.dead = true;
      continue;
    }
    if (op == "LayerNormalization" && n.outputs.size() > 1) {
      // Mean / InvStdDev (training outputs): dropped when nothing reads them; the LAYER_NORM
      // op computes only Y.
      for (size_t k = 1; k < n.outputs.size(); ++k) {
        if (n.outputs[k].empty()) continue;
        bool used = g.IsOutput(n.outputs[k]);
        for (const Node& m : g.nodes) {
          if (m.dead) continue;
          for (const auto& i : m.inputs) if (i == n.outputs[k]) used = true;
        }
        if (used) {
          return Err(g, n, absl::StrCat("the ", k == 1 ? "Mean" : "InvStdDev", " output '", n.outputs[k],
                                        "' is not supported (it is read; only Y is computed)"));
        }
      }
      n.outputs.resize(1);
    }
    if ((op == "Squeeze" || op == "Unsqueeze") && n.Has("axes")) {
      n.inputs.resize(1);
      n.inputs.push_back(AddI64Input(g, n, "axes", n.Ints("axes")));
      n.attrs.erase("axes");
    }
    if (op == "Split") {
      if (n.Has("split")) {
        n.inputs.resize(1);
        n.inputs.push_back(AddI64Input(g, n, "split", n.Ints("split")));
        n.attrs.erase("split");
      }
      n.SetInt("num_outputs", static_cast<int64_t>(n.outputs.size()));
    }
    if (op.rfind("Reduce", 0) == 0) {
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) {
        if (!g.IsConst(n.inputs[1])) return Err(g, n, "axes must be a constant");
        n.SetInts("axes", ToInt64s(*g.Find(n.inputs[1])));
      }
      n.inputs.resize(1);
    }
    if (op == "Clip") {
      if (opset < 11) {
        n.SetFloat("min", n.Float("min", -3.402823466e+38f));
        n.SetFloat("max", n.Float("max", 3.402823466e+38f));
      } else {
        bool const_min = n.In(1).empty() || g.IsConst(n.In(1));
        bool const_max = n.In(2).empty() || g.IsConst(n.In(2));
        if (const_min && const_max) {
          float lo = -3.402823466e+38f, hi = 3.402823466e+38f;
          if (!n.In(1).empty()) lo = ToFloats(*g.Find(n.In(1))).at(0);
          if (!n.In(2).empty()) hi = ToFloats(*g.Find(n.In(2))).at(0);
          n.SetFloat("min", lo);
          n.SetFloat("max", hi);
          n.inputs.resize(1);
        }
      }
    }
    if (op == "Pad" && opset < 11) {
      n.inputs.resize(1);
      n.inputs.push_back(AddI64Input(g, n, "pads", n.Ints("pads")));
      Tensor v = MakeF32(g.UniqueName(n.name + "/value"), {}, {n.Float("value", 0)});
      n.inputs.push_back(v.name);
      g.AddConst(std::move(v));
    }
    if (op == "Slice" && opset < 10) {
      n.inputs.resize(1);
      n.inputs.push_back(AddI64Input(g, n, "starts", n.Ints("starts")));
      n.inputs.push_back(AddI64Input(g, n, "ends", n.Ints("ends")));
      if (n.Has("axes")) n.inputs.push_back(AddI64Input(g, n, "axes", n.Ints("axes")));
    }
    if (op == "TopK" && opset < 10) {
      n.inputs.resize(1);
      n.inputs.push_back(AddI64Input(g, n, "k", {n.Int("k", 1)}));
    }
    if (op == "ConstantOfShape" && n.inputs.size() < 2) {
      Tensor v;
      if (n.Has("value") && n.attrs["value"].t) v = *n.attrs["value"].t;
      else v = MakeF32("", {1}, {0.0f});
      SetStaticShape(v, {1});
      v.name = g.UniqueName(n.name + "/value");
      n.inputs.push_back(v.name);
      g.AddConst(std::move(v));
    }
    if ((op == "Softmax" || op == "LogSoftmax") && opset < 13) {
      const Tensor* x = g.Find(n.In(0));
      int64_t axis = n.Int("axis", 1);
      if (!x || !x->shape_known) return Err(g, n, "needs a known input rank before opset 13");
      int64_t r = static_cast<int64_t>(x->dims.size());
      if (axis < 0) axis += r;
      if (axis != r - 1) return Err(g, n, "axis must be the last axis before opset 13 (2-D coercion)");
      n.SetInt("axis", -1);
    }
    if (op == "Mod" && n.Int("fmod", 0) != 0) {
      // The runtime's MOD is C fmod for floats (ONNX requires fmod=1 there) and Python-style
      // (sign of the divisor, fmod=0) for integers, so only integer fmod=1 has no lowering.
      const Tensor* x = g.Find(n.In(0));
      if (x && !IsFloat(x->dtype)) return Err(g, n, "fmod=1 on integers is not supported");
    }
    if ((op == "Max" || op == "Min" || op == "Sum") && n.inputs.size() != 2) {
      if (n.inputs.size() == 1) {
        n.op = "Identity";
        continue;
      }
      // Chain: ((a op b) op c) ...
      std::string acc = n.inputs[0];
      std::vector<Node> chain;
      for (size_t i = 1; i < n.inputs.size(); ++i) {
        Node c;
        c.name = absl::StrCat(n.name, "/", i);
        c.op = op;
        c.inputs = {acc, n.inputs[i]};
        std::string out = i + 1 == n.inputs.size() ? n.outputs[0] : g.UniqueName(c.name);
        g.tensors[out].name = out;
        c.outputs = {out};
        acc = out;
        chain.push_back(std::move(c));
      }
      n.dead = true;
      g.nodes.insert(g.nodes.begin() + k + 1, chain.begin(), chain.end());
      continue;
    }
    if (op == "Sum") n.op = "Add";
    if (op == "Transpose" && !n.Has("perm")) {
      const Tensor* x = g.Find(n.In(0));
      if (!x || !x->shape_known) return Err(g, n, "perm is absent and the input rank is unknown");
      std::vector<int64_t> perm;
      for (int64_t i = static_cast<int64_t>(x->dims.size()) - 1; i >= 0; --i) perm.push_back(i);
      n.SetInts("perm", perm);
    }
    if (op == "BatchNormalization") {
      if (n.outputs.size() > 1) {
        for (size_t i = 1; i < n.outputs.size(); ++i) {
          if (!n.outputs[i].empty()) return Err(g, n, "training-mode outputs are not supported");
        }
        n.outputs.resize(1);
      }
    }
  }
  g.Compact();
  return absl::OkStatus();
}

}  // namespace edgert::converter
