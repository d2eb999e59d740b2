// libFuzzer target (b): the ONNX importer of edgert_convert on bytes. See onnx_harness.h.
#include "onnx_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgert::fuzz::RunOnnxInput(data, size);
  return 0;
}
