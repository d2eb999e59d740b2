// The converter's in-memory graph: ONNX-like nodes over named tensors, constants held as raw
// little-endian bytes. Import fills it, passes rewrite it, lowering turns it into an .efb model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace edgert::converter {

enum class DType { kF32, kF16, kI8, kU8, kI4, kI32, kI64, kBool, kUnknown };
const char* DTypeName(DType t);
// Bytes per element (I4: 1, callers handle packing). kUnknown: 0.
size_t DTypeSize(DType t);
bool IsFloat(DType t);

// value >= 0 is fixed; value == -1 is dynamic (name may be empty when unknown).
struct Dim {
  int64_t value = -1;
  std::string name;
};

struct Quant {
  int scheme = 0;  // fb::QuantScheme value
  int axis = 0;
  int block = 0;
  std::vector<float> scales;
  std::vector<int64_t> zero_points;  // empty = symmetric
  bool scales_in_buffer = false;     // PER_BLOCK: scales / zero points go to the weight segment
  bool scales_f16 = false;
};

struct Tensor {
  std::string name;
  DType dtype = DType::kUnknown;
  bool shape_known = false;
  std::vector<Dim> dims;
  bool is_const = false;
  std::string data;  // constants: raw little-endian bytes
  std::optional<Quant> quant;
  // Weights imported from a QDQ model (DequantizeLinear of int8 with zero point 0): the source
  // scales along `qdq->axis`, so int8 quantization reproduces the original values exactly.
  std::optional<Quant> qdq;

  bool StaticShape() const;
  std::vector<int64_t> Shape() const;  // fixed dims; -1 for dynamic ones
  int64_t NumElements() const;         // -1 unless the shape is static
};

struct Attr {
  enum Kind { kInt, kFloat, kString, kInts, kFloats, kTensor, kOther } kind = kOther;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::shared_ptr<Tensor> t;
};

struct Node {
  std::string name;
  std::string op;      // ONNX op type, or an edgert-internal one (domain "edgert")
  std::string domain;  // "" = ai.onnx
  std::vector<std::string> inputs;  // "" = optional input left out
  std::vector<std::string> outputs;
  std::map<std::string, Attr> attrs;
  bool dead = false;

  bool Has(const std::string& a) const { return attrs.count(a) != 0; }
  int64_t Int(const std::string& a, int64_t def) const;
  float Float(const std::string& a, float def) const;
  std::string Str(const std::string& a, const std::string& def) const;
  std::vector<int64_t> Ints(const std::string& a) const;
  std::vector<float> Floats(const std::string& a) const;
  void SetInt(const std::string& a, int64_t v);
  void SetFloat(const std::string& a, float v);
  void SetInts(const std::string& a, std::vector<int64_t> v);
  std::string In(size_t i) const { return i < inputs.size() ? inputs[i] : std::string(); }
};

struct Graph {
  int64_t opset = 0;  // ai.onnx opset of the source model
  std::string source_path;
  std::unordered_map<std::string, Tensor> tensors;
  std::vector<Node> nodes;  // topological order (kept by every pass)
  std::vector<std::string> inputs, outputs;

  Tensor* Find(const std::string& name);
  const Tensor* Find(const std::string& name) const;
  bool IsConst(const std::string& name) const;
  bool IsOutput(const std::string& name) const;
  // A tensor name not used yet, derived from `base`.
  std::string UniqueName(const std::string& base);
  // Adds (or replaces) a constant tensor.
  Tensor& AddConst(Tensor t);
  // Number of live node inputs reading `name` (+1 if it is a graph output).
  std::unordered_map<std::string, int> UseCounts() const;
  // For each tensor, the live nodes (indices) reading it.
  std::unordered_map<std::string, std::vector<size_t>> Consumers() const;
  std::unordered_map<std::string, size_t> Producers() const;
  // Removes dead nodes and tensors no longer referenced.
  void Compact();

 private:
  int64_t unique_counter_ = 0;
};

// ---- constant data helpers ----
std::vector<float> ToFloats(const Tensor& t);    // any numeric dtype
std::vector<int64_t> ToInt64s(const Tensor& t);  // any integer / bool dtype (floats truncated)
Tensor MakeF32(const std::string& name, const std::vector<int64_t>& shape,
               const std::vector<float>& v);
Tensor MakeI64(const std::string& name, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& v);
void SetStaticShape(Tensor& t, const std::vector<int64_t>& shape);
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
// Replaces every read of `from` by `to` in live nodes and graph outputs.
void ReplaceUses(Graph& g, const std::string& from, const std::string& to);

}  // namespace edgert::converter
