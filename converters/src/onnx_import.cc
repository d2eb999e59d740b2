#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx_guard.h"
#include "passes.h"

namespace edgert::converter {
namespace {

DType FromOnnx(int t) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kF32;
    case onnx::TensorProto::FLOAT16: return DType::kF16;
    case onnx::TensorProto::INT8: return DType::kI8;
    case onnx::TensorProto::UINT8: return DType::kU8;
    case onnx::TensorProto::INT32: return DType::kI32;
    case onnx::TensorProto::INT64: return DType::kI64;
    case onnx::TensorProto::BOOL: return DType::kBool;
    default: return DType::kUnknown;
  }
}

const char* OnnxTypeName(int t) {
  return onnx::TensorProto_DataType_IsValid(t)
             ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t)).c_str()
             : "invalid";
}

std::string Dirname(const std::string& p) {
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? std::string(".") : p.substr(0, s == 0 ? 1 : s);
}

absl::Status ReadWholeFile(const std::string& path, std::string* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for reading"));
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return absl::OkStatus();
}

absl::Status TensorFromProto(const onnx::TensorProto& p, const std::string& base_dir,
                             const std::string& label, Tensor* t) {
  t->name = p.name();
  t->dtype = FromOnnx(p.data_type());
  if (t->dtype == DType::kUnknown) {
    return absl::UnimplementedError(absl::StrCat(label, ": constant '", p.name(), "': data type ",
                                                 OnnxTypeName(p.data_type()),
                                                 " is not supported (expected float, float16, "
                                                 "int8, uint8, int32, int64 or bool)"));
  }
  t->is_const = true;
  t->shape_known = true;
  t->dims.clear();
  int64_t n = 1;
  for (int64_t d : p.dims()) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": constant '", p.name(), "': negative dim ", d));
    }
    t->dims.push_back(Dim{d, ""});
    if (d != 0 && n > (int64_t{1} << 40) / d) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": constant '", p.name(), "': too large"));
    }
    n *= d;
  }
  const size_t es = DTypeSize(t->dtype);
  const size_t want = static_cast<size_t>(n) * es;
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : p.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset" || kv.key() == "length") {
        int64_t v = -1;
        if (!absl::SimpleAtoi(kv.value(), &v) || v < 0) {
          return absl::InvalidArgumentError(absl::StrCat(label, ": constant '", p.name(), "': external data ",
                                                         kv.key(), " '", kv.value(), "' is not a byte count"));
        }
        (kv.key() == "offset" ? offset : length) = v;
      }
    }
    if (location.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": constant '", p.name(),
                                                     "': external data without a location"));
    }
    // Like ONNX's checker: the data must live beside the model. An absolute path or one that
    // climbs out of the model's folder ('..', or a symlink that leads elsewhere) is refused, so a
    // model cannot make the converter read arbitrary files (and copy them into the .efb).
    std::error_code ec;
    const std::filesystem::path rel(location);
    bool escapes = rel.is_absolute() || rel.has_root_name();
    for (const auto& part : rel) escapes = escapes || part == "..";
    const std::filesystem::path dir = std::filesystem::weakly_canonical(base_dir.empty() ? "." : base_dir, ec);
    const std::filesystem::path full = std::filesystem::weakly_canonical(dir / rel, ec);
    if (!escapes && !ec) {
      auto d = dir.begin(), f = full.begin();
      for (; d != dir.end() && f != full.end() && *d == *f; ++d, ++f) {}
      escapes = d != dir.end();
    }
    if (escapes) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": constant '", p.name(), "': external data location '",
                                                     location, "' is outside the model's folder"));
    }
    const std::string file = full.string();
    struct stat sb;
    if (stat(file.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
      return absl::NotFoundError(absl::StrCat(label, ": constant '", p.name(),
                                              "': external data file '", file, "' not found (or not a regular file)"));
    }
    std::ifstream f(file, std::ios::binary);
    if (!f) {
      return absl::NotFoundError(absl::StrCat(label, ": constant '", p.name(),
                                              "': external data file '", file, "' cannot be opened"));
    }
    const int64_t fsize = static_cast<int64_t>(sb.st_size);
    if (length < 0) length = static_cast<int64_t>(want);
    if (length != static_cast<int64_t>(want)) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": constant '", p.name(), "': external data length ",
                                                     length, " does not match its shape (", want, " bytes)"));
    }
    if (offset > fsize || length > fsize - offset) {
      return absl::OutOfRangeError(absl::StrCat(
          label, ": constant '", p.name(), "': external data file '", file, "' has ", fsize,
          " bytes, too few for offset ", offset, " + length ", length));
    }
    t->data.resize(static_cast<size_t>(length));
    f.seekg(offset);
    f.read(t->data.data(), length);
    if (!f) {
      return absl::DataLossError(absl::StrCat(label, ": constant '", p.name(),
                                              "': cannot read external data file '", file, "'"));
    }
  } else if (p.has_raw_data()) {
    t->data = p.raw_data();
  } else {
    std::string& d = t->data;
    switch (p.data_type()) {
      case onnx::TensorProto::FLOAT:
        d.assign(reinterpret_cast<const char*>(p.float_data().data()), p.float_data_size() * 4);
        break;
      case onnx::TensorProto::INT64:
        d.assign(reinterpret_cast<const char*>(p.int64_data().data()), p.int64_data_size() * 8);
        break;
      case onnx::TensorProto::INT32:
        d.assign(reinterpret_cast<const char*>(p.int32_data().data()), p.int32_data_size() * 4);
        break;
      case onnx::TensorProto::FLOAT16:
        for (int32_t v : p.int32_data()) {
          uint16_t h = static_cast<uint16_t>(v);
          d.append(reinterpret_cast<const char*>(&h), 2);
        }
        break;
      default:  // int8, uint8, bool: one int32 per element
        for (int32_t v : p.int32_data()) d.push_back(static_cast<char>(v));
        break;
    }
  }
  if (t->data.size() != want) {
    return absl::DataLossError(absl::StrCat(label, ": constant '", p.name(), "': expected ", want,
                                            " bytes of data for shape [",
                                            absl::StrJoin(p.dims(), ","), "], got ",
                                            t->data.size()));
  }
  return absl::OkStatus();
}

