// Converter passes. Each returns a one-line absl::Status naming file / node / op / field on bad
// input; none of them aborts on input.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir.h"

namespace onnx {
class ModelProto;
}

namespace edgert::converter {

// Reads an ONNX file (weights may live in external data files next to it), checks every op is
// supported (listing all that are not), runs ONNX shape inference, builds the IR.
absl::StatusOr<Graph> ImportOnnxFile(const std::string& path);
// Same from a parsed model; `base_dir` resolves external data, `label` prefixes errors.
absl::StatusOr<Graph> ImportOnnxModel(onnx::ModelProto& model, const std::string& base_dir,
                                      const std::string& label);

// ONNX ops edgert can represent (directly or after rewriting).
bool IsSupportedOnnxOp(const std::string& domain, const std::string& op);

// Rewrites opset differences to one form: attribute-style axes become inputs or options as
// the .efb op expects, Identity/Dropout are removed, Constant-like attributes become tensors.
absl::Status Normalize(Graph& g);

// Evaluates nodes whose inputs are all constant (and Shape of statically shaped tensors).
// Returns the number of nodes folded.
absl::StatusOr<int> FoldConstants(Graph& g);
// Removes nodes whose outputs nobody reads. Returns the number removed.
int RemoveDeadCode(Graph& g);
// ONNX shape and type inference again over the live ai.onnx nodes (after folding / fusions):
// fills unknown types and shapes and fixes dynamic dims that became known; never changes a
// known dim and never fails. Returns the number of tensors that became more precise.
int InferShapesAgain(Graph& g);

struct FusionStats {
  int fully_connected = 0, bias = 0, conv_bn = 0, activation = 0, layer_norm = 0, gelu = 0,
      silu = 0, qdq_weights = 0, scaled_softmax = 0, attention = 0, residual_layer_norm = 0;
};
// Individual fusions (exposed for tests); Fuse runs them all in the right order.
int FuseQdqWeights(Graph& g);
int FuseLayerNorm(Graph& g);
int FuseGelu(Graph& g);
int FuseSilu(Graph& g);
int FuseConvBatchNorm(Graph& g);
int FuseMatMulToFullyConnected(Graph& g);
int FuseBias(Graph& g);
int FuseActivation(Graph& g);
// Mul|Div(x, scalar) -> Add(mask) -> Softmax(last axis) (either of the first two may be absent)
// into the edgert op ScaledSoftmax(x, mask?) {scale, divide}: bit-identical, one pass.
int FuseScaledSoftmax(Graph& g);
// Add(a, b) -> LayerNormalization (the Add read by nothing else, a and b float of one shape) into
// the edgert op ResidualLayerNorm(a, scale, bias?, b) = LAYER_NORM with a residual input.
int FuseResidualLayerNorm(Graph& g);
// The transformer attention block: Reshape -> Transpose of q, k (perm 0,2,3,1) and v [B, S, H*D]
// to heads, MatMul -> ScaledSoftmax -> MatMul, Transpose -> Reshape back to [B, Sq, H*Dv], into
// the edgert op Attention(q, k, v, mask?) {num_heads, scale, divide}: bit-identical (runs after
// FuseScaledSoftmax).
int FuseAttention(Graph& g);
absl::StatusOr<FusionStats> Fuse(Graph& g);

}  // namespace edgert::converter
