// Einsum (f32), any number of operands: explicit ("ij,jk->ik") or implicit ("ij,jk") output,
// ellipsis ("...ij,...jk") with broadcasting, repeated labels (diagonals, "ii->i").
// Reference implementation: one pass over every combination of label values, accumulating in
// double. Meant for the small contractions ONNX graphs carry, not for big matmuls.
#include <algorithm>
#include <cctype>
#include <string>

#include "op.h"

namespace edgert {
namespace {

constexpr int kLetters = 52;  // a-z, A-Z; ellipsis dims use ids from kLetters up
constexpr int kMaxOperands = 8;

int LabelId(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + (c - 'A') : -1; }

struct EinsumPlan {
  int num_labels = 0;                       // letters + ellipsis dims in use (compacted)
  std::vector<int64_t> size;                // per label
  std::vector<int> out_labels;              // output dims, in order
  std::vector<int> sum_labels;              // contracted labels
  std::vector<std::vector<int64_t>> stride;  // [operand][label]: element stride (0 = broadcast)
  Shape out_shape;
};

// Parses one term into label ids; ellipsis becomes -2. Returns false on a bad character.
bool ParseTerm(const std::string& t, std::vector<int>* labels) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '.') {
      if (t.compare(i, 3, "...") != 0) return false;
      labels->push_back(-2);
      i += 2;
      continue;
    }
    const int id = LabelId(t[i]);
    if (id < 0) return false;
    labels->push_back(id);
  }
  return std::count(labels->begin(), labels->end(), -2) <= 1;
}

absl::StatusOr<EinsumPlan> PlanEinsum(const OpContext& ctx) {
  const auto* o = ctx.options<fb::EinsumOptions>();
  if (o->equation() == nullptr) return ctx.Error("equation is missing");
  std::string eq;
  for (char c : o->equation()->str()) {
    if (!std::isspace(static_cast<unsigned char>(c))) eq.push_back(c);
  }
  const size_t n = ctx.in.size();
  if (n > static_cast<size_t>(kMaxOperands)) return ctx.Error(absl::StrCat("at most ", kMaxOperands, " operands"));
  for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(ExpectFloat(ctx, i));
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::vector<int>> terms;
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    std::vector<int> t;
    if (!ParseTerm(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start), &t)) {
      return ctx.Error(absl::StrCat("cannot parse equation '", eq, "'"));
    }
    terms.push_back(t);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != n) {
    return ctx.Error(absl::StrCat("equation '", eq, "' has ", terms.size(), " operands, the op has ", n, " inputs"));
  }
  // Ellipsis dims: aligned from the right across operands (numpy broadcasting).
  int ell = 0;
  std::vector<int> ell_of(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const int letters = static_cast<int>(std::count_if(terms[i].begin(), terms[i].end(), [](int l) { return l >= 0; }));
    const bool has_ell = std::count(terms[i].begin(), terms[i].end(), -2) > 0;
    const int rank = ctx.in[i]->rank();
    if (rank < letters || (!has_ell && rank != letters)) {
      return ctx.Error(absl::StrCat("operand ", i, " has rank ", rank, " but its term has ", letters, " labels"));
    }
    ell_of[i] = rank - letters;
    ell = std::max(ell, ell_of[i]);
  }
  const int total_ids = kLetters + ell;
  std::vector<int64_t> size(static_cast<size_t>(total_ids), -1);
  std::vector<int> count(static_cast<size_t>(total_ids), 0);
  // Per operand: the label id of every dim.
  std::vector<std::vector<int>> dim_label(n);
  for (size_t i = 0; i < n; ++i) {
    for (int l : terms[i]) {
      if (l == -2) {
        for (int j = 0; j < ell_of[i]; ++j) dim_label[i].push_back(kLetters + (ell - ell_of[i]) + j);
      } else {
        dim_label[i].push_back(l);
      }
    }
    for (size_t d = 0; d < dim_label[i].size(); ++d) {
      const int l = dim_label[i][d];
      const int64_t s = ctx.in[i]->shape[d];
      int64_t& cur = size[static_cast<size_t>(l)];
      if (cur < 0) {
        cur = s;
      } else if (cur != s) {
        if (l >= kLetters && (cur == 1 || s == 1)) {
          cur = std::max(cur, s);  // ellipsis dims broadcast
        } else {
          return ctx.Error(absl::StrCat("operand ", i, " dim ", d, " has size ", s, ", the same label elsewhere has ", cur));
        }
      }
      ++count[static_cast<size_t>(l)];
    }
  }
  std::vector<int> out;
  if (arrow != std::string::npos) {
    std::vector<int> t;
    if (!ParseTerm(eq.substr(arrow + 2), &t)) return ctx.Error(absl::StrCat("cannot parse equation '", eq, "'"));
    for (int l : t) {
      if (l == -2) {
        for (int j = 0; j < ell; ++j) out.push_back(kLetters + j);
      } else {
        if (size[static_cast<size_t>(l)] < 0) return ctx.Error(absl::StrCat("output label not in any input: '", eq, "'"));
        out.push_back(l);
      }
    }
  } else {
    for (int j = 0; j < ell; ++j) out.push_back(kLetters + j);
    // Implicit: labels that appear exactly once, in alphabetical order (a-z before A-Z is
    // numpy's order for lower case; upper case sorts first in ASCII).
    std::vector<int> once;
    for (int l = 0; l < kLetters; ++l) {
      if (count[static_cast<size_t>(l)] == 1) once.push_back(l);
    }
    std::sort(once.begin(), once.end(), [](int a, int b) {
      auto ch = [](int x) { return x < 26 ? 'a' + x : 'A' + (x - 26); };
      return ch(a) < ch(b);
    });
    out.insert(out.end(), once.begin(), once.end());
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::count(out.begin(), out.end(), out[i]) > 1) return ctx.Error("an output label is repeated");
  }
  EinsumPlan p;
  // Compact the ids in use: outputs first, then contracted labels.
  std::vector<int> remap(static_cast<size_t>(total_ids), -1);
  for (int l : out) {
    remap[static_cast<size_t>(l)] = p.num_labels++;
    p.size.push_back(std::max<int64_t>(size[static_cast<size_t>(l)], 0));
    p.out_labels.push_back(remap[static_cast<size_t>(l)]);
    p.out_shape.push_back(p.size.back());
  }
  for (int l = 0; l < total_ids; ++l) {
    if (size[static_cast<size_t>(l)] >= 0 && remap[static_cast<size_t>(l)] < 0) {
      remap[static_cast<size_t>(l)] = p.num_labels++;
      p.size.push_back(size[static_cast<size_t>(l)]);
      p.sum_labels.push_back(remap[static_cast<size_t>(l)]);
    }
  }
  p.stride.assign(n, std::vector<int64_t>(static_cast<size_t>(p.num_labels), 0));
  for (size_t i = 0; i < n; ++i) {
    const Shape& s = ctx.in[i]->shape;
    int64_t st = 1;
    for (size_t d = s.size(); d-- > 0;) {
      const int l = remap[static_cast<size_t>(dim_label[i][d])];
      if (!(s[d] == 1 && p.size[static_cast<size_t>(l)] != 1)) p.stride[i][static_cast<size_t>(l)] += st;
      st *= s[d];
    }
  }
  int64_t work = 1;
  for (int64_t s : p.size) {
    if (s > 0 && work > (int64_t{1} << 34) / s) return ctx.Error("contraction is too large for the reference einsum");
    work *= s;
  }
  return p;
}

