// Placeholder registration; the ops of this family are added here.
#include "op.h"

namespace edgert {

void RegisterConvOps(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace edgert
