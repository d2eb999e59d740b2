// Conv (F32 or I8 per-output-channel weights), ConvTranspose, MaxPool and AveragePool.
// Layout NCHW; 1, 2 or 3 spatial dims (internally always 3-D with leading unit dims).
//
// Conv paths:
//   - F32 weights (constant or computed): im2col to [C/g*k, out_positions] (skipped for 1x1,
//     stride 1, no padding) then kernels::SGemm with the weights as A: the result is already
//     NCHW. Depthwise convs (C/g == 1) take a direct per-channel loop instead.
//   - I8 weights (constant, PER_CHANNEL axis 0, symmetric): packed once per group with
//     kernels::PackQc8w; im2col rows [out_positions, C/g*k] are the GEMM's activations
//     (quantized per row at run time, as FullyConnected does) and the [positions, M/g] result is
//     transposed into NCHW. Depthwise I8 convs use the direct loop on dequantized weights.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../model.h"
#include "edgert/kernels/conv.h"
#include "edgert/kernels/gemm.h"
#include "op.h"

namespace edgert {


namespace {

using fb::OpType;

constexpr int kMaxSpatial = 3;

// Spatial geometry, always 3-D: unused leading dims have size 1, kernel 1, stride 1, no pads.
struct Geom {
  int nsp = 0;  // spatial dims in the model (1..3)
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t k_size() const { return k[0] * k[1] * k[2]; }
  bool pointwise() const {
    for (int i = 0; i < 3; ++i) {
      if (k[i] != 1 || stride[i] != 1 || pb[i] != 0 || pe[i] != 0) return false;
    }
    return true;
  }
};

template <typename V>
absl::StatusOr<std::vector<int64_t>> ReadAttr(const OpContext& ctx, const V* v, size_t n, int64_t dflt,
                                              const char* name, int64_t min_value) {
  std::vector<int64_t> out(n, dflt);
  if (v == nullptr || v->size() == 0) return out;
  if (v->size() != n) {
    return ctx.Error(absl::StrCat(name, " has ", v->size(), " values, expected ", n));
  }
  for (size_t i = 0; i < n; ++i) {
    out[i] = v->Get(static_cast<unsigned>(i));
    if (out[i] < min_value) return ctx.Error(absl::StrCat(name, "[", i, "] = ", out[i], " must be >= ", min_value));
  }
  return out;
}

enum class GeomKind { kConv, kPool, kConvTranspose };

// Fills a Geom from attributes. `kernel` holds the spatial kernel dims; `ceil_mode` is for pools;
// `output_padding` for ConvTranspose.
absl::StatusOr<Geom> ComputeGeom(const OpContext& ctx, const Shape& x, const std::vector<int64_t>& kernel,
                                 const flatbuffers::Vector<int32_t>* strides,
                                 const flatbuffers::Vector<int32_t>* dilations,
                                 const flatbuffers::Vector<int32_t>* pads, int auto_pad, bool ceil_mode,
                                 GeomKind kind, const flatbuffers::Vector<int32_t>* output_padding = nullptr) {
  Geom g;
  const int nsp = static_cast<int>(x.size()) - 2;
  if (nsp < 1 || nsp > kMaxSpatial) {
    return ctx.Error(absl::StrCat("input must be [N, C, D1..Dk] with 1 to 3 spatial dims, got ", ShapeString(x)));
  }
  if (static_cast<int>(kernel.size()) != nsp) {
    return ctx.Error(absl::StrCat("kernel has ", kernel.size(), " spatial dims, input has ", nsp));
  }
  if (auto_pad < 0 || auto_pad > 3) return ctx.Error(absl::StrCat("auto_pad ", auto_pad, " is not 0..3"));
  g.nsp = nsp;
  const size_t n = static_cast<size_t>(nsp);
  ASSIGN_OR_RETURN(std::vector<int64_t> st, ReadAttr(ctx, strides, n, 1, "strides", 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> dl, ReadAttr(ctx, dilations, n, 1, "dilations", 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> pd, ReadAttr(ctx, pads, 2 * n, 0, "pads", 0));
  ASSIGN_OR_RETURN(std::vector<int64_t> op, ReadAttr(ctx, output_padding, n, 0, "output_padding", 0));
  for (size_t i = 0; i < n; ++i) {
    const int j = kMaxSpatial - nsp + static_cast<int>(i);
    const int64_t in = x[2 + i], k = kernel[i];
    if (k < 1) return ctx.Error(absl::StrCat("kernel dim ", i, " is ", k, ", must be >= 1"));
    if (st[i] > (int64_t{1} << 24) || dl[i] > (int64_t{1} << 24) || k > (int64_t{1} << 24) ||
        pd[i] > (int64_t{1} << 24) || pd[i + n] > (int64_t{1} << 24)) {
      return ctx.Error("kernel, stride, dilation or pad is unreasonably large");
    }
    g.in[j] = in;
    g.k[j] = k;
    g.stride[j] = st[i];
    g.dil[j] = dl[i];
    const int64_t ek = (k - 1) * dl[i] + 1;  // effective kernel extent
    if (kind == GeomKind::kConvTranspose) {
      if (op[i] >= st[i] && op[i] >= dl[i]) {
        return ctx.Error(absl::StrCat("output_padding[", i, "] = ", op[i], " must be less than the stride or dilation"));
      }
      if (auto_pad == 1 || auto_pad == 2) {
        const int64_t out = in * st[i];
        const int64_t total = std::max<int64_t>(0, st[i] * (in - 1) + op[i] + ek - out);
        // ONNX: SAME_UPPER puts the extra padding at the end.
        g.pb[j] = auto_pad == 1 ? total / 2 : total - total / 2;
        g.pe[j] = total - g.pb[j];
      } else if (auto_pad == 0) {
        g.pb[j] = pd[i];
        g.pe[j] = pd[i + n];
      }
      g.out[j] = st[i] * (in - 1) + op[i] + ek - g.pb[j] - g.pe[j];
    } else if (auto_pad == 1 || auto_pad == 2) {
      const int64_t out = (in + st[i] - 1) / st[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * st[i] + ek - in);
      g.pb[j] = auto_pad == 1 ? total / 2 : total - total / 2;
      g.pe[j] = total - g.pb[j];
      g.out[j] = out;
    } else {
      if (auto_pad == 0) {
        g.pb[j] = pd[i];
        g.pe[j] = pd[i + n];
      }
      const int64_t span = in + g.pb[j] + g.pe[j] - ek;
      if (span < 0) {
        return ctx.Error(absl::StrCat("kernel extent ", ek, " is larger than the padded input ", in + g.pb[j] + g.pe[j],
                                      " along spatial dim ", i));
      }
      int64_t out = span / st[i] + 1;
      if (ceil_mode && kind == GeomKind::kPool) {
        out = (span + st[i] - 1) / st[i] + 1;
        // The last window must start inside the input or its begin padding.
        if ((out - 1) * st[i] >= in + g.pb[j]) --out;
      }
      g.out[j] = out;
    }
    if (g.out[j] < 0) return ctx.Error(absl::StrCat("output dim ", i, " would be negative (", g.out[j], ")"));
  }
  return g;
}

bool IsActivationValid(fb::Activation a) {
  return static_cast<int>(a) >= 0 && static_cast<int>(a) <= static_cast<int>(fb::Activation::TANH);
}

// ---- im2col ----
// Rows r = (c, kd, kh, kw) in [r_begin, r_end), columns p = output position: col[r][p].
void Im2Col(const float* x, const Geom& g, int64_t r_begin, int64_t r_end, float* col) {
  const int64_t os = g.out_size();
  const int64_t ih = g.in[1], iw = g.in[2], ow_n = g.out[2], sw = g.stride[2];
  for (int64_t r = r_begin; r < r_end; ++r) {
    const int64_t kw = r % g.k[2], kh = r / g.k[2] % g.k[1], kd = r / (g.k[2] * g.k[1]) % g.k[0];
    const float* xc = x + r / g.k_size() * g.in_size();
    // Output columns [lo, hi) read inside the row (xw = ow * sw + off); the rest is padding. Once
    // per kernel column instead of a bounds test per element (the stem conv's im2col was 5% of
    // EfficientNet FP32).
    const int64_t off = kw * g.dil[2] - g.pb[2];
    int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t hi = iw - 1 - off < 0 ? 0 : (iw - 1 - off) / sw + 1;
    hi = std::min(hi, ow_n);
    lo = std::min(lo, hi);
    float* dst = col + r * os;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const int64_t id = od * g.stride[0] - g.pb[0] + kd * g.dil[0];
      const bool dok = id >= 0 && id < g.in[0];
      for (int64_t oh = 0; oh < g.out[1]; ++oh, dst += ow_n) {
        const int64_t y = oh * g.stride[1] - g.pb[1] + kh * g.dil[1];
        if (!dok || y < 0 || y >= ih) {
          std::fill(dst, dst + ow_n, 0.f);
          continue;
        }
        const float* __restrict row = xc + (id * ih + y) * iw;  // row[ow * sw + off], off may be < 0
        std::fill(dst, dst + lo, 0.f);
        if (sw == 1) {
          std::memcpy(dst + lo, row + lo + off, static_cast<size_t>(hi - lo) * sizeof(float));
        } else if (sw == 2) {
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[2 * ow + off];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * sw + off];
        }
        std::fill(dst + hi, dst + ow_n, 0.f);
      }
    }
  }
}

// dst[c][r] = src[r][c] for a [rows, cols] row-major src and columns c in [c_begin, c_end), in
// cache-sized tiles.
void Transpose2D(const float* __restrict src, int64_t rows, int64_t cols, int64_t c_begin, int64_t c_end,
                 float* __restrict dst) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const int64_t r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = c_begin; c0 < c_end; c0 += kTile) {
      const int64_t c1 = std::min(c_end, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
    }
  }
}

