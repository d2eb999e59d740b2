// A schema registry for ONNX shape inference that checks an op's inputs and attributes before
// libonnx's own inference function sees them.
//
// Debian's libonnx 1.12 inference functions index shape dims and attribute vectors without
// checking sizes on some malformed graphs (fuzz_onnx: SEGV in convTransposeShapeInference when
// the weight rank, known only after inferring an earlier node, is below the input rank). A
// check of the declared graph before inference cannot see such inferred ranks, so the checks
// run inside inference: GuardedSchemaRegistry() hands out copies of the ai.onnx schemas whose
// inference function first validates the node (failing with onnx's InferenceError, which
// InferShapes reports like any other inference error), then calls the original.
#pragma once

#include "onnx/defs/schema.h"

namespace edgert::converter {

// Process-wide, thread-safe; falls back to OpSchemaRegistry for every op without a guard.
const onnx::ISchemaRegistry* GuardedSchemaRegistry();

}  // namespace edgert::converter
