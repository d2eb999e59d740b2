// End to end: ONNX models from make_e2e.py, converted in every mode, run with edgert's C API,
// compared with onnxruntime's outputs. Bounds are the ones documented in docs/converter.md.
#include <cmath>
#include <cstdlib>

#include "edgert/converter/convert.h"
#include "edgert/edgert.h"
#include "test_util.h"
#include "util.h"

namespace edgert::converter {
namespace {

using testing::TestPath;

std::string DataDir() {
  static std::string dir = [] {
    std::string d = testing::TempDir() + "/e2e_data";
    std::string cmd = std::string(EDGERT_PYTHON) + " " + EDGERT_MAKE_E2E + " " + d + " > " + d + ".log 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string();
    return d;
  }();
  return dir;
}

struct Outputs {
  std::vector<std::vector<float>> v;
};

// Runs `efb` on the test inputs of `model`; returns false (with a message) on failure.
bool RunModel(const std::string& efb, const std::string& model, Outputs* out, std::string* err) {
  edgert_model* m = nullptr;
  if (edgert_model_load(efb.c_str(), &m) != EDGERT_OK) {
    *err = edgert_last_error();
    return false;
  }
  edgert_session* s = nullptr;
  edgert_session_options so;
  edgert_session_options_init(&so);
  so.num_threads = 1;
  bool ok = edgert_session_create(m, &so, &s) == EDGERT_OK;
  for (size_t i = 0; ok && i < edgert_model_num_inputs(m); ++i) {
    edgert_tensor_info info;
    edgert_model_input_info(m, i, &info);
    absl::StatusOr<NpyArray> a = ReadNpy(DataDir() + "/" + model + "/test/" + info.name + ".npy");
    if (!a.ok()) {
      *err = std::string(a.status().message());
      ok = false;
      break;
    }
    ok = edgert_session_set_input(s, i, EDGERT_F32, a->shape.data(), static_cast<int32_t>(a->shape.size()),
                                  a->data.data(), a->data.size()) == EDGERT_OK;
  }
  ok = ok && edgert_session_run(s) == EDGERT_OK;
  for (size_t o = 0; ok && o < edgert_model_num_outputs(m); ++o) {
    const void* d = nullptr;
    size_t bytes = 0;
    ok = edgert_session_output_data(s, o, &d, &bytes) == EDGERT_OK;
    if (ok) out->v.emplace_back(static_cast<const float*>(d), static_cast<const float*>(d) + bytes / 4);
  }
  if (!ok && err->empty()) *err = edgert_last_error();
  edgert_session_free(s);
  edgert_model_free(m);
  return ok;
}

std::vector<float> Expected(const std::string& model, int i) {
  absl::StatusOr<NpyArray> a = ReadNpy(DataDir() + "/" + model + "/test/expected_" + std::to_string(i) + ".npy");
  EXPECT_TRUE(a.ok()) << a.status();
  if (!a.ok()) return {};
  std::vector<float> v(a->data.size() / 4);
  std::memcpy(v.data(), a->data.data(), a->data.size());
  return v;
}

double Cos(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb + 1e-30);
}

double RelL2(const std::vector<float>& got, const std::vector<float>& ref) {
  double e = 0, r = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    e += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
    r += double(ref[i]) * ref[i];
  }
  return std::sqrt(e / (r + 1e-30));
}

// Converts `model` with `o` (input/output filled in) and runs it. Skips when the runtime does
// not implement an op of the model yet.
#define CONVERT_AND_RUN(model, o, outs)                                                       \
  do {                                                                                        \
    if (DataDir().empty()) GTEST_SKIP() << "make_e2e.py failed (python venv missing?)";       \
    (o).input = DataDir() + "/" + (model) + "/model.onnx";                                    \
    (o).output = TestPath(std::string(model) + ".efb");                                       \
    (o).progress = false;                                                                     \
    absl::Status st_ = Convert(o);                                                            \
    if (!st_.ok() && st_.message().find("unknown op type") != std::string::npos)              \
      GTEST_SKIP() << "runtime lacks an op: " << st_.message();                               \
    ASSERT_TRUE(st_.ok()) << st_;                                                             \
    std::string err_;                                                                         \
    bool ok_ = RunModel((o).output, model, &(outs), &err_);                                   \
    if (!ok_ && err_.find("unknown op type") != std::string::npos)                            \
      GTEST_SKIP() << "runtime lacks an op: " << err_;                                        \
    ASSERT_TRUE(ok_) << err_;                                                                 \
  } while (0)