// The layout changes at the edges of the channels-last chains and the im2col of dense
// convolutions, split over the session's threads (on one thread they were 10% of
// EfficientNet-Lite0 INT8 at 2 threads). Each task writes its own rows / columns: results do not
// depend on the thread count.
struct LayoutTask {
  const float* src;
  const Geom* g;
  int64_t rows, cols;
  float* dst;
};

void TransposeRange(void* p, size_t start, size_t count) {
  const auto* t = static_cast<const LayoutTask*>(p);
  Transpose2D(t->src, t->rows, t->cols, static_cast<int64_t>(start), static_cast<int64_t>(start + count), t->dst);
}

void Transpose2D(const float* src, int64_t rows, int64_t cols, float* dst, pthreadpool_t pool) {
  LayoutTask t{src, nullptr, rows, cols, dst};
  pthreadpool_parallelize_1d_tile_1d(pool, TransposeRange, &t, static_cast<size_t>(cols), 256, 0);
}

void Im2ColRange(void* p, size_t start, size_t count) {
  const auto* t = static_cast<const LayoutTask*>(p);
  Im2Col(t->src, *t->g, static_cast<int64_t>(start), static_cast<int64_t>(start + count), t->dst);
}

void Im2Col(const float* x, int64_t channels, const Geom& g, float* col, pthreadpool_t pool) {
  LayoutTask t{x, &g, channels * g.k_size(), 0, col};
  pthreadpool_parallelize_1d_tile_1d(pool, Im2ColRange, &t, static_cast<size_t>(t.rows), 1, 0);
}

// im2col straight into the GEMM's rows: a[p][r] for output positions p of output rows
// [row_begin, row_end) (a row = one (od, oh)), r = (c, kd, kh, kw), `channels` input channels;
// `a` holds the positions of row_begin onwards.
// Interior positions (every kw inside the input row) copy without tests; only the border ones
// test each tap. Replaces im2col + transpose for NCHW inputs (the stem conv).
void Im2ColRows(const float* x, int64_t channels, const Geom& g, int64_t row_begin, int64_t row_end, float* a) {
  const int64_t kc = channels * g.k_size(), ow_n = g.out[2], ih_n = g.in[1], iw_n = g.in[2];
  const int64_t kw_n = g.k[2], sw = g.stride[2], dw = g.dil[2], pw = g.pb[2];
  // Interior output columns: ow * sw - pw >= 0 and ow * sw - pw + (kw_n - 1) * dw < iw_n.
  int64_t lo = pw <= 0 ? 0 : (pw + sw - 1) / sw;
  const int64_t last = iw_n - 1 - (kw_n - 1) * dw + pw;  // largest ow * sw allowed
  int64_t hi = last < 0 ? 0 : std::min(ow_n, last / sw + 1);
  lo = std::min(lo, hi);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t od = row / g.out[1], oh = row % g.out[1];
    float* arow = a + (row - row_begin) * ow_n * kc;
    int64_t r = 0;
    for (int64_t c = 0; c < channels; ++c) {
      const float* xc = x + c * g.in_size();
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        const int64_t id = od * g.stride[0] - g.pb[0] + kd * g.dil[0];
        for (int64_t kh = 0; kh < g.k[1]; ++kh, r += kw_n) {
          const int64_t ih = oh * g.stride[1] - g.pb[1] + kh * g.dil[1];
          if (id < 0 || id >= g.in[0] || ih < 0 || ih >= ih_n) {
            for (int64_t ow = 0; ow < ow_n; ++ow)
              for (int64_t kw = 0; kw < kw_n; ++kw) arow[ow * kc + r + kw] = 0.f;
            continue;
          }
          const float* xr = xc + (id * ih_n + ih) * iw_n;
          auto border = [&](int64_t ow) {
            for (int64_t kw = 0; kw < kw_n; ++kw) {
              const int64_t xw = ow * sw - pw + kw * dw;
              arow[ow * kc + r + kw] = xw >= 0 && xw < iw_n ? xr[xw] : 0.f;
            }
          };
          for (int64_t ow = 0; ow < lo; ++ow) border(ow);
          // Interior: a fixed tap count copies without a loop per position (3 taps: the stem).
          auto interior = [&](auto kw_const) {
            constexpr int64_t kKw = decltype(kw_const)::value;
            const int64_t kw_len = kKw > 0 ? kKw : kw_n;
            for (int64_t ow = lo; ow < hi; ++ow) {
              const float* src = xr + ow * sw - pw;
              float* dst = arow + ow * kc + r;
              for (int64_t kw = 0; kw < kw_len; ++kw) dst[kw] = src[kw * dw];
            }
          };
          if (kw_n == 3) {
            interior(std::integral_constant<int64_t, 3>{});
          } else {
            interior(std::integral_constant<int64_t, 0>{});
          }
          for (int64_t ow = hi; ow < ow_n; ++ow) border(ow);
        }
      }
    }
  }
}

struct Im2ColRowsTask {
  const float* x;
  int64_t channels;
  const Geom* g;
  float* a;
};

void Im2ColRowsRange(void* p, size_t start, size_t count) {
  const auto* t = static_cast<const Im2ColRowsTask*>(p);
  const int64_t kc = t->channels * t->g->k_size();
  Im2ColRows(t->x, t->channels, *t->g, static_cast<int64_t>(start), static_cast<int64_t>(start + count),
             t->a + static_cast<int64_t>(start) * t->g->out[2] * kc);
}

void Im2ColRows(const float* x, int64_t channels, const Geom& g, float* a, pthreadpool_t pool) {
  Im2ColRowsTask t{x, channels, &g, a};
  pthreadpool_parallelize_1d_tile_1d(pool, Im2ColRowsRange, &t, static_cast<size_t>(g.out[0] * g.out[1]), 4, 0);
}

// Direct convolution of one input channel with one kernel (depthwise). Row-wise: for every
// kernel tap the valid output range along W is computed once, so the inner loop has no
// bounds checks (and is contiguous for stride 1, which vectorizes).
void DirectChannel(const float* __restrict x, const float* __restrict w, const Geom& g, float bias,
                   float* __restrict y) {
  const int64_t ih_n = g.in[1], iw_n = g.in[2], ow_n = g.out[2];
  const int64_t sw = g.stride[2], dw = g.dil[2], pl = g.pb[2];
  // Valid [lo, hi) output columns of every kw.
  int64_t lo[64], hi[64];
  const int64_t kw_n = g.k[2];
  std::vector<int64_t> lov, hiv;
  int64_t* plo = lo;
  int64_t* phi = hi;
  if (kw_n > 64) {
    lov.resize(static_cast<size_t>(kw_n));
    hiv.resize(static_cast<size_t>(kw_n));
    plo = lov.data();
    phi = hiv.data();
  }
  for (int64_t kw = 0; kw < kw_n; ++kw) {
    const int64_t off = kw * dw - pl;  // iw = ow * sw + off
    int64_t l = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t h = iw_n - 1 - off < 0 ? 0 : (iw_n - 1 - off) / sw + 1;
    h = std::min(h, ow_n);
    plo[kw] = std::min(l, h);
    phi[kw] = h;
  }
  for (int64_t od = 0; od < g.out[0]; ++od) {
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      float* __restrict yr = y + (od * g.out[1] + oh) * ow_n;
      for (int64_t ow = 0; ow < ow_n; ++ow) yr[ow] = bias;
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        const int64_t id = od * g.stride[0] - g.pb[0] + kd * g.dil[0];
        if (id < 0 || id >= g.in[0]) continue;
        for (int64_t kh = 0; kh < g.k[1]; ++kh) {
          const int64_t ih = oh * g.stride[1] - g.pb[1] + kh * g.dil[1];
          if (ih < 0 || ih >= ih_n) continue;
          const float* __restrict xr = x + (id * ih_n + ih) * iw_n;
          const float* wr = w + (kd * g.k[1] + kh) * kw_n;
          for (int64_t kw = 0; kw < kw_n; ++kw) {
            const float wv = wr[kw];
            const int64_t off = kw * dw - pl;
            const int64_t l = plo[kw], h = phi[kw];
            if (sw == 1) {
              const float* __restrict xs = xr + off;
              for (int64_t ow = l; ow < h; ++ow) yr[ow] += wv * xs[ow];
            } else {
              for (int64_t ow = l; ow < h; ++ow) yr[ow] += wv * xr[ow * sw + off];
            }
          }
        }
      }
    }
  }
}