absl::Status InferEinsum(OpContext& ctx) {
  ASSIGN_OR_RETURN(EinsumPlan p, PlanEinsum(ctx));
  ctx.out[0]->shape = p.out_shape;
  ctx.out[0]->dtype = DType::F32;
  return absl::OkStatus();
}

absl::Status RunEinsum(OpContext& ctx) {
  ASSIGN_OR_RETURN(EinsumPlan p, PlanEinsum(ctx));
  const size_t n = ctx.in.size();
  float* y = ctx.out[0]->as<float>();
  const int64_t nout = ctx.out[0]->num_elements();
  if (nout == 0) return absl::OkStatus();
  int64_t nsum = 1;
  for (int l : p.sum_labels) nsum *= p.size[static_cast<size_t>(l)];
  std::vector<int64_t> idx(static_cast<size_t>(p.num_labels), 0);
  std::vector<int64_t> base(n, 0);
  for (int64_t oi = 0; oi < nout; ++oi) {
    // Output index -> label values.
    int64_t rem = oi;
    for (size_t k = p.out_labels.size(); k-- > 0;) {
      const int l = p.out_labels[k];
      idx[static_cast<size_t>(l)] = rem % p.size[static_cast<size_t>(l)];
      rem /= p.size[static_cast<size_t>(l)];
    }
    for (size_t i = 0; i < n; ++i) {
      base[i] = 0;
      for (int l : p.out_labels) base[i] += idx[static_cast<size_t>(l)] * p.stride[i][static_cast<size_t>(l)];
    }
    double acc = 0;
    for (int l : p.sum_labels) idx[static_cast<size_t>(l)] = 0;
    for (int64_t si = 0; si < nsum; ++si) {
      double prod = 1;
      for (size_t i = 0; i < n; ++i) {
        int64_t off = base[i];
        for (int l : p.sum_labels) off += idx[static_cast<size_t>(l)] * p.stride[i][static_cast<size_t>(l)];
        prod *= ctx.in[i]->as<float>()[off];
      }
      acc += prod;
      for (size_t k = p.sum_labels.size(); k-- > 0;) {
        const size_t l = static_cast<size_t>(p.sum_labels[k]);
        if (++idx[l] < p.size[l]) break;
        idx[l] = 0;
      }
    }
    y[oi] = static_cast<float>(acc);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterEinsumOps(std::vector<OpDef>& ops) {
  ops.push_back({fb::OpType::EINSUM, fb::OpOptions::EinsumOptions, 1, kMaxOperands, 1, 1, InferEinsum, RunEinsum});
}

}  // namespace edgert
