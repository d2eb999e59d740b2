// Softmax rows with AVX-512 (specification: kernels/include/edgert/kernels/softmax.h): 16-lane
// chunks, the last len % 16 elements under a lane mask. Four rows run in lockstep: a single
// 128-element row is a chain of dependent passes (max, exp + sum, scale), and interleaving rows
// lets one row's reductions overlap the others' work (a MiniLM attention row: 52 ns with the
// earlier row-at-a-time code, 24-28 ns with the reductions through memory, 22 ns in registers on
// Zen 5; bench/kernels Softmax/attention_rows).
#include "../softmax_avx2_inl.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

EDGERT_INLINE __m512 ExpSoftmax16(__m512 d) {
  const __mmask16 keep = _mm512_cmp_ps_mask(d, _mm512_set1_ps(kExpLowest), _CMP_NLT_UQ);
  const __m512 t = _mm512_fmadd_ps(d, _mm512_set1_ps(kExpLog2e), _mm512_set1_ps(kExpShifter));
  const __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(kExpShifter));
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kExpLn2Hi), d);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kExpLn2Lo), r);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kExpC5), r, _mm512_set1_ps(kExpC4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23)));
}

// The high 256 bits (extractf64x4: AVX512F, and in SIMDe 0.7.4, which lacks extractf32x8).
// GCC 12 reports its unused pass-through operand as uninitialized (a false positive in
// avx512fintrin.h), at every inlined use: off for this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
EDGERT_INLINE __m256 Hi256(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

// In registers (the max of 16 lanes is the same in any order for the values softmax uses; a
// NaN makes the row NaN either way).
EDGERT_INLINE float HMax16(__m512 v) { return HMax8(_mm256_max_ps(_mm512_castps512_ps256(v), Hi256(v))); }

// t = x / scale or x * scale, plus the mask (kMask 0: none, 1: a mask row, 2: one value per
// row): the specification's two rounded operations. Templated so that no pass tests the modes.
template <bool kDivide, int kMask>
EDGERT_INLINE __m512 Scaled(__m512 v, __m512 s, __m512 mv) {
  const __m512 t = kDivide ? _mm512_div_ps(v, s) : _mm512_mul_ps(v, s);
  return kMask != 0 ? _mm512_add_ps(t, mv) : t;
}

template <size_t R, bool kDivide, int kMask>
void SoftmaxRowsR(const ScaledSoftmaxArgs& a, size_t r0) {
  const size_t len = a.len, full = len / 16 * 16, rem = len - full;
  const auto k = static_cast<__mmask16>((1u << rem) - 1);
  SoftmaxRow row[R];
  SoftmaxRowsFrom(a, r0, row);
  const __m512 s = _mm512_set1_ps(a.scale);
  __m512 vmax[R];
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) vmax[r] = _mm512_set1_ps(-INFINITY);
  for (size_t i = 0; i < full; i += 16) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      const __m512 mv = kMask == 0 ? s : kMask == 1 ? _mm512_loadu_ps(row[r].m + i) : _mm512_set1_ps(row[r].m[0]);
      const __m512 t = Scaled<kDivide, kMask>(_mm512_loadu_ps(row[r].x + i), s, mv);
      _mm512_storeu_ps(row[r].y + i, t);
      vmax[r] = _mm512_max_ps(vmax[r], t);
    }
  }
  if (rem != 0) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      const __m512 mv = kMask == 0 ? s : kMask == 1 ? _mm512_maskz_loadu_ps(k, row[r].m + full) : _mm512_set1_ps(row[r].m[0]);
      const __m512 t = Scaled<kDivide, kMask>(_mm512_maskz_loadu_ps(k, row[r].x + full), s, mv);
      _mm512_mask_storeu_ps(row[r].y + full, k, t);
      vmax[r] = _mm512_mask_max_ps(vmax[r], k, vmax[r], t);
    }
  }
  __m512 vmx[R], a0[R], a1[R];
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
    vmx[r] = _mm512_set1_ps(HMax16(vmax[r]));
    a0[r] = a1[r] = _mm512_setzero_ps();
  }
  auto exp_store = [&](float* p, __m512 mx) EDGERT_INLINE_LAMBDA {
    const __m512 e = ExpSoftmax16(_mm512_sub_ps(_mm512_loadu_ps(p), mx));
    _mm512_storeu_ps(p, e);
    return e;
  };
  size_t i = 0;
  for (; i + 32 <= full; i += 32) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      a0[r] = _mm512_add_ps(a0[r], exp_store(row[r].y + i, vmx[r]));
      a1[r] = _mm512_add_ps(a1[r], exp_store(row[r].y + i + 16, vmx[r]));
    }
  }
  if (i < full) {  // an odd chunk count: the last chunk is even, accumulator 0
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) a0[r] = _mm512_add_ps(a0[r], exp_store(row[r].y + i, vmx[r]));
  }
  __m512 inv[R];
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
    const __m512 a = _mm512_add_ps(a0[r], a1[r]);
    double sum = Fold16(_mm512_castps512_ps256(a), Hi256(a));  // the specification's tree order
    if (rem != 0) {
      float* p = row[r].y + full;
      _mm512_mask_storeu_ps(p, k, ExpSoftmax16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p), vmx[r])));
      for (size_t j = 0; j < rem; ++j) sum += p[j];
    }
    inv[r] = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  }
  for (i = 0; i < full; i += 16) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      _mm512_storeu_ps(row[r].y + i, _mm512_mul_ps(_mm512_loadu_ps(row[r].y + i), inv[r]));
    }
  }
  if (rem != 0) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      float* p = row[r].y + full;
      _mm512_mask_storeu_ps(p, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p), inv[r]));
    }
  }
}

struct Rows {
  template <size_t R, bool kDivide, int kMask>
  static void Run(const ScaledSoftmaxArgs& a, size_t r0) {
    SoftmaxRowsR<R, kDivide, kMask>(a, r0);
  }
};

}  // namespace

void f32_softmax_rows_avx512vnni(const ScaledSoftmaxArgs& a) { SoftmaxAllRows<Rows>(a); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