// ---- Conv ----
void FreeAligned(uint8_t* p) { std::free(p); }

struct ConvState {
  bool i8 = false;
  int64_t m = 0, cg = 0, kk = 0;  // output channels, input channels per group, kernel elements
  int group = 1;
  std::vector<std::unique_ptr<uint8_t[], void (*)(uint8_t*)>> packed;  // per group (I8)
  std::vector<float> dequant;  // I8 weights as float (depthwise path)
  // F32 group-1 weights packed for SGemmPacked (weights [M, C·kh·kw] are the GEMM's B, the
  // activations as [positions, C·kh·kw] rows its A; the output [positions, M] is channels-last),
  // and depthwise weights as [kh][kw][M] for the channels-last depthwise kernel.
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> packed_f32{nullptr, FreeAligned};
  std::vector<float> dw_hwc;
};

// Depthwise weights [M][k] -> [k][M] (DwConv2dNhwcF32's layout).
std::vector<float> ToTapMajor(const float* w, size_t m, size_t kk) {
  std::vector<float> r(m * kk);
  for (size_t o = 0; o < m; ++o)
    for (size_t i = 0; i < kk; ++i) r[i * m + o] = w[o * kk + i];
  return r;
}

absl::StatusOr<std::shared_ptr<void>> PrepareConv(const Model& m, const fb::Operator& op) {
  const int wi = op.inputs()->Get(1);
  if (wi < 0) return absl::InvalidArgumentError("weight input is missing");
  const TensorInfo& w = m.tensor(wi);
  if (w.dtype == DType::F32) {
    if (w.quant) return absl::InvalidArgumentError(absl::StrCat("f32 weight '", w.name, "' has quantization parameters"));
    // Constant 2-D weights: the channels-last layouts, made once (the NCHW paths use w as is).
    if (op.type() != OpType::CONV || w.data == nullptr || w.dims.size() != 4) return std::shared_ptr<void>();
    const auto* opts = op.options_as_ConvOptions();
    const int group = opts ? opts->group() : 1;
    const int64_t m = w.dims[0], cg = w.dims[1], kk = w.dims[2] * w.dims[3];
    const float* wf = reinterpret_cast<const float*>(w.data);
    auto st = std::make_shared<ConvState>();
    st->m = m;
    st->cg = cg;
    st->kk = kk;
    st->group = group;
    if (group == 1 && kk > 0 && m > 0 && cg > 0) {
      const size_t kc = static_cast<size_t>(cg * kk);
      const size_t bytes = kernels::PackedF32wBytes(static_cast<size_t>(m), kc);
      void* p = std::aligned_alloc(64, AlignUp(std::max<size_t>(bytes, 1), 64));
      if (p == nullptr) return absl::ResourceExhaustedError("out of memory packing weights");
      st->packed_f32.reset(static_cast<uint8_t*>(p));
      kernels::PackF32w(static_cast<size_t>(m), kc, wf, p);
      return std::shared_ptr<void>(st);
    }
    if (cg == 1 && group == m && m > 0) {
      st->dw_hwc = ToTapMajor(wf, static_cast<size_t>(m), static_cast<size_t>(kk));
      return std::shared_ptr<void>(st);
    }
    return std::shared_ptr<void>();
  }
  if (w.dtype != DType::I8) {
    return absl::InvalidArgumentError(absl::StrCat("weight '", w.name, "' has unsupported dtype ", DTypeName(w.dtype)));
  }
  if (op.type() != OpType::CONV) {
    return absl::InvalidArgumentError(absl::StrCat("i8 weight '", w.name, "': only CONV takes i8 weights"));
  }
  if (w.data == nullptr) return absl::InvalidArgumentError(absl::StrCat("i8 weight '", w.name, "' must be a constant"));
  if (w.dims.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat("weight '", w.name, "' must be [M, C/group, k...], got ",
                                                   ShapeString(w.dims)));
  }
  const fb::Quantization* q = w.quant;
  if (!q || q->scheme() != fb::QuantScheme::PER_CHANNEL || q->axis() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("i8 weight '", w.name, "' needs PER_CHANNEL quantization on axis 0"));
  }
  const auto* opts = op.options_as_ConvOptions();
  const int group = opts ? opts->group() : 1;
  auto st = std::make_shared<ConvState>();
  st->i8 = true;
  st->m = w.dims[0];
  st->cg = w.dims[1];
  st->kk = 1;
  for (size_t i = 2; i < w.dims.size(); ++i) st->kk *= w.dims[i];
  st->group = group;
  if (group < 1 || st->m % group != 0) {
    return absl::InvalidArgumentError(absl::StrCat("group ", group, " does not divide the ", st->m, " output channels"));
  }
  const size_t mz = static_cast<size_t>(st->m);
  if (q->zero_points()) {
    for (int64_t z : *q->zero_points()) {
      if (z != 0) return absl::InvalidArgumentError(absl::StrCat("i8 weight '", w.name, "' must be symmetric"));
    }
  }
  if (q->zero_points_buffer() >= 0) {
    const uint8_t* p = m.buffer_data(q->zero_points_buffer());
    for (size_t i = 0; i < mz; ++i) {
      if (p[i] != 0) return absl::InvalidArgumentError(absl::StrCat("i8 weight '", w.name, "' must be symmetric"));
    }
  }
  std::vector<float> scales = ReadQuantScales(m, *q, mz);
  const int8_t* wq = reinterpret_cast<const int8_t*>(w.data);
  const size_t kc = static_cast<size_t>(st->cg * st->kk);
  if (st->cg == 1) {
    // Depthwise-like: the direct float loop on dequantized weights.
    st->dequant.resize(mz * kc);
    for (size_t o = 0; o < mz; ++o)
      for (size_t i = 0; i < kc; ++i) st->dequant[o * kc + i] = static_cast<float>(wq[o * kc + i]) * scales[o];
    if (group == st->m) st->dw_hwc = ToTapMajor(st->dequant.data(), mz, kc);
    return std::shared_ptr<void>(st);
  }
  if (kc > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("i8 weight '", w.name, "': C/group*kernel = ", kc,
                                                   " exceeds the int8 kernels' limit of 65536"));
  }
  const size_t mg = mz / static_cast<size_t>(group);
  for (int g = 0; g < group; ++g) {
    const size_t bytes = kernels::PackedQc8wBytes(mg, kc);
    void* p = std::aligned_alloc(64, AlignUp(std::max<size_t>(bytes, 1), 64));
    if (p == nullptr) return absl::ResourceExhaustedError("out of memory packing weights");
    st->packed.emplace_back(static_cast<uint8_t*>(p), FreeAligned);
    kernels::PackQc8w(mg, kc, wq + static_cast<size_t>(g) * mg * kc, scales.data() + static_cast<size_t>(g) * mg, p);
  }
  return std::shared_ptr<void>(st);
}

struct ConvPlan {
  Geom g;
  int64_t n = 0, c = 0, m = 0, cg = 0, mg = 0, group = 1;
  bool depthwise = false;
  bool dw2d = false;  // depthwise with unit depth: kernels::DwConv2dF32
  size_t dw_tasks = 1;
  kernels::DwConv2dShape dws{};
  size_t col_bytes = 0, tmp_bytes = 0, q_bytes = 0, dw_scratch_bytes = 0;
};

