// edgert_convert as a program: exit codes, one-line errors, no output file on failure.
#include <sys/wait.h>

#include <cstdlib>
#include <iterator>

#include "test_util.h"
#include "util.h"

namespace edgert::converter {
namespace {

using testing::OnnxBuilder;
using testing::TestPath;

struct Result {
  int code;
  std::string err;
};

Result RunCli(const std::string& args) {
  std::string errf = TestPath("stderr.txt");
  std::string cmd = std::string(EDGERT_CONVERT_BIN) + " " + args + " 2>" + errf;
  int rc = std::system(cmd.c_str());
  std::ifstream f(errf);
  std::stringstream ss;
  ss << f.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

int Lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(Cli, ConvertsAndReports) {
  OnnxBuilder b;
  b.Input("x", {1, 64}).Output("y");
  b.Init("W", {64, 16}, testing::Randn(1024, 1));
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  std::string in = b.Save(TestPath("m.onnx")), out = TestPath("m.efb");
  Result r = RunCli(in + " " + out + " --quant int4 --block 64 --asym --report " + TestPath("r.json"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(testing::FileExists(out));
  EXPECT_TRUE(testing::FileExists(TestPath("r.json")));
  EXPECT_TRUE(testing::FileExists(TestPath("r.md")));
  EXPECT_NE(r.err.find("1/1 layers quantized"), std::string::npos) << r.err;
}

TEST(Cli, FailuresAreOneLineAndLeaveNoFile) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Node("Unique", {"x"}, {"y"}, "uniq");
  std::string in = b.Save(TestPath("bad.onnx")), out = TestPath("bad.efb");
  for (const std::string& args :
       {in + " " + out, TestPath("missing.onnx") + " " + out, in + " " + out + " --quant int9",
        in + " " + out + " --block abc", in + " " + out + " --bogus", std::string("onlyone.onnx")}) {
    Result r = RunCli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_GE(r.code, 1) << args;
    EXPECT_FALSE(testing::FileExists(out)) << args;
    if (args.find("--bogus") == std::string::npos && args != "onlyone.onnx") {
      EXPECT_EQ(Lines(r.err), 1) << args << ": " << r.err;
    }
  }
  Result r = RunCli(in + " " + out);
  EXPECT_NE(r.err.find("'uniq' (Unique, opset 17)"), std::string::npos) << r.err;
  // No temporary left behind either.
  std::string dir = out.substr(0, out.find_last_of('/'));
  std::string ls = "ls " + dir + " | grep -c '[.]tmp[.]' > " + TestPath("tmpcount.txt");
  std::system(ls.c_str());
  std::ifstream f(TestPath("tmpcount.txt"));
  int n = -1;
  f >> n;
  EXPECT_EQ(n, 0);
}

TEST(Cli, OutputOverTheInputIsRefused) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Node("Relu", {"x"}, {"y"}, "relu");
  std::string in = b.Save(TestPath("same.onnx"));
  std::string before;
  {
    std::ifstream f(in, std::ios::binary);
    before.assign((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  std::string dir = in.substr(0, in.find_last_of('/'));
  for (const std::string& out : {in, dir + "/./same.onnx"}) {
    Result r = RunCli(in + " " + out);
    EXPECT_NE(r.code, 0) << out;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("the output is the input file"), std::string::npos) << r.err;
    std::ifstream f(in, std::ios::binary);
    std::string after((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(after, before) << "the source model was modified";
  }
  // A missing output directory: non-zero, one line, nothing written.
  Result r = RunCli(in + " " + dir + "/no/such/dir/out.efb");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_FALSE(testing::FileExists(dir + "/no"));
}

TEST(Cli, CalibrationErrors) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Init("W", {4, 4}, testing::Randn(16, 1));
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  std::string in = b.Save(TestPath("m.onnx")), out = TestPath("m.efb");
  Result r = RunCli(in + " " + out + " --quant int8-static --calib " + TestPath("nodir"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("calibration folder not found"), std::string::npos) << r.err;
  std::string dir = TestPath("calib");
  mkdir(dir.c_str(), 0755);
  {
    std::ofstream f(dir + "/s0.npy", std::ios::binary);
    f << "not numpy";
  }
  r = RunCli(in + " " + out + " --quant int4 --calib " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("s0.npy: not a valid .npy file"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_FALSE(testing::FileExists(out));
}

// The mixed-precision and runtime options: bad values are one line, non-zero, no file.
TEST(Cli, BadMixedOptions) {
  OnnxBuilder b;
  b.Input("x", {1, 4}).Output("y");
  b.Init("W", {4, 4}, testing::Randn(16, 1));
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  std::string in = b.Save(TestPath("m.onnx")), out = TestPath("m.efb");
  for (const char* opt : {"--mixed-margin 1", "--mixed-margin -0.1", "--mixed-margin x",
                                 "--sensitivity-samples -1", "--sensitivity-samples 2x", "--threads -1",
                                 "--threads 5000", "--max-error 1.5", "--quant mixed"}) {
    Result r = RunCli(in + " " + out + " " + opt);
    EXPECT_NE(r.code, 0) << opt;
    EXPECT_EQ(Lines(r.err), 1) << opt << ": " << r.err;
    EXPECT_FALSE(testing::FileExists(out)) << opt;
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Long steps draw "label [####......] i/n ETA Ns" on stderr only when stderr is a terminal:
// under a pseudo-terminal (script(1)) the bar appears; with stderr redirected to a file, or with
// --no-progress, it does not.
TEST(Cli, ProgressBarOnlyOnATerminal) {
  if (std::system("command -v script > /dev/null 2>&1") != 0) GTEST_SKIP() << "script(1) (util-linux) not installed";
  OnnxBuilder b;
  b.Input("x", {2, 64}).Output("y");
  b.Init("W", {64, 16}, testing::Randn(1024, 3));
  b.Node("MatMul", {"x", "W"}, {"y"}, "fc");
  std::string in = b.Save(TestPath("m.onnx")), out = TestPath("m.efb");
  std::string calib = TestPath("calib");
  mkdir(calib.c_str(), 0755);
  for (int s = 0; s < 3; ++s) {
    NpyArray a;
    a.dtype = DType::kF32;
    a.shape = {2, 64};
    std::vector<float> v = testing::Randn(128, 10 + s);
    a.data.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    ASSERT_TRUE(WriteNpy(calib + "/s" + std::to_string(s) + ".npy", a).ok());
  }
  const std::string args = in + " " + out + " --quant int8-static --calib " + calib;
  auto under_pty = [&](const std::string& extra) {
    // script copies everything written to the pseudo-terminal to its stdout; -e: child's status.
    std::string tty = TestPath("tty.txt");
    std::string cmd = "script -qec '" + std::string(EDGERT_CONVERT_BIN) + " " + args + extra + "' /dev/null > " +
                      tty + " 2>&1 < /dev/null";
    int rc = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd << "\n" << ReadFile(tty);
    return ReadFile(tty);
  };
  std::string tty = under_pty("");
  EXPECT_NE(tty.find("calibrating ["), std::string::npos) << tty;
  EXPECT_NE(tty.find("3/3 ETA"), std::string::npos) << tty;
  EXPECT_NE(tty.find('\r'), std::string::npos) << "the bar redraws in place";
  EXPECT_NE(tty.find("edgert_convert: wrote"), std::string::npos) << tty;

  std::string quiet = under_pty(" --no-progress");
  EXPECT_EQ(quiet.find("ETA"), std::string::npos) << quiet;
  EXPECT_NE(quiet.find("edgert_convert: wrote"), std::string::npos) << quiet;

  Result r = RunCli(args);  // stderr is a file
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("ETA"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
}

}  // namespace
}  // namespace edgert::converter
