#include "session.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "absl/strings/str_format.h"
#include "planner.h"

namespace edgert {
namespace {

// Values up to this size whose inputs are all known before the run (constants, shapes) are
// computed once at plan time: shape arithmetic (Shape -> Gather -> Concat -> Reshape) folds away.
constexpr int64_t kMaxFoldBytes = 1 << 16;

uint64_t PhysicalMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Session>> Session::Create(const Model& model, const SessionOptions& options) {
  if (options.num_threads < 0 || options.num_threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("num_threads must be in [0, 1024], got ", options.num_threads));
  }
  std::unique_ptr<Session> s(new Session(model));
  s->options_ = options;
  int n = options.num_threads;
  if (n == 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s->num_threads_ = n;
  if (n > 1) {
    s->pool_ = pthreadpool_create(static_cast<size_t>(n));
    if (s->pool_ == nullptr) return absl::ResourceExhaustedError("cannot create the thread pool");
  }
  const size_t nt = model.tensors().size();
  s->values_.resize(nt);
  for (size_t i = 0; i < nt; ++i) {
    const TensorInfo& ti = model.tensors()[i];
    Value& v = s->values_[i];
    v.dtype = ti.dtype;
    v.shape = ti.dims;
    if (ti.data != nullptr) {
      v.data = const_cast<uint8_t*>(ti.data);  // constants are never written by ops
      v.known_at_plan = true;
    }
  }
  const size_t ni = model.inputs().size();
  s->input_storage_.resize(ni);
  s->input_shapes_.resize(ni);
  s->input_set_.assign(ni, false);
  // If every input has fixed dims, plan now so that arena limits fail at creation.
  bool all_fixed = true;
  for (size_t i = 0; i < ni; ++i) {
    const TensorInfo& ti = model.tensor(model.inputs()[i]);
    for (int64_t d : ti.dims) all_fixed &= d >= 0;
    if (all_fixed) {
      s->input_shapes_[i] = ti.dims;
    }
  }
  if (all_fixed) {
    // Planning needs the input shapes only. Input storage is allocated by SetInput, when the
    // caller provides the data: a few-KB file declaring a huge fixed input must not make the
    // session allocate it (found by fuzz_efb).
    RETURN_IF_ERROR(s->Plan());
  }
  return s;
}

Session::~Session() {
  if (pool_ != nullptr) pthreadpool_destroy(pool_);
  std::free(arena_);
}

absl::Status Session::SetInput(size_t index, DType dtype, const Shape& shape, const void* data, size_t bytes) {
  const auto& inputs = model_.inputs();
  if (index >= inputs.size()) {
    return absl::NotFoundError(absl::StrCat("input index ", index, " out of range (model has ", inputs.size(), " inputs)"));
  }
  const TensorInfo& ti = model_.tensor(inputs[index]);
  if (dtype != ti.dtype) {
    return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': dtype ", DTypeName(dtype), ", expected ",
                                                   DTypeName(ti.dtype)));
  }
  if (shape.size() != ti.dims.size()) {
    return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': rank ", shape.size(), " (shape ",
                                                   ShapeString(shape), "), expected rank ", ti.dims.size()));
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': dim ", d, " is negative"));
    }
    if (ti.dims[d] >= 0 && shape[d] != ti.dims[d]) {
      return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': shape ", ShapeString(shape),
                                                     ", expected ", ShapeString(ti.dims), " (dim ", d, ")"));
    }
  }
  auto count = NumElements(shape);
  if (!count.ok() || DTypeBytes(dtype, *count) > kMaxTensorBytes) {
    return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': shape ", ShapeString(shape), " is too large"));
  }
  const int64_t want = DTypeBytes(dtype, *count);
  if (static_cast<uint64_t>(want) != bytes) {
    return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': got ", bytes, " bytes, shape ",
                                                   ShapeString(shape), " of ", DTypeName(dtype), " needs ", want));
  }
  if (bytes > 0 && data == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "': null data"));
  }
  if (shape != input_shapes_[index] || !planned_) {
    planned_ = false;
    input_shapes_[index] = shape;
  }
  std::vector<uint8_t>& store = input_storage_[index];
  // An empty input still gets a valid (1-byte) buffer: ops may offset its data pointer without
  // reading (fuzz_efb: UBSan offset applied to a null pointer in Softmax on a 0-length input).
  if (store.size() != std::max<size_t>(bytes, 1)) store.assign(std::max<size_t>(bytes, 1), 0);
  if (bytes > 0) std::memcpy(store.data(), data, bytes);
  Value& v = values_[static_cast<size_t>(inputs[index])];
  v.shape = shape;
  v.data = store.data();
  input_set_[index] = true;
  ran_ = false;
  return absl::OkStatus();
}

