// Runs a builder-made model through Model + Session and returns its outputs.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "model.h"
#include "model_builder.h"
#include "session.h"

namespace edgert {

struct HostTensor {
  DType dtype = DType::F32;
  Shape shape;
  std::string data;
  std::vector<float> f32() const {
    std::vector<float> v(data.size() / 4);
    if (!v.empty()) std::memcpy(v.data(), data.data(), v.size() * 4);
    return v;
  }
};

inline HostTensor F32(Shape s, const std::vector<float>& v) {
  return {DType::F32, std::move(s), std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4)};
}
inline HostTensor I64(Shape s, const std::vector<int64_t>& v) {
  return {DType::I64, std::move(s), std::string(reinterpret_cast<const char*>(v.data()), v.size() * 8)};
}

class Runner {
 public:
  explicit Runner(test::ModelBuilder& b, int threads = 1, SessionOptions o = SessionOptions()) {
    bytes_ = b.Build();
    buf_.resize(bytes_.size() + 64);
    uint8_t* p = reinterpret_cast<uint8_t*>(AlignUp(reinterpret_cast<uintptr_t>(buf_.data()), 64));
    std::memcpy(p, bytes_.data(), bytes_.size());
    auto m = Model::LoadMemory(p, bytes_.size(), "test.efb");
    if (!m.ok()) { status_ = m.status(); return; }
    model_ = std::move(*m);
    o.num_threads = threads;
    auto s = Session::Create(*model_, o);
    if (!s.ok()) { status_ = s.status(); return; }
    session_ = std::move(*s);
  }
  bool ok() const { return status_.ok(); }
  std::string error() const { return std::string(status_.message()); }
  Session* session() { return session_.get(); }

  absl::StatusOr<std::vector<HostTensor>> Run(const std::vector<HostTensor>& inputs) {
    if (!status_.ok()) return status_;
    for (size_t i = 0; i < inputs.size(); ++i) {
      RETURN_IF_ERROR(session_->SetInput(i, inputs[i].dtype, inputs[i].shape, inputs[i].data.data(), inputs[i].data.size()));
    }
    RETURN_IF_ERROR(session_->Run());
    std::vector<HostTensor> out;
    for (size_t i = 0; i < model_->outputs().size(); ++i) {
      const Value& v = session_->output(i);
      out.push_back({v.dtype, v.shape, std::string(static_cast<const char*>(v.data), static_cast<size_t>(v.bytes()))});
    }
    return out;
  }

 private:
  std::string bytes_;
  std::vector<uint8_t> buf_;
  absl::Status status_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Session> session_;
};

}  // namespace edgert
