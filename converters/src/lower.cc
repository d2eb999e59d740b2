#include "lower.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "edgert/schema/writer.h"
#include "passes.h"

namespace edgert::converter {
namespace {

using fb::OpType;

const std::map<std::string, OpType>& BinaryOps() {
  static const auto* m = new std::map<std::string, OpType>{
      {"Add", OpType::ADD}, {"Sub", OpType::SUB}, {"Mul", OpType::MUL}, {"Div", OpType::DIV},
      {"Pow", OpType::POW}, {"Max", OpType::MAXIMUM}, {"Min", OpType::MINIMUM},
      {"Mod", OpType::MOD}, {"Equal", OpType::EQUAL}, {"Less", OpType::LESS},
      {"LessOrEqual", OpType::LESS_OR_EQUAL}, {"Greater", OpType::GREATER},
      {"GreaterOrEqual", OpType::GREATER_OR_EQUAL}, {"And", OpType::AND}, {"Or", OpType::OR},
      {"Xor", OpType::XOR}};
  return *m;
}

const std::map<std::string, OpType>& PlainOps() {  // no options
  static const auto* m = new std::map<std::string, OpType>{
      {"Relu", OpType::RELU}, {"Sigmoid", OpType::SIGMOID}, {"Tanh", OpType::TANH},
      {"Exp", OpType::EXP}, {"Log", OpType::LOG}, {"Sqrt", OpType::SQRT}, {"Erf", OpType::ERF},
      {"Neg", OpType::NEG}, {"Abs", OpType::ABS}, {"Reciprocal", OpType::RECIPROCAL},
      {"Floor", OpType::FLOOR}, {"Ceil", OpType::CEIL}, {"Round", OpType::ROUND},
      {"Not", OpType::NOT}, {"Sin", OpType::SIN}, {"Cos", OpType::COS},
      {"Identity", OpType::IDENTITY}, {"Sign", OpType::SIGN}, {"Softplus", OpType::SOFTPLUS},
      {"HardSwish", OpType::HARD_SWISH}, {"MatMul", OpType::MATMUL},
      {"GlobalAveragePool", OpType::GLOBAL_AVERAGE_POOL},
      {"GlobalMaxPool", OpType::GLOBAL_MAX_POOL}, {"Slice", OpType::SLICE},
      {"Squeeze", OpType::SQUEEZE}, {"Unsqueeze", OpType::UNSQUEEZE},
      {"Expand", OpType::EXPAND}, {"Where", OpType::WHERE}, {"Range", OpType::RANGE},
      {"Tile", OpType::TILE}, {"ConstantOfShape", OpType::CONSTANT_OF_SHAPE}};
  return *m;
}

const std::map<std::string, OpType>& ReduceOps() {
  static const auto* m = new std::map<std::string, OpType>{
      {"ReduceSum", OpType::REDUCE_SUM}, {"ReduceMean", OpType::REDUCE_MEAN},
      {"ReduceMax", OpType::REDUCE_MAX}, {"ReduceMin", OpType::REDUCE_MIN},
      {"ReduceProd", OpType::REDUCE_PROD}, {"ReduceL2", OpType::REDUCE_L2},
      {"ReduceSumSquare", OpType::REDUCE_SUM_SQUARE}};
  return *m;
}

const std::set<std::string>& OtherOps() {
  static const auto* s = new std::set<std::string>{
      "LeakyRelu", "Elu", "HardSigmoid", "Clip", "Cast", "Gemm", "Conv", "ConvTranspose",
      "Softmax", "LogSoftmax", "LayerNormalization", "BatchNormalization", "MaxPool",
      "AveragePool", "ArgMax", "ArgMin", "TopK", "Reshape", "Transpose", "Concat", "Gather",
      "GatherElements", "Split", "Flatten", "Shape", "Pad", "Resize", "Einsum",
      "QuantizeLinear", "DequantizeLinear", "Constant", "Dropout", "Sum", "Size"};
  return *s;
}

fb::DType ToFb(DType t) {
  switch (t) {
    case DType::kF16: return fb::DType::F16;
    case DType::kI8: return fb::DType::I8;
    case DType::kU8: return fb::DType::U8;
    case DType::kI4: return fb::DType::I4;
    case DType::kI32: return fb::DType::I32;
    case DType::kI64: return fb::DType::I64;
    case DType::kBool: return fb::DType::BOOL;
    default: return fb::DType::F32;
  }
}

int8_t AutoPad(const std::string& s) {
  if (s == "SAME_UPPER") return 1;
  if (s == "SAME_LOWER") return 2;
  if (s == "VALID") return 3;
  return 0;
}

std::vector<int32_t> I32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

class Lowerer {
 public:
  explicit Lowerer(const Graph& g) : g_(g) {}