absl::StatusOr<ConvPlan> PlanConv(const OpContext& ctx) {
  const auto* o = ctx.options<fb::ConvOptions>();
  const Value& x = *ctx.in[0];
  const Value& w = *ctx.in[1];
  if (x.dtype != DType::F32) return ctx.Error(absl::StrCat("input has dtype ", DTypeName(x.dtype), ", expected f32"));
  if (w.dtype != DType::F32 && w.dtype != DType::I8) {
    return ctx.Error(absl::StrCat("weight has dtype ", DTypeName(w.dtype), ", expected f32 or i8"));
  }
  if (w.dtype == DType::I8 && ctx.prepared == nullptr) return ctx.Error("i8 weight was not prepared");
  if (!IsActivationValid(o->fused_activation())) return ctx.Error("unknown fused activation");
  if (x.rank() != w.rank()) {
    return ctx.Error(absl::StrCat("input ", ShapeString(x.shape), " and weight ", ShapeString(w.shape), " ranks differ"));
  }
  ConvPlan p;
  p.group = o->group();
  if (p.group < 1) return ctx.Error(absl::StrCat("group ", p.group, " must be >= 1"));
  if (x.rank() < 3) return ctx.Error(absl::StrCat("input must be [N, C, spatial...], got ", ShapeString(x.shape)));
  p.n = x.shape[0];
  p.c = x.shape[1];
  p.m = w.shape[0];
  p.cg = w.shape[1];
  if (p.c != p.cg * p.group) {
    return ctx.Error(absl::StrCat("input has ", p.c, " channels but weight ", ShapeString(w.shape), " with group ",
                                  p.group, " expects ", p.cg * p.group));
  }
  if (p.m % p.group != 0) return ctx.Error(absl::StrCat("group ", p.group, " does not divide ", p.m, " output channels"));
  p.mg = p.m / p.group;
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  ASSIGN_OR_RETURN(p.g, ComputeGeom(ctx, x.shape, kernel, o->strides(), o->dilations(), o->pads(), o->auto_pad(), false,
                                    GeomKind::kConv));
  if (ctx.has_input(2)) {
    RETURN_IF_ERROR(ExpectFloat(ctx, 2));
    if (ctx.in[2]->num_elements() != p.m) {
      return ctx.Error(absl::StrCat("bias has ", ctx.in[2]->num_elements(), " elements, expected ", p.m));
    }
  }
  p.depthwise = p.cg == 1;
  if (p.depthwise && p.g.k[0] == 1 && p.g.in[0] == 1 && p.g.out[0] == 1) {
    p.dw2d = true;
    auto& d = p.dws;
    d.in_h = static_cast<size_t>(p.g.in[1]);
    d.in_w = static_cast<size_t>(p.g.in[2]);
    d.out_h = static_cast<size_t>(p.g.out[1]);
    d.out_w = static_cast<size_t>(p.g.out[2]);
    d.k_h = static_cast<size_t>(p.g.k[1]);
    d.k_w = static_cast<size_t>(p.g.k[2]);
    d.stride_h = static_cast<size_t>(p.g.stride[1]);
    d.stride_w = static_cast<size_t>(p.g.stride[2]);
    d.dil_h = static_cast<size_t>(p.g.dil[1]);
    d.dil_w = static_cast<size_t>(p.g.dil[2]);
    d.pad_top = static_cast<size_t>(p.g.pb[1]);
    d.pad_left = static_cast<size_t>(p.g.pb[2]);
    // One task (and one scratch plane) per thread; channels split into contiguous ranges.
    const size_t threads = ctx.pool ? pthreadpool_get_threads_count(ctx.pool) : 1;
    const size_t planes = static_cast<size_t>(std::max<int64_t>(p.n * p.m, 1));
    p.dw_tasks = std::min(threads, planes);
    p.dw_scratch_bytes = kernels::DwConv2dScratchBytes(d);
    p.q_bytes = p.dw_scratch_bytes * p.dw_tasks;
    // The planar kernel zeroes and fills the whole padded input plane per call; with large
    // strides, dilations or pads most of it is padding the kernel never reads (fuzz_efb: a
    // 64 MiB plane zeroed per channel took minutes). Such convolutions take the direct
    // per-channel loop instead, whose work is proportional to the output.
    // Likewise when most (output, tap) pairs land in the padding (a 3x3587 kernel striding over
    // a 7x5 input, fuzz_efb: 350 ms of zeros): the planar kernel visits every pair, the direct
    // loop only the taps' valid ranges. An input pixel is read by at most ceil(span / stride)
    // outputs along each axis, one tap each.
    const size_t plane = p.dw_scratch_bytes / sizeof(float);
    const size_t work = d.out_h * d.out_w * d.k_h * d.k_w + d.in_h * d.in_w;
    const size_t reads_h = std::min(d.k_h, ((d.k_h - 1) * d.dil_h + d.stride_h) / d.stride_h);
    const size_t reads_w = std::min(d.k_w, ((d.k_w - 1) * d.dil_w + d.stride_w) / d.stride_w);
    const size_t hits = d.in_h * d.in_w * reads_h * reads_w;
    if (plane > 4 * work + 65536 || work > 8 * hits + 65536) {
      p.dw2d = false;
      p.dw_tasks = 1;
      p.dw_scratch_bytes = p.q_bytes = 0;
    }
  }
  const size_t os = static_cast<size_t>(p.g.out_size());
  const size_t kc = static_cast<size_t>(p.cg * p.g.k_size());
  if (w.dtype == DType::I8 && !p.depthwise) {
    const size_t threads = ctx.pool ? pthreadpool_get_threads_count(ctx.pool) : 1;
    // [k, positions] im2col (unless pointwise) + its [positions, k] transpose.
    p.col_bytes = AlignUp(os * kc * 4, 64) * (p.g.pointwise() ? 1 : 2);
    p.tmp_bytes = AlignUp(os * static_cast<size_t>(p.mg) * 4, 64);
    p.q_bytes = AlignUp(kernels::QGemmWorkspaceBytes(os, kc, threads), 64);
  } else if (!p.depthwise && p.group == 1 && ctx.prepared != nullptr &&
             static_cast<const ConvState*>(ctx.prepared)->packed_f32) {
    // Packed F32 weights: [k, positions] im2col (unless pointwise) + its [positions, k]
    // transpose as A, and the [positions, M] result transposed back when the output is NCHW.
    p.col_bytes = AlignUp(os * kc * 4, 64) * (p.g.pointwise() ? 1 : 2);
    p.tmp_bytes = AlignUp(os * static_cast<size_t>(p.m) * 4, 64);
  } else if (!p.depthwise && !p.g.pointwise()) {
    p.col_bytes = AlignUp(os * kc * 4, 64);
  }
  return p;
}

absl::Status InferConv(OpContext& ctx) {
  ASSIGN_OR_RETURN(ConvPlan p, PlanConv(ctx));
  Shape out = {p.n, p.m};
  for (int i = kMaxSpatial - p.g.nsp; i < kMaxSpatial; ++i) out.push_back(p.g.out[i]);
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = DType::F32;
  ctx.workspace_bytes = p.col_bytes + p.tmp_bytes + p.q_bytes;
  return absl::OkStatus();
}

struct DepthwiseTask {
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  const ConvPlan* p;
  kernels::Activation act;
};

void DepthwiseOne(void* arg, size_t i) {
  const auto* t = static_cast<const DepthwiseTask*>(arg);
  const ConvPlan& p = *t->p;
  const int64_t n = static_cast<int64_t>(i) / p.m, oc = static_cast<int64_t>(i) % p.m;
  const int64_t ic = oc / p.mg;  // group index == input channel
  const float* xc = t->x + (n * p.c + ic) * p.g.in_size();
  float* yc = t->y + (n * p.m + oc) * p.g.out_size();
  DirectChannel(xc, t->w + oc * p.g.k_size(), p.g, t->bias ? t->bias[oc] : 0.f, yc);
  kernels::ApplyActivation(t->act, yc, static_cast<size_t>(p.g.out_size()));
}

struct Dw2dTask {
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  const ConvPlan* p;
  kernels::Activation act;
  uint8_t* scratch;
  size_t tile;
};

// Planes [start, start + count) of the n*m output planes; `start / tile` is the task's scratch.
void Dw2dRange(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const Dw2dTask*>(arg);
  const ConvPlan& p = *t->p;
  void* scratch = t->scratch + (start / t->tile) * p.dw_scratch_bytes;
  const size_t m = static_cast<size_t>(p.m), mg = static_cast<size_t>(p.mg);
  const size_t is = static_cast<size_t>(p.g.in_size()), os = static_cast<size_t>(p.g.out_size());
  const size_t kk = static_cast<size_t>(p.g.k_size());
  size_t i = start;
  const size_t end = start + count;
  while (i < end) {
    const size_t n = i / m, oc = i % m;
    // Within one batch item; with a channel multiplier (mg > 1) one output channel per call.
    const size_t run = mg == 1 ? std::min(end - i, m - oc) : 1;
    const size_t ic = oc / mg;
    kernels::DwConv2dF32(p.dws, run, t->x + (n * static_cast<size_t>(p.c) + ic) * is, is, t->w + oc * kk,
                         t->bias ? t->bias + oc : nullptr, t->act, t->y + i * os, os, scratch);
    i += run;
  }
}

