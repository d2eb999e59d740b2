// Small self-contained helpers: sha256, .npy reading, a minimal JSON reader, a progress bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir.h"

namespace edgert::converter {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t n);
  std::string HexDigest();  // finalizes

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};
absl::StatusOr<std::string> Sha256File(const std::string& path);

struct NpyArray {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::string data;  // little-endian, C order
  int64_t NumElements() const;
};
// Reads a version 1/2/3 .npy file (little-endian or byte-order-free dtypes f4, f2, i1, u1, i4,
// i8, b1; C order).
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);
absl::Status WriteNpy(const std::string& path, const NpyArray& a);

// Minimal JSON value (objects, arrays, strings, numbers, true/false/null).
struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;
  const Json* Get(const std::string& key) const;
};
absl::StatusOr<Json> ParseJson(const std::string& text);
std::string JsonEscape(const std::string& s);

// Prints "label [#####.....] 12/40 ETA 3s" to stderr when it is a terminal (and enabled).
class Progress {
 public:
  Progress(const std::string& label, size_t total, bool enabled);
  ~Progress();
  void Tick(size_t n = 1);

 private:
  std::string label_;
  size_t total_, done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

std::vector<std::string> ListDir(const std::string& dir);  // sorted names, no . / ..
bool IsDir(const std::string& path);

}  // namespace edgert::converter