  absl::StatusOr<Lowered> Run(const std::vector<std::string>& extra_outputs) {
    for (const auto& i : g_.inputs) out_.model.inputs.push_back(TensorIndex(i));
    for (const Node& n : g_.nodes) {
      if (n.dead) continue;
      absl::Status st = LowerNode(n);
      if (!st.ok()) return st;
    }
    std::set<std::string> seen;
    for (const auto& o : g_.outputs) {
      out_.model.outputs.push_back(TensorIndex(o));
      seen.insert(o);
    }
    for (const auto& o : extra_outputs) {
      if (seen.insert(o).second) out_.model.outputs.push_back(TensorIndex(o));
    }
    return std::move(out_);
  }

 private:
  int32_t AddBlob(std::string bytes) {
    out_.blobs.push_back(std::move(bytes));
    return static_cast<int32_t>(out_.blobs.size() - 1);
  }

  int32_t TensorIndex(const std::string& name) {
    if (name.empty()) return -1;
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    const Tensor* t = g_.Find(name);
    auto ft = std::make_unique<fb::TensorT>();
    ft->name = name;
    if (t) {
      ft->dtype = ToFb(t->dtype == DType::kUnknown ? DType::kF32 : t->dtype);
      if (t->shape_known) {
        for (const Dim& d : t->dims) {
          auto fd = std::make_unique<fb::DimT>();
          fd->value = d.value;
          if (d.value < 0) fd->name = d.name.empty() ? absl::StrCat("unk_", unknown_dims_++) : d.name;
          ft->shape.push_back(std::move(fd));
        }
      }
      if (t->is_const) ft->buffer = AddBlob(t->data);
      if (t->quant) {
        const Quant& q = *t->quant;
        auto fq = std::make_unique<fb::QuantizationT>();
        fq->scheme = static_cast<fb::QuantScheme>(q.scheme);
        fq->axis = q.axis;
        fq->block_size = q.block;
        if (q.scales_in_buffer) {
          std::string s;
          for (float f : q.scales) {
            if (q.scales_f16) {
              uint16_t h = FloatToHalf(f);
              s.append(reinterpret_cast<const char*>(&h), 2);
            } else {
              s.append(reinterpret_cast<const char*>(&f), 4);
            }
          }
          fq->scale_dtype = q.scales_f16 ? fb::DType::F16 : fb::DType::F32;
          fq->scales_buffer = AddBlob(std::move(s));
          if (!q.zero_points.empty()) {
            std::string z;
            for (int64_t v : q.zero_points) z.push_back(static_cast<char>(static_cast<int8_t>(v)));
            fq->zero_points_buffer = AddBlob(std::move(z));
          }
        } else {
          fq->scales = q.scales;
          fq->zero_points = q.zero_points;
        }
        ft->quant = std::move(fq);
      }
    }
    out_.model.tensors.push_back(std::move(ft));
    int32_t idx = static_cast<int32_t>(out_.model.tensors.size() - 1);
    index_[name] = idx;
    return idx;
  }

  absl::Status Err(const Node& n, const std::string& msg) {
    return absl::UnimplementedError(absl::StrCat(g_.source_path, ": node '", n.name, "' (", n.op,
                                                 ", opset ", g_.opset, "): ", msg));
  }

