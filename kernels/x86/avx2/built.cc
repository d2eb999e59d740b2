// Compiled with the AVX2 flags: proves the AVX2 variant is in this binary.
namespace edgert::kernels {
bool BuiltAvx2() { return true; }
}  // namespace edgert::kernels
