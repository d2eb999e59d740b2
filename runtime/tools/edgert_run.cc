// edgert_run: runs a .efb model from the shell. Uses only the public C API (via edgert.hpp).
//
//   edgert_run MODEL.efb [INPUT ...] [--shape NAME=1x128] [--threads N] [--out DIR]
//              [--bench N] [--json] [--random] [--profile] [--version]
//
// Inputs are given in the model's input order as .npy files or raw little-endian .bin files
// (whose shape comes from the model, with --shape fixing dynamic dims).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "edgert/edgert.hpp"
#include "npy.h"

namespace {

constexpr const char* kUsage =
    "usage: edgert_run MODEL.efb [INPUT.npy|INPUT.bin ...] [options]\n"
    "  --shape NAME=AxBxC  fix the dynamic dims of input NAME (for .bin inputs and --random)\n"
    "  --threads N         worker threads (default: one per core)\n"
    "  --out DIR           write each output as DIR/NAME.npy\n"
    "  --bench N           warm up, then time N runs (median, p90, min; peak RSS)\n"
    "  --profile           time every op; print ms per run by op kind and the slowest ops to stderr\n"
    "  --json              print one JSON object instead of text\n"
    "  --random            fill inputs with seeded random values instead of files\n"
    "  --version           print the version and the matmul kernel variant (isa)\n";

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "edgert_run: %s\n", msg.c_str());
  return code;
}

size_t DTypeSize(edgert_dtype t) {
  switch (t) {
    case EDGERT_F32: case EDGERT_I32: return 4;
    case EDGERT_F16: return 2;
    case EDGERT_I8: case EDGERT_U8: case EDGERT_BOOL: return 1;
    case EDGERT_I64: return 8;
    default: return 0;
  }
}

const char* DTypeName(edgert_dtype t) {
  static const char* names[] = {"f32", "f16", "i8", "u8", "i4", "i32", "i64", "bool"};
  return (t >= 0 && t <= EDGERT_BOOL) ? names[t] : "?";
}

edgert::npy::Type ToNpy(edgert_dtype t) {
  switch (t) {
    case EDGERT_F16: return edgert::npy::Type::kF16;
    case EDGERT_I8: return edgert::npy::Type::kI8;
    case EDGERT_U8: return edgert::npy::Type::kU8;
    case EDGERT_I32: return edgert::npy::Type::kI32;
    case EDGERT_I64: return edgert::npy::Type::kI64;
    case EDGERT_BOOL: return edgert::npy::Type::kBool;
    default: return edgert::npy::Type::kF32;
  }
}

bool FromNpy(edgert::npy::Type t, edgert_dtype* out) {
  switch (t) {
    case edgert::npy::Type::kF32: *out = EDGERT_F32; return true;
    case edgert::npy::Type::kF16: *out = EDGERT_F16; return true;
    case edgert::npy::Type::kI8: *out = EDGERT_I8; return true;
    case edgert::npy::Type::kU8: *out = EDGERT_U8; return true;
    case edgert::npy::Type::kI32: *out = EDGERT_I32; return true;
    case edgert::npy::Type::kI64: *out = EDGERT_I64; return true;
    case edgert::npy::Type::kBool: *out = EDGERT_BOOL; return true;
  }
  return false;
}

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

bool ParseInt(const std::string& s, long long lo, long long hi, long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

std::string SafeName(const std::string& n) {
  std::string o = n;
  for (char& c : o) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  }
  if (o.empty() || o == "." || o == "..") o = "_" + o;
  return o;
}

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += c; }
    else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += c;
  }
  return o;
}

double PeakRssMb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

struct Output {
  std::string name;
  edgert_dtype dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t bytes;
};

