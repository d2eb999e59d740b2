// Harness of libFuzzer target (b) (fuzz_onnx.cc) and of the regression tests: the ONNX importer of edgert_convert on bytes. Runs what Convert() runs
// before quantization: protobuf parse, import (ONNX shape inference included), normalize,
// constant folding, fusion, lowering to .efb. Every input must give a Status, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lower.h"
#include "onnx/onnx_pb.h"
#include "passes.h"

namespace edgert::fuzz {

inline absl::Status RunOnnxInput(const uint8_t* data, size_t size) {
  using namespace edgert::converter;
  onnx::ModelProto model;
  if (size == 0 || size > (1u << 30) || !model.ParseFromArray(data, static_cast<int>(size))) {
    return absl::InvalidArgumentError("fuzz.onnx: not a valid ONNX model (protobuf parse failed)");
  }
  // External data resolves against a directory that does not exist: no file is read.
  absl::StatusOr<Graph> g = ImportOnnxModel(model, "/nonexistent/edgert-fuzz", "fuzz.onnx");
  if (!g.ok()) return g.status();
  absl::Status st = Normalize(*g);
  if (!st.ok()) return st;
  FuseQdqWeights(*g);
  for (int round = 0; round < 4; ++round) {
    absl::StatusOr<int> f = FoldConstants(*g);
    if (!f.ok()) return f.status();
    int d = RemoveDeadCode(*g);
    if (*f == 0 && d == 0) break;
  }
  absl::StatusOr<FusionStats> fs = Fuse(*g);
  if (!fs.ok()) return fs.status();
  RemoveDeadCode(*g);
  return LowerAndSerialize(*g, nullptr).status();
}

}  // namespace edgert::fuzz