absl::Status Session::Plan() {
  planned_ = false;
  const size_t nt = values_.size();
  const int nops = model_.num_ops();
  // Bind dynamic dim names across inputs.
  std::map<std::string, std::pair<int64_t, std::string>> dim_values;
  for (size_t i = 0; i < model_.inputs().size(); ++i) {
    const TensorInfo& ti = model_.tensor(model_.inputs()[i]);
    for (size_t d = 0; d < ti.dims.size(); ++d) {
      if (ti.dims[d] >= 0) continue;
      const int64_t got = input_shapes_[i][d];
      auto [it, fresh] = dim_values.emplace(ti.dim_names[d], std::make_pair(got, ti.name));
      if (!fresh && it->second.first != got) {
        return absl::InvalidArgumentError(absl::StrCat("input '", ti.name, "' dim ", d, " ('", ti.dim_names[d],
                                                       "') is ", got, " but input '", it->second.second,
                                                       "' gave it ", it->second.first));
      }
    }
  }
  // Reset computed values.
  for (size_t i = 0; i < nt; ++i) {
    const TensorInfo& ti = model_.tensors()[i];
    if (ti.data == nullptr && !ti.is_input) {
      values_[i].data = nullptr;
      values_[i].known_at_plan = false;
      values_[i].shape.clear();
    }
  }
  folded_storage_.clear();
  folded_.assign(static_cast<size_t>(nops), false);
  contexts_.assign(static_cast<size_t>(nops), OpContext());
  std::vector<PlanRequest> requests;
  std::vector<int> request_tensor;  // tensor index, or -(op+1) for an op's workspace
  std::vector<int> last_use(nt, -1);
  // Workspace sharing of ops that quantize the same input (OpContext::quantized_input_kind):
  // the request of each op's workspace (-1: none) and the op planned last (not folded).
  std::vector<int> ws_request(static_cast<size_t>(nops), -1);
  int prev_planned = -1;
  for (int i = 0; i < nops; ++i) {
    const fb::Operator& o = model_.op(i);
    if (o.inputs()) {
      for (int idx : *o.inputs()) {
        if (idx >= 0) last_use[static_cast<size_t>(idx)] = i;
      }
    }
  }
  for (int idx : model_.outputs()) last_use[static_cast<size_t>(idx)] = nops;
  for (int i = 0; i < nops; ++i) {
    const fb::Operator& o = model_.op(i);
    const OpDef* def = FindOp(o.type());
    OpContext& ctx = contexts_[static_cast<size_t>(i)];
    ctx.model = &model_;
    ctx.op = &o;
    ctx.op_index = i;
    ctx.prepared = model_.op_state(i);
    ctx.pool = pool_;
    bool all_known = true;
    if (o.inputs()) {
      for (int idx : *o.inputs()) {
        Value* v = idx >= 0 ? &values_[static_cast<size_t>(idx)] : nullptr;
        ctx.in.push_back(v);
        if (v != nullptr && !v->known_at_plan && def->reads_input_values) all_known = false;
      }
    }
    int64_t out_bytes = 0;
    for (int idx : *o.outputs()) {
      Value* v = &values_[static_cast<size_t>(idx)];
      v->dtype = model_.tensor(idx).dtype;
      ctx.out.push_back(v);
    }
    absl::Status st = def->infer(ctx);
    if (!st.ok()) return absl::Status(st.code(), absl::StrCat(model_.label(), ": ", st.message()));
    for (size_t k = 0; k < ctx.out.size(); ++k) {
      Value* v = ctx.out[k];
      auto n = NumElements(v->shape);
      if (!n.ok() || DTypeBytes(v->dtype, *n) > kMaxTensorBytes || v->rank() > kMaxRank) {
        return absl::InvalidArgumentError(absl::StrCat(model_.label(), ": ", model_.OpLabel(i), ": output '",
                                                       model_.tensor((*o.outputs())[static_cast<unsigned>(k)]).name,
                                                       "' shape ", ShapeString(v->shape), " is too large or invalid"));
      }
      out_bytes += DTypeBytes(v->dtype, *n);
    }
    if (all_known && out_bytes <= kMaxFoldBytes && ctx.workspace_bytes <= static_cast<size_t>(kMaxFoldBytes)) {
      // Evaluate now; the op is skipped at run time.
      for (Value* v : ctx.out) {
        auto mem = std::make_unique<uint8_t[]>(static_cast<size_t>(std::max<int64_t>(v->bytes(), 1)) + 64);
        v->data = mem.get();
        v->known_at_plan = true;
        folded_storage_.push_back(std::move(mem));
      }
      std::unique_ptr<uint8_t[]> ws;
      if (ctx.workspace_bytes > 0) {
        ws = std::make_unique<uint8_t[]>(ctx.workspace_bytes + 64);
        ctx.workspace = reinterpret_cast<void*>(AlignUp(reinterpret_cast<uintptr_t>(ws.get()), 64));
      }
      st = def->run(ctx);
      ctx.workspace = nullptr;
      if (!st.ok()) return absl::Status(st.code(), absl::StrCat(model_.label(), ": ", st.message()));
      folded_[static_cast<size_t>(i)] = true;
      continue;
    }
    for (int idx : *o.outputs()) {
      const Value& v = values_[static_cast<size_t>(idx)];
      requests.push_back({static_cast<size_t>(v.bytes()), i, std::max(i, last_use[static_cast<size_t>(idx)])});
      request_tensor.push_back(idx);
    }
    const OpContext* prev = prev_planned >= 0 ? &contexts_[static_cast<size_t>(prev_planned)] : nullptr;
    if (ctx.quantized_input_kind != 0 && prev && prev->quantized_input_kind == ctx.quantized_input_kind &&
        prev->in[0] == ctx.in[0] && prev->workspace_bytes == ctx.workspace_bytes &&
        ws_request[static_cast<size_t>(prev_planned)] >= 0) {
      // The op before quantized this input the same way into its workspace: it stays live to here.
      const int r = ws_request[static_cast<size_t>(prev_planned)];
      requests[static_cast<size_t>(r)].last = i;
      ws_request[static_cast<size_t>(i)] = r;
      ctx.input_prequantized = true;
    } else if (ctx.workspace_bytes > 0) {
      ws_request[static_cast<size_t>(i)] = static_cast<int>(requests.size());
      requests.push_back({ctx.workspace_bytes, i, i});
      request_tensor.push_back(-(i + 1));
    }
    prev_planned = i;
  }
  AssignChannelsLast();
  FindConvChains(requests, request_tensor, ws_request);
  ArenaPlan plan = PlanArena(requests, 64);
  const uint64_t limit = options_.arena_limit_bytes;
  if (limit != 0 && plan.arena_bytes > limit) {
    return absl::ResourceExhaustedError(absl::StrCat(model_.label(), ": the plan needs an arena of ", plan.arena_bytes,
                                                     " bytes, over the session limit of ", limit));
  }
  if (plan.arena_bytes > PhysicalMemoryBytes()) {
    return absl::ResourceExhaustedError(absl::StrCat(model_.label(), ": the plan needs an arena of ", plan.arena_bytes,
                                                     " bytes, more than this machine's memory"));
  }
  if (plan.arena_bytes > arena_bytes_ || arena_ == nullptr) {
    std::free(arena_);
    arena_ = static_cast<uint8_t*>(std::aligned_alloc(64, std::max<size_t>(AlignUp(plan.arena_bytes, 64), 64)));
    if (arena_ == nullptr) {
      arena_bytes_ = 0;
      return absl::ResourceExhaustedError(absl::StrCat(model_.label(), ": cannot allocate an arena of ",
                                                       plan.arena_bytes, " bytes"));
    }
  }
  arena_bytes_ = plan.arena_bytes;
  for (size_t r = 0; r < requests.size(); ++r) {
    const int t = request_tensor[r];
    if (t >= 0) values_[static_cast<size_t>(t)].data = arena_ + plan.offsets[r];
  }
  for (int i = 0; i < nops; ++i) {
    const int r = ws_request[static_cast<size_t>(i)];
    if (r >= 0) contexts_[static_cast<size_t>(i)].workspace = arena_ + plan.offsets[static_cast<size_t>(r)];
  }
  for (PlannedChain& c : chains_) c.workspace = arena_ + plan.offsets[static_cast<size_t>(c.request)];
  planned_ = true;
  return absl::OkStatus();
}