class E2e : public ::testing::TestWithParam<const char*> {};

TEST_P(E2e, Fp32MatchesOnnxRuntime) {
  ConvertOptions o;
  Outputs outs;
  CONVERT_AND_RUN(GetParam(), o, outs);
  std::vector<float> ref = Expected(GetParam(), 0);
  ASSERT_EQ(outs.v[0].size(), ref.size());
  double amax = 0;
  for (float r : ref) amax = std::max(amax, double(std::fabs(r)));
  for (size_t i = 0; i < ref.size(); ++i) {
    // 1e-5 relative, measured against the output's scale for elements near zero.
    EXPECT_NEAR(outs.v[0][i], ref[i], 1e-5 * std::max<double>(std::fabs(ref[i]), 0.1 * amax) + 1e-7) << i;
  }
}

TEST_P(E2e, Int8WithinBounds) {
  ConvertOptions o;
  o.quant = "int8";
  Outputs outs;
  CONVERT_AND_RUN(GetParam(), o, outs);
  std::vector<float> ref = Expected(GetParam(), 0);
  EXPECT_GE(Cos(outs.v[0], ref), 0.999);
  EXPECT_LE(RelL2(outs.v[0], ref), 0.05);
}

TEST_P(E2e, Int4WithinBounds) {
  for (const char* method : {"rtn", "mse", "gptq"}) {
    ConvertOptions o;
    o.quant = "int4";
    o.int4_method = method;
    if (std::string(method) == "gptq") o.calib_dir = DataDir() + "/" + GetParam() + "/calib";
    Outputs outs;
    CONVERT_AND_RUN(GetParam(), o, outs);
    std::vector<float> ref = Expected(GetParam(), 0);
    EXPECT_GE(Cos(outs.v[0], ref), 0.98) << method;
    EXPECT_LE(RelL2(outs.v[0], ref), 0.2) << method;
  }
}

TEST_P(E2e, MixedReachesTargetAndReports) {
  ConvertOptions o;
  o.quant = "mixed";
  o.max_error = 0.9995;
  o.calib_dir = DataDir() + "/" + GetParam() + "/calib";
  o.report_path = TestPath(std::string(GetParam()) + "_report.json");
  Outputs outs;
  ConvertSummary sum;
  CONVERT_AND_RUN(GetParam(), o, outs);
  ASSERT_TRUE(Convert(o, &sum).ok());
  EXPECT_GE(sum.final_cosine, 0.9995);
  EXPECT_LT(sum.output_bytes, sum.source_bytes + 4096);
  std::ifstream f(o.report_path);
  std::stringstream ss;
  ss << f.rdbuf();
  absl::StatusOr<Json> j = ParseJson(ss.str());
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->Get("calibration_samples")->num, 8);
  EXPECT_EQ(j->Get("calibration_hash")->str.size(), 64u);
  ASSERT_NE(j->Get("final_output"), nullptr);
  EXPECT_GE(j->Get("final_output")->Get("cosine")->num, 0.9995);
  for (const Json& l : j->Get("layers")->arr) {
    EXPECT_NE(l.Get("sensitivity_cosine"), nullptr);
    EXPECT_NE(l.Get("output_cosine"), nullptr);
    EXPECT_NE(l.Get("activation_range"), nullptr);
  }
  // The shipped model says how it was made.
  edgert_model* m = nullptr;
  ASSERT_EQ(edgert_model_load(o.output.c_str(), &m), EDGERT_OK);
  const char* ch = edgert_model_metadata(m, "calibration_hash");
  EXPECT_EQ(std::string(ch ? ch : ""), j->Get("calibration_hash")->str);
  const char* fe = edgert_model_metadata(m, "final_error");
  EXPECT_NE(fe, nullptr);
  edgert_model_free(m);
}

