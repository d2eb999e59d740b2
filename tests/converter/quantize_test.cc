// Weight quantization layouts, options (--block, --asym, --exclude, overrides), QDQ import,
// the report, and error-minimizing int4 rounding vs round-to-nearest.
#include <cmath>

#include "edgert/converter/convert.h"
#include "quantize.h"
#include "test_util.h"
#include "util.h"

namespace edgert::converter {
namespace {

using testing::Efb;
using testing::LoadEfb;
using testing::OnnxBuilder;
using testing::Randn;
using testing::TestPath;
using fb::OpType;

// x[?,K] -> fc1 (K->N) -> relu -> fc2 (N->N), plus a conv on a second input.
OnnxBuilder TwoLayers(int K, int N) {
  OnnxBuilder b;
  b.Input("x", {-1, K}, onnx::TensorProto::FLOAT, {"batch"}).Output("y");
  b.Init("W1", {K, N}, Randn(K * N, 1));
  b.Init("W2", {N, N}, Randn(N * N, 2));
  b.Node("MatMul", {"x", "W1"}, {"h"}, "fc1");
  b.Node("Relu", {"h"}, {"r"}, "relu");
  b.Node("MatMul", {"r", "W2"}, {"y"}, "fc2");
  return b;
}

absl::Status ConvertIt(OnnxBuilder& b, Efb* out, ConvertOptions o) {
  o.input = b.Save(TestPath("m.onnx"));
  o.output = TestPath("m.efb");
  o.progress = false;
  absl::Status st = Convert(o);
  if (st.ok()) *out = LoadEfb(o.output);
  return st;
}

int Nibble(std::string_view row, int k) {
  uint8_t byte = static_cast<uint8_t>(row[k / 2]);
  int n = (k % 2 == 0) ? (byte & 0xF) : (byte >> 4);
  return n >= 8 ? n - 16 : n;
}

TEST(Quantize, Int8PerChannelLayout) {
  const int K = 20, N = 6;
  OnnxBuilder b = TwoLayers(K, N);
  Efb e;
  ConvertOptions o;
  o.quant = "int8";
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  const auto* fc1 = e.FindOpNamed("fc1");
  ASSERT_NE(fc1, nullptr);
  EXPECT_EQ(fc1->type, OpType::FULLY_CONNECTED);
  EXPECT_EQ(fc1->options.AsFullyConnectedOptions()->fused_activation, fb::Activation::RELU);
  const auto& w = e.T(fc1->inputs[1]);
  EXPECT_EQ(w.dtype, fb::DType::I8);
  ASSERT_NE(w.quant, nullptr);
  EXPECT_EQ(w.quant->scheme, fb::QuantScheme::PER_CHANNEL);
  EXPECT_EQ(w.quant->axis, 0);
  ASSERT_EQ(w.quant->scales.size(), static_cast<size_t>(N));
  EXPECT_TRUE(w.quant->zero_points.empty());
  std::string_view q = e.Buffer(w.buffer);
  ASSERT_EQ(q.size(), static_cast<size_t>(N * K));
  std::vector<float> orig = Randn(K * N, 1);  // [K, N]
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      float deq = w.quant->scales[n] * static_cast<int8_t>(q[n * K + k]);
      EXPECT_NEAR(deq, orig[k * N + n], w.quant->scales[n] * 0.5001f);
    }
  EXPECT_EQ(e.Meta("layer_precision/fc1"), "int8");
  EXPECT_GT(std::stod(e.Meta("layer_sqnr_db/fc1")), 35.0);
}

TEST(Quantize, Int4BlockLayoutAllBlockSizes) {
  for (int block : {32, 64, 128}) {
    for (bool asym : {false, true}) {
      const int K = 33 + block, N = 3;  // odd K, last block short
      OnnxBuilder b;
      b.Input("x", {1, K}).Output("y");
      std::vector<float> wsrc = Randn(K * N, 5);
      b.Init("W", {K, N}, wsrc);
      b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
      Efb e;
      ConvertOptions o;
      o.quant = "int4";
      o.block = block;
      o.asym = asym;
      o.int4_method = "rtn";
      ASSERT_TRUE(ConvertIt(b, &e, o).ok());
      const auto& w = e.T(e.model->operators[0]->inputs[1]);
      ASSERT_EQ(w.dtype, fb::DType::I4);
      ASSERT_NE(w.quant, nullptr);
      EXPECT_EQ(w.quant->scheme, fb::QuantScheme::PER_BLOCK);
      EXPECT_EQ(w.quant->axis, 1);
      EXPECT_EQ(w.quant->block_size, block);
      const int nb = (K + block - 1) / block, rb = (K + 1) / 2;
      std::string_view q = e.Buffer(w.buffer);
      ASSERT_EQ(q.size(), static_cast<size_t>(N * rb));
      ASSERT_GE(w.quant->scales_buffer, 0);
      EXPECT_EQ(w.quant->scale_dtype, fb::DType::F32);
      std::string_view sb = e.Buffer(w.quant->scales_buffer);
      ASSERT_EQ(sb.size(), static_cast<size_t>(N * nb * 4));
      std::vector<float> scales(N * nb);
      std::memcpy(scales.data(), sb.data(), sb.size());
      std::vector<int8_t> zps(N * nb, 0);
      if (asym) {
        ASSERT_GE(w.quant->zero_points_buffer, 0);
        std::string_view zb = e.Buffer(w.quant->zero_points_buffer);
        ASSERT_EQ(zb.size(), static_cast<size_t>(N * nb));
        std::memcpy(zps.data(), zb.data(), zb.size());
        for (int8_t z : zps) {
          EXPECT_GE(z, -8);
          EXPECT_LE(z, 7);
        }
      } else {
        EXPECT_EQ(w.quant->zero_points_buffer, -1);
      }
      double err = 0, sig = 0;
      for (int n = 0; n < N; ++n) {
        if (K % 2) {
          EXPECT_EQ(static_cast<uint8_t>(q[n * rb + rb - 1]) >> 4, 0) << "row padding is zero";
        }
        for (int k = 0; k < K; ++k) {
          float s = scales[n * nb + k / block];
          float deq = s * (Nibble(q.substr(n * rb, rb), k) - zps[n * nb + k / block]);
          float ref = wsrc[k * N + n];
          EXPECT_LE(std::fabs(deq - ref), s * 0.5001f + 1e-6f) << "n=" << n << " k=" << k;
          err += (deq - ref) * (deq - ref);
          sig += ref * ref;
        }
      }
      EXPECT_GT(10 * std::log10(sig / err), 15.0) << block << asym;  // documented bound
    }
  }
}

TEST(Quantize, F16ScalesAndConvStaysInt8InInt4Mode) {
  OnnxBuilder b;
  b.Input("x", {1, 2, 5, 5}).Input("v", {1, 64}).Output("y").Output("z");
  b.Init("CW", {4, 2, 3, 3}, Randn(72, 3));
  b.Node("Conv", {"x", "CW"}, {"y"}, "conv");
  b.Init("W", {64, 8}, Randn(512, 4));
  b.Node("MatMul", {"v", "W"}, {"z"}, "fc");
  Efb e;
  ConvertOptions o;
  o.quant = "int4";
  o.f16_scales = true;
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  const auto& cw = e.T(e.FindOpNamed("conv")->inputs[1]);
  EXPECT_EQ(cw.dtype, fb::DType::I8);
  EXPECT_EQ(cw.quant->scheme, fb::QuantScheme::PER_CHANNEL);
  EXPECT_EQ(cw.quant->scales.size(), 4u);
  const auto& w = e.T(e.FindOpNamed("fc")->inputs[1]);
  EXPECT_EQ(w.dtype, fb::DType::I4);
  EXPECT_EQ(w.quant->scale_dtype, fb::DType::F16);
  EXPECT_EQ(e.Buffer(w.quant->scales_buffer).size(), 8u * 2 * 2);
}

TEST(Quantize, ExcludeRegexAndJsonOverrides) {
  OnnxBuilder b = TwoLayers(64, 64);
  Efb e;
  ConvertOptions o;
  o.quant = "int4";
  o.exclude = "^fc2$";
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  EXPECT_EQ(e.T(e.FindOpNamed("fc1")->inputs[1]).dtype, fb::DType::I4);
  EXPECT_EQ(e.T(e.FindOpNamed("fc2")->inputs[1]).dtype, fb::DType::F32);

  std::string ov = TestPath("ov.json");
  {
    std::ofstream f(ov);
    f << R"({"fc1": "int8", "fc2": {"precision": "int4", "block": 64, "asym": true}})";
  }
  o = {};
  o.quant = "none";
  o.overrides_path = ov;
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  EXPECT_EQ(e.T(e.FindOpNamed("fc1")->inputs[1]).dtype, fb::DType::I8);
  const auto& w2 = e.T(e.FindOpNamed("fc2")->inputs[1]);
  EXPECT_EQ(w2.dtype, fb::DType::I4);
  EXPECT_EQ(w2.quant->block_size, 64);
  EXPECT_GE(w2.quant->zero_points_buffer, 0);

  for (const char* bad : {R"({"nope": "int8"})", R"({"fc1": "int3"})", R"({"fc1": )", R"({"fc1": {"precision": "int4", "block": 7}})"}) {
    {
      std::ofstream f(ov);
      f << bad;
    }
    absl::Status st = ConvertIt(b, &e, o);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("ov.json"), std::string::npos) << st.message();
  }
}