// Channels-last rows [start, start + count) of the n * out_h output rows.
struct DwNhwcTask {
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  const ConvPlan* p;
  kernels::Activation act;
};

void DwNhwcRange(void* arg, size_t start, size_t count) {
  const auto* t = static_cast<const DwNhwcTask*>(arg);
  const ConvPlan& p = *t->p;
  const size_t oh_n = p.dws.out_h, c = static_cast<size_t>(p.c);
  const size_t is = static_cast<size_t>(p.g.in_size()), os = static_cast<size_t>(p.g.out_size());
  for (size_t r = start; r < start + count;) {
    const size_t n = r / oh_n, oh = r % oh_n;
    const size_t end = std::min(start + count - r, oh_n - oh) + oh;
    kernels::DwConv2dNhwcF32(p.dws, c, t->x + n * is * c, t->w, t->bias, t->act, t->y + n * os * c, oh, end);
    r += end - oh;
  }
}

}  // namespace

ConvLayoutCaps ConvChannelsLastCaps(const OpContext& ctx) {
  ConvLayoutCaps caps;
  if (ctx.op->type() != OpType::CONV || !ctx.has_input(1) || ctx.in[0]->rank() != 4) return caps;
  absl::StatusOr<ConvPlan> pr = PlanConv(ctx);
  if (!pr.ok()) return caps;
  const ConvPlan& p = *pr;
  const auto* st = static_cast<const ConvState*>(ctx.prepared);
  if (st == nullptr) return caps;
  const bool i8 = ctx.in[1]->dtype == DType::I8;
  if (p.dw2d && p.m == p.c && !st->dw_hwc.empty()) {
    caps.in_ok = caps.out_ok = caps.tied = true;
  } else if (!p.depthwise && p.group == 1 && i8) {
    caps.out_ok = true;
    caps.in_ok = p.g.pointwise();
  } else if (!p.depthwise && p.group == 1 && st->packed_f32) {
    caps.out_ok = true;
    caps.in_ok = p.g.pointwise();
  }
  return caps;
}

namespace {

absl::Status RunConv(OpContext& ctx) {
  ASSIGN_OR_RETURN(ConvPlan p, PlanConv(ctx));
  const auto* o = ctx.options<fb::ConvOptions>();
  const kernels::Activation act = ToKernelActivation(o->fused_activation());
  const float* x = ctx.in[0]->as<float>();
  const float* bias = ctx.has_input(2) ? ctx.in[2]->as<float>() : nullptr;
  float* y = ctx.out[0]->as<float>();
  const auto* st = static_cast<const ConvState*>(ctx.prepared);
  const bool i8 = ctx.in[1]->dtype == DType::I8;
  const int64_t os = p.g.out_size(), is = p.g.in_size();
  const int64_t kc = p.cg * p.g.k_size();
  if (ctx.out[0]->num_elements() == 0) return absl::OkStatus();
  const bool x_cl = ctx.in[0]->channels_last, y_cl = ctx.out[0]->channels_last;
  if (x_cl || y_cl) {
    // Layouts were chosen from ConvChannelsLastCaps; anything else is a planner bug.
    const ConvLayoutCaps caps = ConvChannelsLastCaps(ctx);
    if ((x_cl && !caps.in_ok) || (y_cl && !caps.out_ok) || (caps.tied && x_cl != y_cl)) {
      return ctx.Error("internal: unsupported channels-last layout for this convolution");
    }
  }
  if (p.dw2d && x_cl) {
    const size_t rows = static_cast<size_t>(p.n) * p.dws.out_h;
    const size_t threads = ctx.pool ? pthreadpool_get_threads_count(ctx.pool) : 1;
    const size_t tile = std::max<size_t>(1, (rows + threads - 1) / threads);
    DwNhwcTask t{x, st->dw_hwc.data(), bias, y, &p, act};
    pthreadpool_parallelize_1d_tile_1d(ctx.pool, DwNhwcRange, &t, rows, tile, 0);
    return absl::OkStatus();
  }
  if (p.dw2d) {
    const size_t planes = static_cast<size_t>(p.n * p.m);
    const size_t tile = (planes + p.dw_tasks - 1) / p.dw_tasks;
    Dw2dTask t{x, i8 ? st->dequant.data() : ctx.in[1]->as<float>(), bias, y, &p, act,
               static_cast<uint8_t*>(ctx.workspace), tile};
    pthreadpool_parallelize_1d_tile_1d(ctx.pool, Dw2dRange, &t, planes, tile, 0);
    return absl::OkStatus();
  }
  if (p.depthwise) {
    DepthwiseTask t{x, i8 ? st->dequant.data() : ctx.in[1]->as<float>(), bias, y, &p, act};
    pthreadpool_parallelize_1d(ctx.pool, DepthwiseOne, &t, static_cast<size_t>(p.n * p.m), 0);
    return absl::OkStatus();
  }
  uint8_t* ws = static_cast<uint8_t*>(ctx.workspace);
  float* col = reinterpret_cast<float*>(ws);
  if (i8) {
    float* tmp = reinterpret_cast<float*>(ws + p.col_bytes);
    void* qws = ws + p.col_bytes + p.tmp_bytes;
    for (int64_t n = 0; n < p.n; ++n) {
      for (int64_t g = 0; g < p.group; ++g) {
        const float* xg = x + (n * p.c + g * p.cg) * is;
        // Row-major im2col then a tiled transpose: far faster than scattering [positions, k].
        // Channels-last (group 1 only): the input is already the GEMM's [positions, C] A
        // operand (pointwise) and/or the [positions, M] result is the output itself.
        const float* a = col;
        if (x_cl) {
          a = x + n * p.c * is;
        } else if (p.g.pointwise()) {
          Transpose2D(xg, kc, os, col, ctx.pool);
        } else {
          Im2ColRows(xg, p.cg, p.g, col, ctx.pool);
        }
        float* out = y_cl ? y + n * p.m * os : tmp;
        kernels::QGemmQc8w(static_cast<size_t>(os), static_cast<size_t>(p.mg), static_cast<size_t>(kc), a,
                           static_cast<size_t>(kc), st->packed[static_cast<size_t>(g)].get(),
                           bias ? bias + g * p.mg : nullptr, act, out, static_cast<size_t>(p.mg), qws, ctx.pool);
        if (!y_cl) Transpose2D(tmp, os, p.mg, y + (n * p.m + g * p.mg) * os, ctx.pool);
      }
    }
    return absl::OkStatus();
  }
  if (p.group == 1 && st != nullptr && st->packed_f32 && kc > 0) {
    // F32, group 1, packed weights: [positions, C·kh·kw] x [M, C·kh·kw]^T with bias and
    // activation fused, as the INT8 path (the weights are packed once at load, the activations
    // are the GEMM's rows).
    float* tmp = reinterpret_cast<float*>(ws + p.col_bytes);
    for (int64_t n = 0; n < p.n; ++n) {
      const float* a = x + n * p.c * is;
      if (!x_cl) {
        if (p.g.pointwise()) {
          Transpose2D(a, p.c, os, col, ctx.pool);
        } else {
          Im2ColRows(a, p.c, p.g, col, ctx.pool);
        }
        a = col;
      }
      float* out = y_cl ? y + n * p.m * os : tmp;
      kernels::SGemmPacked(static_cast<size_t>(os), static_cast<size_t>(p.m), static_cast<size_t>(kc), a,
                           static_cast<size_t>(kc), st->packed_f32.get(), bias, act, out, static_cast<size_t>(p.m),
                           ctx.pool);
      if (!y_cl) Transpose2D(tmp, os, p.m, y + n * p.m * os, ctx.pool);
    }
    return absl::OkStatus();
  }
  const float* w = ctx.in[1]->as<float>();
  const bool pw = p.g.pointwise();
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.c + g * p.cg) * is;
      float* yg = y + (n * p.m + g * p.mg) * os;
      const float* b = xg;
      if (!pw) {
        Im2Col(xg, p.cg, p.g, col, ctx.pool);
        b = col;
      }
      if (kc == 0) {
        std::memset(yg, 0, static_cast<size_t>(p.mg * os) * sizeof(float));
      } else {
        kernels::SGemm(static_cast<size_t>(p.mg), static_cast<size_t>(os), static_cast<size_t>(kc), w + g * p.mg * kc,
                       static_cast<size_t>(kc), b, static_cast<size_t>(os), false, yg, static_cast<size_t>(os),
                       ctx.pool);
      }
      if (bias) {
        for (int64_t j = 0; j < p.mg; ++j) {
          const float bv = bias[g * p.mg + j];
          float* r = yg + j * os;
          for (int64_t i = 0; i < os; ++i) r[i] += bv;
        }
      }
    }
  }
  kernels::ApplyActivation(act, y, static_cast<size_t>(ctx.out[0]->num_elements()));
  return absl::OkStatus();
}

}  // namespace