TEST_P(E2e, Int8StaticWithinBounds) {
  for (const char* method : {"minmax", "percentile", "entropy"}) {
    ConvertOptions o;
    o.quant = "int8-static";
    o.calib_method = method;
    o.calib_dir = DataDir() + "/" + GetParam() + "/calib";
    Outputs outs;
    CONVERT_AND_RUN(GetParam(), o, outs);
    std::vector<float> ref = Expected(GetParam(), 0);
    EXPECT_GE(Cos(outs.v[0], ref), 0.99) << method;
  }
}

// GPTQ minimizes each layer's output error on the calibration inputs; end to end it usually,
// not always, helps (attention: the q/k errors pass through softmax). Checked on the MLP.
TEST(E2eGptq, BeatsRoundToNearestEndToEnd) {
  const char* model = "mlp";
  double err[2];
  int i = 0;
  for (const char* method : {"rtn", "gptq"}) {
    ConvertOptions o;
    o.quant = "int4";
    o.int4_method = method;
    o.exclude = "conv";  // int4 applies to fully connected layers only
    o.calib_dir = DataDir() + "/" + model + "/calib";
    Outputs outs;
    CONVERT_AND_RUN(model, o, outs);
    err[i++] = RelL2(outs.v[0], Expected(model, 0));  // held-out input, not a calibration sample
  }
  EXPECT_LT(err[1], err[0]) << "gptq " << err[1] << " vs rtn " << err[0];
}

INSTANTIATE_TEST_SUITE_P(Models, E2e, ::testing::Values("mlp", "cnn", "attention", "mha", "mha_static"));

// Converts the e2e model `model` with default options (FP32) and loads the result into `*e`.
void ConvertWithDefaults(const std::string& model, testing::Efb* e) {
  ConvertOptions o;
  o.input = DataDir() + "/" + model + "/model.onnx";
  o.output = TestPath(model + "_fused.efb");
  o.progress = false;
  ASSERT_TRUE(Convert(o).ok());
  *e = testing::LoadEfb(o.output);
  ASSERT_TRUE(e->model);
}

// BERT's multi-head attention as PyTorch exports it (dynamic sequence: Reshape targets built from
// Shape/Gather/Concat) becomes one ATTENTION op: no Reshape, Transpose, MatMul or Shape is left,
// and (E2e.Fp32MatchesOnnxRuntime/mha) the outputs still match onnxruntime.
TEST(E2eAttention, PyTorchMultiHeadPatternBecomesOneOp) {
  if (DataDir().empty()) GTEST_SKIP() << "make_e2e.py failed (python venv missing?)";
  testing::Efb e;
  ASSERT_NO_FATAL_FAILURE(ConvertWithDefaults("mha", &e));
  int attention = 0;
  for (fb::OpType t : e.OpTypes()) {
    attention += t == fb::OpType::ATTENTION;
    EXPECT_NE(t, fb::OpType::RESHAPE);
    EXPECT_NE(t, fb::OpType::TRANSPOSE);
    EXPECT_NE(t, fb::OpType::MATMUL);
    EXPECT_NE(t, fb::OpType::SHAPE);
  }
  ASSERT_EQ(attention, 1);
  const fb::OperatorT* op = e.FindOp(fb::OpType::ATTENTION);
  EXPECT_EQ(op->options.AsAttentionOptions()->num_heads, 4);
  EXPECT_FLOAT_EQ(op->options.AsAttentionOptions()->scale, std::sqrt(8.0f));
  EXPECT_TRUE(op->options.AsAttentionOptions()->divide);
  EXPECT_EQ(op->inputs.size(), 4u);  // q, k, v, mask
}

