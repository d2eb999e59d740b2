#include "npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace edgert::npy {
namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 34;

struct TypeDesc {
  Type type;
  const char* descr;
  size_t size;
};
constexpr TypeDesc kTypes[] = {
    {Type::kF32, "<f4", 4}, {Type::kF16, "<f2", 2}, {Type::kI8, "|i1", 1}, {Type::kU8, "|u1", 1},
    {Type::kI32, "<i4", 4}, {Type::kI64, "<i8", 8}, {Type::kBool, "|b1", 1},
};

// Finds 'key': in the header dict and returns the text after the colon.
absl::StatusOr<std::string_view> After(std::string_view header, std::string_view key, const std::string& label) {
  for (char q : {'\'', '"'}) {
    std::string k = absl::StrCat(std::string(1, q), std::string(key), std::string(1, q));
    size_t p = header.find(k);
    if (p == std::string_view::npos) continue;
    p = header.find(':', p + k.size());
    if (p == std::string_view::npos) break;
    p++;
    while (p < header.size() && header[p] == ' ') p++;
    return header.substr(p);
  }
  return absl::InvalidArgumentError(absl::StrCat(label, ": .npy header lacks '", std::string(key), "'"));
}

}  // namespace

size_t TypeSize(Type t) {
  for (const auto& d : kTypes) if (d.type == t) return d.size;
  return 0;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kF32: return "f32";
    case Type::kF16: return "f16";
    case Type::kI8: return "i8";
    case Type::kU8: return "u8";
    case Type::kI32: return "i32";
    case Type::kI64: return "i64";
    case Type::kBool: return "bool";
  }
  return "?";
}

absl::StatusOr<Array> Parse(std::string_view b, const std::string& label) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": not a .npy file (bad magic)"));
  }
  const uint8_t major = static_cast<uint8_t>(b[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = static_cast<uint8_t>(b[8]) | (static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return absl::InvalidArgumentError(absl::StrCat(label, ": .npy file is truncated"));
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<uint8_t>(b[8 + i])) << (8 * i);
    hstart = 12;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(label, ": unsupported .npy version ", int(major)));
  }
  if (hlen > b.size() - hstart) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": .npy header length ", hlen, " exceeds the file"));
  }
  std::string_view h = b.substr(hstart, hlen);
  Array a;
  auto descr = After(h, "descr", label);
  if (!descr.ok()) return descr.status();
  bool found = false;
  for (const auto& d : kTypes) {
    for (char q : {'\'', '"'}) {
      std::string want = absl::StrCat(std::string(1, q), d.descr, std::string(1, q));
      std::string alt = want;
      if (d.size == 1) alt[1] = '<';  // '<i1' etc. are also seen
      if (descr->substr(0, want.size()) == want || descr->substr(0, alt.size()) == alt) {
        a.type = d.type;
        found = true;
      }
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": unsupported .npy dtype ",
                                                   std::string(descr->substr(0, std::min<size_t>(8, descr->size()))),
                                                   " (supported: <f4 <f2 |i1 |u1 <i4 <i8 |b1, little-endian)"));
  }
  auto fo = After(h, "fortran_order", label);
  if (!fo.ok()) return fo.status();
  if (fo->substr(0, 4) == "True") {
    return absl::InvalidArgumentError(absl::StrCat(label, ": Fortran-order .npy arrays are not supported"));
  }
  auto sh = After(h, "shape", label);
  if (!sh.ok()) return sh.status();
  if (sh->empty() || (*sh)[0] != '(') return absl::InvalidArgumentError(absl::StrCat(label, ": bad .npy shape"));
  size_t p = 1;
  int64_t count = 1;
  while (true) {
    while (p < sh->size() && ((*sh)[p] == ' ' || (*sh)[p] == ',')) p++;
    if (p >= sh->size()) return absl::InvalidArgumentError(absl::StrCat(label, ": bad .npy shape"));
    if ((*sh)[p] == ')') break;
    int64_t v = 0;
    size_t digits = 0;
    while (p < sh->size() && (*sh)[p] >= '0' && (*sh)[p] <= '9') {
      if (v > (int64_t{1} << 40)) return absl::InvalidArgumentError(absl::StrCat(label, ": .npy dim too large"));
      v = v * 10 + ((*sh)[p] - '0');
      p++;
      digits++;
    }
    if (digits == 0) return absl::InvalidArgumentError(absl::StrCat(label, ": bad .npy shape"));
    if (a.shape.size() >= 8) return absl::InvalidArgumentError(absl::StrCat(label, ": .npy rank above 8"));
    a.shape.push_back(v);
    if (v != 0 && count > kMaxBytes / v) return absl::InvalidArgumentError(absl::StrCat(label, ": .npy array too large"));
    count *= v;
  }
  const int64_t bytes = count * static_cast<int64_t>(TypeSize(a.type));
  const size_t dstart = hstart + hlen;
  if (static_cast<uint64_t>(bytes) != b.size() - dstart) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": .npy data has ", b.size() - dstart, " bytes, shape needs ", bytes));
  }
  a.data.assign(b.data() + dstart, static_cast<size_t>(bytes));
  return a;
}

absl::StatusOr<Array> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream ss;
  ss << f.rdbuf();
  return Parse(ss.str(), path);
}

std::string Serialize(const Array& a) {
  const char* descr = "<f4";
  for (const auto& d : kTypes) if (d.type == a.type) descr = d.descr;
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) absl::StrAppend(&shape, a.shape[i], ",", i + 1 < a.shape.size() ? " " : "");
  shape += ")";
  std::string header = absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape, ", }");
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out += a.data;
  return out;
}

}  // namespace edgert::npy