// Chooses the channels-last values: outputs of Convs that can write [N, H, W, C] whose every
// consumer is a Conv that can read it (or a same-shape Add, which is layout-agnostic), never a
// graph output. Depthwise Convs and Adds tie their inputs and output to one layout; a tie with
// any member that cannot be channels-last makes all of them NCHW (iterated to a fixed point).
void Session::AssignChannelsLast() {
  const size_t nt = values_.size();
  for (Value& v : values_) v.channels_last = false;
  if (!options_.channels_last) return;
  if (const char* env = std::getenv("EDGERT_CHANNELS_LAST"); env && std::strcmp(env, "0") == 0) return;
  std::vector<char> cand(nt, 0);
  std::vector<std::vector<int>> ties;
  std::vector<ConvLayoutCaps> caps(contexts_.size());
  auto is_add_tie = [&](const OpContext& ctx) {
    if (ctx.op->type() != fb::OpType::ADD || ctx.in.size() != 2 || !ctx.in[0] || !ctx.in[1]) return false;
    const Value& a = *ctx.in[0];
    const Value& b = *ctx.in[1];
    const Value& y = *ctx.out[0];
    return a.dtype == DType::F32 && b.dtype == DType::F32 && y.dtype == DType::F32 && a.rank() == 4 &&
           a.shape == b.shape && a.shape == y.shape;
  };
  for (size_t i = 0; i < contexts_.size(); ++i) {
    if (folded_[i]) continue;
    const OpContext& ctx = contexts_[i];
    const int y = (*ctx.op->outputs())[0];
    if (ctx.op->type() == fb::OpType::CONV) {
      caps[i] = ConvChannelsLastCaps(ctx);
      if (caps[i].out_ok && ctx.out[0]->rank() == 4) cand[static_cast<size_t>(y)] = 1;
      if (caps[i].tied) ties.push_back({(*ctx.op->inputs())[0], y});
    } else if (is_add_tie(ctx)) {
      cand[static_cast<size_t>(y)] = 1;
      ties.push_back({(*ctx.op->inputs())[0], (*ctx.op->inputs())[1], y});
    }
  }
  for (int idx : model_.outputs()) cand[static_cast<size_t>(idx)] = 0;
  for (size_t i = 0; i < contexts_.size(); ++i) {
    if (folded_[i]) continue;
    const OpContext& ctx = contexts_[i];
    const bool add = is_add_tie(ctx);
    const auto* ins = ctx.op->inputs();
    if (!ins) continue;
    for (unsigned k = 0; k < ins->size(); ++k) {
      const int idx = ins->Get(k);
      if (idx < 0) continue;
      const bool ok = add || (ctx.op->type() == fb::OpType::CONV && k == 0 && caps[i].in_ok);
      if (!ok) cand[static_cast<size_t>(idx)] = 0;
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& t : ties) {
      bool all = true;
      for (int idx : t) all &= cand[static_cast<size_t>(idx)] != 0;
      if (all) continue;
      for (int idx : t) {
        if (cand[static_cast<size_t>(idx)]) {
          cand[static_cast<size_t>(idx)] = 0;
          changed = true;
        }
      }
    }
  }
  for (size_t t = 0; t < nt; ++t) values_[t].channels_last = cand[t] != 0;
}

