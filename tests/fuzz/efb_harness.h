// Harness of libFuzzer target (a) (fuzz_efb.cc) and of the regression tests: .efb load from memory + session creation (small arena limit) + one run
// with input shapes and values derived from the fuzz bytes, through the public C API.
//
// Input layout: byte 0 = P, then P "parameter" bytes, then the .efb file. The parameter bytes
// are read cyclically: one per dynamic dim (value % 9, so 0..8), then the input values (floats
// from a table of special values or raw bits, integers as small signed numbers, so Gather and
// friends see out-of-range indices). make_seeds.cc writes seeds in this layout.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "edgert/edgert.h"

namespace edgert::fuzz {

constexpr uint64_t kArenaLimit = 64u << 20;   // small arena limit: huge plans must be refused
constexpr uint64_t kMaxInputBytes = 4u << 20; // the harness itself does not make huge inputs

struct Params {
  const uint8_t* p;
  size_t n;
  size_t i = 0;
  uint8_t Next() { return n == 0 ? 1 : p[i++ % n]; }
};

size_t ElemBytes(edgert_dtype t) {
  switch (t) {
    case EDGERT_F32: case EDGERT_I32: return 4;
    case EDGERT_F16: return 2;
    case EDGERT_I64: return 8;
    default: return 1;
  }
}

void Fill(edgert_dtype t, size_t count, Params& ps, std::vector<uint8_t>& out) {
  static const float kSpecial[16] = {0.f, 1.f, -1.f, 0.5f, -2.5f, 3.f, 1e30f, -1e30f,
                                     std::numeric_limits<float>::quiet_NaN(),
                                     std::numeric_limits<float>::infinity(),
                                     -std::numeric_limits<float>::infinity(), 1e-40f, 65504.f,
                                     -0.f, 100.f, 7.f};
  out.assign(count * ElemBytes(t), 0);
  for (size_t k = 0; k < count; ++k) {
    const uint8_t b = ps.Next();
    switch (t) {
      case EDGERT_F32: {
        float f = kSpecial[b & 15];
        if (b >= 0xf0) {  // raw bits from the next four bytes
          uint32_t u = 0;
          for (int j = 0; j < 4; ++j) u |= static_cast<uint32_t>(ps.Next()) << (8 * j);
          std::memcpy(&f, &u, 4);
        }
        std::memcpy(&out[k * 4], &f, 4);
        break;
      }
      case EDGERT_F16: {
        uint16_t h = static_cast<uint16_t>(b | (ps.Next() << 8));
        std::memcpy(&out[k * 2], &h, 2);
        break;
      }
      case EDGERT_I32: {
        int32_t v = static_cast<int8_t>(b);
        std::memcpy(&out[k * 4], &v, 4);
        break;
      }
      case EDGERT_I64: {
        int64_t v = static_cast<int8_t>(b);
        if (b == 0x80) v = std::numeric_limits<int64_t>::min();
        if (b == 0x7f) v = std::numeric_limits<int64_t>::max();
        std::memcpy(&out[k * 8], &v, 8);
        break;
      }
      default:
        out[k] = b;
    }
  }
}

// Runs one input. Returns EDGERT_OK, or the first failing call's status (its message is in
// edgert_last_error()). Traps on an inconsistency the sanitizers would not see.
inline edgert_status RunEfbInput(const uint8_t* data, size_t size) {
  if (size < 1) return EDGERT_INVALID_ARGUMENT;
  const size_t np = data[0];
  if (size < 1 + np) return EDGERT_INVALID_ARGUMENT;
  Params ps{data + 1, np};
  const uint8_t* file = data + 1 + np;
  const size_t fsize = size - 1 - np;
  // 64-byte aligned copy, as an mmap would give (LoadMemory would copy an unaligned buffer).
  void* buf = std::aligned_alloc(64, (fsize + 64) / 64 * 64);
  if (fsize) std::memcpy(buf, file, fsize);
  edgert_model* model = nullptr;
  edgert_status result = edgert_model_load_from_memory(buf, fsize, &model);
  if (result != EDGERT_OK) {
    std::free(buf);
    return result;
  }
  edgert_session_options opts;
  edgert_session_options_init(&opts);
  opts.num_threads = 1;
  opts.arena_limit_bytes = kArenaLimit;
  edgert_session* s = nullptr;
  result = edgert_session_create(model, &opts, &s);
  if (result == EDGERT_OK) {
    bool ok = true;
    const size_t ni = edgert_model_num_inputs(model);
    std::vector<uint8_t> values;
    for (size_t i = 0; i < ni && ok; ++i) {
      edgert_tensor_info info;
      if ((result = edgert_model_input_info(model, i, &info)) != EDGERT_OK) { ok = false; break; }
      int64_t dims[EDGERT_MAX_RANK];
      uint64_t count = 1;
      for (int d = 0; d < info.rank; ++d) {
        dims[d] = info.dims[d] >= 0 ? info.dims[d] : ps.Next() % 9;
        if (dims[d] != 0 && count > kMaxInputBytes / static_cast<uint64_t>(dims[d])) { ok = false; break; }
        count *= static_cast<uint64_t>(dims[d]);
      }
      if (!ok || count * ElemBytes(info.dtype) > kMaxInputBytes) { ok = false; result = EDGERT_RESOURCE_EXHAUSTED; break; }
      Fill(info.dtype, count, ps, values);
      result = edgert_session_set_input(s, i, info.dtype, dims, info.rank, values.data(), values.size());
      if (result != EDGERT_OK) {
        ok = false;
      }
    }
    if (ok && (result = edgert_session_run(s)) == EDGERT_OK) {
      // Read every output completely (ASan catches a data pointer/size that lies).
      uint8_t sum = 0;
      for (size_t o = 0; o < edgert_model_num_outputs(model); ++o) {
        edgert_tensor_info info;
        const void* p = nullptr;
        size_t bytes = 0;
        if (edgert_session_output_info(s, o, &info) != EDGERT_OK) __builtin_trap();
        if (edgert_session_output_data(s, o, &p, &bytes) != EDGERT_OK) __builtin_trap();
        for (size_t k = 0; k < bytes; ++k) sum ^= static_cast<const uint8_t*>(p)[k];
      }
      volatile uint8_t sink = sum;
      (void)sink;
    }
    edgert_session_free(s);
  }
  edgert_model_free(model);
  std::free(buf);
  return result;
}

}  // namespace edgert::fuzz
