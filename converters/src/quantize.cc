#include "quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace edgert::converter {
namespace {

double Sqnr(const std::vector<float>& w, const std::vector<float>& d) {
  double s = 0, e = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    s += static_cast<double>(w[i]) * w[i];
    double x = static_cast<double>(w[i]) - d[i];
    e += x * x;
  }
  if (e == 0) return 200.0;
  if (s == 0) return 0.0;
  return 10.0 * std::log10(s / e);
}

float RoundScale(float s, bool f16) { return f16 ? HalfToFloat(FloatToHalf(s)) : s; }

// Block parameters from [lo, hi] (already including 0 for asym) scaled by `shrink`.
void BlockParams(float lo, float hi, float amax, bool asym, float shrink, bool f16, float* scale, int* zp) {
  if (!asym) {
    float s = amax * shrink / 7.0f;
    *scale = RoundScale(s > 0 ? s : 1.0f, f16);
    *zp = 0;
    return;
  }
  lo *= shrink;
  hi *= shrink;
  float s = (hi - lo) / 15.0f;
  if (!(s > 0)) s = 1.0f;
  s = RoundScale(s, f16);
  *scale = s;
  *zp = std::clamp(static_cast<int>(std::nearbyint(-8.0f - lo / s)), -8, 7);
}

inline int Q4(float v, float s, int zp) {
  return std::clamp(static_cast<int>(std::nearbyint(v / s)) + zp, -8, 7);
}

// Chooses per-block (scale, zp) for row r, block b of `w`, either plain RTN (shrink 1) or the
// shrink factor with the least squared weight error.
void ChooseBlock(const float* v, int64_t len, bool asym, bool f16, bool search, float* scale, int* zp) {
  float lo = 0, hi = 0, amax = 0, smax = 0;  // smax: the value of largest magnitude, signed
  for (int64_t i = 0; i < len; ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
    if (std::fabs(v[i]) > amax) {
      amax = std::fabs(v[i]);
      smax = v[i];
    }
  }
  BlockParams(lo, hi, amax, asym, 1.0f, f16, scale, zp);
  if (!search) return;
  double best = 1e300;
  auto consider = [&](float s, int z) {
    double err = 0;
    for (int64_t i = 0; i < len; ++i) {
      double d = v[i] - s * (Q4(v[i], s, z) - z);
      err += d * d;
    }
    if (err < best) {
      best = err;
      *scale = s;
      *zp = z;
    }
  };
  for (int step = 0; step <= 20; ++step) {
    float shrink = 1.0f - 0.025f * step;
    float s;
    int z;
    BlockParams(lo, hi, amax, asym, shrink, f16, &s, &z);
    consider(s, z);
    // Symmetric: the scale -smax/8 (negative when smax > 0) maps the largest-magnitude value to
    // -8, so all 16 levels are used instead of the 15 of +-amax/7 (as in GGML's Q4_0). The
    // kernels dequantize as scale * q, so a negative scale is exact.
    if (!asym && smax != 0) consider(RoundScale(-smax * shrink / 8.0f, f16), 0);
  }
}

// Upper Cholesky factor U of the inverse of H (H^-1 = U^T U), with dampening. H is k x k.
//
// With J the reversal permutation, J H J = L L^T (ordinary Cholesky, L lower) gives
// H = V V^T with V = J L J upper, so H^-1 = V^-T V^-1 and U = V^-1 = J L^-1 J. That is one
// Cholesky and one triangular inverse (k^3 / 3 multiply-adds), every inner loop over
// contiguous memory. (Inverting H and factoring H^-1 again gives the same U in ~3x the time,
// mostly strided: minutes on MiniLM's 1536-wide layers.)
bool InverseCholeskyUpper(std::vector<double> h, int64_t k, std::vector<double>* u) {
  double mean_diag = 0;
  for (int64_t i = 0; i < k; ++i) mean_diag += h[i * k + i];
  mean_diag /= std::max<int64_t>(k, 1);
  for (int64_t i = 0; i < k; ++i) {
    if (h[i * k + i] == 0) h[i * k + i] = 1;  // dead input: any value works
    h[i * k + i] += 0.01 * mean_diag + 1e-12;
  }
  // J H J = L L^T, row-major lower L; hr(i, j) = h(k-1-i, k-1-j).
  auto hr = [&](int64_t i, int64_t j) { return h[(k - 1 - i) * k + (k - 1 - j)]; };
  std::vector<double> l(k * k, 0.0);
  for (int64_t j = 0; j < k; ++j) {
    const double* lj = &l[j * k];
    double d = hr(j, j);
    for (int64_t p = 0; p < j; ++p) d -= lj[p] * lj[p];
    if (!(d > 0)) return false;
    const double djj = std::sqrt(d);
    l[j * k + j] = djj;
    for (int64_t i = j + 1; i < k; ++i) {
      const double* li = &l[i * k];
      double s = hr(i, j);
      for (int64_t p = 0; p < j; ++p) s -= li[p] * lj[p];
      l[i * k + j] = s / djj;
    }
  }
  // M = L^-1 (lower), stored transposed: mt[j * k + i] = M(i, j), so that
  // M(i, j) = -(sum_{p=j}^{i-1} L(i, p) M(p, j)) / L(i, i) reads both operands contiguously.
  std::vector<double> mt(k * k, 0.0);
  for (int64_t j = 0; j < k; ++j) {
    double* mj = &mt[j * k];
    mj[j] = 1.0 / l[j * k + j];
    for (int64_t i = j + 1; i < k; ++i) {
      const double* li = &l[i * k];
      double s = 0;
      for (int64_t p = j; p < i; ++p) s += li[p] * mj[p];
      mj[i] = -s / li[i];
    }
  }
  // U(i, j) = M(k-1-i, k-1-j) = mt[(k-1-j) * k + (k-1-i)], upper.
  u->assign(k * k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i; j < k; ++j) (*u)[i * k + j] = mt[(k - 1 - j) * k + (k - 1 - i)];
  return true;
}

}  // namespace