// Finds the Conv chains (ops/op.h ConvChain) of the plan: a depthwise Conv with the Conv just
// before it (whose output only it reads; PlanConvChain decides whether it can be the expand
// stage) and/or the one just after it (which alone reads its output). The chain's intermediate tensors get no arena space; its workspace (per
// band expand and depthwise rows) is live over the chain's ops, as are its ops' own workspaces,
// which it does not use (they get no space either).
void Session::FindConvChains(std::vector<PlanRequest>& requests, std::vector<int>& request_tensor,
                             const std::vector<int>& ws_request) {
  const int nops = model_.num_ops();
  chains_.clear();
  chain_at_.assign(static_cast<size_t>(nops), -1);
  if (!options_.fuse_conv_chains || !options_.channels_last) return;
  if (const char* env = std::getenv("EDGERT_CONV_CHAINS"); env && std::strcmp(env, "0") == 0) return;
  // Readers of each tensor among the ops that run, a graph output counting as one more.
  std::vector<int> readers(values_.size(), 0);
  for (int i = 0; i < nops; ++i) {
    if (folded_[static_cast<size_t>(i)] || !model_.op(i).inputs()) continue;
    for (int idx : *model_.op(i).inputs()) {
      if (idx >= 0) ++readers[static_cast<size_t>(idx)];
    }
  }
  for (int idx : model_.outputs()) ++readers[static_cast<size_t>(idx)];
  auto conv = [&](int i) {
    return i >= 0 && i < nops && !folded_[static_cast<size_t>(i)] && chain_at_[static_cast<size_t>(i)] < 0 &&
           model_.op(i).type() == fb::OpType::CONV && model_.op(i).outputs()->size() == 1;
  };
  auto read_once = [&](int i) { return readers[static_cast<size_t>((*model_.op(i).outputs())[0])] == 1; };
  std::vector<int> tensor_request(values_.size(), -1);
  for (size_t r = 0; r < request_tensor.size(); ++r) {
    if (request_tensor[r] >= 0) tensor_request[static_cast<size_t>(request_tensor[r])] = static_cast<int>(r);
  }
  const size_t threads = static_cast<size_t>(num_threads_);
  for (int i = 0; i < nops; ++i) {
    if (!conv(i)) continue;
    const OpContext* a = conv(i - 1) && read_once(i - 1) ? &contexts_[static_cast<size_t>(i - 1)] : nullptr;
    const OpContext* c = conv(i + 1) && read_once(i) ? &contexts_[static_cast<size_t>(i + 1)] : nullptr;
    const OpContext& b = contexts_[static_cast<size_t>(i)];
    std::shared_ptr<ConvChain> ch;
    const OpContext *used_a = nullptr, *used_c = nullptr;
    for (auto [ta, tc] : {std::pair{a, c}, std::pair{static_cast<const OpContext*>(nullptr), c},
                          std::pair{a, static_cast<const OpContext*>(nullptr)}}) {
      if (ch || (!ta && !tc)) continue;
      ch = PlanConvChain(ta, b, tc, threads);
      used_a = ta;
      used_c = tc;
    }
    if (!ch) continue;
    const int first = used_a ? i - 1 : i, last = used_c ? i + 1 : i;
    // Intermediate tensors are never materialized; the ops' own workspaces are not used.
    if (used_a) requests[static_cast<size_t>(tensor_request[static_cast<size_t>(b.op->inputs()->Get(0))])].bytes = 0;
    if (used_c) requests[static_cast<size_t>(tensor_request[static_cast<size_t>(b.op->outputs()->Get(0))])].bytes = 0;
    for (int k = first; k <= last; ++k) {
      const int r = ws_request[static_cast<size_t>(k)];
      if (r >= 0 && std::count(ws_request.begin(), ws_request.end(), r) == 1) requests[static_cast<size_t>(r)].bytes = 0;
    }
    // The whole chain runs at step `first`: its output is written then.
    const int out = (used_c ? used_c : &b)->op->outputs()->Get(0);
    PlanRequest& ro = requests[static_cast<size_t>(tensor_request[static_cast<size_t>(out)])];
    ro.first = std::min(ro.first, first);
    PlannedChain pc;
    pc.chain = ch;
    pc.first = first;
    pc.last = last;
    pc.request = static_cast<int>(requests.size());
    requests.push_back({ConvChainWorkspaceBytes(*ch), first, last});
    request_tensor.push_back(-(first + 1));
    for (int k = first; k <= last; ++k) chain_at_[static_cast<size_t>(k)] = static_cast<int>(chains_.size());
    chains_.push_back(std::move(pc));
    i = last;
  }
}

