// Weight packing (done once per model at load time; layouts in internal.h). Packing is the same
// for every ISA variant, so a model packed once runs on any variant (and ForceIsa may change
// variants after packing).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
      sc[c] = scales[j];
      int32_t sum = 0;
      for (size_t kk = 0; kk < k; ++kk) {
        sum += w[j * k + kk];
        wp[(kk / 4) * 64 + c * 4 + kk % 4] = w[j * k + kk];
      }
      cs[c] = sum;
    }
    (void)k4;
  }
}

size_t PackedQb4wBytes(size_t n, size_t k, size_t block) {
  // Upper bound over the scale format / symmetry (asymmetric f32 is the largest).
  return sizeof(PackedHeader) + Panels(n) * Qb4wPanelBytes(k, block, false, true);
}

void PackQb4w(size_t n, size_t k, size_t block, const uint8_t* w, const void* scales,
              bool scales_f16, const int8_t* zero_points, void* packed) {
  if (block == 0 || block % 8 != 0) Fail("PackQb4w: block must be a positive multiple of 8");
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
      for (size_t c = 0; c < kPanelN; ++c) {
        const size_t j = p * kPanelN + c;
        const bool valid = j < n;
        int32_t zp = 0;
        if (valid && asym) {
          zp = zero_points[j * nb + b];
          if (zp < -8 || zp > 7) Fail("PackQb4w: int4 zero point outside [-8, 7]");
        }
        const uint8_t zu = static_cast<uint8_t>(zp + 8);
        if (valid) std::memcpy(sc + c * ss, static_cast<const uint8_t*>(scales) + (j * nb + b) * ss, ss);
        if (asym) zq[c] = zu;
        int32_t wsum = 0;
        for (size_t s = 0; s < steps; ++s) {
          for (size_t t = 0; t < 4; ++t) {
            uint8_t nib[2];
            for (size_t h = 0; h < 2; ++h) {
              const size_t kk = kb + 8 * s + 4 * h + t;
              if (valid && kk < k) {
                const uint8_t byte = w[j * row_bytes + kk / 2];
                const int32_t v4 = (kk & 1) ? (byte >> 4) : (byte & 0x0F);
                const int32_t qv = v4 >= 8 ? v4 - 16 : v4;
                nib[h] = static_cast<uint8_t>(qv + 8);
                wsum += qv - zp;
              } else {
                nib[h] = zu;  // weight 0 after subtracting the zero point
              }
            }
            wq[s * 64 + (c / 8) * 32 + (c % 8) * 4 + t] = static_cast<uint8_t>(nib[0] | (nib[1] << 4));
          }
        }
        if (valid) {
          const float s = scales_f16 ? F16ToF32(static_cast<const uint16_t*>(scales)[j * nb + b])
                                     : static_cast<const float*>(scales)[j * nb + b];
          wcorr[c] = std::fma(s, static_cast<float>(wsum), wcorr[c]);
        }
      }
      q += Qb4wBlockBytes(len, scales_f16, asym);
    }
    std::memcpy(panel, wcorr, 64);
  }
}

size_t PackedF32wBytes(size_t n, size_t k) {
  return sizeof(PackedHeader) + Panels(n) * F32PanelBytes(k);
}

void PackF32w(size_t n, size_t k, const float* w, void* packed) {
  WriteHeader(packed, kF32wMagic, n, k, 0, 0, F32PanelBytes(k));
  float* base = reinterpret_cast<float*>(static_cast<uint8_t*>(packed) + sizeof(PackedHeader));
  for (size_t p = 0; p < Panels(n); ++p) {
    float* panel = base + p * 16 * k;
    for (size_t kk = 0; kk < k; ++kk)
      for (size_t c = 0; c < 16; ++c) {
        const size_t j = p * 16 + c;
        panel[kk * 16 + c] = j < n ? w[j * k + kk] : 0.0f;
      }
  }
}

}  // namespace edgert::kernels
