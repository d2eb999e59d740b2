// Helpers for converter tests: build small ONNX graphs with the protobuf API, convert them,
// read the .efb back with the generated FlatBuffers code.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "edgert/schema/container.h"
#include "edgert/schema/edgert_generated.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"

namespace edgert::converter::testing {

inline std::string TempDir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/edgert_conv_test_XXXXXX";
    char* d = mkdtemp(tmpl);
    return std::string(d ? d : "/tmp");
  }();
  return dir;
}

inline std::string TestPath(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = info ? std::string(info->test_suite_name()) + "." + info->name() : "x";
  for (char& c : id) if (c == '/') c = '_';
  std::string p = TempDir() + "/" + id;
  mkdir(p.c_str(), 0755);
  return p + "/" + name;
}

inline bool FileExists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 17) {
    m_.set_ir_version(8);
    m_.set_producer_name("edgert-test");
    auto* os = m_.add_opset_import();
    os->set_domain("");
    os->set_version(opset);
    g_ = m_.mutable_graph();
    g_->set_name("test");
  }
  // dims: -1 = dynamic "batch"-style dim named by `dyn_names` in order (or "dN").
  OnnxBuilder& Input(const std::string& name, const std::vector<int64_t>& dims,
                     int elem = onnx::TensorProto::FLOAT, const std::vector<std::string>& dyn = {}) {
    SetVi(g_->add_input(), name, dims, elem, dyn);
    return *this;
  }
  OnnxBuilder& Output(const std::string& name, int elem = onnx::TensorProto::FLOAT) {
    auto* vi = g_->add_output();
    vi->set_name(name);
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
    return *this;
  }
  OnnxBuilder& OutputShaped(const std::string& name, const std::vector<int64_t>& dims,
                            int elem = onnx::TensorProto::FLOAT) {
    SetVi(g_->add_output(), name, dims, elem, {});
    return *this;
  }
  onnx::TensorProto* Init(const std::string& name, const std::vector<int64_t>& dims,
                          const std::vector<float>& v) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
    return t;
  }
  onnx::TensorProto* InitI64(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<int64_t>& v) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (auto d : dims) t->add_dims(d);
    for (auto x : v) t->add_int64_data(x);
    return t;
  }
  onnx::TensorProto* InitI8(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<int8_t>& v) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT8);
    for (auto d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size()));
    return t;
  }
  onnx::TensorProto* Scalar(const std::string& name, float v) { return Init(name, {}, {v}); }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out, const std::string& name = "") {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? out.at(0) + "_node" : name);
    for (auto& i : in) n->add_input(i);
    for (auto& o : out) n->add_output(o);
    return n;
  }
  static void AttrI(onnx::NodeProto* n, const std::string& k, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void AttrF(onnx::NodeProto* n, const std::string& k, float v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void AttrInts(onnx::NodeProto* n, const std::string& k, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  std::string Save(const std::string& path) {
    std::ofstream f(path, std::ios::binary);
    m_.SerializeToOstream(&f);
    return path;
  }
  onnx::ModelProto& model() { return m_; }

 private:
  void SetVi(onnx::ValueInfoProto* vi, const std::string& name, const std::vector<int64_t>& dims,
             int elem, const std::vector<std::string>& dyn) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* sh = tt->mutable_shape();
    size_t k = 0;
    for (auto d : dims) {
      auto* dim = sh->add_dim();
      if (d >= 0) dim->set_dim_value(d);
      else dim->set_dim_param(k < dyn.size() ? dyn[k++] : "d" + std::to_string(k++));
    }
  }
  onnx::ModelProto m_;
  onnx::GraphProto* g_;
};

// A loaded .efb: the unpacked model plus the weight segment.
struct Efb {
  std::string bytes;
  std::unique_ptr<fb::ModelT> model;
  format::FileHeader header;

  std::string_view Buffer(int index) const {
    const auto& b = model->buffers.at(index);
    return std::string_view(bytes.data() + header.segment_offset + b.offset(), b.size());
  }
  const fb::TensorT& T(int index) const { return *model->tensors.at(index); }
  std::vector<float> Floats(int tensor) const {
    std::string_view b = Buffer(T(tensor).buffer);
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
  }
  std::vector<fb::OpType> OpTypes() const {
    std::vector<fb::OpType> r;
    for (const auto& o : model->operators) r.push_back(o->type);
    return r;
  }
  const fb::OperatorT* FindOp(fb::OpType t) const {
    for (const auto& o : model->operators) if (o->type == t) return o.get();
    return nullptr;
  }
  const fb::OperatorT* FindOpNamed(const std::string& name) const {
    for (const auto& o : model->operators) if (o->name == name) return o.get();
    return nullptr;
  }
  std::string Meta(const std::string& key) const {
    if (!model->metadata) return "";
    for (const auto& kv : model->metadata->extra) if (kv->key == key) return kv->value;
    return "";
  }
};

inline Efb LoadEfb(const std::string& path) {
  Efb e;
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  e.bytes = ss.str();
  EXPECT_GE(e.bytes.size(), sizeof(format::FileHeader));
  if (e.bytes.size() < sizeof(format::FileHeader)) return e;
  std::memcpy(&e.header, e.bytes.data(), sizeof(e.header));
  EXPECT_EQ(std::memcmp(e.header.magic, format::kMagic, 8), 0);
  EXPECT_EQ(e.header.file_size, e.bytes.size());
  EXPECT_EQ(e.header.segment_offset % 64, 0u);
  const uint8_t* root = reinterpret_cast<const uint8_t*>(e.bytes.data()) + e.header.flatbuffer_offset;
  flatbuffers::Verifier v(root, e.header.flatbuffer_size);
  EXPECT_TRUE(fb::VerifyModelBuffer(v));
  e.model.reset(fb::GetModel(root)->UnPack());
  for (const auto& b : e.model->buffers) {
    EXPECT_EQ(b.offset() % 64, 0u);
    EXPECT_LE(b.offset() + b.size(), e.header.segment_size);
  }
  return e;
}

inline std::vector<float> Randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::vector<float> v(n);
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (size_t i = 0; i < n; ++i) {
    // sum of 4 uniforms ~ normal-ish
    float acc = 0;
    for (int k = 0; k < 4; ++k) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      acc += static_cast<float>((s >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f;
    }
    v[i] = acc * 1.7320508f * scale;
  }
  return v;
}

}  // namespace edgert::converter::testing