absl::Status Session::Run() {
  for (size_t i = 0; i < input_set_.size(); ++i) {
    if (!input_set_[i]) {
      return absl::FailedPreconditionError(absl::StrCat("input '", model_.tensor(model_.inputs()[i]).name,
                                                        "' was not set before run"));
    }
  }
  if (!planned_) RETURN_IF_ERROR(Plan());
  const int nops = model_.num_ops();
  using Clock = std::chrono::steady_clock;
  auto record = [&](int i, Clock::time_point t0) {  // profile: the op's (or chain's) time
    if (!options_.profile) return;
    op_ns_.resize(static_cast<size_t>(nops), 0);
    op_ns_[static_cast<size_t>(i)] +=
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  };
  for (int i = 0; i < nops; ++i) {
    if (folded_[static_cast<size_t>(i)]) continue;
    if (const int ci = chain_at_[static_cast<size_t>(i)]; ci >= 0) {
      const PlannedChain& pc = chains_[static_cast<size_t>(ci)];
      if (i != pc.first) continue;
      const auto t0 = options_.profile ? Clock::now() : Clock::time_point();
      RunConvChain(*pc.chain, pc.workspace, pool_);
      record(i, t0);
      continue;
    }
    OpContext& ctx = contexts_[static_cast<size_t>(i)];
    // An op whose outputs are all empty has nothing to compute. Skipping it also keeps a hostile
    // shape like [2^30, 0, 2^30] from driving an op's outer loops for hours (fuzz_efb timeout).
    bool all_empty = !ctx.out.empty();
    for (const Value* v : ctx.out) all_empty &= v->num_elements() == 0;
    if (all_empty) continue;
    const OpDef* def = FindOp(ctx.op->type());
    const auto t0 = options_.profile ? Clock::now() : Clock::time_point();
    absl::Status st = def->run(ctx);
    if (!st.ok()) return absl::Status(st.code(), absl::StrCat(model_.label(), ": ", st.message()));
    record(i, t0);
  }
  if (options_.profile) ++profile_runs_;
  ran_ = true;
  return absl::OkStatus();
}

