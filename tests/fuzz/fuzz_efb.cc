// libFuzzer target (a): .efb load from memory + session creation (small arena limit) + one run
// with input shapes and values derived from the fuzz bytes. See efb_harness.h.
#include "efb_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edgert::fuzz::RunEfbInput(data, size);
  return 0;
}