// Exported with fixed shapes (constant Reshape targets, no mask): also one ATTENTION op.
TEST(E2eAttention, StaticShapePatternBecomesOneOp) {
  if (DataDir().empty()) GTEST_SKIP() << "make_e2e.py failed (python venv missing?)";
  testing::Efb e;
  ASSERT_NO_FATAL_FAILURE(ConvertWithDefaults("mha_static", &e));
  EXPECT_EQ(e.OpTypes(), (std::vector<fb::OpType>{fb::OpType::FULLY_CONNECTED, fb::OpType::FULLY_CONNECTED,
                                                  fb::OpType::FULLY_CONNECTED, fb::OpType::ATTENTION}));
  const fb::OperatorT* op = e.FindOp(fb::OpType::ATTENTION);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->options.AsAttentionOptions()->num_heads, 2);
  EXPECT_FALSE(op->options.AsAttentionOptions()->divide);
  EXPECT_EQ(op->inputs.size(), 3u);
}

Json ReadJson(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  absl::StatusOr<Json> j = ParseJson(ss.str());
  EXPECT_TRUE(j.ok()) << path << ": " << j.status();
  return j.ok() ? *j : Json{};
}

size_t FileSize(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  return f ? static_cast<size_t>(f.tellg()) : 0;
}

// Mixed precision on "deep" (make_e2e.py): four damped residual blocks whose INT4 errors hardly
// reach the output, and an output projection that needs INT8. The search must find that mix:
// smaller than INT8 everywhere, within the bound on the held-out test input, one cached
// candidate per layer and precision plus a few verification runs.
TEST(E2eMixed, SmallerThanInt8WithinBoundOnHeldOutInput) {
  const char* model = "deep";
  ConvertOptions o8;
  o8.quant = "int8";
  Outputs outs8;
  CONVERT_AND_RUN(model, o8, outs8);
  const size_t int8_bytes = FileSize(o8.output);

  ConvertOptions o;
  o.quant = "mixed";
  o.max_error = 0.999;
  o.calib_dir = DataDir() + "/" + model + "/calib";
  o.report_path = TestPath("deep_mixed.json");
  Outputs outs;
  CONVERT_AND_RUN(model, o, outs);
  const size_t mixed_bytes = FileSize(o.output);
  EXPECT_LT(mixed_bytes, int8_bytes);
  EXPECT_GE(Cos(outs.v[0], Expected(model, 0)), 0.999);  // held out: not a calibration sample

  Json j = ReadJson(o.report_path);
  ASSERT_EQ(j.kind, Json::kObject);
  int int4 = 0, layers = 0;
  for (const Json& l : j.Get("layers")->arr) {
    ++layers;
    std::string prec = l.Get("precision")->str;
    int4 += prec == "int4";
    if (l.Get("name")->str == "out_proj") {
      EXPECT_NE(prec, "int4") << "the sensitive layer stayed INT4";
    }
    ASSERT_NE(l.Get("sensitivity_cosine"), nullptr);
    EXPECT_GT(l.Get("sensitivity_cosine")->Get("int8")->num, l.Get("sensitivity_cosine")->Get("int4")->num - 1e-4);
  }
  EXPECT_EQ(layers, 9);
  EXPECT_GE(int4, 4);
  const Json* mixed = j.Get("mixed");
  ASSERT_NE(mixed, nullptr);
  EXPECT_EQ(mixed->Get("sensitivity_samples")->num, 4);
  const double verifications = mixed->Get("verifications")->num;
  EXPECT_GE(verifications, 1);
  EXPECT_LE(verifications, 9);
  EXPECT_EQ(mixed->Get("candidates")->num, 2 * 9 + verifications);  // no model built twice
  EXPECT_GE(j.Get("final_output")->Get("worst_cosine")->num, 0.999);

  // A stricter bound never gives a smaller model; all samples for sensitivity works too.
  o.max_error = 0.99999;
  o.sensitivity_samples = 0;
  o.output = TestPath("deep_strict.efb");
  ConvertSummary sum;
  ASSERT_TRUE(Convert(o, &sum).ok());
  EXPECT_GE(sum.output_bytes, mixed_bytes);
  EXPECT_GE(sum.final_cosine, 0.99999);
  EXPECT_EQ(ReadJson(o.report_path).Get("mixed")->Get("sensitivity_samples")->num, 16);
}

