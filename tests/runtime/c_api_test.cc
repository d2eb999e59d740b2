// The public C API: load from path and memory, query, set inputs, run, read outputs, errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "edgert/edgert.h"
#include "edgert/edgert.hpp"
#include "model_builder.h"

namespace {

using edgert::test::D;
using edgert::test::ModelBuilder;
using ::testing::HasSubstr;

std::string AddModel() {
  ModelBuilder b;
  int x = b.Input("x", edgert::fb::DType::F32, {"batch", 3});
  int c = b.ConstF32("c", {3}, {1, 2, 3});
  int y = b.Tensor("y", edgert::fb::DType::F32, {"batch", 3});
  b.Op(edgert::fb::OpType::ADD, {x, c}, {y}, {});
  b.Output(y);
  b.model().metadata->source_hash = "feed";
  return b.Build();
}

std::string TempFile(const std::string& bytes) {
  char path[] = "/tmp/edgert_capi_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  return path;
}

TEST(CApi, LoadQueryRunFromPath) {
  std::string path = TempFile(AddModel());
  edgert_model* m = nullptr;
  ASSERT_EQ(edgert_model_load(path.c_str(), &m), EDGERT_OK) << edgert_last_error();
  EXPECT_EQ(edgert_model_num_inputs(m), 1u);
  EXPECT_EQ(edgert_model_num_outputs(m), 1u);
  edgert_tensor_info info;
  ASSERT_EQ(edgert_model_input_info(m, 0, &info), EDGERT_OK);
  EXPECT_STREQ(info.name, "x");
  EXPECT_EQ(info.dtype, EDGERT_F32);
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.dims[0], -1);
  EXPECT_STREQ(info.dim_names[0], "batch");
  EXPECT_EQ(info.dims[1], 3);
  EXPECT_EQ(info.dim_names[1], nullptr);
  EXPECT_STREQ(edgert_model_metadata(m, "source_hash"), "feed");
  EXPECT_STREQ(edgert_model_metadata(m, "producer"), "edgert tests");
  EXPECT_EQ(edgert_model_metadata(m, "missing"), nullptr);
  EXPECT_EQ(edgert_model_input_info(m, 5, &info), EDGERT_NOT_FOUND);
  EXPECT_THAT(edgert_last_error(), HasSubstr("out of range"));

  edgert_session_options opts;
  edgert_session_options_init(&opts);
  opts.num_threads = 2;
  edgert_session* s = nullptr;
  ASSERT_EQ(edgert_session_create(m, &opts, &s), EDGERT_OK) << edgert_last_error();
  const void* data;
  size_t bytes;
  EXPECT_EQ(edgert_session_output_data(s, 0, &data, &bytes), EDGERT_INVALID_ARGUMENT);  // no run yet
  for (int64_t batch : {2, 1}) {
    std::vector<float> x(static_cast<size_t>(batch * 3), 10.f);
    int64_t dims[2] = {batch, 3};
    ASSERT_EQ(edgert_session_set_input(s, 0, EDGERT_F32, dims, 2, x.data(), x.size() * 4), EDGERT_OK) << edgert_last_error();
    ASSERT_EQ(edgert_session_run(s), EDGERT_OK) << edgert_last_error();
    ASSERT_EQ(edgert_session_output_info(s, 0, &info), EDGERT_OK);
    EXPECT_EQ(info.dims[0], batch);
    ASSERT_EQ(edgert_session_output_data(s, 0, &data, &bytes), EDGERT_OK);
    ASSERT_EQ(bytes, static_cast<size_t>(batch * 12));
    const float* y = static_cast<const float*>(data);
    EXPECT_EQ(y[0], 11.f);
    EXPECT_EQ(y[2], 13.f);
  }
  EXPECT_GT(edgert_session_arena_bytes(s), 0u);
  edgert_session_free(s);
  edgert_model_free(m);
  std::remove(path.c_str());
}