WeightQuantResult QuantizeInt8(Tensor& w) {
  WeightQuantResult r;
  std::vector<float> v = ToFloats(w);
  r.bytes_before = w.data.size();
  int64_t n = w.dims.empty() ? 1 : w.dims[0].value;
  int64_t per = n ? static_cast<int64_t>(v.size()) / n : 0;
  std::vector<float> scales(n);
  bool use_qdq = w.qdq && (w.qdq->scheme == 1 || (w.qdq->scheme == 2 && w.qdq->axis == 0 &&
                                                  static_cast<int64_t>(w.qdq->scales.size()) == n));
  for (int64_t o = 0; o < n; ++o) {
    if (use_qdq) {
      scales[o] = w.qdq->scales[w.qdq->scales.size() == 1 ? 0 : o];
    } else {
      float amax = 0;
      for (int64_t i = 0; i < per; ++i) amax = std::max(amax, std::fabs(v[o * per + i]));
      scales[o] = amax > 0 ? amax / 127.0f : 1.0f;
    }
  }
  std::string q(v.size(), '\0');
  std::vector<float> deq(v.size());
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < per; ++i) {
      int qi = std::clamp(static_cast<int>(std::nearbyint(v[o * per + i] / scales[o])), use_qdq ? -128 : -127, 127);
      q[o * per + i] = static_cast<char>(static_cast<int8_t>(qi));
      deq[o * per + i] = qi * scales[o];
    }
  r.sqnr_db = Sqnr(v, deq);
  w.dtype = DType::kI8;
  w.data = std::move(q);
  Quant qq;
  qq.scheme = 2;  // PER_CHANNEL
  qq.axis = 0;
  qq.scales = scales;
  w.quant = qq;
  r.bytes_after = w.data.size() + scales.size() * 4;
  return r;
}

