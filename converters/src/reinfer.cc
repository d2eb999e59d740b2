// Shape and type inference again, on the IR after constant folding (and after fusions).
//
// Import runs ONNX shape inference once, on the source graph. A shape computed by ops that
// ONNX's data propagation does not follow (ReduceProd, Div, Range, ... of a Shape) stays
// unknown there, although constant folding later turns it into a constant. This pass writes
// the live ai.onnx nodes back to a ModelProto — small constants as initializers (their values
// feed data propagation), large ones and every tensor produced by a node that is not exported
// (edgert-domain ops after fusion, nodes with attributes it cannot write back) as typed graph
// inputs — runs ONNX inference (non-strict: a node it cannot infer is skipped, never an error)
// and copies back what became more precise: an unknown type or shape, or a dynamic dim that is
// now fixed. A known dim is never changed.
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx_guard.h"
#include "passes.h"

namespace edgert::converter {
namespace {

int ToOnnx(DType t) {
  switch (t) {
    case DType::kF32: return onnx::TensorProto::FLOAT;
    case DType::kF16: return onnx::TensorProto::FLOAT16;
    case DType::kI8: return onnx::TensorProto::INT8;
    case DType::kU8: return onnx::TensorProto::UINT8;
    case DType::kI32: return onnx::TensorProto::INT32;
    case DType::kI64: return onnx::TensorProto::INT64;
    case DType::kBool: return onnx::TensorProto::BOOL;
    default: return 0;
  }
}

DType FromOnnxType(int t) {
  for (DType d : {DType::kF32, DType::kF16, DType::kI8, DType::kU8, DType::kI32, DType::kI64, DType::kBool}) {
    if (ToOnnx(d) == t) return d;
  }
  return DType::kUnknown;
}

// Constants up to this many elements go in with their values (shape arithmetic); larger ones
// (weights) only with their type and shape.
constexpr int64_t kMaxValueElements = 4096;

bool Writable(const Tensor& t) { return ToOnnx(t.dtype) != 0 && !t.quant; }

void SetType(const Tensor& t, onnx::ValueInfoProto* vi) {
  vi->set_name(t.name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(ToOnnx(t.dtype));
  if (!t.shape_known) return;
  auto* sh = tt->mutable_shape();
  for (const Dim& d : t.dims) {
    auto* pd = sh->add_dim();
    if (d.value >= 0) pd->set_dim_value(d.value);
    else if (!d.name.empty()) pd->set_dim_param(d.name);
  }
}

void ConstProto(const Tensor& t, onnx::TensorProto* p) {
  p->set_name(t.name);
  p->set_data_type(ToOnnx(t.dtype));
  for (const Dim& d : t.dims) p->add_dims(d.value);
  p->set_raw_data(t.data);  // the IR keeps constants as little-endian raw bytes, like ONNX
}

bool AttrProto(const std::string& name, const Attr& a, onnx::AttributeProto* p) {
  p->set_name(name);
  switch (a.kind) {
    case Attr::kInt: p->set_type(onnx::AttributeProto::INT); p->set_i(a.i); return true;
    case Attr::kFloat: p->set_type(onnx::AttributeProto::FLOAT); p->set_f(a.f); return true;
    case Attr::kString: p->set_type(onnx::AttributeProto::STRING); p->set_s(a.s); return true;
    case Attr::kInts:
      p->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : a.ints) p->add_ints(v);
      return true;
    case Attr::kFloats:
      p->set_type(onnx::AttributeProto::FLOATS);
      for (float v : a.floats) p->add_floats(v);
      return true;
    case Attr::kTensor:
      if (!a.t || !Writable(*a.t) || !a.t->StaticShape()) return false;
      p->set_type(onnx::AttributeProto::TENSOR);
      ConstProto(*a.t, p->mutable_t());
      return true;
    default:
      return false;
  }
}

}  // namespace

int InferShapesAgain(Graph& g) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(g.opset);
  onnx::GraphProto* gp = m.mutable_graph();
  gp->set_name("reinfer");
  std::unordered_set<std::string> defined;  // produced by an exported node, or declared
  for (const Node& n : g.nodes) {
    if (n.dead || !n.domain.empty()) continue;
    // Every input must be writable: produced by an exported node, or a typed tensor.
    bool ok = true;
    for (const std::string& i : n.inputs) {
      if (i.empty() || defined.count(i)) continue;
      const Tensor* t = g.Find(i);
      if (!t || !Writable(*t) || (t->is_const && !t->StaticShape())) ok = false;
    }
    onnx::NodeProto np;
    np.set_name(n.name);
    np.set_op_type(n.op);
    for (const auto& [k, a] : n.attrs) ok = ok && AttrProto(k, a, np.add_attribute());
    if (!ok) continue;
    for (const std::string& i : n.inputs) {
      np.add_input(i);
      if (i.empty() || defined.count(i)) continue;
      const Tensor& t = *g.Find(i);
      if (t.is_const && t.NumElements() <= kMaxValueElements) {
        ConstProto(t, gp->add_initializer());
      } else {
        SetType(t, gp->add_input());
      }
      defined.insert(i);
    }
    for (const std::string& o : n.outputs) {
      np.add_output(o);
      if (!o.empty()) defined.insert(o);
    }
    *gp->add_node() = std::move(np);
  }
  if (gp->node_size() == 0) return 0;
  try {
    onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*error_mode=*/0, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(m, GuardedSchemaRegistry(), opts);
  } catch (const std::exception&) {
    return 0;  // best effort: the runtime resolves shapes at session time anyway
  }
  int changed = 0;
  for (const auto& vi : gp->value_info()) {
    Tensor* t = g.Find(vi.name());
    if (!t || t->is_const || !vi.type().has_tensor_type()) continue;
    const auto& tt = vi.type().tensor_type();
    bool more = false;
    DType dt = FromOnnxType(tt.elem_type());
    if (t->dtype == DType::kUnknown && dt != DType::kUnknown) {
      t->dtype = dt;
      more = true;
    }
    if (tt.has_shape()) {
      const auto& dims = tt.shape().dim();
      if (!t->shape_known) {
        t->shape_known = true;
        t->dims.clear();
        for (const auto& d : dims) {
          t->dims.push_back(d.has_dim_value() ? Dim{d.dim_value(), ""}
                                              : Dim{-1, d.has_dim_param() ? d.dim_param() : ""});
        }
        more = true;
      } else if (static_cast<int>(t->dims.size()) == dims.size()) {
        for (int k = 0; k < dims.size(); ++k) {
          Dim& cur = t->dims[k];
          if (cur.value < 0 && dims[k].has_dim_value() && dims[k].dim_value() >= 0) {
            cur = Dim{dims[k].dim_value(), ""};
            more = true;
          } else if (cur.value < 0 && cur.name.empty() && dims[k].has_dim_param()) {
            cur.name = dims[k].dim_param();
          }
        }
      }
    }
    changed += more;
  }
  return changed;
}

}  // namespace edgert::converter
