#include "util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace edgert::converter {

// ---------------- sha256 (FIPS 180-4) ----------------
namespace {
constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
}  // namespace

Sha256::Sha256() {
  const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::memcpy(h_, init, sizeof(h_));
}

void Sha256::Block(const uint8_t* p) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) | p[4 * i + 3];
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += h;
}

void Sha256::Update(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  total_ += n;
  while (n > 0) {
    size_t take = std::min(n, 64 - buf_len_);
    std::memcpy(buf_ + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    n -= take;
    if (buf_len_ == 64) {
      Block(buf_);
      buf_len_ = 0;
    }
  }
}

std::string Sha256::HexDigest() {
  uint64_t bits = total_ * 8;
  uint8_t pad = 0x80;
  Update(&pad, 1);
  uint8_t zero = 0;
  while (buf_len_ != 56) Update(&zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  Update(len, 8);
  char out[65];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 8 * i, 9, "%08x", h_[i]);
  return std::string(out, 64);
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open for reading"));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), buf.size());
    h.Update(buf.data(), static_cast<size_t>(f.gcount()));
  }
  return h.HexDigest();
}

// ---------------- npy ----------------
int64_t NpyArray::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open for reading"));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string b = ss.str();
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a valid .npy file: ", why));
  };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) return bad("bad magic");
  int major = static_cast<uint8_t>(b[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = static_cast<uint8_t>(b[8]) | (static_cast<uint8_t>(b[9]) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return bad("truncated header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<uint8_t>(b[8 + i])) << (8 * i);
    hstart = 12;
  } else {
    return bad(absl::StrCat("unknown version ", major));
  }
  if (hstart + hlen > b.size()) return bad("truncated header");
  std::string h = b.substr(hstart, hlen);
  auto field = [&](const std::string& key) -> std::string {
    size_t p = h.find("'" + key + "'");
    if (p == std::string::npos) return "";
    p = h.find(':', p);
    if (p == std::string::npos) return "";
    ++p;
    while (p < h.size() && h[p] == ' ') ++p;
    size_t e = p;
    if (h[p] == '\'') {
      e = h.find('\'', p + 1);
      return e == std::string::npos ? "" : h.substr(p + 1, e - p - 1);
    }
    if (h[p] == '(') {
      e = h.find(')', p);
      return e == std::string::npos ? "" : h.substr(p + 1, e - p - 1);
    }
    while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
    return h.substr(p, e - p);
  };
  NpyArray a;
  std::string descr = field("descr");
  if (descr == "<f4" || descr == "f4") a.dtype = DType::kF32;
  else if (descr == "<f2") a.dtype = DType::kF16;
  else if (descr == "|i1" || descr == "i1") a.dtype = DType::kI8;
  else if (descr == "|u1" || descr == "u1") a.dtype = DType::kU8;
  else if (descr == "<i4") a.dtype = DType::kI32;
  else if (descr == "<i8") a.dtype = DType::kI64;
  else if (descr == "|b1") a.dtype = DType::kBool;
  else return bad(absl::StrCat("unsupported dtype '", descr, "' (expected <f4, <f2, |i1, |u1, <i4, <i8 or |b1)"));
  if (field("fortran_order").find("True") != std::string::npos) return bad("fortran_order=True is not supported");
  std::string shape = field("shape");
  std::stringstream sh(shape);
  std::string item;
  while (std::getline(sh, item, ',')) {
    size_t s = item.find_first_not_of(' ');
    if (s == std::string::npos) continue;
    char* end = nullptr;
    long long v = std::strtoll(item.c_str() + s, &end, 10);
    if (v < 0) return bad("negative dimension");
    a.shape.push_back(v);
  }
  size_t want = static_cast<size_t>(a.NumElements()) * DTypeSize(a.dtype);
  size_t have = b.size() - hstart - hlen;
  if (have != want) return bad(absl::StrCat("expected ", want, " data bytes for shape (", shape, "), got ", have));
  a.data = b.substr(hstart + hlen);
  return a;
}

absl::Status WriteNpy(const std::string& path, const NpyArray& a) {
  const char* descr = a.dtype == DType::kF32 ? "<f4" : a.dtype == DType::kI64 ? "<i8" : a.dtype == DType::kI32 ? "<i4"
                    : a.dtype == DType::kI8 ? "|i1" : a.dtype == DType::kU8 ? "|u1" : a.dtype == DType::kF16 ? "<f2" : "|b1";
  std::string shape;
  for (int64_t d : a.shape) shape += absl::StrCat(d, ",");
  if (a.shape.size() > 1) shape.pop_back();
  std::string h = absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", shape, "), }");
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) return absl::UnavailableError(absl::StrCat(path, ": cannot create"));
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t hl = static_cast<uint16_t>(h.size());
  f.write(reinterpret_cast<const char*>(&hl), 2);
  f << h;
  f.write(a.data.data(), a.data.size());
  return f ? absl::OkStatus() : absl::UnavailableError(absl::StrCat(path, ": write failed"));
}

