// The interface every operator implements: shape/dtype inference (at plan time) and run.
// Ops live in runtime/src/ops/*.cc and register themselves in registry.cc.
#pragma once

#include <pthreadpool.h>

#include <memory>
#include <string>
#include <vector>

#include "../common.h"

namespace edgert::kernels {
enum class Activation : int;  // edgert/kernels/gemm.h
}  // namespace edgert::kernels

namespace edgert {

class Model;

// A tensor as an op sees it. At plan time `data` is non-null only when the value is known
// before the run (a constant, or computed from constants and shapes); during a run it is always
// set for present tensors.
struct Value {
  DType dtype = DType::F32;
  Shape shape;
  void* data = nullptr;
  bool known_at_plan = false;
  // Runtime-internal layout, set by Session::Plan: a rank-4 [N, C, H, W] value stored as
  // [N, H, W, C] between convolutions that support it (shape stays logical NCHW). Only Conv
  // and same-shape Add ever see one (see ConvChannelsLastCaps, session.cc).
  bool channels_last = false;
  template <typename T> T* as() const { return static_cast<T*>(data); }
  int64_t num_elements() const { return NumElementsUnchecked(shape); }
  int64_t bytes() const { return DTypeBytes(dtype, num_elements()); }
  int rank() const { return static_cast<int>(shape.size()); }
};

// Kinds of OpContext::quantized_input_kind: the input quantization of the kernels' qc8w and qb4w
// GEMMs (kernels::QGemmQc8w / QGemmQb4w with their workspace).
constexpr int kQuantizedInputQc8w = 1, kQuantizedInputQb4w = 2;

class OpContext {
 public:
  const Model* model = nullptr;
  const fb::Operator* op = nullptr;
  int op_index = 0;
  std::vector<Value*> in;   // nullptr for an optional input left out
  std::vector<Value*> out;
  const void* prepared = nullptr;  // state made once per model by OpDef::prepare
  size_t workspace_bytes = 0;      // set by infer; the planner provides it at run
  void* workspace = nullptr;
  // Set by infer when the op quantizes input 0 into its workspace (a nonzero kind: ops of one
  // kind quantize a tensor the same way). When the op planned just before has the same kind,
  // input 0 and workspace size, the planner gives both one workspace and sets
  // input_prequantized: the quantized input is already there.
  int quantized_input_kind = 0;  // kQuantizedInputQc8w / kQuantizedInputQb4w
  bool input_prequantized = false;
  pthreadpool_t pool = nullptr;

  size_t num_inputs() const { return in.size(); }
  bool has_input(size_t i) const { return i < in.size() && in[i] != nullptr; }
  // "op 'name' (ADD): msg"
  absl::Status Error(const std::string& msg) const;
  template <typename T> const T* options() const;
};

using InferFn = absl::Status (*)(OpContext&);
using RunFn = absl::Status (*)(OpContext&);
// Builds per-model state once at load (e.g. packed weights). May return nullptr.
using PrepareFn = absl::StatusOr<std::shared_ptr<void>> (*)(const Model&, const fb::Operator&);

struct OpDef {
  fb::OpType type;
  fb::OpOptions options;  // the options table this op expects; NONE = none
  int min_inputs, max_inputs;
  int min_outputs, max_outputs;
  InferFn infer;
  RunFn run;
  PrepareFn prepare = nullptr;
  bool options_required = true;  // if false, the options table may be absent (defaults apply)
  bool reads_input_values = true;  // false: only input shapes matter (Shape), so it folds at plan time
};

// nullptr for an op type this runtime does not know.
const OpDef* FindOp(fb::OpType type);
const char* OpTypeName(fb::OpType type);

// Registration: each ops/*.cc file defines a function that appends its ops.
void RegisterElementwiseOps(std::vector<OpDef>& ops);
void RegisterLinalgOps(std::vector<OpDef>& ops);
void RegisterNormOps(std::vector<OpDef>& ops);
void RegisterShapeOps(std::vector<OpDef>& ops);
void RegisterReduceOps(std::vector<OpDef>& ops);
void RegisterConvOps(std::vector<OpDef>& ops);
void RegisterPadOps(std::vector<OpDef>& ops);     // Pad, Resize
void RegisterQuantOps(std::vector<OpDef>& ops);   // QuantizeLinear, DequantizeLinear
void RegisterEinsumOps(std::vector<OpDef>& ops);
void RegisterAttentionOps(std::vector<OpDef>& ops);

template <typename T>
const T* OpContext::options() const {
  return op->options_as<T>();
}

// Shared helpers for ops.
// Normalizes a possibly negative axis against rank; error if out of range.
absl::StatusOr<int> NormalizeAxis(const OpContext& ctx, int64_t axis, int rank, const char* what = "axis");
// Reads an integer tensor (I32 or I64) known at plan time into a vector.
absl::StatusOr<std::vector<int64_t>> ReadInts(const OpContext& ctx, size_t input, const char* what);
// numpy broadcasting of two shapes.
absl::StatusOr<Shape> BroadcastShapes(const OpContext& ctx, const Shape& a, const Shape& b);
// Element strides of `s` right-aligned to an output of rank r (0 where s has 1 or no dim).
std::vector<int64_t> BroadcastStrides(const Shape& s, size_t r);
absl::Status ExpectDType(const OpContext& ctx, size_t input, DType want);
absl::Status ExpectFloat(const OpContext& ctx, size_t input);
// Scales of a verified quantized tensor as f32 (inline, or an f32/f16 buffer); linalg.cc.
std::vector<float> ReadQuantScales(const Model& m, const fb::Quantization& q, size_t count);
// Which layouts a planned Conv can take (conv.cc): in_ok = input 0 may be channels-last,
// out_ok = output may be channels-last, tied = input and output must have the same layout.
struct ConvLayoutCaps {
  bool in_ok = false, out_ok = false, tied = false;
};
ConvLayoutCaps ConvChannelsLastCaps(const OpContext& ctx);
// A chain of Convs run as one parallel region (conv.cc): [expand ->] depthwise [-> pointwise],
// consecutive ops whose intermediate outputs only the next op reads, channels-last (the expand
// is a 1x1 Conv, or a KxK one reading an NCHW input such as the stem's image). Output
// rows go to threads in bands; each band runs every stage on L2-sized chunks of rows. Results
// are bit for bit those of the ops run one by one.
struct ConvChain;
// nullptr when the ops do not form a chain conv.cc fuses (they then run one by one). `expand` or
// `project` may be null, not both; `threads`: the pool's thread count.
std::shared_ptr<ConvChain> PlanConvChain(const OpContext* expand, const OpContext& dw, const OpContext* project,
                                         size_t threads);
size_t ConvChainWorkspaceBytes(const ConvChain& chain);  // 64-byte aligned workspace for a run
void RunConvChain(const ConvChain& chain, void* workspace, pthreadpool_t pool);
// The kernels' activation for a fused fb::Activation; elementwise.cc.
kernels::Activation ToKernelActivation(fb::Activation a);

}  // namespace edgert