// options.profile times every op: the report names each op kind with its count and covers every
// run; without the option (or before a run) there is no report.
TEST(CApi, ProfileReportsOpsOfEveryRun) {
  ModelBuilder b;
  int x = b.Input("x", edgert::fb::DType::F32, {4, 8});
  int c = b.ConstF32("c", {8}, std::vector<float>(8, 1.f));
  int s1 = b.Tensor("s1", edgert::fb::DType::F32, {4, 8});
  int s2 = b.Tensor("s2", edgert::fb::DType::F32, {4, 8});
  int y = b.Tensor("y", edgert::fb::DType::F32, {4, 8});
  b.Op(edgert::fb::OpType::ADD, {x, c}, {s1}, {}, "first_add");
  b.Op(edgert::fb::OpType::ADD, {s1, c}, {s2}, {}, "second_add");
  b.Op(edgert::fb::OpType::RELU, {s2}, {y}, {}, "relu");
  b.Output(y);
  const std::string bytes = b.Build();
  edgert_model* m = nullptr;
  ASSERT_EQ(edgert_model_load_from_memory(bytes.data(), bytes.size(), &m), EDGERT_OK) << edgert_last_error();
  std::vector<float> xv(32, -0.5f);
  int64_t dims[2] = {4, 8};
  for (int profile = 0; profile < 2; ++profile) {
    edgert_session_options o;
    edgert_session_options_init(&o);
    EXPECT_EQ(o.profile, 0);
    o.num_threads = 1;
    o.profile = profile;
    edgert_session* s = nullptr;
    ASSERT_EQ(edgert_session_create(m, &o, &s), EDGERT_OK) << edgert_last_error();
    EXPECT_EQ(edgert_session_profile(s), nullptr);  // nothing has run
    ASSERT_EQ(edgert_session_set_input(s, 0, EDGERT_F32, dims, 2, xv.data(), xv.size() * 4), EDGERT_OK);
    for (int r = 0; r < 3; ++r) ASSERT_EQ(edgert_session_run(s), EDGERT_OK) << edgert_last_error();
    const char* rep = edgert_session_profile(s);
    if (!profile) {
      EXPECT_EQ(rep, nullptr);
    } else {
      ASSERT_NE(rep, nullptr);
      const std::string r(rep);
      EXPECT_THAT(r, HasSubstr("profile: 3 runs"));
      EXPECT_THAT(r, ::testing::ContainsRegex("ADD +2 "));
      EXPECT_THAT(r, ::testing::ContainsRegex("RELU +1 "));
      EXPECT_THAT(r, HasSubstr("first_add"));
      EXPECT_THAT(r, HasSubstr("second_add"));
      EXPECT_THAT(r, HasSubstr("[4,8]"));
    }
    edgert_session_free(s);
  }
  EXPECT_EQ(edgert_session_profile(nullptr), nullptr);
  edgert_model_free(m);
}

TEST(CApi, BadInputsGiveCodesAndMessages) {
  std::string bytes = AddModel();
  edgert::api::Model m;
  ASSERT_TRUE(m.LoadFromMemory(bytes.data(), bytes.size()).ok());
  edgert::api::Session s;
  ASSERT_TRUE(s.Create(m, 1).ok());
  std::vector<float> x(6);
  auto st = s.SetInput(0, EDGERT_I32, {2, 3}, x.data(), 24);
  EXPECT_EQ(st.code, EDGERT_INVALID_ARGUMENT);
  EXPECT_THAT(st.message, HasSubstr("dtype i32, expected f32"));
  st = s.SetInput(0, EDGERT_F32, {2, 4}, x.data(), 32);
  EXPECT_THAT(st.message, HasSubstr("expected [-1,3]"));
  st = s.SetInput(0, EDGERT_F32, {2, 3}, x.data(), 20);
  EXPECT_THAT(st.message, HasSubstr("got 20 bytes"));
  st = s.Run();
  EXPECT_THAT(st.message, HasSubstr("was not set"));
  EXPECT_EQ(edgert_session_set_input(s.get(), 0, static_cast<edgert_dtype>(42), nullptr, 0, nullptr, 0),
            EDGERT_INVALID_ARGUMENT);
  EXPECT_EQ(edgert_session_set_input(s.get(), 0, EDGERT_F32, nullptr, 9, nullptr, 0), EDGERT_INVALID_ARGUMENT);
}

TEST(CApi, NullArgumentsAndMissingFiles) {
  edgert_model* m = nullptr;
  EXPECT_EQ(edgert_model_load(nullptr, &m), EDGERT_INVALID_ARGUMENT);
  EXPECT_EQ(edgert_model_load("/nonexistent.efb", &m), EDGERT_NOT_FOUND);
  EXPECT_THAT(edgert_last_error(), HasSubstr("/nonexistent.efb"));
  EXPECT_EQ(m, nullptr);
  std::string garbage(300, 'g');
  EXPECT_EQ(edgert_model_load_from_memory(garbage.data(), garbage.size(), &m), EDGERT_INVALID_MODEL);
  EXPECT_THAT(edgert_last_error(), HasSubstr("bad magic"));
  EXPECT_EQ(edgert_session_create(nullptr, nullptr, nullptr), EDGERT_INVALID_ARGUMENT);
  EXPECT_EQ(edgert_session_run(nullptr), EDGERT_INVALID_ARGUMENT);
  edgert_model_free(nullptr);
  edgert_session_free(nullptr);
  EXPECT_EQ(edgert_model_num_inputs(nullptr), 0u);
}

TEST(CApi, VersionAndIsa) {
  EXPECT_STRNE(edgert_version(), "");
  const std::string isa = edgert_isa();
  EXPECT_TRUE(isa == "ref" || isa == "avx2" || isa == "avxvnni" || isa == "avx512vnni" || isa == "neon" ||
              isa == "neondot" || isa == "i8mm")
      << isa;
}

}  // namespace