std::string Session::ProfileReport() const {
  if (!options_.profile || profile_runs_ == 0) return "";
  const double runs = static_cast<double>(profile_runs_);
  uint64_t total = 0;
  for (uint64_t ns : op_ns_) total += ns;
  const double tot = std::max<double>(1.0, static_cast<double>(total));
  struct Kind {
    std::string name;
    int ops = 0;
    uint64_t ns = 0;
  };
  std::vector<Kind> kinds;
  std::vector<size_t> order;
  for (size_t i = 0; i < op_ns_.size(); ++i) {
    if (op_ns_[i] == 0) continue;  // folded at plan time, or skipped (empty outputs)
    order.push_back(i);
    const std::string n = OpTypeName(model_.op(static_cast<int>(i)).type());
    auto it = std::find_if(kinds.begin(), kinds.end(), [&](const Kind& k) { return k.name == n; });
    if (it == kinds.end()) it = kinds.insert(kinds.end(), Kind{n});
    ++it->ops;
    it->ns += op_ns_[i];
  }
  std::sort(kinds.begin(), kinds.end(), [](const Kind& a, const Kind& b) { return a.ns > b.ns; });
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return op_ns_[a] > op_ns_[b]; });
  std::string r = absl::StrFormat("profile: %d runs, %.3f ms per run in ops, %d threads\n", profile_runs_,
                                  static_cast<double>(total) / runs / 1e6, num_threads_);
  absl::StrAppend(&r, absl::StrFormat("%-22s %5s %12s %7s\n", "op kind", "ops", "ms per run", "%"));
  for (const Kind& k : kinds) {
    absl::StrAppend(&r, absl::StrFormat("%-22s %5d %12.4f %6.1f%%\n", k.name, k.ops,
                                        static_cast<double>(k.ns) / runs / 1e6, 100.0 * static_cast<double>(k.ns) / tot));
  }
  absl::StrAppend(&r, "slowest ops:\n");
  for (size_t j = 0; j < std::min<size_t>(order.size(), getenv("EDGERT_PROFILE_ALL") ? order.size() : 15); ++j) {
    const size_t i = order[j];
    const fb::Operator& op = model_.op(static_cast<int>(i));
    const OpContext& ctx = contexts_[i];
    std::string shape = ctx.out.empty() ? std::string("-") : ShapeString(ctx.out[0]->shape);
    std::string name = op.name() ? op.name()->str() : std::string();
    if (i < chain_at_.size() && chain_at_[i] >= 0) {  // a Conv chain's time, on its first op
      const PlannedChain& c = chains_[static_cast<size_t>(chain_at_[i])];
      name += absl::StrFormat(" +%d chained", c.last - c.first);
      shape = ShapeString(contexts_[static_cast<size_t>(c.last)].out[0]->shape);
    }
    absl::StrAppend(&r, absl::StrFormat("  %4d %-18s %-40s %-18s %10.4f ms %6.1f%%\n", static_cast<int>(i),
                                        OpTypeName(op.type()), name, shape,
                                        static_cast<double>(op_ns_[i]) / runs / 1e6,
                                        100.0 * static_cast<double>(op_ns_[i]) / tot));
  }
  return r;
}

const Value& Session::output(size_t index) const {
  return values_[static_cast<size_t>(model_.outputs()[index])];
}

}  // namespace edgert