// ---- Fused chains: [expand ->] depthwise [-> pointwise] (MobileNet / EfficientNet blocks) ----
// The expand stage is a 1x1 Conv on channels-last rows, or a KxK group-1 Conv on an NCHW input
// (the stem) whose im2col rows each chunk builds first.
// The planner (session.cc) hands over consecutive Convs whose intermediate outputs nothing else
// reads. Output rows of the depthwise stage are split into one band per thread; each band runs
// every stage on chunks of rows sized to stay in L2: the expand GEMM computes the chunk's input
// rows (rows shared with the previous chunk are kept, not recomputed; rows shared with the
// neighbouring band are computed by both), the depthwise kernel reads them through a shifted
// geometry, and the project GEMM writes the chunk's rows of the chain's output. Only the
// chain's narrow input and output tensors cross threads; the wide intermediates never leave a
// core or reach memory. Every stage computes each output row exactly as the unfused op does
// (GEMM activations are quantized per row; the depthwise kernel skips the same padding taps), so
// the results are bit for bit those of running the ops one by one (tests: ConvChainTest.*).

struct ConvChain {
  const OpContext* a = nullptr;  // expand (optional)
  const OpContext* b = nullptr;  // depthwise
  const OpContext* c = nullptr;  // project (optional)
  ConvPlan pa, pb, pc;
  const ConvState *sa = nullptr, *sb = nullptr, *sc = nullptr;
  kernels::Activation act_a{}, act_b{}, act_c{};
  size_t batch = 0, h = 0, w = 0, oh = 0, ow = 0;
  size_t cin = 0, ce = 0, cout = 0;  // chain input, depthwise and chain output channels
  size_t bands = 1, chunk = 1;       // output rows per chunk
  size_t e_rows = 0;                 // capacity of the expand buffer in input rows
  bool a_im2col = false;             // expand is a KxK conv on an NCHW input: im2col rows first
  size_t a_k = 0, a_in_plane = 0;    // expand GEMM depth; expand input floats per batch item
  size_t e_off = 0, d_off = 0, q_off = 0, col_off = 0, band_bytes = 0;
};

namespace {

// A chunk's expand and depthwise rows fill up to half of L2 (measured on the 1 MiB L2 EPYC host:
// 512 KiB chunks beat 128/256 KiB by 3-7% and match 1 MiB; docs/runtime.md).
size_t ChainChunkBytes() { return std::max<size_t>(size_t{64} << 10, kernels::L2CacheBytes() / 2); }
// Most extra expand work (rows computed by two bands) a threaded chain may cost, as a fraction.
constexpr double kChainMaxHalo = 0.15;

// A group-1 2-D Conv with packed weights writing channels-last: a 1x1 conv reading channels-last
// rows, or (`im2col` non-null: the expand stage only) any kernel reading an NCHW input (a stem).
bool ChainGemmOk(const OpContext& ctx, const ConvPlan& p, const ConvState* st, bool* im2col) {
  if (st == nullptr || p.group != 1 || p.depthwise || p.g.nsp != 2) return false;
  if (ctx.input_prequantized || !ctx.out[0]->channels_last) return false;
  if (!(st->i8 ? st->packed.size() == 1 : static_cast<bool>(st->packed_f32))) return false;
  if (p.g.pointwise() && ctx.in[0]->channels_last) return true;
  if (im2col == nullptr || ctx.in[0]->channels_last) return false;
  *im2col = true;
  return true;
}

// rows x (k -> n) GEMM-based conv on the calling thread: A rows of k floats, channels-last out.
void ChainGemm(const ConvPlan& p, const ConvState& st, const OpContext& ctx, kernels::Activation act,
               size_t rows, const float* x, float* y, void* qws) {
  const size_t k = static_cast<size_t>(p.cg * p.g.k_size()), n = static_cast<size_t>(p.m);
  const float* bias = ctx.has_input(2) ? ctx.in[2]->as<float>() : nullptr;
  if (st.i8) {
    kernels::QGemmQc8w(rows, n, k, x, k, st.packed[0].get(), bias, act, y, n, qws, nullptr);
  } else {
    kernels::SGemmPacked(rows, n, k, x, k, st.packed_f32.get(), bias, act, y, n, nullptr);
  }
}

struct ChainRun {
  const ConvChain* ch;
  uint8_t* ws;
};

void ChainBand(void* arg, size_t band) {
  const auto* run = static_cast<const ChainRun*>(arg);
  const ConvChain& ch = *run->ch;
  uint8_t* ws = run->ws + band * ch.band_bytes;
  float* ebuf = reinterpret_cast<float*>(ws + ch.e_off);
  float* dbuf = reinterpret_cast<float*>(ws + ch.d_off);
  void* qws = ws + ch.q_off;
  float* col = reinterpret_cast<float*>(ws + ch.col_off);
  const kernels::DwConv2dShape& d = ch.pb.dws;
  const float* x = (ch.a ? ch.a : ch.b)->in[0]->as<float>();
  float* y = (ch.c ? ch.c : ch.b)->out[0]->as<float>();
  const float* dw_bias = ch.b->has_input(2) ? ch.b->in[2]->as<float>() : nullptr;
  const size_t r_begin = band * ch.oh / ch.bands, r_end = (band + 1) * ch.oh / ch.bands;
  const size_t span = (d.k_h - 1) * d.dil_h + 1;
  for (size_t n = 0; n < ch.batch; ++n) {
    const float* xn = x + n * (ch.a ? ch.a_in_plane : ch.h * ch.w * ch.ce);
    float* yn = y + n * ch.oh * ch.ow * ch.cout;
    size_t e0 = 0, e1 = 0;  // input rows [e0, e1) held in ebuf
    for (size_t r0 = r_begin; r0 < r_end; r0 += ch.chunk) {
      const size_t r1 = std::min(r0 + ch.chunk, r_end);
      // Input rows of output rows [r0, r1), clipped to the image (PlanConvChain: never empty).
      const size_t top = r0 * d.stride_h, last = (r1 - 1) * d.stride_h + span;  // + pad_top
      const size_t i0 = top > d.pad_top ? top - d.pad_top : 0;
      const size_t i1 = std::min(ch.h, last > d.pad_top ? last - d.pad_top : 0);
      const float* rows = xn + i0 * ch.w * ch.ce;
      if (ch.a) {
        size_t have = 0;
        if (e1 > i0 && i0 >= e0) {  // keep rows [i0, e1) computed for the previous chunk
          have = e1 - i0;
          std::memmove(ebuf, ebuf + (i0 - e0) * ch.w * ch.ce, have * ch.w * ch.ce * sizeof(float));
        }
        const size_t todo = i1 - i0 - have;
        const float* ea = xn + (i0 + have) * ch.w * ch.cin;
        if (ch.a_im2col && todo > 0) {
          Im2ColRows(xn, ch.pa.c, ch.pa.g, static_cast<int64_t>(i0 + have), static_cast<int64_t>(i1), col);
          ea = col;
        }
        ChainGemm(ch.pa, *ch.sa, *ch.a, ch.act_a, todo * ch.w, ea, ebuf + have * ch.w * ch.ce, qws);
        e0 = i0;
        e1 = i1;
        rows = ebuf;
      }
      // The depthwise stage on rows [i0, i1) as an image of its own: output row r0 + j reads
      // rows from j * stride - pad' with pad' = i0 + pad_top - r0 * stride.
      kernels::DwConv2dShape sub = d;
      sub.in_h = i1 - i0;
      sub.out_h = r1 - r0;
      sub.pad_top = i0 + d.pad_top - top;
      float* dout = ch.c ? dbuf : yn + r0 * ch.ow * ch.ce;
      kernels::DwConv2dNhwcF32(sub, ch.ce, rows, ch.sb->dw_hwc.data(), dw_bias, ch.act_b, dout, 0, r1 - r0);
      if (ch.c) {
        ChainGemm(ch.pc, *ch.sc, *ch.c, ch.act_c, (r1 - r0) * ch.ow, dbuf, yn + r0 * ch.ow * ch.cout, qws);
      }
    }
  }
}

}  // namespace

