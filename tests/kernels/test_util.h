// Shared helpers for the kernel tests: the variants under test, guarded buffers, data.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgert/kernels/internal.h"

namespace edgert::kernels::test {

struct Variant {
  std::string name;
  Isa isa;
  bool simde;
};

inline std::vector<Variant> AllVariants() {
  std::vector<Variant> v = {{"ref", Isa::kRef, false},
                            {"avx2", Isa::kAvx2, false},
                            {"avxvnni", Isa::kAvxVnni, false},
                            {"avx512vnni", Isa::kAvx512Vnni, false}};
#if defined(EDGERT_TEST_SIMDE)
  v.push_back({"avxvnni_simde", Isa::kAvxVnni, true});
  v.push_back({"avx512vnni_simde", Isa::kAvx512Vnni, true});
#endif
  return v;
}

inline std::string VariantName(const ::testing::TestParamInfo<Variant>& info) {
  return info.param.name;
}

// The table for a variant, or null with the reason it cannot run here (-> GTEST_SKIP).
inline const QGemmConfig* ConfigOrReason(const Variant& v, std::string* reason) {
  if (v.simde) {
    // The emulated build is compiled with AVX2+FMA+F16C flags.
    if (!IsaSupportedByCpu(Isa::kAvx2)) {
      *reason = "SIMDe build needs AVX2+FMA+F16C, which this CPU lacks";
      return nullptr;
    }
    return simde_emu::QGemmConfigFor(v.isa);
  }
  if (!IsaBuilt(v.isa)) {
    *reason = std::string(IsaName(v.isa)) + " is not built into this binary";
    return nullptr;
  }
  if (!IsaSupportedByCpu(v.isa)) {
    *reason = std::string("this CPU cannot run ") + IsaName(v.isa);
    return nullptr;
  }
  return QGemmConfigFor(v.isa);
}

#define EDGERT_CONFIG_OR_SKIP(cfg, variant)                       \
  std::string skip_reason_;                                       \
  const QGemmConfig* cfg = ConfigOrReason(variant, &skip_reason_); \
  if (!cfg) GTEST_SKIP() << skip_reason_

// A buffer with guard bytes on both sides; payload filled with a sentinel byte.
template <class T>
class Guarded {
 public:
  static constexpr size_t kGuard = 256;
  static constexpr uint8_t kGuardByte = 0xA5;
  explicit Guarded(size_t n, uint8_t sentinel = 0xCD) : n_(n), mem_(n * sizeof(T) + 2 * kGuard + 64) {
    std::memset(mem_.data(), kGuardByte, mem_.size());
    std::memset(data(), sentinel, n * sizeof(T));
  }
  T* data() { return reinterpret_cast<T*>(Aligned() + kGuard); }
  const T* data() const { return reinterpret_cast<const T*>(const_cast<Guarded*>(this)->Aligned() + kGuard); }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data()[i]; }
  bool GuardsIntact() {
    uint8_t* p = Aligned();
    for (size_t i = 0; i < kGuard; ++i)
      if (p[i] != kGuardByte || p[kGuard + n_ * sizeof(T) + i] != kGuardByte) return false;
    return true;
  }

 private:
  uint8_t* Aligned() {
    auto x = reinterpret_cast<uintptr_t>(mem_.data());
    return reinterpret_cast<uint8_t*>((x + 63) / 64 * 64);
  }
  size_t n_;
  std::vector<uint8_t> mem_;
};

inline std::vector<float> RandomFloats(size_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

constexpr size_t kM[] = {1, 2, 3, 4, 7, 16, 33, 128};
constexpr size_t kK[] = {1, 7, 31, 32, 33, 64, 100, 1023, 4096};
constexpr size_t kN[] = {1, 3, 8, 15, 16, 17, 48, 64, 1000};  // 48: a 32-column tile + 16
constexpr int32_t kZeroPoints[] = {0, 1, 127, 128, 255};

}  // namespace edgert::kernels::test