double ValueAt(const Output& o, size_t i) {
  switch (o.dtype) {
    case EDGERT_F32: return static_cast<const float*>(o.data)[i];
    case EDGERT_I32: return static_cast<const int32_t*>(o.data)[i];
    case EDGERT_I64: return static_cast<double>(static_cast<const int64_t*>(o.data)[i]);
    case EDGERT_I8: return static_cast<const int8_t*>(o.data)[i];
    case EDGERT_U8: case EDGERT_BOOL: return static_cast<const uint8_t*>(o.data)[i];
    default: return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<int64_t>> shapes;
  std::string out_dir;
  long long threads = 0, bench = 0;
  bool json = false, random = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "edgert_run: %s needs a value\n", flag); std::exit(2); }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") { std::fputs(kUsage, stdout); return 0; }
    if (a == "--version") {
      std::printf("edgert %s\nisa: %s\n", edgert_version(), edgert_isa());
      return 0;
    }
    if (a == "--json") { json = true; continue; }
    if (a == "--random") { random = true; continue; }
    if (a == "--profile") { profile = true; continue; }
    if (a == "--threads") {
      if (!ParseInt(need("--threads"), 0, 1024, &threads)) return Fail(2, "--threads: expected an integer in [0, 1024]");
      continue;
    }
    if (a == "--bench") {
      if (!ParseInt(need("--bench"), 1, 1000000, &bench)) return Fail(2, "--bench: expected an integer in [1, 1000000]");
      continue;
    }
    if (a == "--out") { out_dir = need("--out"); continue; }
    if (a == "--shape") {
      std::string v = need("--shape");
      size_t eq = v.rfind('=');
      if (eq == std::string::npos || eq == 0) return Fail(2, "--shape: expected NAME=AxB, got '" + v + "'");
      std::vector<int64_t> dims;
      std::stringstream ss(v.substr(eq + 1));
      std::string part;
      while (std::getline(ss, part, 'x')) {
        long long d;
        if (!ParseInt(part, 0, int64_t{1} << 40, &d)) return Fail(2, "--shape: bad dim '" + part + "' in '" + v + "'");
        dims.push_back(d);
      }
      shapes[v.substr(0, eq)] = dims;
      continue;
    }
    if (a.size() > 1 && a[0] == '-') return Fail(2, "unknown option " + a + "\n" + kUsage);
    positional.push_back(a);
  }
  if (positional.empty()) return Fail(2, std::string("no model given\n") + kUsage);
  const std::string model_path = positional[0];
  std::vector<std::string> input_paths(positional.begin() + 1, positional.end());

  const auto load_t0 = std::chrono::steady_clock::now();  // load_ms: Model.Load + Session.Create
  edgert::api::Model model;
  if (auto st = model.Load(model_path); !st.ok()) return Fail(1, st.message);
  const size_t nin = model.num_inputs();
  if (!random && input_paths.size() != nin) {
    std::string names;
    for (size_t i = 0; i < nin; ++i) names += std::string(i ? ", " : "") + model.input(i).name;
    return Fail(2, model_path + ": model has " + std::to_string(nin) + " inputs (" + names + "), got " +
                       std::to_string(input_paths.size()) + " input files");
  }
  if (random && !input_paths.empty()) return Fail(2, "--random replaces input files: give none");
  for (const auto& [name, dims] : shapes) {
    bool found = false;
    for (size_t i = 0; i < nin; ++i) found |= name == model.input(i).name;
    if (!found) return Fail(2, "--shape: the model has no input named '" + name + "'");
  }

  edgert::api::Session session;
  if (auto st = session.Create(model, static_cast<int>(threads), 0, profile); !st.ok()) return Fail(1, st.message);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_t0).count();

  // Load inputs.
  std::vector<std::string> buffers(nin);
  std::mt19937 rng(1234);
  for (size_t i = 0; i < nin; ++i) {
    edgert_tensor_info info = model.input(i);
    std::vector<int64_t> dims(info.dims, info.dims + info.rank);
    auto it = shapes.find(info.name);
    edgert_dtype dtype = info.dtype;
    const std::string path = random ? "" : input_paths[i];
    std::string& data = buffers[i];
    const bool is_npy = !random && path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
    if (is_npy) {
      auto arr = edgert::npy::ReadFile(path);
      if (!arr.ok()) return Fail(1, std::string(arr.status().message()));
      if (!FromNpy(arr->type, &dtype) || dtype != info.dtype) {
        return Fail(1, path + ": input '" + info.name + "' expects " + DTypeName(info.dtype) + ", the .npy holds " +
                           edgert::npy::TypeName(arr->type));
      }
      dims = arr->shape;
      if (it != shapes.end() && it->second != dims) {
        return Fail(1, path + ": --shape " + ShapeStr(it->second) + " differs from the .npy shape " + ShapeStr(dims));
      }
      data = std::move(arr->data);
    } else {
      if (it != shapes.end()) {
        if (it->second.size() != dims.size()) {
          return Fail(2, std::string("--shape ") + info.name + ": rank " + std::to_string(it->second.size()) + ", the model's input has rank " +
                             std::to_string(dims.size()));
        }
        for (size_t d = 0; d < dims.size(); ++d) {
          if (dims[d] >= 0 && dims[d] != it->second[d]) {
            return Fail(2, std::string("--shape ") + info.name + ": dim " + std::to_string(d) + " is fixed at " + std::to_string(dims[d]));
          }
        }
        dims = it->second;
      }
      for (size_t d = 0; d < dims.size(); ++d) {
        if (dims[d] < 0) {
          return Fail(2, "input '" + std::string(info.name) + "' has a dynamic dim '" + info.dim_names[d] +
                             "': give --shape " + info.name + "=... or a .npy file");
        }
      }
      int64_t count = 1;
      for (int64_t d : dims) {
        if (d != 0 && count > (int64_t{1} << 36) / d) return Fail(2, "input '" + std::string(info.name) + "': shape too large");
        count *= d;
      }
      const size_t want = static_cast<size_t>(count) * DTypeSize(dtype);
      if (random) {
        data.assign(want, '\0');
        if (dtype == EDGERT_F32) {
          std::uniform_real_distribution<float> u(-1.f, 1.f);
          float* p = reinterpret_cast<float*>(data.data());
          for (int64_t k = 0; k < count; ++k) p[k] = u(rng);
        } else if (dtype == EDGERT_I64 || dtype == EDGERT_I32) {
          // Small non-negative integers: valid token ids / masks for typical models.
          for (int64_t k = 0; k < count; ++k) {
            if (dtype == EDGERT_I64) reinterpret_cast<int64_t*>(data.data())[k] = 1;
            else reinterpret_cast<int32_t*>(data.data())[k] = 1;
          }
        }
      } else {
        if (!ReadAll(path, &data)) return Fail(1, path + ": cannot read input file");
        if (data.size() != want) {
          return Fail(1, path + ": input '" + info.name + "' needs " + std::to_string(want) + " bytes (" +
                             ShapeStr(dims) + " " + DTypeName(dtype) + "), the file has " + std::to_string(data.size()));
        }
      }
    }
    if (auto st = session.SetInput(i, dtype, dims, data.data(), data.size()); !st.ok()) {
      return Fail(1, (random ? std::string("") : path + ": ") + st.message);
    }
  }

  // Run (and time).
  std::vector<double> times;
  auto run_once = [&]() -> edgert::api::Status { return session.Run(); };
  if (bench > 0) {
    const int warm = static_cast<int>(std::min<long long>(3, bench));
    for (int w = 0; w < warm; ++w) {
      if (auto st = run_once(); !st.ok()) return Fail(1, st.message);
    }
    for (long long r = 0; r < bench; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      if (auto st = run_once(); !st.ok()) return Fail(1, st.message);
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  } else if (auto st = run_once(); !st.ok()) {
    return Fail(1, st.message);
  }
  // The profile covers every run, warm-up included; on stderr so that --json stays one object.
  if (profile) std::fputs(session.Profile().c_str(), stderr);

  std::vector<Output> outputs;
  for (size_t i = 0; i < model.num_outputs(); ++i) {
    edgert_tensor_info info{};
    Output o;
    if (edgert_session_output_info(session.get(), i, &info) != EDGERT_OK ||
        edgert_session_output_data(session.get(), i, &o.data, &o.bytes) != EDGERT_OK) {
      return Fail(1, edgert_last_error());
    }
    o.name = info.name;
    o.dtype = info.dtype;
    o.shape.assign(info.dims, info.dims + info.rank);
    outputs.push_back(o);
  }

  if (!out_dir.empty()) {
    struct stat st;
    if (stat(out_dir.c_str(), &st) != 0) {
      if (mkdir(out_dir.c_str(), 0755) != 0) return Fail(1, out_dir + ": cannot create directory: " + std::strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
      return Fail(1, out_dir + ": not a directory");
    }
    // Write every output to a temporary file first; rename all only when all are written.
    std::vector<std::pair<std::string, std::string>> done;
    auto cleanup = [&] { for (auto& d : done) std::remove(d.first.c_str()); };
    for (const Output& o : outputs) {
      edgert::npy::Array a;
      a.type = ToNpy(o.dtype);
      a.shape = o.shape;
      a.data.assign(static_cast<const char*>(o.data), o.bytes);
      const std::string final_path = out_dir + "/" + SafeName(o.name) + ".npy";
      const std::string tmp = final_path + ".tmp." + std::to_string(getpid());
      std::ofstream f(tmp, std::ios::binary);
      const std::string bytes = edgert::npy::Serialize(a);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      f.close();
      done.emplace_back(tmp, final_path);
      if (!f) {
        cleanup();
        return Fail(1, final_path + ": write failed");
      }
    }
    for (auto& [tmp, fin] : done) {
      if (std::rename(tmp.c_str(), fin.c_str()) != 0) {
        cleanup();
        return Fail(1, fin + ": rename failed");
      }
    }
  }

  std::sort(times.begin(), times.end());
  auto pct = [&](double p) { return times[std::min(times.size() - 1, static_cast<size_t>(p * (times.size() - 1) + 0.5))]; };
  if (json) {
    std::printf("{\"model\":\"%s\",\"isa\":\"%s\",\"threads\":%lld,\"outputs\":[", JsonEscape(model_path).c_str(), edgert_isa(),
                threads);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Output& o = outputs[i];
      std::printf("%s{\"name\":\"%s\",\"dtype\":\"%s\",\"shape\":[", i ? "," : "", JsonEscape(o.name).c_str(), DTypeName(o.dtype));
      for (size_t d = 0; d < o.shape.size(); ++d) std::printf("%s%lld", d ? "," : "", static_cast<long long>(o.shape[d]));
      std::printf("]}");
    }
    std::printf("]");
    if (!times.empty()) {
      std::printf(",\"bench\":{\"runs\":%zu,\"median_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f}", times.size(), pct(0.5),
                  pct(0.9), times.front());
    }
    std::printf(",\"load_ms\":%.2f,\"peak_rss_mb\":%.1f,\"arena_bytes\":%llu}\n", load_ms, PeakRssMb(),
                static_cast<unsigned long long>(edgert_session_arena_bytes(session.get())));
    return 0;
  }
  for (const Output& o : outputs) {
    const size_t es = DTypeSize(o.dtype);
    const size_t n = es ? o.bytes / es : 0;
    std::printf("%s: shape %s dtype %s\n  values:", o.name.c_str(), ShapeStr(o.shape).c_str(), DTypeName(o.dtype));
    for (size_t k = 0; k < std::min<size_t>(n, 8); ++k) std::printf(" %.6g", ValueAt(o, k));
    if (n > 8) std::printf(" ...");
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    for (size_t k = 0; k < n; ++k) {
      double v = ValueAt(o, k);
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      sum += v;
    }
    if (n > 0) std::printf("\n  min %.6g max %.6g mean %.6g\n", mn, mx, sum / static_cast<double>(n));
    else std::printf("\n  (empty)\n");
  }
  if (!times.empty()) {
    std::printf("bench: %zu runs, median %.3f ms, p90 %.3f ms, min %.3f ms, peak RSS %.1f MB, isa %s\n", times.size(),
                pct(0.5), pct(0.9), times.front(), PeakRssMb(), edgert_isa());
  }
  return 0;
}