TEST(Quantize, QdqImportKeepsScales) {
  const int K = 8, N = 4;
  std::vector<int8_t> q(K * N);
  for (int i = 0; i < K * N; ++i) q[i] = static_cast<int8_t>((i * 37) % 255 - 127);
  std::vector<float> scales = {0.01f, 0.02f, 0.03f, 0.04f};
  OnnxBuilder b(13);
  b.Input("x", {1, K}).Output("y");
  b.InitI8("Wq", {K, N}, q);
  b.Init("Ws", {N}, scales);
  b.InitI8("Wz", {N}, std::vector<int8_t>(N, 0));
  auto* dq = b.Node("DequantizeLinear", {"Wq", "Ws", "Wz"}, {"W"}, "dq");
  OnnxBuilder::AttrI(dq, "axis", 1);
  // Activation QDQ pair stays.
  b.Scalar("as", 0.05f);
  auto* az = b.model().mutable_graph()->add_initializer();
  az->set_name("az");
  az->set_data_type(onnx::TensorProto::UINT8);
  az->set_raw_data(std::string(1, '\x80'));
  b.Node("QuantizeLinear", {"x", "as", "az"}, {"xq"}, "qx");
  b.Node("DequantizeLinear", {"xq", "as", "az"}, {"xd"}, "dqx");
  b.Node("MatMul", {"xd", "W"}, {"y"}, "fc");
  Efb e;
  ConvertOptions o;  // --quant none: the model's own int8 weights are kept
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  EXPECT_EQ(e.OpTypes(), (std::vector<OpType>{OpType::QUANTIZE_LINEAR, OpType::DEQUANTIZE_LINEAR, OpType::FULLY_CONNECTED}));
  const auto& w = e.T(e.FindOpNamed("fc")->inputs[1]);
  ASSERT_EQ(w.dtype, fb::DType::I8);
  EXPECT_EQ(w.quant->scales, scales);
  std::string_view d = e.Buffer(w.buffer);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) EXPECT_EQ(static_cast<int8_t>(d[n * K + k]), q[k * N + n]) << n << "," << k;
}

