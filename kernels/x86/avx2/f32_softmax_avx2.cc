// Softmax rows with AVX2+FMA (specification: kernels/include/edgert/kernels/softmax.h). A
// 16-element chunk is two 8-lane halves; the last len % 16 elements go through masked loads.
#include "../softmax_avx2_inl.h"

namespace edgert::kernels {
EDGERT_UKERNEL_NS_BEGIN
namespace {

// Lanes [0, n) of an 8-lane mask (n <= 8, saturating below 0).
EDGERT_INLINE __m256i FirstLanes(ptrdiff_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 0 ? 0 : n)), idx);
}

// t = x / scale or x * scale, plus the mask (kMask 0: none, 1: a mask row, 2: one value per
// row): the specification's two rounded operations. Templated so that no pass tests the modes.
template <bool kDivide, int kMask>
EDGERT_INLINE __m256 Scaled(__m256 v, __m256 s, __m256 mv) {
  const __m256 t = kDivide ? _mm256_div_ps(v, s) : _mm256_mul_ps(v, s);
  return kMask != 0 ? _mm256_add_ps(t, mv) : t;
}

// R rows in lockstep: their passes interleave, so one row's reductions overlap the others' work.
template <size_t R, bool kDivide, int kMask>
void SoftmaxRowsR(const ScaledSoftmaxArgs& a, size_t r0) {
  const size_t len = a.len, full = len / 16 * 16, rem = len - full;
  SoftmaxRow row[R];
  SoftmaxRowsFrom(a, r0, row);
  const __m256 s = _mm256_set1_ps(a.scale), ninf = _mm256_set1_ps(-INFINITY);
  const __m256i k0 = FirstLanes(static_cast<ptrdiff_t>(rem)), k1 = FirstLanes(static_cast<ptrdiff_t>(rem) - 8);
  __m256 vmax[R];
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) vmax[r] = ninf;
  for (size_t i = 0; i < full; i += 8) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      const __m256 mv = kMask == 0 ? s : kMask == 1 ? _mm256_loadu_ps(row[r].m + i) : _mm256_set1_ps(row[r].m[0]);
      const __m256 t = Scaled<kDivide, kMask>(_mm256_loadu_ps(row[r].x + i), s, mv);
      _mm256_storeu_ps(row[r].y + i, t);
      vmax[r] = _mm256_max_ps(vmax[r], t);
    }
  }
  if (rem != 0) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      for (int h = 0; h < 2; ++h) {
        const __m256i k = h == 0 ? k0 : k1;
        const size_t i = full + 8 * static_cast<size_t>(h);
        const __m256 mv = kMask == 0 ? s : kMask == 1 ? _mm256_maskload_ps(row[r].m + i, k) : _mm256_set1_ps(row[r].m[0]);
        const __m256 t = Scaled<kDivide, kMask>(_mm256_maskload_ps(row[r].x + i, k), s, mv);
        _mm256_maskstore_ps(row[r].y + i, k, t);
        vmax[r] = _mm256_max_ps(vmax[r], _mm256_blendv_ps(ninf, t, _mm256_castsi256_ps(k)));
      }
    }
  }
  __m256 vmx[R], a0l[R], a0h[R], a1l[R], a1h[R];
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
    vmx[r] = _mm256_set1_ps(HMax8(vmax[r]));
    a0l[r] = a0h[r] = a1l[r] = a1h[r] = _mm256_setzero_ps();
  }
  auto exp_store = [&](float* p, __m256 mx) EDGERT_INLINE_LAMBDA {
    const __m256 e = ExpSoftmax8(_mm256_sub_ps(_mm256_loadu_ps(p), mx));
    _mm256_storeu_ps(p, e);
    return e;
  };
  size_t i = 0;
  for (; i + 32 <= full; i += 32) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      a0l[r] = _mm256_add_ps(a0l[r], exp_store(row[r].y + i, vmx[r]));
      a0h[r] = _mm256_add_ps(a0h[r], exp_store(row[r].y + i + 8, vmx[r]));
      a1l[r] = _mm256_add_ps(a1l[r], exp_store(row[r].y + i + 16, vmx[r]));
      a1h[r] = _mm256_add_ps(a1h[r], exp_store(row[r].y + i + 24, vmx[r]));
    }
  }
  if (i < full) {  // an odd chunk count: the last chunk is even, accumulator 0
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      a0l[r] = _mm256_add_ps(a0l[r], exp_store(row[r].y + i, vmx[r]));
      a0h[r] = _mm256_add_ps(a0h[r], exp_store(row[r].y + i + 8, vmx[r]));
    }
  }
  __m256 inv[R];
  EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
    double sum = Fold16(_mm256_add_ps(a0l[r], a1l[r]), _mm256_add_ps(a0h[r], a1h[r]));
    for (int h = 0; rem != 0 && h < 2; ++h) {
      const __m256i k = h == 0 ? k0 : k1;
      float* p = row[r].y + full + 8 * static_cast<size_t>(h);
      _mm256_maskstore_ps(p, k, ExpSoftmax8(_mm256_sub_ps(_mm256_maskload_ps(p, k), vmx[r])));
    }
    for (size_t j = full; j < len; ++j) sum += row[r].y[j];
    inv[r] = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  }
  for (i = 0; i < full; i += 8) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      _mm256_storeu_ps(row[r].y + i, _mm256_mul_ps(_mm256_loadu_ps(row[r].y + i), inv[r]));
    }
  }
  if (rem != 0) {
    EDGERT_UNROLL for (size_t r = 0; r < R; ++r) {
      for (int h = 0; h < 2; ++h) {
        const __m256i k = h == 0 ? k0 : k1;
        float* p = row[r].y + full + 8 * static_cast<size_t>(h);
        _mm256_maskstore_ps(p, k, _mm256_mul_ps(_mm256_maskload_ps(p, k), inv[r]));
      }
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

void f32_softmax_rows_avx2(const ScaledSoftmaxArgs& a) { SoftmaxAllRows<Rows>(a); }
EDGERT_UKERNEL_NS_END
}  // namespace edgert::kernels
