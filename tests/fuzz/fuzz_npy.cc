// libFuzzer target (c): the .npy reader used by edgert_run. Any input must give an Array or an
// error, never a crash, an over-read or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto a = edgert::npy::Parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  if (a.ok()) {
    // A parsed array serializes and parses back to the same thing.
    std::string again = edgert::npy::Serialize(*a);
    auto b = edgert::npy::Parse(again, "again.npy");
    if (!b.ok() || b->shape != a->shape || b->data != a->data || b->type != a->type) __builtin_trap();
  }
  return 0;
}