void TypeFromValueInfo(const onnx::ValueInfoProto& vi, Tensor* t) {
  if (!vi.type().has_tensor_type()) return;
  const auto& tt = vi.type().tensor_type();
  if (tt.elem_type() != 0) t->dtype = FromOnnx(tt.elem_type());
  if (tt.has_shape()) {
    t->shape_known = true;
    t->dims.clear();
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) t->dims.push_back(Dim{d.dim_value(), ""});
      else t->dims.push_back(Dim{-1, d.has_dim_param() ? d.dim_param() : ""});
    }
  }
}

Attr AttrFromProto(const onnx::AttributeProto& a, const std::string& base_dir,
                   const std::string& label, absl::Status* st) {
  Attr r;
  switch (a.type()) {
    case onnx::AttributeProto::INT: r.kind = Attr::kInt; r.i = a.i(); break;
    case onnx::AttributeProto::FLOAT: r.kind = Attr::kFloat; r.f = a.f(); break;
    case onnx::AttributeProto::STRING: r.kind = Attr::kString; r.s = a.s(); break;
    case onnx::AttributeProto::INTS:
      r.kind = Attr::kInts;
      r.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      r.kind = Attr::kFloats;
      r.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto::TENSOR:
      r.kind = Attr::kTensor;
      r.t = std::make_shared<Tensor>();
      *st = TensorFromProto(a.t(), base_dir, label, r.t.get());
      break;
    default: r.kind = Attr::kOther; break;
  }
  return r;
}

}  // namespace

