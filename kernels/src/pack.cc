// Weight packing (done once per model at load time; layouts in internal.h). Packing is the same
// for every ISA variant, so a model packed once runs on any variant (and ForceIsa may change
// variants after packing).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "edgert/kernels/internal.h"

namespace edgert::kernels {
namespace {

size_t Panels(size_t n) { return (n + kPanelN - 1) / kPanelN; }

void WriteHeader(void* packed, uint32_t magic, size_t n, size_t k, size_t block, uint32_t flags,
                 size_t panel_bytes) {
  PackedHeader h{};
  h.magic = magic;
  h.n = static_cast<uint32_t>(n);
  h.k = static_cast<uint32_t>(k);
  h.block = static_cast<uint32_t>(block);
  h.flags = flags;
  h.panel_bytes = panel_bytes;
  std::memcpy(packed, &h, sizeof(h));
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "edgert kernels: broken invariant: %s\n", what);
  std::abort();
}

}  // namespace

size_t PackedQc8wBytes(size_t n, size_t k) {
  return sizeof(PackedHeader) + Panels(n) * Qc8wPanelBytes(k);
}

void PackQc8w(size_t n, size_t k, const int8_t* w, const float* scales, void* packed) {
  const size_t pb = Qc8wPanelBytes(k);
  WriteHeader(packed, kQc8wMagic, n, k, 0, 0, pb);
  uint8_t* base = static_cast<uint8_t*>(packed) + sizeof(PackedHeader);
  const size_t k4 = (k + 3) / 4;
  for (size_t p = 0; p < Panels(n); ++p) {
    uint8_t* panel = base + p * pb;
    std::memset(panel, 0, pb);
    float* sc = reinterpret_cast<float*>(panel);
    int32_t* cs = reinterpret_cast<int32_t*>(panel + 64);
    int8_t* wp = reinterpret_cast<int8_t*>(panel + 128);
    for (size_t c = 0; c < kPanelN && p * kPanelN + c < n; ++c) {
      const size_t j = p * kPanelN + c;
      const int8_t* src = w + j * k;
      sc[c] = scales[j];
      int32_t sum = 0;
      for (size_t kk = 0; kk < k; ++kk) sum += src[kk];
      cs[c] = sum;
      const size_t full = k / 4;
      for (size_t s4 = 0; s4 < full; ++s4) std::memcpy(wp + s4 * 64 + c * 4, src + 4 * s4, 4);
      for (size_t kk = 4 * full; kk < k; ++kk) wp[full * 64 + c * 4 + kk % 4] = src[kk];
    }
    (void)k4;
  }
}

size_t PackedQb4wBytes(size_t n, size_t k, size_t block) {
  // Upper bound over the scale format / symmetry (asymmetric f32 is the largest).
  return sizeof(PackedHeader) + Panels(n) * Qb4wPanelBytes(k, block, false, true);
}

size_t PackedQb4wBytesExact(size_t n, size_t k, size_t block, bool scales_f16, bool asymmetric) {
  return sizeof(PackedHeader) + Panels(n) * Qb4wPanelBytes(k, block, scales_f16, asymmetric);
}

void PackQb4w(size_t n, size_t k, size_t block, const uint8_t* w, const void* scales,
              bool scales_f16, const int8_t* zero_points, void* packed) {
  if (block == 0 || block % 8 != 0 || block > 1024)
    Fail("PackQb4w: block must be a multiple of 8 in [8, 1024]");
  const bool asym = zero_points != nullptr;
  const uint32_t flags = (scales_f16 ? kQb4wScalesF16 : 0) | (asym ? kQb4wAsym : 0);
  const size_t pb = Qb4wPanelBytes(k, block, scales_f16, asym);
  WriteHeader(packed, kQb4wMagic, n, k, block, flags, pb);
  uint8_t* base = static_cast<uint8_t*>(packed) + sizeof(PackedHeader);
  const size_t nb = (k + block - 1) / block;
  const size_t row_bytes = (k + 1) / 2;
  const size_t ss = scales_f16 ? 2 : 4;
  for (size_t p = 0; p < Panels(n); ++p) {
    uint8_t* panel = base + p * pb;
    std::memset(panel, 0, pb);
    float wcorr[16] = {};
    uint8_t* q = panel + 64;
    for (size_t b = 0; b < nb; ++b) {
      const size_t kb = b * block;
      const size_t len = k - kb < block ? k - kb : block;
      const size_t steps = (len + 7) / 8;
      uint8_t* sc = q;
      uint8_t* zq = q + 16 * ss;
      uint8_t* wq = zq + (asym ? 16 : 0);
      uint8_t u[1024 + 8];  // nibble values q + 8 of this column's block, padded with zu
      for (size_t c = 0; c < kPanelN; ++c) {
        const size_t j = p * kPanelN + c;
        const bool valid = j < n;
        int32_t zp = 0;
        if (valid && asym) {
          zp = zero_points[j * nb + b];
          if (zp < -8 || zp > 7) Fail("PackQb4w: int4 zero point outside [-8, 7]");
        }
        const uint8_t zu = static_cast<uint8_t>(zp + 8);
        if (asym) zq[c] = zu;
        std::memset(u, zu, steps * 8);
        if (valid) {
          std::memcpy(sc + c * ss, static_cast<const uint8_t*>(scales) + (j * nb + b) * ss, ss);
          // kb is even (block % 8 == 0): the block's nibbles start at a byte boundary.
          // Two's complement nibble v -> q + 8 = v ^ 8.
          const uint8_t* src = w + j * row_bytes + kb / 2;
          int32_t usum = 0;
          for (size_t i = 0; i < len / 2; ++i) {
            u[2 * i] = (src[i] & 0x0F) ^ 8;
            u[2 * i + 1] = (src[i] >> 4) ^ 8;
            usum += u[2 * i] + u[2 * i + 1];
          }
          if (len & 1) {
            u[len - 1] = (src[len / 2] & 0x0F) ^ 8;
            usum += u[len - 1];
          }
          // sum_k (q - zp) = sum_k (u - zu)
          const int32_t wsum = usum - static_cast<int32_t>(len) * zu;
          const float s = scales_f16 ? F16ToF32(static_cast<const uint16_t*>(scales)[j * nb + b])
                                     : static_cast<const float*>(scales)[j * nb + b];
          wcorr[c] = std::fma(s, static_cast<float>(wsum), wcorr[c]);
        }
        uint8_t* dst = wq + (c / 8) * 32 + (c % 8) * 4;
        for (size_t st = 0; st < steps; ++st)
          for (size_t t = 0; t < 4; ++t)
            dst[st * 64 + t] = static_cast<uint8_t>(u[8 * st + t] | (u[8 * st + 4 + t] << 4));
      }
      q += Qb4wBlockBytes(len, scales_f16, asym);
    }
    std::memcpy(panel, wcorr, 64);
  }
}

