// Format round trip and malformed files: each must be refused with a message naming the problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "edgert/schema/container.h"
#include "model.h"
#include "model_builder.h"

namespace edgert {
namespace {

using test::D;
using test::ModelBuilder;
using ::testing::HasSubstr;

// x[batch, 4] + c[4] -> relu -> y
ModelBuilder SmallModel() {
  ModelBuilder b;
  int x = b.Input("x", fb::DType::F32, {"batch", 4});
  int c = b.ConstF32("c", {4}, {1, -2, 3, -4});
  int s = b.Tensor("sum", fb::DType::F32, {"batch", 4});
  int y = b.Tensor("y", fb::DType::F32, {"batch", 4});
  b.Op(fb::OpType::ADD, {x, c}, {s}, ModelBuilder::Opt(fb::BinaryOptionsT{}), "add");
  b.Op(fb::OpType::RELU, {s}, {y}, {}, "relu");
  b.Output(y);
  return b;
}

absl::Status LoadBytes(const std::string& bytes) {
  // Copy into 64-byte aligned memory like an mmap would give.
  std::vector<uint8_t> buf(bytes.size() + 64);
  uint8_t* p = reinterpret_cast<uint8_t*>(AlignUp(reinterpret_cast<uintptr_t>(buf.data()), 64));
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return Model::LoadMemory(p, bytes.size(), "m.efb").status();
}

format::FileHeader Header(const std::string& s) {
  format::FileHeader h;
  std::memcpy(&h, s.data(), sizeof h);
  return h;
}
void SetHeader(std::string& s, const format::FileHeader& h) { std::memcpy(s.data(), &h, sizeof h); }

// Re-serializes a modified graph with the original segment bytes kept as they are.
std::string Repack(fb::ModelT& m, const std::string& original) {
  format::FileHeader h = Header(original);
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::Model::Pack(fbb, &m), fb::ModelIdentifier());
  h.flatbuffer_size = fbb.GetSize();
  const uint64_t seg = format::AlignUp(64 + h.flatbuffer_size, 64);
  std::string out(seg + h.segment_size, '\0');
  std::memcpy(out.data() + 64, fbb.GetBufferPointer(), fbb.GetSize());
  std::memcpy(out.data() + seg, original.data() + h.segment_offset, h.segment_size);
  h.segment_offset = seg;
  h.file_size = out.size();
  SetHeader(out, h);
  return out;
}

TEST(ModelFormat, RoundTrip) {
  ModelBuilder b = SmallModel();
  b.model().metadata->source_hash = "abc123";
  auto kv = std::make_unique<fb::KeyValueT>();
  kv->key = "layer_error/add";
  kv->value = "0.001";
  b.model().metadata->extra.push_back(std::move(kv));
  std::string bytes = b.Build();
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(std::string(bytes.data(), 8), "EDGERTFB");
  format::FileHeader h = Header(bytes);
  EXPECT_EQ(h.segment_offset % 64, 0u);
  EXPECT_EQ(h.file_size, bytes.size());
  std::vector<uint8_t> buf(bytes.size() + 64);
  uint8_t* p = reinterpret_cast<uint8_t*>(AlignUp(reinterpret_cast<uintptr_t>(buf.data()), 64));
  std::memcpy(p, bytes.data(), bytes.size());
  auto m = Model::LoadMemory(p, bytes.size());
  ASSERT_TRUE(m.ok()) << m.status();
  const Model& model = **m;
  ASSERT_EQ(model.inputs().size(), 1u);
  const TensorInfo& x = model.tensor(model.inputs()[0]);
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dims, (Shape{-1, 4}));
  EXPECT_EQ(x.dim_names[0], "batch");
  const TensorInfo& c = model.tensor(1);
  ASSERT_NE(c.data, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c.data) % 64, 0u);
  float v[4];
  std::memcpy(v, c.data, 16);
  EXPECT_EQ(v[2], 3.f);
  EXPECT_STREQ(model.Metadata("producer"), "edgert tests");
  EXPECT_STREQ(model.Metadata("source_hash"), "abc123");
  EXPECT_STREQ(model.Metadata("layer_error/add"), "0.001");
  EXPECT_EQ(model.Metadata("nope"), nullptr);
}

