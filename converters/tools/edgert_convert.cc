// edgert_convert IN.onnx OUT.efb [options] — see docs/converter.md.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "edgert/converter/convert.h"

namespace {

const char kUsage[] =
    "usage: edgert_convert IN.onnx OUT.efb [options]\n"
    "  --quant none|int8|int4|mixed|int8-static   (default none)\n"
    "  --block 32|64|128        int4 block size along K (default 32)\n"
    "  --sym | --asym           int4 symmetric (default) or with zero points\n"
    "  --f16-scales             store int4 block scales as f16\n"
    "  --int4-method auto|rtn|mse|gptq   (auto: gptq with --calib, else mse)\n"
    "  --exclude REGEX          node names that stay FP32\n"
    "  --overrides FILE.json    per-node precision {\"node\": \"fp32|int8|int4\"}\n"
    "  --calib DIR              calibration samples (.npy)\n"
    "  --calib-limit N          use at most N samples\n"
    "  --calib-method minmax|percentile|entropy   (int8-static)\n"
    "  --percentile P           (default 99.99)\n"
    "  --max-error COS          mixed: minimum final-output cosine (default 0.995)\n"
    "  --mixed-margin F         mixed: keep this fraction of the error budget in reserve (default 0.5)\n"
    "  --sensitivity-samples N  mixed: samples per sensitivity run (default 4, 0 = all)\n"
    "  --threads N              runtime threads for calibration runs (default 1, 0 = one per core)\n"
    "  --report FILE.json       also writes FILE.md\n"
    "  --no-progress            never draw progress bars\n";

bool ParseInt(const char* s, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!*s || *end) return false;
  *out = static_cast<int>(v);
  return true;
}

bool ParseDouble(const char* s, double* out) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (!*s || *end) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  edgert::converter::ConvertOptions o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edgert_convert: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    auto bad = [&](const char* name, const char* v) {
      std::fprintf(stderr, "edgert_convert: %s: invalid value '%s'\n", name, v);
      std::exit(2);
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("edgert_convert %s\n", edgert::converter::ConverterVersion());
      return 0;
    } else if (a == "--quant") {
      o.quant = value("--quant");
    } else if (a == "--block") {
      const char* v = value("--block");
      if (!ParseInt(v, &o.block)) bad("--block", v);
    } else if (a == "--sym") {
      o.asym = false;
    } else if (a == "--asym") {
      o.asym = true;
    } else if (a == "--f16-scales") {
      o.f16_scales = true;
    } else if (a == "--int4-method") {
      o.int4_method = value("--int4-method");
    } else if (a == "--exclude") {
      o.exclude = value("--exclude");
    } else if (a == "--overrides") {
      o.overrides_path = value("--overrides");
    } else if (a == "--calib") {
      o.calib_dir = value("--calib");
    } else if (a == "--calib-limit") {
      const char* v = value("--calib-limit");
      if (!ParseInt(v, &o.calib_limit) || o.calib_limit < 0) bad("--calib-limit", v);
    } else if (a == "--calib-method") {
      o.calib_method = value("--calib-method");
    } else if (a == "--percentile") {
      const char* v = value("--percentile");
      if (!ParseDouble(v, &o.percentile)) bad("--percentile", v);
    } else if (a == "--max-error") {
      const char* v = value("--max-error");
      if (!ParseDouble(v, &o.max_error)) bad("--max-error", v);
    } else if (a == "--mixed-margin") {
      const char* v = value("--mixed-margin");
      if (!ParseDouble(v, &o.mixed_margin)) bad("--mixed-margin", v);
    } else if (a == "--sensitivity-samples") {
      const char* v = value("--sensitivity-samples");
      if (!ParseInt(v, &o.sensitivity_samples) || o.sensitivity_samples < 0) bad("--sensitivity-samples", v);
    } else if (a == "--threads") {
      const char* v = value("--threads");
      if (!ParseInt(v, &o.threads) || o.threads < 0) bad("--threads", v);
    } else if (a == "--report") {
      o.report_path = value("--report");
    } else if (a == "--no-progress") {
      o.progress = false;
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "edgert_convert: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  o.input = positional[0];
  o.output = positional[1];
  edgert::converter::ConvertSummary s;
  absl::Status st = edgert::converter::Convert(o, &s);
  if (!st.ok()) {
    std::fprintf(stderr, "edgert_convert: error: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  size_t q = 0;
  for (const auto& l : s.layers) q += l.precision != "fp32";
  std::fprintf(stderr, "edgert_convert: wrote %s (%zu bytes from %zu, %zu/%zu layers quantized", o.output.c_str(),
               s.output_bytes, s.source_bytes, q, s.layers.size());
  if (s.final_cosine > -2) std::fprintf(stderr, ", output cosine %.6f", s.final_cosine);
  std::fprintf(stderr, ") in %.2fs\n", s.seconds);
  return 0;
}
