// ISA selection: (variants built) ∩ (CPU features), highest wins, chosen once; EDGERT_ISA lowers
// it; ForceIsa changes it (tests, benchmarks) but never to a variant the CPU cannot run.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <cpuinfo.h>

#include "edgert/kernels/internal.h"

#if defined(EDGERT_KERNELS_X86)
#include <cpuid.h>

#include "ukernels_x86.h"
#endif

namespace edgert::kernels {
namespace {

constexpr Isa kAllIsas[] = {Isa::kRef,     Isa::kAvx2, Isa::kAvxVnni, Isa::kAvx512Vnni,
                            Isa::kNeon,    Isa::kNeonDot, Isa::kI8mm};

const QGemmConfig kQGemmRef = {
    Isa::kRef,
    QuantizeRowsRef,
    "f32_qd8_quantize_ref",
    255,
    {qd8_qc8w_gemm_4x16c4_ref, 4, "qd8_qc8w_gemm_4x16c4_ref"},
    {qd8_qc8w_gemm_4x16c4_ref, 1, "qd8_qc8w_gemm_4x16c4_ref"},
    255,
    {qd8_qb4w_gemm_4x16c8_ref, 4, "qd8_qb4w_gemm_4x16c8_ref"},
    {qd8_qb4w_gemm_4x16c8_ref, 1, "qd8_qb4w_gemm_4x16c8_ref"},
};
const F32GemmConfig kF32Ref = {
    Isa::kRef,
    {f32_gemm_4x16_ref, 4, "f32_gemm_4x16_ref"},
    {f32_gemm_4x16_ref, 1, "f32_gemm_4x16_ref"},
};

#if defined(EDGERT_KERNELS_X86)
// The AVX2 qc8w kernels use 7-bit activations (qmax 127) so that vpmaddubsw cannot saturate;
// everything else uses the full uint8 range. See docs/quantization.md.
const QGemmConfig kQGemmAvx2 = {
    Isa::kAvx2,
    f32_qd8_quantize_avx2,
    "f32_qd8_quantize_avx2",
    127,
    {qd8_qc8w_gemm_4x16c4_avx2, 4, "qd8_qc8w_gemm_4x16c4_avx2"},
    {qd8_qc8w_gemm_1x16c4_avx2, 1, "qd8_qc8w_gemm_1x16c4_avx2"},
    255,
    {qd8_qb4w_gemm_4x16c8_avx2, 4, "qd8_qb4w_gemm_4x16c8_avx2"},
    {qd8_qb4w_gemm_1x16c8_avx2, 1, "qd8_qb4w_gemm_1x16c8_avx2"},
};
const QGemmConfig kQGemmAvxVnni = {
    Isa::kAvxVnni,
    f32_qd8_quantize_avx2,
    "f32_qd8_quantize_avx2",
    255,
    {qd8_qc8w_gemm_6x16c4_avxvnni, 6, "qd8_qc8w_gemm_6x16c4_avxvnni"},
    {qd8_qc8w_gemm_1x16c4_avxvnni, 1, "qd8_qc8w_gemm_1x16c4_avxvnni"},
    255,
    {qd8_qb4w_gemm_4x16c8_avxvnni, 4, "qd8_qb4w_gemm_4x16c8_avxvnni"},
    {qd8_qb4w_gemm_1x16c8_avxvnni, 1, "qd8_qb4w_gemm_1x16c8_avxvnni"},
};
const QGemmConfig kQGemmAvx512Vnni = {
    Isa::kAvx512Vnni,
    f32_qd8_quantize_avx512vnni,
    "f32_qd8_quantize_avx512vnni",
    255,
    {qd8_qc8w_gemm_12x32c4_avx512vnni, 12, "qd8_qc8w_gemm_12x32c4_avx512vnni", 32},
    {qd8_qc8w_gemm_1x16c4_avx512vnni, 1, "qd8_qc8w_gemm_1x16c4_avx512vnni"},
    255,
    {qd8_qb4w_gemm_8x32c8_avx512vnni, 8, "qd8_qb4w_gemm_8x32c8_avx512vnni", 32},
    {qd8_qb4w_gemm_1x16c8_avx512vnni, 1, "qd8_qb4w_gemm_1x16c8_avx512vnni"},
};
// FP32: AVX2+FMA (also used by avxvnni) and AVX-512F (with the avx512vnni variant).
const F32GemmConfig kF32Avx2 = {
    Isa::kAvx2,
    {f32_gemm_6x16_avx2, 6, "f32_gemm_6x16_avx2"},
    {f32_gemm_1x16_avx2, 1, "f32_gemm_1x16_avx2"},
};
const F32GemmConfig kF32Avx512 = {
    Isa::kAvx512Vnni,
    {f32_gemm_12x32_avx512vnni, 12, "f32_gemm_12x32_avx512vnni", 32},
    {f32_gemm_1x16_avx512vnni, 1, "f32_gemm_1x16_avx512vnni"},
};
#endif

struct CpuFeatures {
  bool avx2 = false, avxvnni = false, avx512vnni = false;
};

const CpuFeatures& Cpu() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
#if defined(EDGERT_KERNELS_X86)
    if (cpuinfo_initialize()) {
      // cpuinfo checks that the OS saves the YMM/ZMM state (XCR0) before reporting these.
      r.avx2 = cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3() && cpuinfo_has_x86_f16c();
      unsigned a = 0, b = 0, c = 0, d = 0;
      // AVX-VNNI is CPUID.(EAX=7,ECX=1):EAX[4]; this cpuinfo release does not report it. It only
      // needs the YMM state, which the avx2 check above already verified.
      if (r.avx2 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) r.avxvnni = (a >> 4) & 1;
      r.avx512vnni = r.avx2 && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() &&
                     cpuinfo_has_x86_avx512vl() && cpuinfo_has_x86_avx512vnni();
    }
#endif
    return r;
  }();
  return f;
}

