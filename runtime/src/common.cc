#include "common.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace edgert {

void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "edgert internal error: %s:%d: check failed: %s\n", file, line, cond);
  std::abort();
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::I8: return "i8";
    case DType::U8: return "u8";
    case DType::I4: return "i4";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::BOOL: return "bool";
  }
  return "unknown";
}

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
    case DType::I64: return 8;
    case DType::I4: return 0;
  }
  return 0;
}

int64_t DTypeBytes(DType t, int64_t count) {
  if (t == DType::I4) return count / 2 + count % 2;
  // Saturates: callers compare the result with a bound, and an inferred element count may be
  // near INT64_MAX (fuzz_efb: signed overflow in Session::Plan).
  const int64_t size = static_cast<int64_t>(DTypeSize(t));
  if (size != 0 && count > INT64_MAX / size) return INT64_MAX;
  return count * size;
}

std::string ShapeString(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) absl::StrAppend(&out, i ? "," : "", s[i]);
  return out + "]";
}

absl::StatusOr<int64_t> NumElements(const Shape& s) {
  int64_t n = 1;
  // The product of the non-zero dims is bounded too: an empty tensor [2^40, 0, 2^20] would
  // otherwise make ops loop 2^60 times over nothing (fuzz_efb: timeout in Softmax).
  int64_t nonzero = 1;
  for (int64_t d : s) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("negative dim in shape ", ShapeString(s)));
    if (d != 0 && nonzero > kMaxTensorBytes / d) {
      return absl::InvalidArgumentError(absl::StrCat("element count of shape ", ShapeString(s), " overflows"));
    }
    if (d != 0) nonzero *= d;
    n *= d;
  }
  return n;
}

}  // namespace edgert

namespace edgert {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace edgert
