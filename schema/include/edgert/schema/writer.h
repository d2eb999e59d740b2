// Serializes a model (FlatBuffers object API) plus its constant blobs into the .efb container.
// Used by edgert_convert and by the tests' model builder. The runtime never writes files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "edgert/schema/edgert_generated.h"

namespace edgert::format {

// Lays blobs[i] out in the weight segment (each at a 64-byte boundary) and sets
// model.buffers[i] accordingly (model.buffers is replaced). Returns the whole file.
absl::StatusOr<std::string> SerializeEfb(fb::ModelT& model,
                                         const std::vector<std::string_view>& blobs);

// Writes bytes to `path` through a temporary file in the same folder and a rename, so a
// failure never leaves a partial file at `path`.
absl::Status WriteFileAtomic(const std::string& path, std::string_view bytes);

}  // namespace edgert::format
