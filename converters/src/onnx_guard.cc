#include "onnx_guard.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "onnx/defs/shape_inference.h"

namespace edgert::converter {
namespace {

using onnx::InferenceContext;

// Rank of input i when its shape is known (declared or inferred), else -1.
int InputRank(InferenceContext& ctx, size_t i) {
  if (i >= ctx.getNumInputs()) return -1;
  const onnx::TypeProto* t = ctx.getInputType(i);
  if (!t || t->value_case() != onnx::TypeProto::kTensorType || !t->tensor_type().has_shape()) return -1;
  return t->tensor_type().shape().dim_size();
}

// Conv-like ops and pools: the spatial attributes must match the input's spatial rank, and the
// weight (when there is one) must have the input's rank. w < 0: no weight input.
void CheckConvPool(InferenceContext& ctx, int w) {
  const int rx = InputRank(ctx, 0);
  const int rw = w >= 0 ? InputRank(ctx, static_cast<size_t>(w)) : -1;
  if (rx >= 0 && rx < 3) fail_shape_inference("input X has rank ", rx, " (expected at least 3: N x C x D1...)");
  if (rw >= 0 && rw < 3) fail_shape_inference("weight has rank ", rw, " (expected at least 3: M x C x k1...)");
  if (rx >= 0 && rw >= 0 && rx != rw) {
    fail_shape_inference("input X has rank ", rx, " but the weight has rank ", rw, " (expected equal)");
  }
  const int spatial = rx >= 0 ? rx - 2 : (rw >= 0 ? rw - 2 : -1);
  for (const char* name : {"kernel_shape", "strides", "dilations", "pads", "output_shape", "output_padding"}) {
    const onnx::AttributeProto* a = ctx.getAttribute(name);
    if (!a) continue;
    const bool pads = std::string(name) == "pads";
    const int want = spatial < 0 ? -1 : (pads ? 2 * spatial : spatial);
    if (want >= 0 && a->ints_size() != want) {
      fail_shape_inference("attribute ", name, " has ", a->ints_size(), " values (expected ", want, ")");
    }
    const bool positive = std::string(name) == "kernel_shape" || std::string(name) == "strides" ||
                          std::string(name) == "dilations";
    for (int64_t v : a->ints()) {
      if (positive && v < 1) fail_shape_inference("attribute ", name, " must be >= 1, got ", v);
    }
  }
  if (const onnx::AttributeProto* g = ctx.getAttribute("group"); g && g->i() < 1) {
    fail_shape_inference("attribute group must be >= 1, got ", g->i());
  }
}

// An `axis` attribute of an op that indexes input 0's dims: [-r, r) (`extra` = 1: [-r, r], as
// Flatten). libonnx 1.12's Softmax inference indexed the shape with an out-of-range axis
// (fuzz_onnx: SEGV on Softmax axis -9 of a rank-4 input whose rank was only known after
// inferring the MatMul before it).
void CheckAxis(InferenceContext& ctx, int extra) {
  const int r = InputRank(ctx, 0);
  const onnx::AttributeProto* a = ctx.getAttribute("axis");
  if (r < 0 || !a) return;
  if (a->i() < -r || a->i() >= r + extra) {
    fail_shape_inference("axis ", a->i(), " is out of range for input rank ", r);
  }
}

using Check = std::function<void(InferenceContext&)>;

Check CheckFor(const std::string& op) {
  if (op == "Conv" || op == "ConvTranspose" || op == "ConvInteger") {
    return [](InferenceContext& ctx) { CheckConvPool(ctx, 1); };
  }
  if (op == "QLinearConv") return [](InferenceContext& ctx) { CheckConvPool(ctx, 3); };
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") {
    return [](InferenceContext& ctx) { CheckConvPool(ctx, -1); };
  }
  if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax" || op == "Gather" || op == "GatherElements" ||
      op == "Split" || op == "Concat" || op == "ArgMax" || op == "ArgMin" || op == "LpNormalization" ||
      op == "TopK") {
    return [](InferenceContext& ctx) { CheckAxis(ctx, 0); };
  }
  if (op == "Flatten") return [](InferenceContext& ctx) { CheckAxis(ctx, 1); };
  return nullptr;
}

class GuardedRegistry final : public onnx::ISchemaRegistry {
 public:
  const onnx::OpSchema* GetSchema(const std::string& key, const int max_inclusive_version,
                                  const std::string& domain) const override {
    const onnx::OpSchema* s = onnx::OpSchemaRegistry::Schema(key, max_inclusive_version, domain);
    if (!s || !(domain.empty() || domain == "ai.onnx")) return s;
    Check specific = CheckFor(key);
    // Every op: input 0 must have a type. After a node's inference fails (or is skipped), its
    // outputs have none, and several libonnx 1.12 inference functions dereference
    // getInputType(0) unchecked (fuzz_onnx: SEGV in the MatMul after a Softmax with axis -9).
    // Loop is the one ai.onnx op whose input 0 is optional.
    const bool typed0 = key != "Loop" && s->inputs().size() > 0;
    Check check = [specific, typed0](InferenceContext& ctx) {
      if (typed0 && ctx.getNumInputs() > 0 && ctx.getInputType(0) == nullptr) {
        fail_shape_inference("input 0 has no type (the node that makes it failed shape inference)");
      }
      if (specific) specific(ctx);
    };
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<onnx::OpSchema>& guarded = guarded_[s];
    if (!guarded) {
      guarded = std::make_unique<onnx::OpSchema>(*s);
      onnx::InferenceFunction original = s->GetTypeAndShapeInferenceFunction();
      guarded->TypeAndShapeInferenceFunction([check, original](InferenceContext& ctx) {
        check(ctx);
        original(ctx);
      });
    }
    return guarded.get();
  }

 private:
  mutable std::mutex mu_;
  mutable std::map<const onnx::OpSchema*, std::unique_ptr<onnx::OpSchema>> guarded_;
};

}  // namespace

const onnx::ISchemaRegistry* GuardedSchemaRegistry() {
  static const GuardedRegistry* registry = new GuardedRegistry();  // never destroyed: used at exit
  return registry;
}

}  // namespace edgert::converter
