// Fuzz regressions: every input in tests/fuzz/regressions/{efb,npy,onnx}/ (each once crashed a
// fuzz target) runs through the same harness as the fuzzer and must end in a clean error (or
// success), never a crash or sanitizer report. Plus resource limits: small files that declare
// or infer huge tensors fail cleanly before anything big is allocated.
#include <dirent.h>
#include <sys/resource.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "efb_harness.h"
#include "model.h"
#include "npy.h"
#include "seed_models.h"
#include "session.h"
#ifdef EDGERT_REGRESSIONS_WITH_ONNX
#include "onnx_harness.h"
#endif

namespace edgert {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

std::vector<std::string> Files(const std::string& kind) {
  std::vector<std::string> out;
  const std::string dir = std::string(EDGERT_REGRESSIONS_DIR) + "/" + kind;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const uint8_t* U8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(FuzzRegressions, EfbInputsFailCleanly) {
  for (const std::string& f : Files("efb")) {
    SCOPED_TRACE(f);
    const std::string bytes = Read(f);
    edgert_status st = fuzz::RunEfbInput(U8(bytes), bytes.size());
    if (st != EDGERT_OK) {
      const std::string msg = edgert_last_error();
      EXPECT_FALSE(msg.empty());
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      std::printf("%s: %d %s\n", f.substr(f.rfind('/') + 1).c_str(), static_cast<int>(st), msg.c_str());
    }
  }
}

TEST(FuzzRegressions, NpyInputsFailCleanly) {
  for (const std::string& f : Files("npy")) {
    SCOPED_TRACE(f);
    auto a = npy::Parse(Read(f), "r.npy");
    if (!a.ok()) {
      EXPECT_THAT(std::string(a.status().message()), HasSubstr("r.npy"));
    }
  }
}

#ifdef EDGERT_REGRESSIONS_WITH_ONNX
TEST(FuzzRegressions, OnnxInputsFailCleanly) {
  for (const std::string& f : Files("onnx")) {
    SCOPED_TRACE(f);
    const std::string bytes = Read(f);
    absl::Status st = fuzz::RunOnnxInput(U8(bytes), bytes.size());
    if (!st.ok()) {
      EXPECT_FALSE(st.message().empty());
      std::printf("%s: %s\n", f.substr(f.rfind('/') + 1).c_str(), std::string(st.message()).c_str());
    }
  }
}
#endif

// ---- resource limits ----

struct Bytes64 {  // 64-byte aligned copy
  explicit Bytes64(const std::string& s) : buf(s.size() + 64) {
    p = reinterpret_cast<uint8_t*>(AlignUp(reinterpret_cast<uintptr_t>(buf.data()), 64));
    std::memcpy(p, s.data(), s.size());
  }
  std::vector<uint8_t> buf;
  uint8_t* p;
};

long MaxRssMb() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

TEST(ResourceLimits, InferredShapeExplosionFailsAtSessionCreation) {
  // A few hundred bytes whose Tile / Expand / ConstantOfShape / Range / Reshape outputs would be
  // 2^40+ elements: refused when planning (at session creation, the inputs being fixed).
  const long rss0 = MaxRssMb();
  for (fb::OpType op : {fb::OpType::TILE, fb::OpType::EXPAND, fb::OpType::CONSTANT_OF_SHAPE, fb::OpType::RANGE,
                        fb::OpType::RESHAPE}) {
    SCOPED_TRACE(fb::EnumNameOpType(op));
    const std::string s = test::ShapeFromValuesModel(op, int64_t{1} << 20).Build();
    ASSERT_LT(s.size(), 4096u);
    Bytes64 b(s);
    auto m = Model::LoadMemory(b.p, s.size(), "explode.efb");
    ASSERT_TRUE(m.ok()) << m.status();
    SessionOptions o;
    o.num_threads = 1;
    auto sess = Session::Create(**m, o);  // no arena limit: the tensor bounds alone refuse it
    ASSERT_FALSE(sess.ok());
    EXPECT_THAT(sess.status().code(), AnyOf(absl::StatusCode::kInvalidArgument, absl::StatusCode::kResourceExhausted));
    EXPECT_THAT(std::string(sess.status().message()), HasSubstr("explode.efb"));
    // The small version of the same graph works.
    const std::string ok = test::ShapeFromValuesModel(op, 2).Build();
    Bytes64 b2(ok);
    auto m2 = Model::LoadMemory(b2.p, ok.size(), "small.efb");
    ASSERT_TRUE(m2.ok()) << m2.status();
    EXPECT_TRUE(Session::Create(**m2, o).ok());
  }
  // Arena-limited: a 2^24-element intermediate (64 MiB) is refused by a 1 MiB arena limit.
  const std::string mid = test::ShapeFromValuesModel(fb::OpType::TILE, 1 << 12).Build();
  Bytes64 b(mid);
  auto m = Model::LoadMemory(b.p, mid.size(), "mid.efb");
  ASSERT_TRUE(m.ok());
  SessionOptions o;
  o.arena_limit_bytes = 1 << 20;
  auto sess = Session::Create(**m, o);
  ASSERT_FALSE(sess.ok());
  EXPECT_EQ(sess.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LT(MaxRssMb() - rss0, 256) << "peak RSS grew";
}

TEST(ResourceLimits, HugeFixedInputDimsAllocateNothingAtSessionCreation) {
  // x[2^30, 4] f32 (16 GiB declared, within the per-tensor bound): the session must not allocate
  // the input before it is set; the plan's arena is refused by the limit.
  test::ModelBuilder b = test::AddReluModel();
  b.tensor(0).shape[0]->value = int64_t{1} << 30;
  b.tensor(0).shape[0]->name = "";
  const std::string s = b.Build();
  ASSERT_LT(s.size(), 4096u);
  Bytes64 bb(s);
  auto m = Model::LoadMemory(bb.p, s.size(), "huge_input.efb");
  ASSERT_TRUE(m.ok()) << m.status();
  const long rss0 = MaxRssMb();
  SessionOptions o;
  o.num_threads = 1;
  o.arena_limit_bytes = 64 << 20;
  auto sess = Session::Create(**m, o);
  ASSERT_FALSE(sess.ok());
  EXPECT_EQ(sess.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LT(MaxRssMb() - rss0, 256) << "peak RSS grew";
}

}  // namespace
}  // namespace edgert
