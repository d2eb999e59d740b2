// Writes the fuzz seed corpora: make_seeds OUT_DIR -> OUT_DIR/{efb,npy,onnx}/...
// efb seeds: the test models (ModelBuilder), int8/int4 FULLY_CONNECTED, Gather, the shape-from-values
// ops, and malformed variants like tests/runtime/model_test.cc's (truncations, header fields),
// each prefixed with fuzz_efb's parameter bytes. npy seeds: every dtype, a few shapes, both
// header versions. onnx seeds: a few small graphs (scripts/fuzz.sh adds ONNX's node test models).
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "edgert/schema/container.h"
#include "npy.h"
#include "seed_models.h"
#ifdef EDGERT_SEEDS_WITH_ONNX
#include <dirent.h>

#include "lower.h"
#include "onnx/onnx_pb.h"
#include "passes.h"
#endif

namespace {

using namespace edgert;
using namespace edgert::test;

std::string out_dir;

void Write(const std::string& sub, const std::string& name, const std::string& bytes) {
  std::string d = out_dir + "/" + sub;
  ::mkdir(d.c_str(), 0755);
  std::ofstream f(d + "/" + name, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// fuzz_efb input: [P][P parameter bytes][model].
void Efb(const std::string& name, const std::string& model, const std::string& params = std::string("\x02\x03\x10\xf1", 4)) {
  std::string s(1, static_cast<char>(params.size()));
  Write("efb", name, s + params + model);
}

format::FileHeader Header(const std::string& s) {
  format::FileHeader h;
  std::memcpy(&h, s.data(), sizeof h);
  return h;
}
std::string WithHeader(std::string s, const format::FileHeader& h) {
  std::memcpy(s.data(), &h, sizeof h);
  return s;
}

void EfbSeeds() {
  const std::string small = AddReluModel().Build();
  Efb("add_relu", small);
  Efb("mlp_f32", MlpModel(WeightType::kF32).Build());
  Efb("mlp_i8", MlpModel(WeightType::kI8).Build());
  Efb("mlp_i4", MlpModel(WeightType::kI4).Build());
  Efb("gather", GatherModel().Build(), std::string("\x02\x03\x00\x09\xff\x80\x7f\x05", 8));
  Efb("scaled_softmax", ScaledSoftmaxModel().Build());
  Efb("attention", AttentionModel().Build());
  Efb("residual_layer_norm", ResidualLayerNormModel(false).Build());
  Efb("residual_layer_norm_bcast", ResidualLayerNormModel(true).Build());
  Efb("conv_chain_f32", ConvChainModel(WeightType::kF32).Build(), std::string("\x02\x07\x08\x01", 4));
  Efb("conv_chain_i8", ConvChainModel(WeightType::kI8).Build(), std::string("\x02\x05\x06\x03", 4));
  int k = 0;
  for (fb::OpType op : {fb::OpType::TILE, fb::OpType::EXPAND, fb::OpType::CONSTANT_OF_SHAPE, fb::OpType::RANGE,
                        fb::OpType::RESHAPE}) {
    Efb("shape_small_" + std::to_string(k), ShapeFromValuesModel(op, 2).Build());
    Efb("shape_huge_" + std::to_string(k), ShapeFromValuesModel(op, int64_t{1} << 20).Build());
    ++k;
  }
  // Malformed variants of the small model.
  for (size_t n : {0, 8, 40, 63, 64, 100, 200}) Efb("trunc_" + std::to_string(n), small.substr(0, std::min(n, small.size())));
  Efb("trailing", small + "xx");
  auto h = Header(small);
  auto v = h; v.format_major = 2; Efb("newer", WithHeader(small, v));
  v = h; v.flatbuffer_size = uint64_t{1} << 40; Efb("fb_size", WithHeader(small, v));
  v = h; v.segment_offset += 8; v.segment_size -= 8; Efb("seg_misaligned", WithHeader(small, v));
  v = h; v.segment_size = ~uint64_t{0} - 10; Efb("seg_overflow", WithHeader(small, v));
  {
    ModelBuilder b = AddReluModel();
    b.tensor(0).shape[1]->value = -5;
    Efb("negative_dim", b.Build());
  }
  {
    ModelBuilder b = AddReluModel();
    b.model().operators[0]->inputs[1] = 42;
    Efb("bad_index", b.Build());
  }
  {
    ModelBuilder b = AddReluModel();
    b.model().operators[0]->inputs[0] = 3;
    Efb("cycle", b.Build());
  }
  {
    ModelBuilder b = AddReluModel();  // fixed huge input dims
    b.tensor(0).shape[0]->value = int64_t{1} << 28;
    b.tensor(0).shape[0]->name = "";
    Efb("huge_fixed_input", b.Build());
  }
}

void NpySeeds() {
  int k = 0;
  for (npy::Type t : {npy::Type::kF32, npy::Type::kF16, npy::Type::kI8, npy::Type::kU8, npy::Type::kI32,
                      npy::Type::kI64, npy::Type::kBool}) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {3}, {2, 3}, {1, 0, 4}}) {
      npy::Array a;
      a.type = t;
      a.shape = shape;
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      a.data.assign(static_cast<size_t>(n) * npy::TypeSize(t), '\x01');
      std::string s = npy::Serialize(a);
      Write("npy", "a" + std::to_string(k++) + ".npy", s);
      if (k % 5 == 0) {  // the same as format 2.0 (4-byte header length)
        std::string header = s.substr(10);
        uint16_t hl = static_cast<uint16_t>(static_cast<uint8_t>(s[8]) | (static_cast<uint8_t>(s[9]) << 8));
        std::string v2("\x93NUMPY\x02\x00", 8);
        for (int i = 0; i < 4; ++i) v2 += static_cast<char>(i < 2 ? (hl >> (8 * i)) & 0xff : 0);
        Write("npy", "v2_" + std::to_string(k) + ".npy", v2 + header);
      }
    }
  }
  Write("npy", "fortran.npy", std::string("\x93NUMPY\x01\x00\x36\x00{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", 64) + "abcd");
}