absl::StatusOr<Graph> ImportOnnxModel(onnx::ModelProto& model, const std::string& base_dir,
                                      const std::string& label) {
  Graph g;
  g.source_path = label;
  for (const auto& os : model.opset_import()) {
    if (os.domain().empty() || os.domain() == "ai.onnx") g.opset = os.version();
  }
  if (g.opset == 0) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": no ai.onnx opset_import"));
  }
  if (!model.has_graph()) return absl::InvalidArgumentError(absl::StrCat(label, ": no graph"));
  onnx::GraphProto* gp = model.mutable_graph();

  // Every unsupported node at once.
  std::vector<std::string> bad;
  for (int i = 0; i < gp->node_size(); ++i) {
    onnx::NodeProto* n = gp->mutable_node(i);
    if (n->name().empty()) n->set_name(absl::StrCat(n->op_type(), "_", i));
    if (!IsSupportedOnnxOp(n->domain(), n->op_type())) {
      int64_t opset = g.opset;
      for (const auto& os : model.opset_import()) {
        if (os.domain() == n->domain()) opset = os.version();
      }
      bad.push_back(absl::StrCat("'", n->name(), "' (",
                                 n->domain().empty() ? "" : absl::StrCat(n->domain(), "."),
                                 n->op_type(), ", opset ", opset, ")"));
    }
  }
  if (!bad.empty()) {
    return absl::UnimplementedError(absl::StrCat(label, ": ", bad.size(), " unsupported node",
                                                 bad.size() > 1 ? "s" : "", ": ",
                                                 absl::StrJoin(bad, ", ")));
  }
  if (g.opset < 7) {
    return absl::UnimplementedError(
        absl::StrCat(label, ": ai.onnx opset ", g.opset, " is too old (need 7 or newer)"));
  }
  if (gp->sparse_initializer_size() > 0) {
    return absl::UnimplementedError(absl::StrCat(label, ": sparse initializers are not supported"));
  }

  // Topological order before shape inference: ONNX 1.12's InferShapes dereferences a null
  // pointer on a node input that nothing defines (found by fuzz_onnx). The same check with the
  // IR built is below.
  // Likewise on a graph input without a tensor element type (the check with the IR is below).
  {
    std::unordered_set<std::string> known;
    for (const auto& init : gp->initializer()) known.insert(init.name());
    for (const auto& vi : gp->input()) {
      if (!known.count(vi.name()) &&
          (!vi.type().has_tensor_type() || vi.type().tensor_type().elem_type() == 0)) {
        return absl::UnimplementedError(absl::StrCat(label, ": graph input '", vi.name(),
                                                     "': unsupported or missing element type"));
      }
      known.insert(vi.name());
    }
    for (const auto& np : gp->node()) {
      for (const auto& i : np.input()) {
        if (!i.empty() && !known.count(i)) {
          return absl::InvalidArgumentError(absl::StrCat(
              label, ": node '", np.name(), "' (", np.op_type(), "): input '", i,
              "' is not a graph input, initializer or output of an earlier node"));
        }
      }
      for (const auto& o : np.output()) known.insert(o);
    }
  }
  // And on Conv/ConvTranspose whose input and weight ranks disagree (fuzz_onnx: SEGV in
  // convTransposeShapeInference). Checked where both ranks are declared (inputs, initializers).
  {
    std::unordered_map<std::string, int> rank;
    for (const auto& vi : gp->input()) {
      if (vi.type().tensor_type().has_shape()) rank[vi.name()] = vi.type().tensor_type().shape().dim_size();
    }
    for (const auto& init : gp->initializer()) rank[init.name()] = init.dims_size();
    for (const auto& np : gp->node()) {
      // Conv/pool geometry: zero strides or dilations divide by zero in libonnx
      // convPoolShapeInference (fuzz_onnx: FPE on MaxPool with strides [0, 1]).
      static const std::unordered_set<std::string> kConvPool = {
          "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "ConvInteger", "QLinearConv"};
      if (kConvPool.count(np.op_type())) {
        for (const auto& a : np.attribute()) {
          if (a.name() != "strides" && a.name() != "dilations" && a.name() != "kernel_shape") continue;
          for (int64_t v : a.ints()) {
            if (v < 1) {
              return absl::InvalidArgumentError(absl::StrCat(label, ": node '", np.name(), "' (", np.op_type(), "): ",
                                                             a.name(), " must be >= 1, got ", v));
            }
          }
        }
      }
      if (np.op_type() != "Conv" && np.op_type() != "ConvTranspose") continue;
      if (np.input_size() < 2 || !rank.count(np.input(0)) || !rank.count(np.input(1))) continue;
      const int rx = rank[np.input(0)], rw = rank[np.input(1)];
      if (rx < 3 || rw != rx) {
        return absl::InvalidArgumentError(absl::StrCat(
            label, ": node '", np.name(), "' (", np.op_type(), "): input rank ", rx, " and weight rank ", rw,
            " (expected equal, at least 3)"));
      }
    }
  }

  // Shape and type inference (strict: inconsistent shapes are an error).
  try {
    onnx::ShapeInferenceOptions opts(/*check_type=*/true,
                                     /*error_mode=*/g.opset <= 17 ? 1 : 0,
                                     /*data_prop=*/true);
    onnx::shape_inference::InferShapes(model, GuardedSchemaRegistry(), opts);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& c : msg) if (c == '\n') c = ' ';
    while (!msg.empty() && msg.back() == ' ') msg.pop_back();
    // libonnx lists every failed node; after the first, the others usually fail only because
    // their inputs lost their types. Keep the first and count the rest (one readable line).
    const std::string tag = " (op_type:";
    size_t first = msg.find(tag), second = first == std::string::npos ? first : msg.find(tag, first + 1);
    if (second != std::string::npos) {
      int more = 0;
      for (size_t p = second; p != std::string::npos; p = msg.find(tag, p + 1)) ++more;
      msg = absl::StrCat(msg.substr(0, second), " (and ", more, " more node", more == 1 ? "" : "s",
                         " after it)");
    }
    return absl::InvalidArgumentError(absl::StrCat(label, ": shape inference failed: ", msg));
  }

  // Initializers.
  for (const auto& init : gp->initializer()) {
    Tensor t;
    absl::Status st = TensorFromProto(init, base_dir, label, &t);
    if (!st.ok()) return st;
    g.tensors[t.name] = std::move(t);
  }
  // Declared types (inputs, outputs, inferred intermediates).
  auto declare = [&](const onnx::ValueInfoProto& vi) {
    Tensor& t = g.tensors[vi.name()];
    if (t.is_const) return;
    t.name = vi.name();
    TypeFromValueInfo(vi, &t);
  };
  for (const auto& vi : gp->value_info()) declare(vi);
  for (const auto& vi : gp->output()) declare(vi);
  for (const auto& vi : gp->input()) {
    if (g.IsConst(vi.name())) continue;  // IR < 4: initializers listed as inputs
    declare(vi);
    const Tensor& t = g.tensors[vi.name()];
    if (t.dtype == DType::kUnknown) {
      return absl::UnimplementedError(absl::StrCat(label, ": graph input '", vi.name(),
                                                   "': unsupported or missing element type"));
    }
    g.inputs.push_back(vi.name());
  }
  for (const auto& vi : gp->output()) g.outputs.push_back(vi.name());
  if (g.outputs.empty()) return absl::InvalidArgumentError(absl::StrCat(label, ": graph has no outputs"));

  // Nodes, checking that the order is topological and every output is produced once.
  std::unordered_set<std::string> defined(g.inputs.begin(), g.inputs.end());
  for (const auto& [name, t] : g.tensors) if (t.is_const) defined.insert(name);
  for (const auto& np : gp->node()) {
    Node n;
    n.name = np.name();
    n.op = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    for (const auto& i : np.input()) {
      if (!i.empty() && !defined.count(i)) {
        return absl::InvalidArgumentError(absl::StrCat(
            label, ": node '", n.name, "' (", n.op, "): input '", i,
            "' is not a graph input, initializer or output of an earlier node"));
      }
      n.inputs.push_back(i);
    }
    for (const auto& o : np.output()) {
      if (!o.empty() && !defined.insert(o).second) {
        return absl::InvalidArgumentError(absl::StrCat(label, ": node '", n.name, "' (", n.op,
                                                       "): output '", o,
                                                       "' is produced more than once"));
      }
      n.outputs.push_back(o);
      if (!o.empty()) g.tensors[o].name = o;
    }
    for (const auto& a : np.attribute()) {
      absl::Status st;
      n.attrs[a.name()] = AttrFromProto(a, base_dir, label, &st);
      if (!st.ok()) return st;
    }
    g.nodes.push_back(std::move(n));
  }
  for (const auto& o : g.outputs) {
    if (!defined.count(o)) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": graph output '", o, "' is never produced"));
    }
  }
  return g;
}

absl::StatusOr<Graph> ImportOnnxFile(const std::string& path) {
  std::string bytes;
  absl::Status st = ReadWholeFile(path, &bytes);
  if (!st.ok()) return st;
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a valid ONNX model (protobuf parse failed)"));
  }
  return ImportOnnxModel(model, Dirname(path), path);
}

}  // namespace edgert::converter
