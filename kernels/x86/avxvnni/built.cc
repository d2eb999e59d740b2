// Compiled with the AVX-VNNI flags: proves the AVX-VNNI variant is in this binary.
namespace edgert::kernels {
bool BuiltAvxVnni() { return true; }
}  // namespace edgert::kernels