#ifdef EDGERT_SEEDS_WITH_ONNX
// An empty IR 8 / ai.onnx opset 17 model; returns its graph, named `name`.
onnx::GraphProto* NewOpset17Model(onnx::ModelProto* m, const std::string& name) {
  m->set_ir_version(8);
  auto* os = m->add_opset_import();
  os->set_domain("");
  os->set_version(17);
  auto* g = m->mutable_graph();
  g->set_name(name);
  return g;
}

// Little-endian bytes of `v` (raw_data of an initializer).
template <typename T>
std::string RawBytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

void AddInitializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& dims, int type,
                    const std::string& raw) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(raw);
}

// A node `op` named "<op>_<out>" with one output.
onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& ins,
                         const std::string& out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + out);
  for (const auto& i : ins) n->add_input(i);
  n->add_output(out);
  return n;
}

// Multi-head attention as PyTorch exports it (what FuseAttention matches): x[batch, seq, 8],
// 2 heads of 4; q/k/v projections with bias, head split by Reshape to a target built from
// Shape/Gather/Unsqueeze/Concat, Transposes (k: 0,2,3,1), Div(2) + mask[batch, 1, 1, seq],
// Softmax, context MatMul, heads merged by Transpose + Reshape (target from Shape again).
void AttentionOnnxSeed() {
  onnx::ModelProto m;
  onnx::GraphProto* g = NewOpset17Model(&m, "attention_seed");
  auto input = [&](const std::string& name, std::vector<std::string> dims) {
    auto* tt = g->add_input();
    tt->set_name(name);
    auto* t = tt->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (const std::string& d : dims) {
      if (d[0] >= '0' && d[0] <= '9') {
        t->mutable_shape()->add_dim()->set_dim_value(std::stoll(d));
      } else {
        t->mutable_shape()->add_dim()->set_dim_param(d);
      }
    }
  };
  input("x", {"batch", "seq", "8"});
  input("mask", {"batch", "1", "1", "seq"});
  auto init_f = [&](const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
    AddInitializer(g, name, dims, onnx::TensorProto::FLOAT, RawBytes(v));
  };
  auto init_i = [&](const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& v) {
    AddInitializer(g, name, dims, onnx::TensorProto::INT64, RawBytes(v));
  };
  auto node = [&](const std::string& op, const std::vector<std::string>& ins, const std::string& out) {
    return AddNode(g, op, ins, out);
  };
  auto ints = [](onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  };
  auto one = [](onnx::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  };
  init_i("i0", {}, {0});
  init_i("i1", {}, {1});
  init_i("ax0", {1}, {0});
  init_i("heads", {1}, {2});
  init_i("hdim", {1}, {4});
  init_i("width", {1}, {8});
  init_f("two", {}, {2.0f});
  // The first two dims of `src` as a 2-element int64 tensor named `tag`_d.
  auto two_dims = [&](const std::string& src, const std::string& tag) {
    node("Shape", {src}, tag + "_shape");
    std::vector<std::string> parts;
    for (int i = 0; i < 2; ++i) {
      const std::string d = tag + "_g" + std::to_string(i);
      one(node("Gather", {tag + "_shape", i == 0 ? "i0" : "i1"}, d), "axis", 0);
      node("Unsqueeze", {d, "ax0"}, d + "_u");
      parts.push_back(d + "_u");
    }
    return parts;
  };
  for (const char* p : {"q", "k", "v"}) {
    const std::string n(p);
    std::vector<float> w(64), b(8);
    for (size_t i = 0; i < w.size(); ++i) w[i] = 0.05f * static_cast<float>((i * 7 + n[0]) % 11) - 0.25f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = 0.01f * static_cast<float>(i);
    init_f("W" + n, {8, 8}, w);
    init_f("b" + n, {8}, b);
    node("MatMul", {"x", "W" + n}, n + "_mm");
    node("Add", {"b" + n, n + "_mm"}, n);
    std::vector<std::string> parts = two_dims(n, n);
    parts.push_back("heads");
    parts.push_back("hdim");
    one(node("Concat", parts, n + "_target"), "axis", 0);
    node("Reshape", {n, n + "_target"}, n + "_split");
    ints(node("Transpose", {n + "_split"}, n + "_heads"), "perm",
         n == "k" ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
  }
  node("MatMul", {"q_heads", "k_heads"}, "scores");
  node("Div", {"scores", "two"}, "scaled");
  node("Add", {"scaled", "mask"}, "masked");
  one(node("Softmax", {"masked"}, "probs"), "axis", -1);
  node("MatMul", {"probs", "v_heads"}, "ctx");
  ints(node("Transpose", {"ctx"}, "ctx_t"), "perm", {0, 2, 1, 3});
  std::vector<std::string> parts = two_dims("ctx_t", "m");
  parts.push_back("width");
  one(node("Concat", parts, "m_target"), "axis", 0);
  node("Reshape", {"ctx_t", "m_target"}, "y");
  g->add_output()->set_name("y");
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  Write("onnx", "attention.onnx", m.SerializeAsString());
}

void OnnxSeeds() {
  // x[batch, 8] -> MatMul(W[8, 4]) + b -> Relu -> Reshape([-1, 2, 2]) -> y
  onnx::ModelProto m;
  onnx::GraphProto* g = NewOpset17Model(&m, "seed");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(8);
  std::vector<float> w(32, 0.25f), bias(4, 0.5f);
  std::vector<int64_t> shape = {-1, 2, 2};
  AddInitializer(g, "W", {8, 4}, onnx::TensorProto::FLOAT, RawBytes(w));
  AddInitializer(g, "B", {4}, onnx::TensorProto::FLOAT, RawBytes(bias));
  AddInitializer(g, "S", {3}, onnx::TensorProto::INT64, RawBytes(shape));
  auto node = [&](const std::string& op, const std::vector<std::string>& ins, const std::string& out) {
    return AddNode(g, op, ins, out);
  };
  node("MatMul", {"x", "W"}, "mm");
  node("Add", {"mm", "B"}, "a");
  node("Relu", {"a"}, "r");
  node("Reshape", {"r", "S"}, "y");
  g->add_output()->set_name("y");
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  Write("onnx", "mlp.onnx", m.SerializeAsString());
  // Same with a Softmax + Transpose tail and a Gather on an int64 input.
  auto* t = node("Transpose", {"y"}, "t");
  auto* perm = t->add_attribute();
  perm->set_name("perm");
  perm->set_type(onnx::AttributeProto::INTS);
  for (int p : {0, 2, 1}) perm->add_ints(p);
  auto* sm = node("Softmax", {"t"}, "sm");
  auto* ax = sm->add_attribute();
  ax->set_name("axis");
  ax->set_type(onnx::AttributeProto::INT);
  ax->set_i(-1);
  g->mutable_output(0)->set_name("sm");
  Write("onnx", "mlp_softmax.onnx", m.SerializeAsString());
  AttentionOnnxSeed();
}

// Each ONNX node test model (ONNX_DIR/<test>/model.onnx) that edgert_convert imports becomes an
// .efb seed: every op kind the converter emits reaches fuzz_efb.
void EfbFromOnnx(const std::string& onnx_dir) {
  DIR* d = ::opendir(onnx_dir.c_str());
  if (d == nullptr) return;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(onnx_dir + "/" + e->d_name + "/model.onnx", std::ios::binary);
    if (!f) continue;
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.size() > 65536) continue;
    onnx::ModelProto model;
    if (!model.ParseFromString(bytes)) continue;
    using namespace edgert::converter;
    auto g = ImportOnnxModel(model, "/nonexistent", e->d_name);
    if (!g.ok() || !Normalize(*g).ok()) continue;
    auto efb = LowerAndSerialize(*g, nullptr);
    if (!efb.ok() || efb->size() > 65536) continue;
    Efb(std::string("onnx_") + e->d_name, *efb);
    ++n;
  }
  ::closedir(d);
  std::printf("fuzz_make_seeds: %d .efb seeds from ONNX node tests\n", n);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR [ONNX_NODE_TEST_DIR]\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  ::mkdir(out_dir.c_str(), 0755);
  EfbSeeds();
  NpySeeds();
#ifdef EDGERT_SEEDS_WITH_ONNX
  OnnxSeeds();
  if (argc == 3) EfbFromOnnx(argv[2]);
#endif
  return 0;
}