size_t PackedF32wBytes(size_t n, size_t k) {
  return sizeof(PackedHeader) + Panels(n) * F32PanelBytes(k);
}

void PackF32wKN(size_t n, size_t k, const float* b, size_t ldb, void* packed) {
  WriteHeader(packed, kF32wMagic, n, k, 0, 0, F32PanelBytes(k));
  float* base = reinterpret_cast<float*>(static_cast<uint8_t*>(packed) + sizeof(PackedHeader));
  for (size_t p = 0; p < Panels(n); ++p) {
    float* panel = base + p * 16 * k;
    const size_t j0 = p * 16, cols = std::min<size_t>(16, n - j0);
    // A panel row is 16 consecutive columns of one row of B. Full panels copy them with a
    // fixed-size loop (vector moves) instead of a memcpy call per 64 bytes: attention packs V_h
    // this way every run, and the calls were 0.9% of MiniLM INT8.
    if (cols == 16) {
      for (size_t kk = 0; kk < k; ++kk) {
        const float* src = b + kk * ldb + j0;
        float* dst = panel + kk * 16;
        for (size_t c = 0; c < 16; ++c) dst[c] = src[c];
      }
      continue;
    }
    for (size_t kk = 0; kk < k; ++kk) {
      std::memcpy(panel + kk * 16, b + kk * ldb + j0, cols * sizeof(float));
      std::memset(panel + kk * 16 + cols, 0, (16 - cols) * sizeof(float));
    }
  }
}

void PackF32w(size_t n, size_t k, const float* w, void* packed) { PackF32w(n, k, w, k, packed); }

void PackF32w(size_t n, size_t k, const float* w, size_t ldw, void* packed) {
  WriteHeader(packed, kF32wMagic, n, k, 0, 0, F32PanelBytes(k));
  float* base = reinterpret_cast<float*>(static_cast<uint8_t*>(packed) + sizeof(PackedHeader));
  for (size_t p = 0; p < Panels(n); ++p) {
    float* panel = base + p * 16 * k;
    size_t c0 = 0;
#if defined(__SSE2__)
    // Four rows at a time, 4x4 blocks transposed in registers (attention packs K_h^T this way
    // every run: element-wise it was 1.5% of MiniLM INT8).
    for (; c0 + 4 <= 16 && p * 16 + c0 + 4 <= n; c0 += 4) {
      const float* r0 = w + (p * 16 + c0) * ldw;
      size_t kk = 0;
      for (; kk + 4 <= k; kk += 4) {
        __m128 a = _mm_loadu_ps(r0 + kk), b = _mm_loadu_ps(r0 + ldw + kk);
        __m128 c = _mm_loadu_ps(r0 + 2 * ldw + kk), d = _mm_loadu_ps(r0 + 3 * ldw + kk);
        _MM_TRANSPOSE4_PS(a, b, c, d);
        _mm_storeu_ps(panel + kk * 16 + c0, a);
        _mm_storeu_ps(panel + (kk + 1) * 16 + c0, b);
        _mm_storeu_ps(panel + (kk + 2) * 16 + c0, c);
        _mm_storeu_ps(panel + (kk + 3) * 16 + c0, d);
      }
      for (; kk < k; ++kk)
        for (size_t c = 0; c < 4; ++c) panel[kk * 16 + c0 + c] = r0[c * ldw + kk];
    }
#endif
    // The rest row by row: contiguous reads of W, writes 16 floats apart (the panel stays in L1).
    for (size_t c = c0; c < 16; ++c) {
      const size_t j = p * 16 + c;
      if (j < n) {
        const float* src = w + j * ldw;
        for (size_t kk = 0; kk < k; ++kk) panel[kk * 16 + c] = src[kk];
      } else {
        for (size_t kk = 0; kk < k; ++kk) panel[kk * 16 + c] = 0.0f;
      }
    }
  }
}

}  // namespace edgert::kernels
