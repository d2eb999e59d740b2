// Compiled with the AVX-512 VNNI flags: proves the AVX-512 VNNI variant is in this binary.
namespace edgert::kernels {
bool BuiltAvx512Vnni() { return true; }
}  // namespace edgert::kernels