WeightQuantResult QuantizeInt4(Tensor& w, int block, bool asym, bool f16_scales, Int4Method method,
                               const std::vector<float>* x, size_t x_rows) {
  WeightQuantResult r;
  std::vector<float> v = ToFloats(w);
  r.bytes_before = w.data.size();
  const int64_t n = w.dims[0].value, k = w.dims[1].value;
  const int64_t nb = (k + block - 1) / block;
  const int64_t row_bytes = (k + 1) / 2;
  std::vector<float> scales(n * nb);
  std::vector<int64_t> zps(n * nb, 0);
  std::vector<int8_t> q(n * k);

  bool gptq = method == Int4Method::kGptq && x && x_rows > 0;
  std::vector<double> u;
  if (gptq) {
    std::vector<double> h(k * k, 0.0);
    std::vector<double> xd(k);
    for (size_t s = 0; s < x_rows; ++s) {
      const float* xr = x->data() + s * k;
      for (int64_t i = 0; i < k; ++i) xd[i] = xr[i];
      for (int64_t i = 0; i < k; ++i) {
        const double xi = xd[i];
        if (xi == 0) continue;
        double* hi = &h[i * k];
        for (int64_t j = i; j < k; ++j) hi[j] += xi * xd[j];  // upper half; mirrored below
      }
    }
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < i; ++j) h[i * k + j] = h[j * k + i];
    gptq = InverseCholeskyUpper(std::move(h), k, &u);
  }
  bool search = method != Int4Method::kRtn;
  if (!gptq) {
    for (int64_t o = 0; o < n; ++o)
      for (int64_t b = 0; b < nb; ++b) {
        int64_t s0 = b * block, len = std::min<int64_t>(block, k - s0);
        float sc;
        int zp;
        ChooseBlock(&v[o * k + s0], len, asym, f16_scales, search, &sc, &zp);
        scales[o * nb + b] = sc;
        zps[o * nb + b] = zp;
        for (int64_t i = 0; i < len; ++i) q[o * k + s0 + i] = static_cast<int8_t>(Q4(v[o * k + s0 + i], sc, zp));
      }
  } else {
    // GPTQ: quantize column by column, spreading each column's error over the columns not yet
    // quantized through the inverse Hessian of the layer input (H = X^T X).
    std::vector<double> wd(v.begin(), v.end());
    std::vector<float> tmp(block);
    for (int64_t j = 0; j < k; ++j) {
      int64_t b = j / block;
      if (j % block == 0) {
        int64_t len = std::min<int64_t>(block, k - j);
        for (int64_t o = 0; o < n; ++o) {
          for (int64_t i = 0; i < len; ++i) tmp[i] = static_cast<float>(wd[o * k + j + i]);
          float sc;
          int zp;
          ChooseBlock(tmp.data(), len, asym, f16_scales, true, &sc, &zp);
          scales[o * nb + b] = sc;
          zps[o * nb + b] = zp;
        }
      }
      double d = u[j * k + j];
      for (int64_t o = 0; o < n; ++o) {
        float sc = scales[o * nb + b];
        int zp = static_cast<int>(zps[o * nb + b]);
        double wv = wd[o * k + j];
        int qi = Q4(static_cast<float>(wv), sc, zp);
        q[o * k + j] = static_cast<int8_t>(qi);
        double err = (wv - static_cast<double>(sc) * (qi - zp)) / d;
        double* row = &wd[o * k];
        const double* urow = &u[j * k];
        for (int64_t c = j + 1; c < k; ++c) row[c] -= err * urow[c];
      }
    }
  }
  std::string packed(n * row_bytes, '\0');
  std::vector<float> deq(v.size());
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i) {
      int qi = q[o * k + i];
      uint8_t nib = static_cast<uint8_t>(qi) & 0xF;
      uint8_t& byte = reinterpret_cast<uint8_t&>(packed[o * row_bytes + i / 2]);
      byte |= (i % 2 == 0) ? nib : static_cast<uint8_t>(nib << 4);
      int64_t b = i / block;
      deq[o * k + i] = scales[o * nb + b] * (qi - static_cast<int>(zps[o * nb + b]));
    }
  r.sqnr_db = Sqnr(v, deq);
  w.dtype = DType::kI4;
  w.data = std::move(packed);
  Quant qq;
  qq.scheme = 3;  // PER_BLOCK
  qq.axis = 1;
  qq.block = block;
  qq.scales = scales;
  if (asym) qq.zero_points = zps;
  qq.scales_in_buffer = true;
  qq.scales_f16 = f16_scales;
  w.quant = qq;
  r.bytes_after = w.data.size() + scales.size() * (f16_scales ? 2 : 4) + (asym ? zps.size() : 0);
  return r;
}

std::vector<float> DequantizeWeight(const Tensor& w) {
  if (!w.quant) return ToFloats(w);
  const Quant& q = *w.quant;
  if (w.dtype == DType::kI8) {
    std::vector<float> v = ToFloats(w);
    int64_t n = w.dims[0].value;
    int64_t per = static_cast<int64_t>(v.size()) / std::max<int64_t>(n, 1);
    for (int64_t o = 0; o < n; ++o)
      for (int64_t i = 0; i < per; ++i) v[o * per + i] *= q.scales[q.scales.size() == 1 ? 0 : o];
    return v;
  }
  int64_t n = w.dims[0].value, k = w.dims[1].value, nb = (k + q.block - 1) / q.block, rb = (k + 1) / 2;
  std::vector<float> v(n * k);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i) {
      uint8_t byte = static_cast<uint8_t>(w.data[o * rb + i / 2]);
      int nib = (i % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      int qi = nib >= 8 ? nib - 16 : nib;
      int64_t b = o * nb + i / q.block;
      int zp = q.zero_points.empty() ? 0 : static_cast<int>(q.zero_points[b]);
      v[o * k + i] = q.scales[b] * (qi - zp);
    }
  return v;
}

double RelativeOutputError(const std::vector<float>& w, const std::vector<float>& wq, int64_t n,
                           int64_t k, const std::vector<float>& x, size_t rows) {
  double num = 0, den = 0;
  for (size_t s = 0; s < rows; ++s) {
    const float* xr = x.data() + s * k;
    for (int64_t o = 0; o < n; ++o) {
      double a = 0, b = 0;
      for (int64_t i = 0; i < k; ++i) {
        a += static_cast<double>(xr[i]) * w[o * k + i];
        b += static_cast<double>(xr[i]) * wq[o * k + i];
      }
      num += (a - b) * (a - b);
      den += a * a;
    }
  }
  return den > 0 ? num / den : 0;
}

}  // namespace edgert::converter
