// Register-only VNNI peaks (vpdpbusd ymm / zmm), 12 independent accumulators. Only called when
// the CPU reports the feature.
#include <cstddef>

namespace edgert::bench {

#define EDGERT_DP12(R)                                                                           \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "0\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "1\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "2\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "3\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "4\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "5\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "6\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "7\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "8\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "9\n\t"                                                  \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "10\n\t"                                                 \
  "vpdpbusd %%" R "14, %%" R "15, %%" R "11\n\t"

void PeakVnniYmm(size_t iters) {  // AVX-VNNI (VEX) encoding
  __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n\tvpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                   "1:\n\t" 
                   "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm0\n\t%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm1\n\t"
                   "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm2\n\t%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm3\n\t"
                   "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm4\n\t%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm5\n\t"
                   "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm6\n\t%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm7\n\t"
                   "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm8\n\t%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm9\n\t"
                   "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm10\n\t%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm11\n\t"
                   "dec %0\n\tjnz 1b\n\t"
                   : "+r"(iters)
                   :
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                     "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
}

void PeakVnniZmm(size_t iters) {
  __asm__ volatile("vpxord %%zmm14, %%zmm14, %%zmm14\n\tvpxord %%zmm15, %%zmm15, %%zmm15\n\t"
                   "1:\n\t" EDGERT_DP12("zmm") "dec %0\n\tjnz 1b\n\t"
                   : "+r"(iters)
                   :
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                     "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
}

}  // namespace edgert::bench
