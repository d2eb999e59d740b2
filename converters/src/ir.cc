#include "ir.h"

#include <cmath>
#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace edgert::converter {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kI8: return "i8";
    case DType::kU8: return "u8";
    case DType::kI4: return "i4";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kBool: return "bool";
    case DType::kUnknown: break;
  }
  return "unknown";
}

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: return 2;
    case DType::kI8: case DType::kU8: case DType::kI4: case DType::kBool: return 1;
    case DType::kI64: return 8;
    case DType::kUnknown: break;
  }
  return 0;
}

bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF16; }

bool Tensor::StaticShape() const {
  if (!shape_known) return false;
  for (const Dim& d : dims) if (d.value < 0) return false;
  return true;
}

std::vector<int64_t> Tensor::Shape() const {
  std::vector<int64_t> s;
  for (const Dim& d : dims) s.push_back(d.value);
  return s;
}

int64_t Tensor::NumElements() const {
  if (!StaticShape()) return -1;
  int64_t n = 1;
  for (const Dim& d : dims) n *= d.value;
  return n;
}

int64_t Node::Int(const std::string& a, int64_t def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.i;
}
float Node::Float(const std::string& a, float def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.f;
}
std::string Node::Str(const std::string& a, const std::string& def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.s;
}
std::vector<int64_t> Node::Ints(const std::string& a) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? std::vector<int64_t>{} : it->second.ints;
}
std::vector<float> Node::Floats(const std::string& a) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? std::vector<float>{} : it->second.floats;
}
void Node::SetInt(const std::string& a, int64_t v) {
  Attr& x = attrs[a];
  x.kind = Attr::kInt;
  x.i = v;
}
void Node::SetFloat(const std::string& a, float v) {
  Attr& x = attrs[a];
  x.kind = Attr::kFloat;
  x.f = v;
}
void Node::SetInts(const std::string& a, std::vector<int64_t> v) {
  Attr& x = attrs[a];
  x.kind = Attr::kInts;
  x.ints = std::move(v);
}

Tensor* Graph::Find(const std::string& name) {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}
const Tensor* Graph::Find(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}
bool Graph::IsConst(const std::string& name) const {
  const Tensor* t = Find(name);
  return t != nullptr && t->is_const;
}
bool Graph::IsOutput(const std::string& name) const {
  for (const auto& o : outputs) if (o == name) return true;
  return false;
}
std::string Graph::UniqueName(const std::string& base) {
  std::string n = base;
  while (tensors.count(n)) n = absl::StrCat(base, "_", ++unique_counter_);
  return n;
}
Tensor& Graph::AddConst(Tensor t) {
  t.is_const = true;
  std::string n = t.name;
  tensors[n] = std::move(t);
  return tensors[n];
}

std::unordered_map<std::string, int> Graph::UseCounts() const {
  std::unordered_map<std::string, int> c;
  for (const Node& n : nodes) {
    if (n.dead) continue;
    for (const auto& i : n.inputs) if (!i.empty()) c[i]++;
  }
  for (const auto& o : outputs) c[o]++;
  return c;
}

std::unordered_map<std::string, std::vector<size_t>> Graph::Consumers() const {
  std::unordered_map<std::string, std::vector<size_t>> c;
  for (size_t k = 0; k < nodes.size(); ++k) {
    if (nodes[k].dead) continue;
    for (const auto& i : nodes[k].inputs) {
      if (i.empty()) continue;
      auto& v = c[i];
      if (v.empty() || v.back() != k) v.push_back(k);
    }
  }
  return c;
}

std::unordered_map<std::string, size_t> Graph::Producers() const {
  std::unordered_map<std::string, size_t> p;
  for (size_t k = 0; k < nodes.size(); ++k) {
    if (nodes[k].dead) continue;
    for (const auto& o : nodes[k].outputs) if (!o.empty()) p[o] = k;
  }
  return p;
}