  absl::Status LowerNode(const Node& n) {
    auto op = std::make_unique<fb::OperatorT>();
    op->name = n.name;
    std::vector<std::string> inputs = n.inputs;
    const std::string& o = n.op;
    if (n.domain == "edgert") {
      if (o == "FullyConnected") {
        op->type = OpType::FULLY_CONNECTED;
        fb::FullyConnectedOptionsT opt;
        opt.fused_activation = static_cast<fb::Activation>(n.Int("activation", 0));
        op->options.Set(std::move(opt));
      } else if (o == "Gelu") {
        op->type = OpType::GELU;
        fb::GeluOptionsT opt;
        opt.approximate_tanh = n.Int("approximate_tanh", 0) != 0;
        op->options.Set(std::move(opt));
      } else if (o == "Silu") {
        op->type = OpType::SILU;
      } else if (o == "ScaledSoftmax") {
        op->type = OpType::SCALED_SOFTMAX;
        fb::ScaledSoftmaxOptionsT opt;
        opt.scale = n.Float("scale", 1.0f);
        opt.divide = n.Int("divide", 0) != 0;
        op->options.Set(std::move(opt));
      } else if (o == "ResidualLayerNorm") {
        op->type = OpType::LAYER_NORM;  // inputs x, scale, bias (or -1), residual
        fb::LayerNormOptionsT opt;
        opt.axis = static_cast<int32_t>(n.Int("axis", -1));
        opt.epsilon = n.Float("epsilon", 1e-5f);
        op->options.Set(std::move(opt));
      } else if (o == "Attention") {
        op->type = OpType::ATTENTION;
        fb::AttentionOptionsT opt;
        opt.num_heads = static_cast<int32_t>(n.Int("num_heads", 1));
        opt.scale = n.Float("scale", 1.0f);
        opt.divide = n.Int("divide", 0) != 0;
        op->options.Set(std::move(opt));
      } else {
        return Err(n, "internal op without a lowering");
      }
    } else if (!n.domain.empty()) {
      return Err(n, absl::StrCat("domain '", n.domain, "' is not supported"));
    } else if (auto it = BinaryOps().find(o); it != BinaryOps().end()) {
      op->type = it->second;
      fb::BinaryOptionsT opt;
      opt.fused_activation = static_cast<fb::Activation>(n.Int("activation", 0));
      op->options.Set(std::move(opt));
    } else if (auto it2 = PlainOps().find(o); it2 != PlainOps().end()) {
      op->type = it2->second;
    } else if (auto it3 = ReduceOps().find(o); it3 != ReduceOps().end()) {
      op->type = it3->second;
      fb::ReduceOptionsT opt;
      opt.axes = I32(n.Ints("axes"));
      opt.keepdims = n.Int("keepdims", 1) != 0;
      opt.noop_with_empty_axes = n.Int("noop_with_empty_axes", 0) != 0;
      op->options.Set(std::move(opt));
      inputs.resize(1);
    } else if (o == "LeakyRelu" || o == "Elu" || o == "HardSigmoid") {
      op->type = o == "LeakyRelu" ? OpType::LEAKY_RELU : o == "Elu" ? OpType::ELU : OpType::HARD_SIGMOID;
      fb::AlphaBetaOptionsT opt;
      opt.alpha = n.Float("alpha", o == "LeakyRelu" ? 0.01f : o == "Elu" ? 1.0f : 0.2f);
      opt.beta = n.Float("beta", o == "HardSigmoid" ? 0.5f : 0.0f);
      op->options.Set(std::move(opt));
    } else if (o == "Clip") {
      op->type = OpType::CLIP;
      fb::ClipOptionsT opt;
      opt.min = n.Float("min", -3.402823466e+38f);
      opt.max = n.Float("max", 3.402823466e+38f);
      op->options.Set(std::move(opt));
    } else if (o == "Cast") {
      op->type = OpType::CAST;
      fb::CastOptionsT opt;
      switch (n.Int("to", 1)) {
        case 1: opt.to = fb::DType::F32; break;
        case 10: opt.to = fb::DType::F16; break;
        case 3: opt.to = fb::DType::I8; break;
        case 2: opt.to = fb::DType::U8; break;
        case 6: opt.to = fb::DType::I32; break;
        case 7: opt.to = fb::DType::I64; break;
        case 9: opt.to = fb::DType::BOOL; break;
        default: return Err(n, absl::StrCat("attribute 'to': data type ", n.Int("to", 1), " is not supported"));
      }
      op->options.Set(std::move(opt));
    } else if (o == "Conv" || o == "ConvTranspose") {
      op->type = o == "Conv" ? OpType::CONV : OpType::CONV_TRANSPOSE;
      if (n.Has("output_shape")) return Err(n, "attribute 'output_shape' is not supported (use pads)");
      fb::ConvOptionsT opt;
      opt.fused_activation = static_cast<fb::Activation>(n.Int("activation", 0));
      opt.group = static_cast<int32_t>(n.Int("group", 1));
      opt.strides = I32(n.Ints("strides"));
      opt.dilations = I32(n.Ints("dilations"));
      opt.pads = I32(n.Ints("pads"));
      opt.output_padding = I32(n.Ints("output_padding"));
      opt.auto_pad = AutoPad(n.Str("auto_pad", "NOTSET"));
      op->options.Set(std::move(opt));
    } else if (o == "Softmax" || o == "LogSoftmax") {
      op->type = o == "Softmax" ? OpType::SOFTMAX : OpType::LOG_SOFTMAX;
      fb::AxisOptionsT opt;
      opt.axis = static_cast<int32_t>(n.Int("axis", -1));
      op->options.Set(std::move(opt));
    } else if (o == "LayerNormalization" || o == "BatchNormalization") {
      op->type = o == "LayerNormalization" ? OpType::LAYER_NORM : OpType::BATCH_NORM;
      fb::LayerNormOptionsT opt;
      opt.axis = static_cast<int32_t>(n.Int("axis", -1));
      opt.epsilon = n.Float("epsilon", 1e-5f);
      op->options.Set(std::move(opt));
      if (o == "LayerNormalization" && n.outputs.size() > 1) {
        for (size_t i = 1; i < n.outputs.size(); ++i)
          if (!n.outputs[i].empty() && g_.IsOutput(n.outputs[i])) return Err(n, "Mean/InvStdDev outputs are not supported");
      }
    } else if (o == "MaxPool" || o == "AveragePool") {
      op->type = o == "MaxPool" ? OpType::MAX_POOL : OpType::AVERAGE_POOL;
      if (o == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty()) return Err(n, "the Indices output is not supported");
      if (n.Int("storage_order", 0) != 0) return Err(n, "storage_order=1 is not supported");
      fb::PoolOptionsT opt;
      opt.kernel_shape = I32(n.Ints("kernel_shape"));
      opt.strides = I32(n.Ints("strides"));
      opt.dilations = I32(n.Ints("dilations"));
      opt.pads = I32(n.Ints("pads"));
      opt.auto_pad = AutoPad(n.Str("auto_pad", "NOTSET"));
      opt.ceil_mode = n.Int("ceil_mode", 0) != 0;
      opt.count_include_pad = n.Int("count_include_pad", 0) != 0;
      op->options.Set(std::move(opt));
    } else if (o == "ArgMax" || o == "ArgMin") {
      op->type = o == "ArgMax" ? OpType::ARG_MAX : OpType::ARG_MIN;
      fb::ArgOptionsT opt;
      opt.axis = static_cast<int32_t>(n.Int("axis", 0));
      opt.keepdims = n.Int("keepdims", 1) != 0;
      opt.select_last_index = n.Int("select_last_index", 0) != 0;
      op->options.Set(std::move(opt));
    } else if (o == "TopK") {
      op->type = OpType::TOP_K;
      fb::TopKOptionsT opt;
      opt.axis = static_cast<int32_t>(n.Int("axis", -1));
      opt.largest = n.Int("largest", 1) != 0;
      opt.sorted = n.Int("sorted", 1) != 0;
      op->options.Set(std::move(opt));
    } else if (o == "Reshape") {
      op->type = OpType::RESHAPE;
      fb::ReshapeOptionsT opt;
      opt.allowzero = n.Int("allowzero", 0) != 0;
      op->options.Set(std::move(opt));
    } else if (o == "Transpose") {
      op->type = OpType::TRANSPOSE;
      fb::TransposeOptionsT opt;
      opt.perm = I32(n.Ints("perm"));
      op->options.Set(std::move(opt));
    } else if (o == "Concat" || o == "Gather" || o == "GatherElements" || o == "Flatten" ||
               o == "QuantizeLinear" || o == "DequantizeLinear") {
      op->type = o == "Concat" ? OpType::CONCAT : o == "Gather" ? OpType::GATHER
               : o == "GatherElements" ? OpType::GATHER_ELEMENTS : o == "Flatten" ? OpType::FLATTEN
               : o == "QuantizeLinear" ? OpType::QUANTIZE_LINEAR : OpType::DEQUANTIZE_LINEAR;
      fb::AxisOptionsT opt;
      opt.axis = static_cast<int32_t>(n.Int("axis", (o == "Flatten" || o.find("Linear") != std::string::npos) ? 1 : 0));
      op->options.Set(std::move(opt));
    } else if (o == "Split") {
      op->type = OpType::SPLIT;
      fb::SplitOptionsT opt;
      opt.axis = static_cast<int32_t>(n.Int("axis", 0));
      opt.num_outputs = static_cast<int32_t>(n.outputs.size());
      op->options.Set(std::move(opt));
    } else if (o == "Shape") {
      op->type = OpType::SHAPE;
      fb::SliceRangeOptionsT opt;
      opt.start = n.Int("start", 0);
      if (n.Has("end")) opt.end = n.Int("end", 0);
      op->options.Set(std::move(opt));
    } else if (o == "Pad") {
      op->type = OpType::PAD;
      fb::PadOptionsT opt;
      std::string m = n.Str("mode", "constant");
      opt.mode = m == "reflect" ? 1 : m == "edge" ? 2 : 0;
      if (m != "constant" && m != "reflect" && m != "edge") return Err(n, absl::StrCat("mode '", m, "' is not supported"));
      if (inputs.size() > 3) return Err(n, "the axes input is not supported");
      op->options.Set(std::move(opt));
    } else if (o == "Resize") {
      op->type = OpType::RESIZE;
      fb::ResizeOptionsT opt;
      std::string m = n.Str("mode", "nearest");
      opt.mode = m == "linear" ? 1 : m == "cubic" ? 2 : 0;
      std::string c = n.Str("coordinate_transformation_mode", "half_pixel");
      opt.coordinate_transformation = c == "asymmetric" ? 1 : c == "align_corners" ? 2
                                    : c == "pytorch_half_pixel" ? 3 : c == "tf_crop_and_resize" ? 4 : 0;
      if (c == "tf_half_pixel_for_nn") return Err(n, "coordinate_transformation_mode 'tf_half_pixel_for_nn' is not supported");
      std::string nm = n.Str("nearest_mode", "round_prefer_floor");
      opt.nearest_mode = nm == "round_prefer_ceil" ? 1 : nm == "floor" ? 2 : nm == "ceil" ? 3 : 0;
      opt.cubic_coeff_a = n.Float("cubic_coeff_a", -0.75f);
      opt.exclude_outside = n.Int("exclude_outside", 0) != 0;
      opt.extrapolation_value = n.Float("extrapolation_value", 0.0f);
      op->options.Set(std::move(opt));
      if (g_.opset < 11) inputs = {n.In(0), "", n.In(1)};  // opset 10: x, scales
    } else if (o == "Einsum") {
      op->type = OpType::EINSUM;
      fb::EinsumOptionsT opt;
      opt.equation = n.Str("equation", "");
      op->options.Set(std::move(opt));
    } else if (o == "Gemm") {
      return Err(n, "Gemm with a constant B, transB=1 and a non-broadcast [M, N] C is not supported");
    } else if (o == "Size") {
      return Err(n, "Size of a dynamically shaped tensor is not supported");
    } else {
      return Err(n, "no edgert op for this node");
    }
    for (const auto& i : inputs) op->inputs.push_back(TensorIndex(i));
    std::vector<std::string> outs = n.outputs;
    while (outs.size() > 1 && outs.back().empty()) outs.pop_back();
    for (const auto& x : outs) op->outputs.push_back(TensorIndex(x));
    out_.model.operators.push_back(std::move(op));
    return absl::OkStatus();
  }

  const Graph& g_;
  Lowered out_;
  std::map<std::string, int32_t> index_;
  int unknown_dims_ = 0;
};

}  // namespace

bool IsSupportedOnnxOp(const std::string& domain, const std::string& op) {
  if (!domain.empty() && domain != "ai.onnx") return false;
  return BinaryOps().count(op) || PlainOps().count(op) || ReduceOps().count(op) || OtherOps().count(op);
}

absl::StatusOr<Lowered> Lower(const Graph& g, const std::vector<std::string>& extra_outputs) {
  return Lowerer(g).Run(extra_outputs);
}

absl::StatusOr<std::string> LowerAndSerialize(const Graph& g, const fb::MetadataT* metadata,
                                              const std::vector<std::string>& extra_outputs) {
  absl::StatusOr<Lowered> l = Lower(g, extra_outputs);
  if (!l.ok()) return l.status();
  if (metadata) l->model.metadata = std::make_unique<fb::MetadataT>(*metadata);
  std::vector<std::string_view> views(l->blobs.begin(), l->blobs.end());
  return format::SerializeEfb(l->model, views);
}

}  // namespace edgert::converter
