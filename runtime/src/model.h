// Model: a verified, read-only .efb file (mmapped or the caller's buffer) plus per-op state
// prepared once (packed weights). Immutable after Load; shared by any number of sessions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace edgert {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape dims;                          // -1 for a dynamic dim
  std::vector<std::string> dim_names;  // "" for fixed dims
  const uint8_t* data = nullptr;       // constant data (in the mapped file), else null
  int64_t const_bytes = 0;
  const fb::Quantization* quant = nullptr;
  int producer = -1;                   // op index, -1 for constants and graph inputs
  bool is_input = false;
};

class Model {
 public:
  static absl::StatusOr<std::unique_ptr<Model>> LoadFile(const std::string& path);
  // The buffer must outlive the model unless it is copied (it is, when not 64-byte aligned).
  static absl::StatusOr<std::unique_ptr<Model>> LoadMemory(const void* data, size_t size,
                                                           std::string label = "<memory>");
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& label() const { return label_; }
  const fb::Model& fb() const { return *root_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& tensor(int i) const { return tensors_[static_cast<size_t>(i)]; }
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  int num_ops() const { return static_cast<int>(root_->operators()->size()); }
  const fb::Operator& op(int i) const { return *root_->operators()->Get(static_cast<unsigned>(i)); }
  const void* op_state(int i) const { return op_state_[static_cast<size_t>(i)].get(); }
  // Bytes of a segment buffer; null for index -1.
  const uint8_t* buffer_data(int index) const;
  uint64_t buffer_size(int index) const;
  // "op 3 'name' (FULLY_CONNECTED)"
  std::string OpLabel(int i) const;
  // Metadata by key (producer, source_hash, conversion_options, calibration_hash, or extra key).
  const char* Metadata(const std::string& key) const;
  uint64_t file_size() const { return size_; }

 private:
  Model() = default;
  absl::Status Init();
  absl::Status VerifyContainer();
  absl::Status VerifyGraph();
  absl::Status Prepare();

  std::string label_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // munmap on destruction
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> owned_{nullptr, nullptr};
  const uint8_t* segment_ = nullptr;
  uint64_t segment_size_ = 0;
  const fb::Model* root_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::vector<int> inputs_, outputs_;
  std::vector<std::shared_ptr<void>> op_state_;
};

}  // namespace edgert
