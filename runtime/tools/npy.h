// Minimal, defensive .npy (NumPy format 1.0/2.0/3.0) reader and writer. Little-endian C-order
// arrays of f32, f16, i8, u8, i32, i64, bool. Every malformed input is an error, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace edgert::npy {

enum class Type { kF32, kF16, kI8, kU8, kI32, kI64, kBool };

struct Array {
  Type type = Type::kF32;
  std::vector<int64_t> shape;
  std::string data;  // raw little-endian bytes
};

size_t TypeSize(Type t);
const char* TypeName(Type t);

// Parses a whole .npy file held in memory. `label` names it in errors.
absl::StatusOr<Array> Parse(std::string_view bytes, const std::string& label);
absl::StatusOr<Array> ReadFile(const std::string& path);
// Serializes to .npy format 1.0.
std::string Serialize(const Array& a);

}  // namespace edgert::npy