// ---------------- JSON ----------------
const Json* Json::Get(const std::string& key) const {
  for (const auto& [k, v] : obj) if (k == key) return &v;
  return nullptr;
}

namespace {
struct JsonParser {
  const std::string& s;
  size_t p = 0;
  std::string err;
  void Ws() { while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p; }
  bool Fail(const std::string& e) {
    if (err.empty()) err = absl::StrCat(e, " at offset ", p);
    return false;
  }
  bool Str(std::string* out) {
    if (p >= s.size() || s[p] != '"') return Fail("expected a string");
    ++p;
    while (p < s.size() && s[p] != '"') {
      if (s[p] == '\\' && p + 1 < s.size()) {
        char c = s[++p];
        out->push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);
        ++p;
      } else {
        out->push_back(s[p++]);
      }
    }
    if (p >= s.size()) return Fail("unterminated string");
    ++p;
    return true;
  }
  bool Value(Json* v, int depth) {
    if (depth > 64) return Fail("nesting too deep");
    Ws();
    if (p >= s.size()) return Fail("unexpected end");
    char c = s[p];
    if (c == '{') {
      v->kind = Json::kObject;
      ++p;
      Ws();
      if (p < s.size() && s[p] == '}') { ++p; return true; }
      while (true) {
        Ws();
        std::string k;
        if (!Str(&k)) return false;
        Ws();
        if (p >= s.size() || s[p] != ':') return Fail("expected ':'");
        ++p;
        Json child;
        if (!Value(&child, depth + 1)) return false;
        v->obj.emplace_back(std::move(k), std::move(child));
        Ws();
        if (p < s.size() && s[p] == ',') { ++p; continue; }
        if (p < s.size() && s[p] == '}') { ++p; return true; }
        return Fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v->kind = Json::kArray;
      ++p;
      Ws();
      if (p < s.size() && s[p] == ']') { ++p; return true; }
      while (true) {
        Json child;
        if (!Value(&child, depth + 1)) return false;
        v->arr.push_back(std::move(child));
        Ws();
        if (p < s.size() && s[p] == ',') { ++p; continue; }
        if (p < s.size() && s[p] == ']') { ++p; return true; }
        return Fail("expected ',' or ']'");
      }
    }
    if (c == '"') { v->kind = Json::kString; return Str(&v->str); }
    if (s.compare(p, 4, "true") == 0) { v->kind = Json::kBool; v->b = true; p += 4; return true; }
    if (s.compare(p, 5, "false") == 0) { v->kind = Json::kBool; p += 5; return true; }
    if (s.compare(p, 4, "null") == 0) { p += 4; return true; }
    char* end = nullptr;
    v->num = std::strtod(s.c_str() + p, &end);
    if (end == s.c_str() + p) return Fail("unexpected character");
    v->kind = Json::kNumber;
    p = static_cast<size_t>(end - s.c_str());
    return true;
  }
};
}  // namespace

absl::StatusOr<Json> ParseJson(const std::string& text) {
  JsonParser jp{text, 0, {}};
  Json v;
  if (!jp.Value(&v, 0)) return absl::InvalidArgumentError(jp.err);
  jp.Ws();
  if (jp.p != text.size()) return absl::InvalidArgumentError(absl::StrCat("trailing characters at offset ", jp.p));
  return v;
}

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += c; }
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += c;
  }
  return o;
}

// ---------------- progress ----------------
Progress::Progress(const std::string& label, size_t total, bool enabled)
    : label_(label), total_(total), enabled_(enabled && isatty(2) && total > 0),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (enabled_) std::fprintf(stderr, "\n");
}

void Progress::Tick(size_t n) {
  done_ += n;
  if (!enabled_) return;
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double eta = done_ ? el / done_ * (total_ - std::min(done_, total_)) : 0;
  int width = 30, fill = static_cast<int>(width * std::min(done_, total_) / total_);
  std::string bar(fill, '#');
  bar += std::string(width - fill, '.');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu ETA %.0fs ", label_.c_str(), bar.c_str(), done_, total_, eta);
  std::fflush(stderr);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> r;
  DIR* d = opendir(dir.c_str());
  if (!d) return r;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") r.push_back(n);
  }
  closedir(d);
  std::sort(r.begin(), r.end());
  return r;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace edgert::converter
