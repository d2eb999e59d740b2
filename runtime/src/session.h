// Session: input shapes -> resolved shapes -> one planned arena -> run. Re-plans only when an
// input shape changes. One thread at a time (concurrent use is detected and refused).
#pragma once

#include <pthreadpool.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "model.h"
#include "ops/op.h"
#include "planner.h"

namespace edgert {

struct SessionOptions {
  int num_threads = 0;          // 0 = one per core
  uint64_t arena_limit_bytes = 0;  // 0 = no limit beyond physical memory
  // Keep activations channels-last between convolutions that support it (ops/op.h Value);
  // false, or EDGERT_CHANNELS_LAST=0 in the environment, keeps every tensor NCHW.
  bool channels_last = true;
  // Run [expand ->] depthwise [-> pointwise] Conv chains as one parallel region (ops/op.h
  // ConvChain); false, or EDGERT_CONV_CHAINS=0 in the environment, runs every op on its own.
  // Needs channels_last. Results are identical either way.
  bool fuse_conv_chains = true;
  // Time every op of every run (steady clock around each op); ProfileReport() sums them up.
  bool profile = false;
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Create(const Model& model, const SessionOptions& options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Copies input `index`. dtype must match; rank must match; fixed dims must match.
  absl::Status SetInput(size_t index, DType dtype, const Shape& shape, const void* data, size_t bytes);
  absl::Status Run();
  const Value& output(size_t index) const;
  const Model& model() const { return model_; }
  uint64_t arena_bytes() const { return arena_bytes_; }
  bool ran() const { return ran_; }
  int num_threads() const { return num_threads_; }
  // With options.profile: time per op kind and the slowest ops, in ms per run over the runs so
  // far (a text table); empty when profiling is off or nothing has run.
  std::string ProfileReport() const;
  // Ops of the current plan that reuse the quantized input the op before them left in their
  // shared workspace (OpContext::input_prequantized; tests).
  size_t num_prequantized_ops() const {
    size_t n = 0;
    for (const OpContext& c : contexts_) n += c.input_prequantized ? 1 : 0;
    return n;
  }
  // Values the current plan keeps channels-last (tests).
  size_t num_channels_last() const {
    size_t n = 0;
    for (const Value& v : values_) n += v.channels_last ? 1 : 0;
    return n;
  }

  // Conv chains of the current plan and the ops they cover (tests).
  size_t num_conv_chains() const { return chains_.size(); }
  size_t num_chained_ops() const {
    size_t n = 0;
    for (const PlannedChain& c : chains_) n += static_cast<size_t>(c.last - c.first + 1);
    return n;
  }

  // Guards a call against concurrent use of the same session.
  class Busy {
   public:
    explicit Busy(Session& s) : s_(s), ok_(!s.busy_.exchange(true, std::memory_order_acquire)) {}
    ~Busy() { if (ok_) s_.busy_.store(false, std::memory_order_release); }
    bool ok() const { return ok_; }
   private:
    Session& s_;
    bool ok_;
  };

 private:
  explicit Session(const Model& model) : model_(model) {}
  absl::Status Plan();
  void AssignChannelsLast();
  void FindConvChains(std::vector<PlanRequest>& requests, std::vector<int>& request_tensor,
                      const std::vector<int>& ws_request);

  const Model& model_;
  SessionOptions options_;
  int num_threads_ = 1;
  pthreadpool_t pool_ = nullptr;
  std::atomic<bool> busy_{false};

  std::vector<Value> values_;  // one per tensor
  std::vector<std::vector<uint8_t>> input_storage_;
  std::vector<Shape> input_shapes_;
  std::vector<bool> input_set_;
  bool planned_ = false;
  bool ran_ = false;

  std::vector<OpContext> contexts_;  // one per op
  std::vector<bool> folded_;         // op evaluated at plan time
  std::vector<std::unique_ptr<uint8_t[]>> folded_storage_;
  uint8_t* arena_ = nullptr;
  uint64_t arena_bytes_ = 0;
  struct PlannedChain {
    std::shared_ptr<ConvChain> chain;
    int first = 0, last = 0;  // op indices
    int request = -1;         // arena request of its workspace
    void* workspace = nullptr;
  };
  std::vector<PlannedChain> chains_;
  std::vector<int> chain_at_;  // per op: index into chains_, or -1
  std::vector<uint64_t> op_ns_;  // profile: nanoseconds per op, summed over profile_runs_
  uint64_t profile_runs_ = 0;
};

}  // namespace edgert