void Graph::Compact() {
  std::vector<Node> live;
  live.reserve(nodes.size());
  for (Node& n : nodes) if (!n.dead) live.push_back(std::move(n));
  nodes = std::move(live);
  std::unordered_set<std::string> used(inputs.begin(), inputs.end());
  used.insert(outputs.begin(), outputs.end());
  for (const Node& n : nodes) {
    used.insert(n.inputs.begin(), n.inputs.end());
    used.insert(n.outputs.begin(), n.outputs.end());
  }
  for (auto it = tensors.begin(); it != tensors.end();) {
    if (!used.count(it->first)) it = tensors.erase(it);
    else ++it;
  }
}

void ReplaceUses(Graph& g, const std::string& from, const std::string& to) {
  for (Node& n : g.nodes) {
    if (n.dead) continue;
    for (auto& i : n.inputs) if (i == from) i = to;
  }
  for (auto& o : g.outputs) if (o == from) o = to;
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal
      float f = std::ldexp(static_cast<float>(man), -24);
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (ax < 0x38800000u) {  // subnormal or zero: round to nearest even at 2^-24
    float a;
    std::memcpy(&a, &ax, 4);
    float q = std::nearbyint(a * 16777216.0f);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(q));
  }
  uint32_t e = ((ax >> 23) - 112) << 10;
  uint32_t m = (ax >> 13) & 0x3ffu;
  uint32_t rest = ax & 0x1fffu;
  uint32_t h = e | m;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

template <typename T>
static void Load(const Tensor& t, std::vector<T>& out) {
  size_t n = t.data.size() / sizeof(T);
  out.resize(n);
  if (n) std::memcpy(out.data(), t.data.data(), n * sizeof(T));
}

std::vector<float> ToFloats(const Tensor& t) {
  std::vector<float> r;
  switch (t.dtype) {
    case DType::kF32: Load(t, r); break;
    case DType::kF16: {
      std::vector<uint16_t> h;
      Load(t, h);
      for (uint16_t v : h) r.push_back(HalfToFloat(v));
      break;
    }
    case DType::kI8: for (char c : t.data) r.push_back(static_cast<int8_t>(c)); break;
    case DType::kU8: case DType::kBool:
      for (char c : t.data) r.push_back(static_cast<uint8_t>(c));
      break;
    case DType::kI32: {
      std::vector<int32_t> v;
      Load(t, v);
      r.assign(v.begin(), v.end());
      break;
    }
    case DType::kI64: {
      std::vector<int64_t> v;
      Load(t, v);
      for (int64_t x : v) r.push_back(static_cast<float>(x));
      break;
    }
    default: break;
  }
  return r;
}

std::vector<int64_t> ToInt64s(const Tensor& t) {
  std::vector<int64_t> r;
  switch (t.dtype) {
    case DType::kI64: Load(t, r); break;
    case DType::kI32: {
      std::vector<int32_t> v;
      Load(t, v);
      r.assign(v.begin(), v.end());
      break;
    }
    case DType::kI8: for (char c : t.data) r.push_back(static_cast<int8_t>(c)); break;
    case DType::kU8: case DType::kBool:
      for (char c : t.data) r.push_back(static_cast<uint8_t>(c));
      break;
    case DType::kF32: case DType::kF16:
      for (float f : ToFloats(t)) r.push_back(static_cast<int64_t>(f));
      break;
    default: break;
  }
  return r;
}

void SetStaticShape(Tensor& t, const std::vector<int64_t>& shape) {
  t.shape_known = true;
  t.dims.clear();
  for (int64_t d : shape) t.dims.push_back(Dim{d, ""});
}

Tensor MakeF32(const std::string& name, const std::vector<int64_t>& shape,
               const std::vector<float>& v) {
  Tensor t;
  t.name = name;
  t.dtype = DType::kF32;
  t.is_const = true;
  SetStaticShape(t, shape);
  t.data.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  return t;
}

Tensor MakeI64(const std::string& name, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& v) {
  Tensor t;
  t.name = name;
  t.dtype = DType::kI64;
  t.is_const = true;
  SetStaticShape(t, shape);
  t.data.assign(reinterpret_cast<const char*>(v.data()), v.size() * 8);
  return t;
}

}  // namespace edgert::converter