std::shared_ptr<ConvChain> PlanConvChain(const OpContext* expand, const OpContext& dw, const OpContext* project,
                                         size_t threads) {
  if (expand == nullptr && project == nullptr) return nullptr;
  for (const OpContext* o : {expand, &dw, project}) {
    if (o != nullptr && (o->op->type() != OpType::CONV || o->in[0]->rank() != 4)) return nullptr;
  }
  auto ch = std::make_shared<ConvChain>();
  ch->a = expand;
  ch->b = &dw;
  ch->c = project;
  absl::StatusOr<ConvPlan> pb = PlanConv(dw);
  if (!pb.ok()) return nullptr;
  ch->pb = *pb;
  ch->sb = static_cast<const ConvState*>(dw.prepared);
  const ConvPlan& b = ch->pb;
  if (ch->sb == nullptr || !b.dw2d || b.m != b.c || ch->sb->dw_hwc.empty() || !dw.in[0]->channels_last ||
      !dw.out[0]->channels_last) {
    return nullptr;
  }
  const kernels::DwConv2dShape& d = b.dws;
  const size_t span = (d.k_h - 1) * d.dil_h + 1;
  // Every output row must read at least one real input row (true for any sane padding).
  if (d.in_h == 0 || d.out_h == 0 || d.out_w == 0 || span <= d.pad_top ||
      (d.out_h - 1) * d.stride_h >= d.in_h + d.pad_top) {
    return nullptr;
  }
  ch->batch = static_cast<size_t>(b.n);
  ch->h = d.in_h;
  ch->w = d.in_w;
  ch->oh = d.out_h;
  ch->ow = d.out_w;
  ch->ce = static_cast<size_t>(b.c);
  ch->cin = ch->cout = ch->ce;
  ch->act_b = ToKernelActivation(dw.options<fb::ConvOptions>()->fused_activation());
  if (expand) {
    absl::StatusOr<ConvPlan> pa = PlanConv(*expand);
    if (!pa.ok()) return nullptr;
    ch->pa = *pa;
    ch->sa = static_cast<const ConvState*>(expand->prepared);
    if (!ChainGemmOk(*expand, ch->pa, ch->sa, &ch->a_im2col) || expand->out[0] != dw.in[0] || ch->pa.m != b.c ||
        ch->pa.n != b.n) {
      return nullptr;
    }
    ch->cin = static_cast<size_t>(ch->pa.c);
    ch->a_k = static_cast<size_t>(ch->pa.cg * ch->pa.g.k_size());
    ch->a_in_plane = static_cast<size_t>(ch->pa.c * ch->pa.g.in_size());
    ch->act_a = ToKernelActivation(expand->options<fb::ConvOptions>()->fused_activation());
  }
  if (project) {
    absl::StatusOr<ConvPlan> pc = PlanConv(*project);
    if (!pc.ok()) return nullptr;
    ch->pc = *pc;
    ch->sc = static_cast<const ConvState*>(project->prepared);
    if (!ChainGemmOk(*project, ch->pc, ch->sc, nullptr) || project->in[0] != dw.out[0] || ch->pc.c != b.m) return nullptr;
    ch->cout = static_cast<size_t>(ch->pc.m);
    ch->act_c = ToKernelActivation(project->options<fb::ConvOptions>()->fused_activation());
  }
  // One band per thread, unless neighbouring bands would recompute too many expand rows.
  ch->bands = std::max<size_t>(1, std::min(threads, ch->oh));
  if (ch->bands > 1 && expand) {
    const size_t overlap = span > d.stride_h ? span - d.stride_h : 0;
    if (static_cast<double>((ch->bands - 1) * overlap) > kChainMaxHalo * static_cast<double>(ch->h)) return nullptr;
  }
  // Output rows per chunk: the chunk's expand rows and depthwise rows within ChainChunkBytes().
  const size_t e_row = expand ? ch->w * ch->ce * sizeof(float) : 0;
  const size_t col_row = ch->a_im2col ? ch->w * ch->a_k * sizeof(float) : 0;  // im2col rows of one input row
  const size_t d_row = project ? ch->ow * ch->ce * sizeof(float) : 0;
  const size_t per_row = d.stride_h * (e_row + col_row) + d_row;
  const size_t fixed = span * (e_row + col_row), budget = ChainChunkBytes();
  ch->chunk = per_row == 0 || fixed >= budget ? 1 : std::max<size_t>(1, (budget - fixed) / per_row);
  ch->chunk = std::min(ch->chunk, ch->oh);
  ch->e_rows = expand ? std::min(ch->h, (ch->chunk - 1) * d.stride_h + span) : 0;
  size_t q = 0;
  if (expand && ch->sa->i8) q = kernels::QGemmWorkspaceBytes(ch->e_rows * ch->w, ch->a_k, 1);
  if (project && ch->sc->i8) q = std::max(q, kernels::QGemmWorkspaceBytes(ch->chunk * ch->ow, ch->ce, 1));
  ch->e_off = 0;
  ch->d_off = AlignUp(ch->e_rows * e_row, 64);
  ch->q_off = ch->d_off + AlignUp(ch->chunk * d_row, 64);
  ch->col_off = ch->q_off + AlignUp(q, 64);
  ch->band_bytes = ch->col_off + AlignUp(ch->e_rows * col_row, 64);
  return ch;
}

size_t ConvChainWorkspaceBytes(const ConvChain& ch) { return ch.bands * ch.band_bytes; }

void RunConvChain(const ConvChain& ch, void* workspace, pthreadpool_t pool) {
  ChainRun run{&ch, static_cast<uint8_t*>(workspace)};
  pthreadpool_parallelize_1d(pool, ChainBand, &run, ch.bands, 0);
}

namespace {

// ---- ConvTranspose (direct scatter; F32) ----
// x [N, C, ...], W [C, M/group, k...], y [N, M, ...].
struct ConvTPlan {
  Geom g;
  int64_t n = 0, c = 0, m = 0, cg = 0, mg = 0, group = 1;
};

absl::StatusOr<ConvTPlan> PlanConvT(const OpContext& ctx) {
  const auto* o = ctx.options<fb::ConvOptions>();
  RETURN_IF_ERROR(ExpectFloat(ctx, 0));
  RETURN_IF_ERROR(ExpectFloat(ctx, 1));
  if (!IsActivationValid(o->fused_activation())) return ctx.Error("unknown fused activation");
  const Value& x = *ctx.in[0];
  const Value& w = *ctx.in[1];
  if (x.rank() < 3 || x.rank() != w.rank()) {
    return ctx.Error(absl::StrCat("input ", ShapeString(x.shape), " and weight ", ShapeString(w.shape),
                                  " must both be [N/C, C/M, spatial...] of the same rank"));
  }
  ConvTPlan p;
  p.group = o->group();
  if (p.group < 1) return ctx.Error(absl::StrCat("group ", p.group, " must be >= 1"));
  p.n = x.shape[0];
  p.c = x.shape[1];
  if (w.shape[0] != p.c) return ctx.Error(absl::StrCat("weight dim 0 is ", w.shape[0], ", expected C = ", p.c));
  if (p.c % p.group != 0) return ctx.Error(absl::StrCat("group ", p.group, " does not divide ", p.c, " channels"));
  p.cg = p.c / p.group;
  p.mg = w.shape[1];
  p.m = p.mg * p.group;
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  ASSIGN_OR_RETURN(p.g, ComputeGeom(ctx, x.shape, kernel, o->strides(), o->dilations(), o->pads(), o->auto_pad(),
                                    false, GeomKind::kConvTranspose, o->output_padding()));
  // Geom.in is the conv-transpose input, Geom.out its output.
  // Work bound of this scalar reference loop (fuzz_efb: timeouts in ConvTranspose), as for
  // pooling: 2^30 multiply-adds, about a second. Larger transposed convolutions are refused with
  // this message until an optimized kernel exists.
  constexpr int64_t kMaxWork = int64_t{1} << 30;
  int64_t work = 1;
  for (int64_t f : {p.n, p.c, p.mg, p.g.in_size(), p.g.k_size()}) {
    if (f > 0 && work > kMaxWork / f) return ctx.Error("too much work for the reference ConvTranspose (more than 2^30 multiply-adds)");
    work *= std::max<int64_t>(f, 1);
  }
  if (ctx.has_input(2)) {
    RETURN_IF_ERROR(ExpectFloat(ctx, 2));
    if (ctx.in[2]->num_elements() != p.m) {
      return ctx.Error(absl::StrCat("bias has ", ctx.in[2]->num_elements(), " elements, expected ", p.m));
    }
  }
  return p;
}

absl::Status InferConvT(OpContext& ctx) {
  ASSIGN_OR_RETURN(ConvTPlan p, PlanConvT(ctx));
  Shape out = {p.n, p.m};
  for (int i = kMaxSpatial - p.g.nsp; i < kMaxSpatial; ++i) out.push_back(p.g.out[i]);
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = DType::F32;
  return absl::OkStatus();
}

absl::Status RunConvT(OpContext& ctx) {
  ASSIGN_OR_RETURN(ConvTPlan p, PlanConvT(ctx));
  const Geom& g = p.g;
  const float* x = ctx.in[0]->as<float>();
  const float* w = ctx.in[1]->as<float>();
  const float* bias = ctx.has_input(2) ? ctx.in[2]->as<float>() : nullptr;
  float* y = ctx.out[0]->as<float>();
  const int64_t is = g.in_size(), os = g.out_size(), kk = g.k_size();
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t oc = 0; oc < p.m; ++oc) {
      float* yc = y + (n * p.m + oc) * os;
      for (int64_t i = 0; i < os; ++i) yc[i] = bias ? bias[oc] : 0.f;
    }
    for (int64_t ic = 0; ic < p.c; ++ic) {
      const int64_t grp = ic / p.cg;
      const float* xc = x + (n * p.c + ic) * is;
      for (int64_t j = 0; j < p.mg; ++j) {
        const int64_t oc = grp * p.mg + j;
        float* yc = y + (n * p.m + oc) * os;
        const float* wk = w + (ic * p.mg + j) * kk;
        for (int64_t id = 0; id < g.in[0]; ++id)
          for (int64_t ih = 0; ih < g.in[1]; ++ih)
            for (int64_t iw = 0; iw < g.in[2]; ++iw) {
              const float v = xc[(id * g.in[1] + ih) * g.in[2] + iw];
              for (int64_t kd = 0; kd < g.k[0]; ++kd) {
                const int64_t od = id * g.stride[0] + kd * g.dil[0] - g.pb[0];
                if (od < 0 || od >= g.out[0]) continue;
                for (int64_t kh = 0; kh < g.k[1]; ++kh) {
                  const int64_t oh = ih * g.stride[1] + kh * g.dil[1] - g.pb[1];
                  if (oh < 0 || oh >= g.out[1]) continue;
                  for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                    const int64_t ow = iw * g.stride[2] + kw * g.dil[2] - g.pb[2];
                    if (ow < 0 || ow >= g.out[2]) continue;
                    yc[(od * g.out[1] + oh) * g.out[2] + ow] += v * wk[(kd * g.k[1] + kh) * g.k[2] + kw];
                  }
                }
              }
            }
      }
    }
  }
  kernels::ApplyActivation(ToKernelActivation(ctx.options<fb::ConvOptions>()->fused_activation()), y,
                           static_cast<size_t>(ctx.out[0]->num_elements()));
  return absl::OkStatus();
}