// Layers fixed by --overrides keep their precision; when they alone break the bound the
// conversion fails with one line and writes nothing.
TEST(E2eMixed, UnreachableBoundIsAnError) {
  if (DataDir().empty()) GTEST_SKIP();
  std::string ov = TestPath("overrides.json");
  {
    std::ofstream f(ov);
    f << "{\"out_proj\": \"int4\"}";
  }
  ConvertOptions o;
  o.input = DataDir() + "/deep/model.onnx";
  o.output = TestPath("unreachable.efb");
  o.quant = "mixed";
  o.max_error = 0.9999;
  o.overrides_path = ov;
  o.calib_dir = DataDir() + "/deep/calib";
  o.progress = false;
  absl::Status st = Convert(o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot be met"), std::string::npos) << st;
  EXPECT_EQ(std::string(st.message()).find('\n'), std::string::npos) << st;
  EXPECT_FALSE(testing::FileExists(o.output));
}

// Gemm with transA=1, a run-time B (transB=1), alpha, beta and a run-time C; Gemm with a constant
// B and transA=1; LayerNormalization with unused Mean / InvStdDev outputs.
TEST(E2eGemmLayerNorm, FormerlyRefusedCasesMatchOnnxRuntime) {
  ConvertOptions o;
  Outputs outs;
  CONVERT_AND_RUN("gemm_ln", o, outs);
  std::vector<float> ref = Expected("gemm_ln", 0);
  ASSERT_EQ(outs.v.size(), 1u);
  ASSERT_EQ(outs.v[0].size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(outs.v[0][i], ref[i], 1e-5 * std::max(1.0f, std::fabs(ref[i]))) << i;
}

TEST(E2eQdq, ImportedModelMatchesOnnxRuntime) {
  ConvertOptions o;
  Outputs outs;
  CONVERT_AND_RUN("qdq", o, outs);
  std::vector<float> ref = Expected("qdq", 0);
  EXPECT_GE(Cos(outs.v[0], ref), 0.9999);
}

TEST(E2eCalib, BadCalibrationFiles) {
  if (DataDir().empty()) GTEST_SKIP();
  ConvertOptions o;
  o.input = DataDir() + "/mlp/model.onnx";
  o.output = TestPath("bad.efb");
  o.quant = "int8-static";
  o.progress = false;
  std::string d = TestPath("calib_bad");
  mkdir(d.c_str(), 0755);
  mkdir((d + "/s0").c_str(), 0755);
  NpyArray a;
  a.dtype = DType::kF32;
  a.shape = {4, 63};  // model wants [batch, 64]
  a.data.assign(4 * 63 * 4, '\0');
  ASSERT_TRUE(WriteNpy(d + "/s0/x.npy", a).ok());
  o.calib_dir = d;
  absl::Status st = Convert(o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("expects shape [batch,64], got [4,63]"), std::string::npos) << st;
  a.dtype = DType::kI64;
  a.shape = {4, 64};
  a.data.assign(4 * 64 * 8, '\0');
  ASSERT_TRUE(WriteNpy(d + "/s0/x.npy", a).ok());
  st = Convert(o);
  EXPECT_NE(st.message().find("expects dtype f32, got i64"), std::string::npos) << st;
  std::remove((d + "/s0/x.npy").c_str());
  st = Convert(o);
  EXPECT_NE(st.message().find("no file for input 'x'"), std::string::npos) << st;
  EXPECT_FALSE(testing::FileExists(o.output));
}

}  // namespace
}  // namespace edgert::converter
