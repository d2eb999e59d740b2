// Builds small .efb models in tests (until the converter makes them, and for malformed files).
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "edgert/schema/edgert_generated.h"
#include "edgert/schema/writer.h"

namespace edgert::test {

struct D {  // a dim: fixed value, or dynamic with a name
  int64_t value;
  std::string name;
  D(int64_t v) : value(v) {}  // NOLINT: implicit for brevity in tests
  D(const char* n) : value(-1), name(n) {}  // NOLINT
};

class ModelBuilder {
 public:
  ModelBuilder() { model_.metadata = std::make_unique<fb::MetadataT>(); model_.metadata->producer = "edgert tests"; }

  int Tensor(const std::string& name, fb::DType dtype, const std::vector<D>& dims) {
    auto t = std::make_unique<fb::TensorT>();
    t->name = name;
    t->dtype = dtype;
    for (const D& d : dims) {
      auto dim = std::make_unique<fb::DimT>();
      dim->value = d.value;
      dim->name = d.name;
      t->shape.push_back(std::move(dim));
    }
    model_.tensors.push_back(std::move(t));
    return static_cast<int>(model_.tensors.size()) - 1;
  }
  int Input(const std::string& name, fb::DType dtype, const std::vector<D>& dims) {
    int t = Tensor(name, dtype, dims);
    model_.inputs.push_back(t);
    return t;
  }
  int Blob(const void* data, size_t bytes) {
    blobs_.emplace_back(static_cast<const char*>(data), bytes);
    return static_cast<int>(blobs_.size()) - 1;
  }
  int Const(const std::string& name, fb::DType dtype, const std::vector<D>& dims, const void* data, size_t bytes) {
    int t = Tensor(name, dtype, dims);
    model_.tensors[static_cast<size_t>(t)]->buffer = Blob(data, bytes);
    return t;
  }
  int ConstF32(const std::string& name, const std::vector<D>& dims, const std::vector<float>& v) {
    return Const(name, fb::DType::F32, dims, v.data(), v.size() * 4);
  }
  int ConstI64(const std::string& name, const std::vector<D>& dims, const std::vector<int64_t>& v) {
    return Const(name, fb::DType::I64, dims, v.data(), v.size() * 8);
  }
  // Adds an op; `options` may be empty (NONE).
  int Op(fb::OpType type, const std::vector<int>& inputs, const std::vector<int>& outputs,
         fb::OpOptionsUnion options = {}, const std::string& name = "") {
    auto op = std::make_unique<fb::OperatorT>();
    op->type = type;
    op->inputs = inputs;
    op->outputs = outputs;
    op->options = std::move(options);
    op->name = name.empty() ? std::string(fb::EnumNameOpType(type)) + "_" + std::to_string(model_.operators.size()) : name;
    model_.operators.push_back(std::move(op));
    return static_cast<int>(model_.operators.size()) - 1;
  }
  void Output(int t) { model_.outputs.push_back(t); }

  fb::ModelT& model() { return model_; }
  fb::TensorT& tensor(int i) { return *model_.tensors[static_cast<size_t>(i)]; }

  std::string Build() {
    std::vector<std::string_view> views(blobs_.begin(), blobs_.end());
    auto r = format::SerializeEfb(model_, views);
    if (!r.ok()) return "";
    return *r;
  }

  template <typename T>
  static fb::OpOptionsUnion Opt(T t) {
    fb::OpOptionsUnion u;
    u.Set(std::move(t));
    return u;
  }

 private:
  fb::ModelT model_;
  std::vector<std::string> blobs_;
};

}  // namespace edgert::test