TEST(Quantize, ReportJsonAndMarkdown) {
  OnnxBuilder b = TwoLayers(64, 32);
  Efb e;
  ConvertOptions o;
  o.quant = "int4";
  o.exclude = "fc2";
  o.report_path = TestPath("r.json");
  ASSERT_TRUE(ConvertIt(b, &e, o).ok());
  std::ifstream f(o.report_path);
  std::stringstream ss;
  ss << f.rdbuf();
  absl::StatusOr<Json> j = ParseJson(ss.str());
  ASSERT_TRUE(j.ok()) << j.status() << ss.str();
  EXPECT_EQ(j->Get("options")->str, "--quant int4 --block 32 --sym --int4-method auto --exclude 'fc2'");
  EXPECT_EQ(j->Get("source_hash")->str.size(), 64u);
  EXPECT_GT(j->Get("size_before_bytes")->num, j->Get("size_after_bytes")->num);
  EXPECT_GE(j->Get("time_seconds")->num, 0);
  const Json* layers = j->Get("layers");
  ASSERT_EQ(layers->arr.size(), 2u);
  EXPECT_EQ(layers->arr[0].Get("name")->str, "fc1");
  EXPECT_EQ(layers->arr[0].Get("precision")->str, "int4");
  EXPECT_EQ(layers->arr[0].Get("method")->str, "mse");
  EXPECT_GT(layers->arr[0].Get("weight_sqnr_db")->num, 15);
  EXPECT_EQ(layers->arr[1].Get("precision")->str, "fp32");
  EXPECT_EQ(layers->arr[1].Get("weight_sqnr_db"), nullptr);
  EXPECT_EQ(j->Get("passes")->Get("activation")->num, 1);
  std::ifstream mdf(TestPath("r.md"));
  std::stringstream md;
  md << mdf.rdbuf();
  EXPECT_NE(md.str().find("| fc1 | FullyConnected | 32x64 | int4 b32 sym | mse |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("| fc2 | FullyConnected | 32x32 | fp32 |"), std::string::npos) << md.str();
}

// Inputs with strongly correlated, unequal-scale features: where second-order rounding helps.
std::vector<float> CorrelatedInputs(size_t rows, int k, uint32_t seed) {
  std::vector<float> base = Randn(rows * 4, seed);
  std::vector<float> mix = Randn(4 * k, 1234);  // same feature correlations for every set
  std::vector<float> noise = Randn(rows * k, seed + 2, 0.05f);
  std::vector<float> x(rows * k);
  for (size_t r = 0; r < rows; ++r)
    for (int i = 0; i < k; ++i) {
      float s = 0;
      for (int j = 0; j < 4; ++j) s += base[r * 4 + j] * mix[j * k + i];
      x[r * k + i] = s * (1.0f + 3.0f * (i % 7 == 0)) + noise[r * k + i];
    }
  return x;
}

TEST(Quantize, GptqBeatsRoundToNearestOnTheSameLayer) {
  const int N = 48, K = 96;
  const size_t rows = 512;
  std::vector<float> wv = Randn(N * K, 21, 0.1f);
  std::vector<float> x = CorrelatedInputs(rows, K, 40);
  std::vector<float> xtest = CorrelatedInputs(256, K, 80);  // held-out rows
  for (bool asym : {false, true}) {
    Tensor w = MakeF32("w", {N, K}, wv);
    Tensor rtn = w, mse = w, gptq = w;
    WeightQuantResult r_rtn = QuantizeInt4(rtn, 32, asym, false, Int4Method::kRtn, nullptr, 0);
    WeightQuantResult r_mse = QuantizeInt4(mse, 32, asym, false, Int4Method::kMse, nullptr, 0);
    QuantizeInt4(gptq, 32, asym, false, Int4Method::kGptq, &x, rows);
    double e_rtn = RelativeOutputError(wv, DequantizeWeight(rtn), N, K, xtest, 256);
    double e_mse = RelativeOutputError(wv, DequantizeWeight(mse), N, K, xtest, 256);
    double e_gptq = RelativeOutputError(wv, DequantizeWeight(gptq), N, K, xtest, 256);
    EXPECT_LT(e_gptq, 0.8 * e_rtn) << "asym=" << asym << " rtn " << e_rtn << " mse " << e_mse << " gptq " << e_gptq;
    EXPECT_GT(r_mse.sqnr_db, r_rtn.sqnr_db) << asym;  // MSE search minimizes the weight error
  }
}

TEST(Quantize, NpyRoundTripAndErrors) {
  NpyArray a;
  a.dtype = DType::kF32;
  a.shape = {2, 3};
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  a.data.assign(reinterpret_cast<const char*>(v.data()), 24);
  std::string p = TestPath("a.npy");
  ASSERT_TRUE(WriteNpy(p, a).ok());
  absl::StatusOr<NpyArray> r = ReadNpy(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape, a.shape);
  EXPECT_EQ(r->data, a.data);
  {
    std::ofstream f(p, std::ios::binary);
    f << "\x93NUMPY\x01";
  }
  EXPECT_FALSE(ReadNpy(p).ok());
  a.data.resize(20);  // shape says 24 bytes
  ASSERT_TRUE(WriteNpy(p, a).ok());
  absl::StatusOr<NpyArray> bad = ReadNpy(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("expected 24 data bytes"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace edgert::converter
