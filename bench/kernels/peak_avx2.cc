// Register-only int8 peak loops and the DRAM read-sum (AVX2). Inline asm so the compiler can
// neither drop nor reorder the instruction mix being measured.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace edgert::bench {

// 12 independent vpmaddubsw per iteration (32 u8 x s8 multiplies + 16 adds each).
void PeakMaddubsOnly(size_t iters) {
  __asm__ volatile(
      "vpcmpeqb %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpabsb %%ymm15, %%ymm14\n\t"
      "1:\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm0\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm1\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm2\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm3\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm4\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm5\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm6\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm7\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm8\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm9\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm10\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm11\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm14", "xmm15", "cc");
}

// The complete AVX2 int8 -> int32 multiply-accumulate step: vpmaddubsw + vpmaddwd(ones) +
// vpaddd, 6 independent chains per iteration. This is what an int8 x int8 GEMM with int32
// accumulation must execute per 32 MACs on AVX2 (no VNNI).
void PeakMaddubsChain(size_t iters) {
  __asm__ volatile(
      "vpcmpeqb %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpabsb %%ymm15, %%ymm14\n\t"
      "vpabsw %%ymm15, %%ymm13\n\t"
      "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
      "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
      "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
      "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
      "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
      "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
      "1:\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm6\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm7\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm8\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm9\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm10\n\t"
      "vpmaddubsw %%ymm14, %%ymm15, %%ymm11\n\t"
      "vpmaddwd %%ymm13, %%ymm6, %%ymm6\n\t"
      "vpmaddwd %%ymm13, %%ymm7, %%ymm7\n\t"
      "vpmaddwd %%ymm13, %%ymm8, %%ymm8\n\t"
      "vpmaddwd %%ymm13, %%ymm9, %%ymm9\n\t"
      "vpmaddwd %%ymm13, %%ymm10, %%ymm10\n\t"
      "vpmaddwd %%ymm13, %%ymm11, %%ymm11\n\t"
      "vpaddd %%ymm6, %%ymm0, %%ymm0\n\t"
      "vpaddd %%ymm7, %%ymm1, %%ymm1\n\t"
      "vpaddd %%ymm8, %%ymm2, %%ymm2\n\t"
      "vpaddd %%ymm9, %%ymm3, %%ymm3\n\t"
      "vpaddd %%ymm10, %%ymm4, %%ymm4\n\t"
      "vpaddd %%ymm11, %%ymm5, %%ymm5\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm13", "xmm14", "xmm15", "cc");
}

// Sums n bytes (multiple of 128) as 64-bit lanes; 4 independent accumulators. With `prefetch`,
// also a software prefetch per line 4 KiB ahead (the best of both is reported as DRAM read
// bandwidth: it is the ceiling any weight-streaming kernel can reach).
uint64_t ReadSum(const uint8_t* p, size_t n, int prefetch) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 128) {
    if (prefetch == 1) {
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 4096), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 4096 + 64), _MM_HINT_T0);
    } else if (prefetch == 2) {
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 4096), _MM_HINT_NTA);
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 4096 + 64), _MM_HINT_NTA);
    }
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), s0);
  return t[0] + t[1] + t[2] + t[3];
}

}  // namespace edgert::bench