// ---- MaxPool / AveragePool ----
absl::StatusOr<Geom> PlanPool(const OpContext& ctx) {
  const auto* o = ctx.options<fb::PoolOptions>();
  const Value& x = *ctx.in[0];
  const bool is_max = ctx.op->type() == OpType::MAX_POOL;
  if (!(x.dtype == DType::F32 || (is_max && (x.dtype == DType::U8 || x.dtype == DType::I8)))) {
    return ctx.Error(absl::StrCat("unsupported dtype ", DTypeName(x.dtype)));
  }
  if (o->kernel_shape() == nullptr || o->kernel_shape()->size() == 0) return ctx.Error("kernel_shape is required");
  std::vector<int64_t> kernel(o->kernel_shape()->begin(), o->kernel_shape()->end());
  if (!is_max && o->dilations() && o->dilations()->size() > 0) {
    for (int d : *o->dilations()) {
      if (d < 1) return ctx.Error("dilations must be >= 1");
    }
  }
  if (x.rank() < 3) return ctx.Error(absl::StrCat("input must be [N, C, spatial...], got ", ShapeString(x.shape)));
  ASSIGN_OR_RETURN(Geom g, ComputeGeom(ctx, x.shape, kernel, o->strides(), o->dilations(), o->pads(), o->auto_pad(),
                                       o->ceil_mode(), GeomKind::kPool));
  // Work bound: a huge window over a small output is cheap to declare and slow to run
  // (fuzz_efb: timeouts in AvgPool and MaxPool). Real pools (3-D video ones included) are below
  // 2^28 window reads.
  constexpr int64_t kMaxWork = int64_t{1} << 30;
  int64_t work = std::max<int64_t>(x.shape[0] * x.shape[1], 1);
  for (int64_t f : {g.out_size(), g.k_size()}) {
    if (f > 0 && work > kMaxWork / f) return ctx.Error("the pooling window is too large (more than 2^30 reads)");
    work *= std::max<int64_t>(f, 1);
  }
  return g;
}

absl::Status InferPool(OpContext& ctx) {
  ASSIGN_OR_RETURN(Geom g, PlanPool(ctx));
  const Value& x = *ctx.in[0];
  Shape out = {x.shape[0], x.shape[1]};
  for (int i = kMaxSpatial - g.nsp; i < kMaxSpatial; ++i) out.push_back(g.out[i]);
  ctx.out[0]->shape = out;
  ctx.out[0]->dtype = x.dtype;
  return absl::OkStatus();
}

template <typename T>
void MaxPoolT(const Value& x, const Geom& g, Value& y) {
  const int64_t nc = x.shape[0] * x.shape[1];
  const int64_t is = g.in_size(), os = g.out_size();
  for (int64_t c = 0; c < nc; ++c) {
    const T* xc = x.as<T>() + c * is;
    T* yc = y.as<T>() + c * os;
    int64_t p = 0;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++p) {
          bool any = false;
          T best = std::numeric_limits<T>::lowest();
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = od * g.stride[0] - g.pb[0] + kd * g.dil[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = oh * g.stride[1] - g.pb[1] + kh * g.dil[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const int64_t iw = ow * g.stride[2] - g.pb[2] + kw * g.dil[2];
                if (iw < 0 || iw >= g.in[2]) continue;
                const T v = xc[(id * g.in[1] + ih) * g.in[2] + iw];
                if (!any || v > best || v != v) best = v;
                any = true;
              }
            }
          }
          if constexpr (std::is_floating_point_v<T>) {
            yc[p] = any ? best : -std::numeric_limits<T>::infinity();
          } else {
            yc[p] = best;
          }
        }
  }
}

void AvgPool(const Value& x, const Geom& g, bool include_pad, Value& y) {
  const int64_t nc = x.shape[0] * x.shape[1];
  const int64_t is = g.in_size(), os = g.out_size();
  for (int64_t c = 0; c < nc; ++c) {
    const float* xc = x.as<float>() + c * is;
    float* yc = y.as<float>() + c * os;
    int64_t p = 0;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh)
        for (int64_t ow = 0; ow < g.out[2]; ++ow, ++p) {
          double sum = 0;
          int64_t count = 0, padded = 0;
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = od * g.stride[0] - g.pb[0] + kd * g.dil[0];
            if (id < -g.pb[0] || id >= g.in[0] + g.pe[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = oh * g.stride[1] - g.pb[1] + kh * g.dil[1];
              if (ih < -g.pb[1] || ih >= g.in[1] + g.pe[1]) continue;
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const int64_t iw = ow * g.stride[2] - g.pb[2] + kw * g.dil[2];
                if (iw < -g.pb[2] || iw >= g.in[2] + g.pe[2]) continue;
                ++padded;  // inside the input or its explicit padding
                if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2]) continue;
                sum += xc[(id * g.in[1] + ih) * g.in[2] + iw];
                ++count;
              }
            }
          }
          const int64_t div = include_pad ? padded : count;
          yc[p] = div == 0 ? 0.f : static_cast<float>(sum / static_cast<double>(div));
        }
  }
}

absl::Status RunPool(OpContext& ctx) {
  ASSIGN_OR_RETURN(Geom g, PlanPool(ctx));
  const Value& x = *ctx.in[0];
  Value& y = *ctx.out[0];
  if (ctx.op->type() == OpType::MAX_POOL) {
    switch (x.dtype) {
      case DType::F32: MaxPoolT<float>(x, g, y); break;
      case DType::U8: MaxPoolT<uint8_t>(x, g, y); break;
      case DType::I8: MaxPoolT<int8_t>(x, g, y); break;
      default: return ctx.Error("unsupported dtype");
    }
  } else {
    AvgPool(x, g, ctx.options<fb::PoolOptions>()->count_include_pad(), y);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterConvOps(std::vector<OpDef>& ops) {
  ops.push_back({OpType::CONV, fb::OpOptions::ConvOptions, 2, 3, 1, 1, InferConv, RunConv, PrepareConv});
  ops.push_back({OpType::CONV_TRANSPOSE, fb::OpOptions::ConvOptions, 2, 3, 1, 1, InferConvT, RunConvT, PrepareConv});
  ops.push_back({OpType::MAX_POOL, fb::OpOptions::PoolOptions, 1, 1, 1, 1, InferPool, RunPool});
  ops.push_back({OpType::AVERAGE_POOL, fb::OpOptions::PoolOptions, 1, 1, 1, 1, InferPool, RunPool});
}

}  // namespace edgert