TEST(ModelFormat, UnalignedCallerBufferIsCopied) {
  std::string bytes = SmallModel().Build();
  std::vector<uint8_t> buf(bytes.size() + 64);
  uint8_t* p = reinterpret_cast<uint8_t*>(AlignUp(reinterpret_cast<uintptr_t>(buf.data()), 64)) + 3;
  std::memcpy(p, bytes.data(), bytes.size());
  auto m = Model::LoadMemory(p, bytes.size());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(reinterpret_cast<uintptr_t>((*m)->tensor(1).data) % 64, 0u);
}

struct Case {
  const char* name;
  std::function<std::string()> make;
  const char* expect;  // substring of the error
};

std::string Truncated(size_t n) {
  std::string s = SmallModel().Build();
  return s.substr(0, std::min(n, s.size()));
}

std::vector<Case> MalformedCases() {
  std::vector<Case> cases;
  cases.push_back({"empty", [] { return std::string(); }, "truncated"});
  cases.push_back({"truncated_in_header", [] { return Truncated(40); }, "truncated"});
  cases.push_back({"truncated_in_graph", [] { return Truncated(100); }, "truncated"});
  cases.push_back({"truncated_in_segment", [] {
                     std::string s = SmallModel().Build();
                     return s.substr(0, s.size() - 4);
                   }, "truncated"});
  cases.push_back({"trailing_bytes", [] { return SmallModel().Build() + "xx"; }, "after the end"});
  cases.push_back({"bad_magic", [] {
                     std::string s = SmallModel().Build();
                     s[0] = 'X';
                     return s;
                   }, "bad magic"});
  cases.push_back({"newer_version", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     h.format_major = 2;
                     SetHeader(s, h);
                     return s;
                   }, "newer than this runtime supports"});
  cases.push_back({"version_zero", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     h.format_major = 0;
                     SetHeader(s, h);
                     return s;
                   }, "format version 0"});
  cases.push_back({"graph_size_past_end", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     h.flatbuffer_size = uint64_t{1} << 40;
                     SetHeader(s, h);
                     return s;
                   }, "flatbuffer_size"});
  cases.push_back({"graph_offset_wrong", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     h.flatbuffer_offset = 128;
                     SetHeader(s, h);
                     return s;
                   }, "flatbuffer_offset"});
  cases.push_back({"segment_misaligned", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     h.segment_offset += 8;
                     h.segment_size -= 8;
                     SetHeader(s, h);
                     return s;
                   }, "segment_offset"});
  cases.push_back({"segment_size_overflow", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     h.segment_size = ~uint64_t{0} - 10;
                     SetHeader(s, h);
                     return s;
                   }, "segment_offset"});
  cases.push_back({"corrupt_graph", [] {
                     std::string s = SmallModel().Build();
                     auto h = Header(s);
                     for (size_t i = 72; i < 64 + h.flatbuffer_size; i += 3) s[i] = static_cast<char>(0xff);
                     return s;
                   }, "graph section"});
  cases.push_back({"buffer_past_end", [] {
                     ModelBuilder b = SmallModel();
                     std::string s = b.Build();
                     b.model().buffers[0] = fb::Buffer(0, 1 << 20);
                     return Repack(b.model(), s);
                   }, "past the end of the weight segment"});
  cases.push_back({"buffer_misaligned", [] {
                     ModelBuilder b = SmallModel();
                     std::string s = b.Build();
                     b.model().buffers[0] = fb::Buffer(8, 16);
                     return Repack(b.model(), s);
                   }, "not a multiple of 64"});
  cases.push_back({"buffer_index_out_of_range", [] {
                     ModelBuilder b = SmallModel();
                     std::string s = b.Build();
                     b.tensor(1).buffer = 7;
                     return Repack(b.model(), s);
                   }, "buffer index 7 out of range"});
  cases.push_back({"const_size_mismatch", [] {
                     ModelBuilder b;
                     int x = b.Input("x", fb::DType::F32, {4});
                     int c = b.ConstF32("c", {5}, {1, 2, 3, 4});
                     int y = b.Tensor("y", fb::DType::F32, {5});
                     b.Op(fb::OpType::ADD, {x, c}, {y}, {});
                     b.Output(y);
                     return b.Build();
                   }, "needs 20"});
  cases.push_back({"negative_dim", [] {
                     ModelBuilder b = SmallModel();
                     b.tensor(0).shape[1]->value = -5;
                     return b.Build();
                   }, "dim 1 is -5"});
  cases.push_back({"dynamic_dim_without_name", [] {
                     ModelBuilder b = SmallModel();
                     b.tensor(0).shape[0]->name = "";
                     return b.Build();
                   }, "has no name"});
  cases.push_back({"overflowing_dims", [] {
                     ModelBuilder b = SmallModel();
                     b.tensor(3).shape.clear();
                     for (int i = 0; i < 4; ++i) {
                       auto d = std::make_unique<fb::DimT>();
                       d->value = int64_t{1} << 40;
                       b.tensor(3).shape.push_back(std::move(d));
                     }
                     return b.Build();
                   }, "too large"});
  cases.push_back({"huge_declared_dims", [] {
                     ModelBuilder b = SmallModel();
                     b.tensor(2).shape[1]->value = int64_t{1} << 33;
                     b.tensor(2).shape[0]->value = 1;
                     b.tensor(2).shape[0]->name = "";
                     return b.Build();
                   }, "exceeds the limit"});
  cases.push_back({"rank_too_large", [] {
                     ModelBuilder b = SmallModel();
                     for (int i = 0; i < 8; ++i) {
                       auto d = std::make_unique<fb::DimT>();
                       d->value = 1;
                       b.tensor(3).shape.push_back(std::move(d));
                     }
                     return b.Build();
                   }, "exceeds the maximum"});
  cases.push_back({"unknown_dtype", [] {
                     ModelBuilder b = SmallModel();
                     b.tensor(2).dtype = static_cast<fb::DType>(99);
                     return b.Build();
                   }, "unknown dtype 99"});
  cases.push_back({"const_with_dynamic_dim", [] {
                     ModelBuilder b = SmallModel();
                     b.tensor(1).shape[0]->value = -1;
                     b.tensor(1).shape[0]->name = "n";
                     return b.Build();
                   }, "cannot have dynamic dims"});
  cases.push_back({"op_input_index_out_of_range", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[0]->inputs[1] = 42;
                     return b.Build();
                   }, "tensor index 42 out of range"});
  cases.push_back({"op_output_index_out_of_range", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[1]->outputs[0] = -3;
                     return b.Build();
                   }, "tensor index -3 out of range"});
  cases.push_back({"graph_input_index_out_of_range", [] {
                     ModelBuilder b = SmallModel();
                     b.model().inputs[0] = 1000;
                     return b.Build();
                   }, "graph input: tensor index 1000 out of range"});
  cases.push_back({"op_without_options", [] {
                     ModelBuilder b;
                     int x = b.Input("x", fb::DType::F32, {4});
                     int y = b.Tensor("y", fb::DType::F32, {4});
                     b.Op(fb::OpType::SOFTMAX, {x}, {y}, {}, "sm");
                     b.Output(y);
                     return b.Build();
                   }, "missing options (expected AxisOptions)"});
  cases.push_back({"op_wrong_options", [] {
                     ModelBuilder b;
                     int x = b.Input("x", fb::DType::F32, {4});
                     int y = b.Tensor("y", fb::DType::F32, {4});
                     b.Op(fb::OpType::SOFTMAX, {x}, {y}, ModelBuilder::Opt(fb::ConvOptionsT{}), "sm");
                     b.Output(y);
                     return b.Build();
                   }, "options of kind ConvOptions, expected AxisOptions"});
  cases.push_back({"unknown_op_type", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[1]->type = static_cast<fb::OpType>(9999);
                     return b.Build();
                   }, "unknown op type 9999"});
  cases.push_back({"wrong_input_count", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[1]->inputs.push_back(0);
                     return b.Build();
                   }, "has 2 inputs, expected 1"});
  cases.push_back({"required_input_missing", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[0]->inputs[1] = -1;
                     return b.Build();
                   }, "required input 1 is missing"});
  cases.push_back({"cycle", [] {
                     ModelBuilder b = SmallModel();
                     // add consumes relu's output, which is produced later.
                     b.model().operators[0]->inputs[0] = 3;
                     return b.Build();
                   }, "cycle or bad order"});
  cases.push_back({"output_never_produced", [] {
                     ModelBuilder b = SmallModel();
                     int z = b.Tensor("z", fb::DType::F32, {4});
                     b.Output(z);
                     return b.Build();
                   }, "graph output 'z' is never produced"});
  cases.push_back({"tensor_produced_twice", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[1]->outputs[0] = 2;
                     return b.Build();
                   }, "another op's output"});
  cases.push_back({"writes_a_constant", [] {
                     ModelBuilder b = SmallModel();
                     b.model().operators[1]->outputs[0] = 1;
                     return b.Build();
                   }, "already a constant"});
  cases.push_back({"no_outputs", [] {
                     ModelBuilder b = SmallModel();
                     b.model().outputs.clear();
                     return b.Build();
                   }, "declares no outputs"});
  cases.push_back({"quant_scale_count", [] {
                     ModelBuilder b = SmallModel();
                     auto q = std::make_unique<fb::QuantizationT>();
                     q->scheme = fb::QuantScheme::PER_CHANNEL;
                     q->axis = 0;
                     q->scales = {1.f, 2.f};
                     b.tensor(1).quant = std::move(q);
                     return b.Build();
                   }, "has 2 scales, expected 4"});
  cases.push_back({"quant_axis_out_of_range", [] {
                     ModelBuilder b = SmallModel();
                     auto q = std::make_unique<fb::QuantizationT>();
                     q->scheme = fb::QuantScheme::PER_CHANNEL;
                     q->axis = 3;
                     q->scales = {1.f};
                     b.tensor(1).quant = std::move(q);
                     return b.Build();
                   }, "quantization axis 3 out of range"});
  cases.push_back({"i4_without_quant", [] {
                     ModelBuilder b = SmallModel();
                     uint8_t w[2] = {0x12, 0x34};
                     b.Const("w4", fb::DType::I4, {4}, w, 2);
                     return b.Build();
                   }, "i4 tensor without quantization"});
  cases.push_back({"input_listed_twice", [] {
                     ModelBuilder b = SmallModel();
                     b.model().inputs.push_back(0);
                     return b.Build();
                   }, "listed twice"});
  return cases;
}

TEST(ModelFormat, MalformedFilesAreRefusedWithAMessage) {
  std::vector<Case> cases = MalformedCases();
  ASSERT_GE(cases.size(), 20u);
  // The unmodified model loads: every case fails because of its one change.
  ASSERT_TRUE(LoadBytes(SmallModel().Build()).ok());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::Status st = LoadBytes(c.make());
    ASSERT_FALSE(st.ok());
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.expect));
    EXPECT_THAT(std::string(st.message()), HasSubstr("m.efb"));
    EXPECT_EQ(std::string(st.message()).find('\n'), std::string::npos) << "one line";
  }
}

TEST(ModelFormat, EveryTruncationIsRefused) {
  const std::string s = SmallModel().Build();
  for (size_t n = 0; n < s.size(); n += 7) {
    EXPECT_FALSE(LoadBytes(s.substr(0, n)).ok()) << "length " << n;
  }
}

TEST(ModelFormat, MissingFileIsNotFound) {
  auto m = Model::LoadFile("/nonexistent/model.efb");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("/nonexistent/model.efb"));
}

}  // namespace
}  // namespace edgert