bool ParseIsa(const char* s, Isa* out) {
  for (Isa isa : kAllIsas) {
    if (std::strcmp(s, IsaName(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

Isa BestIsa() {
  Isa best = Isa::kRef;
  for (Isa isa : kAllIsas)
    if (IsaBuilt(isa) && IsaSupportedByCpu(isa) && QGemmConfigFor(isa)) best = isa;
  return best;
}

std::atomic<int>& CurrentIsaSlot() {
  static std::atomic<int> slot{static_cast<int>(SelectedIsa())};
  return slot;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kRef: return "ref";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvxVnni: return "avxvnni";
    case Isa::kAvx512Vnni: return "avx512vnni";
    case Isa::kNeon: return "neon";
    case Isa::kNeonDot: return "neondot";
    case Isa::kI8mm: return "i8mm";
  }
  return "unknown";
}

bool IsaBuilt(Isa isa) {
  switch (isa) {
    case Isa::kRef: return true;
#if defined(EDGERT_KERNELS_X86)
    case Isa::kAvx2: return BuiltAvx2();
    case Isa::kAvxVnni: return BuiltAvxVnni();
    case Isa::kAvx512Vnni: return BuiltAvx512Vnni();
#endif
    default: return false;
  }
}

bool IsaSupportedByCpu(Isa isa) {
  switch (isa) {
    case Isa::kRef: return true;
    case Isa::kAvx2: return Cpu().avx2;
    case Isa::kAvxVnni: return Cpu().avxvnni;
    case Isa::kAvx512Vnni: return Cpu().avx512vnni;
    default: return false;
  }
}

Isa SelectedIsa() {
  static const Isa selected = [] {
    Isa best = BestIsa();
    if (const char* env = std::getenv("EDGERT_ISA"); env && *env) {
      Isa want;
      if (!ParseIsa(env, &want)) {
        std::fprintf(stderr, "edgert: EDGERT_ISA=%s is not a known variant; using %s\n", env,
                     IsaName(best));
      } else if (!IsaBuilt(want) || !IsaSupportedByCpu(want) || !QGemmConfigFor(want) ||
                 static_cast<int>(want) > static_cast<int>(best)) {
        std::fprintf(stderr, "edgert: EDGERT_ISA=%s is not available here; using %s\n", env,
                     IsaName(best));
      } else {
        best = want;
      }
    }
    return best;
  }();
  return selected;
}

bool ForceIsa(Isa isa) {
  if (!IsaBuilt(isa) || !IsaSupportedByCpu(isa) || !QGemmConfigFor(isa)) return false;
  CurrentIsaSlot().store(static_cast<int>(isa));
  return true;
}

size_t L2CacheBytes() {
  static const size_t bytes = [] {
    size_t r = size_t{512} << 10;
    if (cpuinfo_initialize() && cpuinfo_get_l2_caches_count() > 0) {
      const cpuinfo_cache* l2 = cpuinfo_get_l2_cache(0);
      const size_t share = l2->processor_count > 0 ? l2->processor_count : 1;
      if (l2->size > 0) r = std::max<size_t>(size_t{64} << 10, l2->size / share);
    }
    return r;
  }();
  return bytes;
}

Isa ActiveIsa() { return static_cast<Isa>(CurrentIsaSlot().load(std::memory_order_relaxed)); }

const QGemmConfig* QGemmConfigFor(Isa isa) {
  switch (isa) {
    case Isa::kRef: return &kQGemmRef;
#if defined(EDGERT_KERNELS_X86)
    case Isa::kAvx2: return BuiltAvx2() ? &kQGemmAvx2 : nullptr;
    case Isa::kAvxVnni: return BuiltAvxVnni() ? &kQGemmAvxVnni : nullptr;
    case Isa::kAvx512Vnni: return BuiltAvx512Vnni() ? &kQGemmAvx512Vnni : nullptr;
#endif
    default: return nullptr;
  }
}

const F32GemmConfig* F32GemmConfigFor(Isa isa) {
  switch (isa) {
    case Isa::kRef: return &kF32Ref;
#if defined(EDGERT_KERNELS_X86)
    case Isa::kAvx2:
    case Isa::kAvxVnni: return BuiltAvx2() ? &kF32Avx2 : nullptr;
    case Isa::kAvx512Vnni: return BuiltAvx512Vnni() ? &kF32Avx512 : nullptr;
#endif
    default: return nullptr;
  }
}

const QGemmConfig* CurrentQGemmConfig() {
  return QGemmConfigFor(static_cast<Isa>(CurrentIsaSlot().load(std::memory_order_relaxed)));
}
const F32GemmConfig* CurrentF32GemmConfig() {
  return F32GemmConfigFor(static_cast<Isa>(CurrentIsaSlot().load(std::memory_order_relaxed)));
}

}  // namespace edgert::kernels
