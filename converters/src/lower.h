// IR -> .efb (FlatBuffers object model + weight blobs).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "edgert/schema/edgert_generated.h"
#include "ir.h"

namespace edgert::converter {

struct Lowered {
  fb::ModelT model;
  std::vector<std::string> blobs;  // blobs[i] is Model.buffers[i]
};

// `extra_outputs` are appended to the graph outputs (calibration reads intermediate tensors).
absl::StatusOr<Lowered> Lower(const Graph& g, const std::vector<std::string>& extra_outputs = {});
// Lower + SerializeEfb.
absl::StatusOr<std::string> LowerAndSerialize(const Graph& g, const fb::MetadataT* metadata,
                                              const std::vector<std::string>& extra_outputs = {});

}  // namespace edgert::converter
