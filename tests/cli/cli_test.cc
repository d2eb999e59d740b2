// edgert_run from the shell: outputs, options and every bad-input path (one-line error, exit != 0).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "model_builder.h"
#include "npy.h"

namespace {

using edgert::test::D;
using edgert::test::ModelBuilder;
using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int code;
  std::string out, err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edgert_cli_XXXXXX";
    dir_ = mkdtemp(tmpl);
    // y = relu(x + c), x: [batch, 3] f32; named with a slash to test --out name sanitizing.
    ModelBuilder b;
    int x = b.Input("x", edgert::fb::DType::F32, {"batch", 3});
    int c = b.ConstF32("c", {3}, {1, -2, 3});
    int s = b.Tensor("s", edgert::fb::DType::F32, {"batch", 3});
    int y = b.Tensor("out/y:0", edgert::fb::DType::F32, {"batch", 3});
    b.Op(edgert::fb::OpType::ADD, {x, c}, {s}, {});
    b.Op(edgert::fb::OpType::RELU, {s}, {y}, {});
    b.Output(y);
    model_ = Write("m.efb", b.Build());
    // Fixed-shape model with two inputs.
    ModelBuilder b2;
    int p = b2.Input("p", edgert::fb::DType::F32, {2});
    int q = b2.Input("q", edgert::fb::DType::F32, {2});
    int z = b2.Tensor("z", edgert::fb::DType::F32, {2});
    b2.Op(edgert::fb::OpType::MUL, {p, q}, {z}, {});
    b2.Output(z);
    model2_ = Write("m2.efb", b2.Build());
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::string Npy(const std::string& name, edgert::npy::Type t, std::vector<int64_t> shape, const void* data, size_t n) {
    edgert::npy::Array a;
    a.type = t;
    a.shape = std::move(shape);
    a.data.assign(static_cast<const char*>(data), n);
    return Write(name, edgert::npy::Serialize(a));
  }
  Result Run(const std::string& args) {
    std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    int st = std::system((std::string(EDGERT_RUN) + " " + args + " >" + out + " 2>" + err).c_str());
    auto slurp = [](const std::string& p) {
      std::ifstream f(p);
      std::stringstream ss;
      ss << f.rdbuf();
      return ss.str();
    };
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), slurp(err)};
  }
  static void ExpectOneLineError(const Result& r, const std::string& what) {
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.code, -1) << "crashed";
    EXPECT_THAT(r.err, HasSubstr(what));
    EXPECT_THAT(r.err, HasSubstr("edgert_run: "));
    EXPECT_EQ(r.out, "");
  }

  std::string dir_, model_, model2_;
};

TEST_F(Cli, VersionNamesTheIsa) {
  Result r = Run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("edgert "));
  EXPECT_THAT(r.out, HasSubstr("\nisa: "));
}

TEST_F(Cli, RunsNpyInputAndPrintsStats) {
  float x[6] = {1, 1, 1, -5, 5, -5};
  std::string in = Npy("x.npy", edgert::npy::Type::kF32, {2, 3}, x, sizeof x);
  Result r = Run(model_ + " " + in);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("out/y:0: shape [2,3] dtype f32"));
  EXPECT_THAT(r.out, HasSubstr("values: 2 0 4 0 3 0"));
  EXPECT_THAT(r.out, HasSubstr("min 0 max 4 mean 1.5"));
}

TEST_F(Cli, OutWritesSanitizedNpy) {
  float x[3] = {1, 1, 1};
  std::string in = Npy("x.npy", edgert::npy::Type::kF32, {1, 3}, x, sizeof x);
  Result r = Run(model_ + " " + in + " --out " + dir_ + "/outs");
  ASSERT_EQ(r.code, 0) << r.err;
  auto a = edgert::npy::ReadFile(dir_ + "/outs/out_y_0.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{1, 3}));
  float y[3];
  std::memcpy(y, a->data.data(), 12);
  EXPECT_EQ(y[0], 2.f);
  EXPECT_EQ(y[2], 4.f);
}

TEST_F(Cli, BinInputWithShapeJsonAndBench) {
  float x[6] = {0, 0, 0, 1, 1, 1};
  std::string in = Write("x.bin", std::string(reinterpret_cast<char*>(x), sizeof x));
  Result r = Run(model_ + " " + in + " --shape x=2x3 --json --bench 3 --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"outputs\":[{\"name\":\"out/y:0\",\"dtype\":\"f32\",\"shape\":[2,3]}]"));
  EXPECT_THAT(r.out, HasSubstr("\"bench\":{\"runs\":3,\"median_ms\":"));
  EXPECT_THAT(r.out, HasSubstr("\"p90_ms\":"));
  EXPECT_THAT(r.out, HasSubstr("\"peak_rss_mb\":"));
  EXPECT_THAT(r.out, HasSubstr("\"isa\":\""));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST_F(Cli, ProfilePrintsOpTimesToStderr) {
  float x[6] = {0, 0, 0, 1, 1, 1};
  std::string in = Npy("x.npy", edgert::npy::Type::kF32, {2, 3}, x, sizeof x);
  Result r = Run(model_ + " " + in + " --json --bench 2 --profile");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);  // stdout is still one JSON object
  EXPECT_THAT(r.err, HasSubstr("profile: 4 runs"));  // 2 warm-up + 2 timed
  EXPECT_THAT(r.err, HasSubstr("ADD"));
  EXPECT_THAT(r.err, HasSubstr("RELU"));
  EXPECT_THAT(r.err, HasSubstr("slowest ops:"));
}

TEST_F(Cli, MissingModel) { ExpectOneLineError(Run(dir_ + "/nope.efb"), "nope.efb: cannot open model"); }

TEST_F(Cli, GarbageModel) {
  std::string g = Write("g.efb", std::string(500, 'z'));
  ExpectOneLineError(Run(g), "not an edgert model");
}

TEST_F(Cli, TruncatedModel) {
  std::ifstream f(model_, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string t = Write("t.efb", ss.str().substr(0, 150));
  ExpectOneLineError(Run(t), "truncated");
}

TEST_F(Cli, WrongNumberOfInputs) {
  float x[2] = {1, 2};
  std::string in = Npy("p.npy", edgert::npy::Type::kF32, {2}, x, sizeof x);
  ExpectOneLineError(Run(model2_ + " " + in), "model has 2 inputs (p, q), got 1 input files");
}

TEST_F(Cli, WrongByteSize) {
  std::string in = Write("p.bin", std::string(7, '\0'));
  ExpectOneLineError(Run(model2_ + " " + in + " " + in), "needs 8 bytes ([2] f32), the file has 7");
}

TEST_F(Cli, WrongDtype) {
  int64_t v[2] = {1, 2};
  std::string in = Npy("p.npy", edgert::npy::Type::kI64, {2}, v, sizeof v);
  ExpectOneLineError(Run(model2_ + " " + in + " " + in), "input 'p' expects f32, the .npy holds i64");
}

TEST_F(Cli, WrongShape) {
  float v[3] = {1, 2, 3};
  std::string in = Npy("p.npy", edgert::npy::Type::kF32, {3}, v, sizeof v);
  ExpectOneLineError(Run(model2_ + " " + in + " " + in), "shape [3], expected [2]");
}

TEST_F(Cli, DynamicDimNeedsShape) {
  std::string in = Write("x.bin", std::string(12, '\0'));
  ExpectOneLineError(Run(model_ + " " + in), "dynamic dim 'batch': give --shape x=");
}

TEST_F(Cli, BadNpy) {
  std::string in = Write("x.npy", "\x93NUMPY garbage");
  ExpectOneLineError(Run(model_ + " " + in), "x.npy");
}

TEST_F(Cli, BadOptions) {
  ExpectOneLineError(Run(model_ + " --threads -3"), "--threads");
  ExpectOneLineError(Run(model_ + " --bench 0"), "--bench");
  ExpectOneLineError(Run(model_ + " --frobnicate"), "unknown option --frobnicate");
  ExpectOneLineError(Run(model_ + " --random --shape nope=1x3"), "no input named 'nope'");
  ExpectOneLineError(Run(""), "no model given");
}

TEST_F(Cli, OutIntoAFileLeavesNothing) {
  float x[3] = {1, 1, 1};
  std::string in = Npy("x.npy", edgert::npy::Type::kF32, {1, 3}, x, sizeof x);
  std::string blocker = Write("blocker", "x");
  ExpectOneLineError(Run(model_ + " " + in + " --out " + blocker), "not a directory");
  struct stat st;
  EXPECT_NE(stat((blocker + "/out_y_0.npy").c_str(), &st), 0);
}

TEST_F(Cli, RandomInputs) {
  Result r = Run(model_ + " --random --shape x=4x3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("shape [4,3]"));
}

}  // namespace
