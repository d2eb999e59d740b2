#include "model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "edgert/schema/container.h"
#include "ops/op.h"

namespace edgert {
namespace {

void FreeAligned(uint8_t* p) { std::free(p); }

bool AddOverflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

}  // namespace

Model::~Model() {
  op_state_.clear();
  if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

absl::StatusOr<std::unique_ptr<Model>> Model::LoadFile(const std::string& path) {
  // Read-only, never modified. If the file is truncated by someone else while mapped, reads of
  // the lost pages raise SIGBUS: see docs/reliability.md.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = absl::StrCat(path, ": cannot open model: ", std::strerror(e));
    return e == ENOENT ? absl::NotFoundError(msg) : absl::InvalidArgumentError(msg);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::unique_ptr<Model> m(new Model());
  m->label_ = path;
  m->size_ = static_cast<uint64_t>(st.st_size);
  if (m->size_ < sizeof(format::FileHeader)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": file is truncated: ", m->size_,
                                                   " bytes, the header alone needs 64"));
  }
  void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": mmap failed: ", std::strerror(e)));
  }
  m->mapping_ = p;
  m->base_ = static_cast<const uint8_t*>(p);
  RETURN_IF_ERROR(m->Init());
  return m;
}

absl::StatusOr<std::unique_ptr<Model>> Model::LoadMemory(const void* data, size_t size,
                                                         std::string label) {
  if (data == nullptr) return absl::InvalidArgumentError(label + ": null model buffer");
  std::unique_ptr<Model> m(new Model());
  m->label_ = std::move(label);
  m->size_ = size;
  if (size < sizeof(format::FileHeader)) {
    return absl::InvalidArgumentError(absl::StrCat(m->label_, ": file is truncated: ", size,
                                                   " bytes, the header alone needs 64"));
  }
  if (reinterpret_cast<uintptr_t>(data) % format::kSegmentAlignment != 0) {
    // Weights must sit on 64-byte boundaries for the kernels: copy once into aligned memory.
    void* copy = std::aligned_alloc(format::kSegmentAlignment, AlignUp(size, 64));
    if (copy == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat(m->label_, ": out of memory copying ", size, " bytes"));
    }
    std::memcpy(copy, data, size);
    m->owned_ = std::unique_ptr<uint8_t[], void (*)(uint8_t*)>(static_cast<uint8_t*>(copy), FreeAligned);
    m->base_ = m->owned_.get();
  } else {
    m->base_ = static_cast<const uint8_t*>(data);
  }
  RETURN_IF_ERROR(m->Init());
  return m;
}

absl::Status Model::Init() {
  RETURN_IF_ERROR(VerifyContainer());
  RETURN_IF_ERROR(VerifyGraph());
  return Prepare();
}

absl::Status Model::VerifyContainer() {
  format::FileHeader h;
  std::memcpy(&h, base_, sizeof(h));
  const std::string& f = label_;
  if (std::memcmp(h.magic, format::kMagic, sizeof(format::kMagic)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ": not an edgert model (bad magic: expected \"EDGERTFB\")"));
  }
  if (h.format_major > format::kFormatMajor) {
    return absl::InvalidArgumentError(absl::StrCat(
        f, ": format version ", h.format_major, ".", h.format_minor,
        " is newer than this runtime supports (", format::kFormatMajor, ".x): upgrade edgert"));
  }
  if (h.format_major == 0) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": format version 0 is not valid"));
  }
  if (h.file_size > size_) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": file is truncated: header says ",
                                                   h.file_size, " bytes, file has ", size_));
  }
  if (h.file_size < size_) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": file has ", size_ - h.file_size,
                                                   " bytes after the end the header declares (",
                                                   h.file_size, ")"));
  }
  if (h.flatbuffer_offset != sizeof(format::FileHeader)) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": header field flatbuffer_offset: expected 64, got ",
                                                   h.flatbuffer_offset));
  }
  uint64_t fb_end;
  if (AddOverflows(h.flatbuffer_offset, h.flatbuffer_size, &fb_end) || fb_end > size_ ||
      h.flatbuffer_size < 8 || h.flatbuffer_size > (uint64_t{1} << 31)) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": header field flatbuffer_size ", h.flatbuffer_size,
                                                   " does not fit in the file (", size_, " bytes)"));
  }
  uint64_t seg_end;
  if (h.segment_offset % format::kSegmentAlignment != 0 || h.segment_offset < fb_end ||
      AddOverflows(h.segment_offset, h.segment_size, &seg_end) || seg_end != size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        f, ": header fields segment_offset/segment_size (", h.segment_offset, "/", h.segment_size,
        ") must be 64-aligned, after the graph (ends at ", fb_end, ") and end at the file end (", size_, ")"));
  }
  const uint8_t* fbp = base_ + h.flatbuffer_offset;
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 64;
  opts.max_tables = 10'000'000;
  opts.check_alignment = true;
  flatbuffers::Verifier verifier(fbp, h.flatbuffer_size, opts);
  if (!fb::ModelBufferHasIdentifier(fbp)) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": graph section lacks the EFB1 identifier"));
  }
  if (!fb::VerifyModelBuffer(verifier)) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ": graph section failed FlatBuffers verification (corrupt or truncated)"));
  }
  root_ = fb::GetModel(fbp);
  segment_ = base_ + h.segment_offset;
  segment_size_ = h.segment_size;
  return absl::OkStatus();
}

const uint8_t* Model::buffer_data(int index) const {
  if (index < 0) return nullptr;
  return segment_ + root_->buffers()->Get(static_cast<unsigned>(index))->offset();
}

uint64_t Model::buffer_size(int index) const {
  if (index < 0) return 0;
  return root_->buffers()->Get(static_cast<unsigned>(index))->size();
}

std::string Model::OpLabel(int i) const {
  const fb::Operator& o = op(i);
  return absl::StrCat("op ", i, " '", o.name() ? o.name()->str() : "", "' (",
                      OpTypeName(o.type()), ")");
}

const char* Model::Metadata(const std::string& key) const {
  const fb::Metadata* md = root_->metadata();
  if (md == nullptr) return nullptr;
  auto str = [](const flatbuffers::String* s) { return s ? s->c_str() : nullptr; };
  if (key == "producer") return str(md->producer());
  if (key == "source_hash") return str(md->source_hash());
  if (key == "conversion_options") return str(md->conversion_options());
  if (key == "calibration_hash") return str(md->calibration_hash());
  if (md->extra()) {
    for (const fb::KeyValue* kv : *md->extra()) {
      if (kv->key()->str() == key) return str(kv->value());
    }
  }
  return nullptr;
}

namespace {

bool ValidDType(DType t) {
  return static_cast<int>(t) >= 0 && static_cast<int>(t) <= static_cast<int>(DType::BOOL);
}

// Count of quantization parameters the scheme implies for a tensor of `dims`.
absl::StatusOr<int64_t> QuantParamCount(const std::string& where, const fb::Quantization& q,
                                        const Shape& dims) {
  const int rank = static_cast<int>(dims.size());
  switch (q.scheme()) {
    case fb::QuantScheme::NONE:
      return 0;
    case fb::QuantScheme::PER_TENSOR:
      return 1;
    case fb::QuantScheme::PER_CHANNEL:
      if (q.axis() < 0 || q.axis() >= rank || dims[static_cast<size_t>(q.axis())] < 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": quantization axis ", q.axis(),
                                                       " out of range for rank ", rank));
      }
      return dims[static_cast<size_t>(q.axis())];
    case fb::QuantScheme::PER_BLOCK: {
      if (q.axis() < 0 || q.axis() >= rank) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": quantization axis ", q.axis(),
                                                       " out of range for rank ", rank));
      }
      if (q.block_size() <= 0 || q.block_size() > (1 << 20)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": quantization block_size ",
                                                       q.block_size(), " must be in [1, 2^20]"));
      }
      int64_t n = 1;
      for (int d = 0; d < rank; ++d) {
        int64_t v = dims[static_cast<size_t>(d)];
        if (d == q.axis()) v = (v + q.block_size() - 1) / q.block_size();
        n *= v;  // dims are already bounded, no overflow
      }
      return n;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": unknown quantization scheme ",
                                                 static_cast<int>(q.scheme())));
}

}  // namespace

absl::Status Model::VerifyGraph() {
  const std::string& f = label_;
  const auto* ts = root_->tensors();
  const auto* bufs = root_->buffers();
  const auto* ops = root_->operators();
  const size_t nt = ts ? ts->size() : 0;
  const size_t nb = bufs ? bufs->size() : 0;
  const size_t no = ops ? ops->size() : 0;
  if (ops == nullptr) return absl::InvalidArgumentError(f + ": model has no operators table");
  if (nt > (1u << 24) || no > (1u << 24) || nb > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": too many tensors/ops/buffers"));
  }
  // Buffers: aligned, inside the segment. The Verifier does not check the alignment of a vector
  // of structs; reading a misaligned fb::Buffer is undefined behaviour (found by fuzz_efb).
  if (bufs != nullptr && reinterpret_cast<uintptr_t>(bufs->Data()) % alignof(fb::Buffer) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(f, ": buffers table is misaligned (corrupt graph section)"));
  }
  for (size_t i = 0; i < nb; ++i) {
    const fb::Buffer* b = bufs->Get(static_cast<unsigned>(i));
    uint64_t end;
    if (b->offset() % format::kSegmentAlignment != 0) {
      return absl::InvalidArgumentError(absl::StrCat(f, ": buffer ", i, ": offset ", b->offset(),
                                                     " is not a multiple of 64"));
    }
    if (AddOverflows(b->offset(), b->size(), &end) || end > segment_size_) {
      return absl::InvalidArgumentError(absl::StrCat(f, ": buffer ", i, ": bytes [", b->offset(), ", +",
                                                     b->size(), ") lie past the end of the weight segment (",
                                                     segment_size_, " bytes)"));
    }
  }
  auto check_buffer_index = [&](const std::string& where, int idx) -> absl::Status {
    if (idx < -1 || idx >= static_cast<int64_t>(nb)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": buffer index ", idx, " out of range (",
                                                     nb, " buffers)"));
    }
    return absl::OkStatus();
  };
  // Tensors.
  tensors_.resize(nt);
  for (size_t i = 0; i < nt; ++i) {
    const fb::Tensor* t = ts->Get(static_cast<unsigned>(i));
    TensorInfo& ti = tensors_[i];
    ti.name = t->name()->str();
    const std::string where = absl::StrCat(f, ": tensor ", i, " '", ti.name, "'");
    if (!ValidDType(t->dtype())) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown dtype ", static_cast<int>(t->dtype())));
    }
    ti.dtype = t->dtype();
    const size_t rank = t->shape() ? t->shape()->size() : 0;
    if (rank > static_cast<size_t>(kMaxRank)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": rank ", rank, " exceeds the maximum ", kMaxRank));
    }
    bool dynamic = false;
    int64_t count = 1;
    int64_t nonzero = 1;  // product of the non-zero dims: bounded even for empty tensors
    for (size_t d = 0; d < rank; ++d) {
      const fb::Dim* dim = t->shape()->Get(static_cast<unsigned>(d));
      int64_t v = dim->value();
      std::string name = dim->name() ? dim->name()->str() : "";
      if (v == -1) {
        if (name.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": dim ", d, " is dynamic (-1) but has no name"));
        }
        dynamic = true;
      } else if (v < 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": dim ", d, " is ", v,
                                                       " (expected >= 0, or -1 with a name)"));
      } else {
        if (v != 0 && (count > kMaxTensorBytes / v || nonzero > kMaxTensorBytes / v)) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": declared shape is too large (dim ", d, " = ", v,
                                                         "; more than 2^34 elements)"));
        }
        count *= v;
        if (v != 0) nonzero *= v;
      }
      ti.dims.push_back(v);
      ti.dim_names.push_back(v == -1 ? name : "");
    }
    if (!dynamic && DTypeBytes(ti.dtype, count) > kMaxTensorBytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": declared size ", DTypeBytes(ti.dtype, count),
                                                     " bytes exceeds the limit of ", kMaxTensorBytes));
    }
    RETURN_IF_ERROR(check_buffer_index(where, t->buffer()));
    if (t->buffer() >= 0) {
      if (dynamic) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": a constant cannot have dynamic dims"));
      }
      const int64_t want = DTypeBytes(ti.dtype, count);
      // I4: each innermost row is padded to whole bytes.
      int64_t want4 = want;
      if (ti.dtype == DType::I4 && rank > 0) {
        int64_t inner = ti.dims.back();
        int64_t rows = inner == 0 ? 0 : count / inner;
        want4 = rows * ((inner + 1) / 2);
      }
      const uint64_t have = buffer_size(t->buffer());
      if (have != static_cast<uint64_t>(want4)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": buffer ", t->buffer(), " has ", have,
                                                       " bytes, shape ", ShapeString(ti.dims), " of ",
                                                       DTypeName(ti.dtype), " needs ", want4));
      }
      ti.data = buffer_data(t->buffer());
      ti.const_bytes = want4;
    }
    if (const fb::Quantization* q = t->quant(); q != nullptr && q->scheme() != fb::QuantScheme::NONE) {
      if (dynamic) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": quantized tensor with dynamic dims"));
      }
      ASSIGN_OR_RETURN(int64_t want, QuantParamCount(where, *q, ti.dims));
      const bool inline_scales = q->scales() != nullptr && q->scales()->size() > 0;
      if (inline_scales == (q->scales_buffer() >= 0)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": quantization needs exactly one of scales / scales_buffer"));
      }
      if (inline_scales) {
        if (static_cast<int64_t>(q->scales()->size()) != want) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": quantization has ", q->scales()->size(),
                                                         " scales, expected ", want));
        }
      } else {
        RETURN_IF_ERROR(check_buffer_index(where + " scales", q->scales_buffer()));
        if (q->scale_dtype() != DType::F32 && q->scale_dtype() != DType::F16) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": scale_dtype must be f32 or f16, got ",
                                                         DTypeName(q->scale_dtype())));
        }
        if (buffer_size(q->scales_buffer()) != static_cast<uint64_t>(DTypeBytes(q->scale_dtype(), want))) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": scales buffer has ", buffer_size(q->scales_buffer()),
                                                         " bytes, expected ", DTypeBytes(q->scale_dtype(), want)));
        }
      }
      if (q->zero_points() != nullptr && q->zero_points()->size() > 0 &&
          static_cast<int64_t>(q->zero_points()->size()) != want) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": quantization has ", q->zero_points()->size(),
                                                       " zero points, expected ", want));
      }
      RETURN_IF_ERROR(check_buffer_index(where + " zero points", q->zero_points_buffer()));
      if (q->zero_points_buffer() >= 0 && buffer_size(q->zero_points_buffer()) != static_cast<uint64_t>(want)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": zero points buffer has ",
                                                       buffer_size(q->zero_points_buffer()), " bytes, expected ", want));
      }
      if (ti.dtype == DType::I4 && q->scheme() != fb::QuantScheme::PER_BLOCK &&
          q->scheme() != fb::QuantScheme::PER_CHANNEL && q->scheme() != fb::QuantScheme::PER_TENSOR) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": bad quantization scheme for i4"));
      }
      ti.quant = q;
    } else if (ti.dtype == DType::I4) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": i4 tensor without quantization parameters"));
    }
  }
  auto check_tensor_index = [&](const std::string& where, int idx) -> absl::Status {
    if (idx < 0 || idx >= static_cast<int64_t>(nt)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": tensor index ", idx, " out of range (",
                                                     nt, " tensors)"));
    }
    return absl::OkStatus();
  };
  // Graph inputs.
  if (root_->inputs()) {
    for (int idx : *root_->inputs()) {
      RETURN_IF_ERROR(check_tensor_index(f + ": graph input", idx));
      TensorInfo& ti = tensors_[static_cast<size_t>(idx)];
      if (ti.data != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(f, ": graph input '", ti.name, "' is a constant"));
      }
      if (ti.is_input) {
        return absl::InvalidArgumentError(absl::StrCat(f, ": graph input '", ti.name, "' is listed twice"));
      }
      if (ti.dtype == DType::I4) {
        return absl::InvalidArgumentError(absl::StrCat(f, ": graph input '", ti.name, "' cannot be i4"));
      }
      ti.is_input = true;
      inputs_.push_back(idx);
    }
  }
  // Operators: known type, options, arity, indices, topological order, single producer.
  for (size_t i = 0; i < no; ++i) {
    const fb::Operator* o = ops->Get(static_cast<unsigned>(i));
    const int oi = static_cast<int>(i);
    const OpDef* def = FindOp(o->type());
    if (def == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          f, ": op ", i, " '", o->name() ? o->name()->str() : "", "': unknown op type ",
          static_cast<int>(o->type()), " (made by a newer converter? upgrade edgert)"));
    }
    const std::string where = absl::StrCat(f, ": ", OpLabel(oi));
    if (o->options_type() != def->options) {
      if (o->options_type() == fb::OpOptions::NONE) {
        if (def->options_required) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": missing options (expected ",
                                                         fb::EnumNameOpOptions(def->options), ")"));
        }
      } else {
        const char* got = fb::EnumNameOpOptions(o->options_type());
        return absl::InvalidArgumentError(absl::StrCat(where, ": options of kind ", *got ? got : "unknown",
                                                       ", expected ", fb::EnumNameOpOptions(def->options)));
      }
    } else if (def->options != fb::OpOptions::NONE && o->options() == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": missing options (expected ",
                                                     fb::EnumNameOpOptions(def->options), ")"));
    }
    const int nin = o->inputs() ? static_cast<int>(o->inputs()->size()) : 0;
    const int nout = o->outputs() ? static_cast<int>(o->outputs()->size()) : 0;
    if (nin < def->min_inputs || nin > def->max_inputs) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": has ", nin, " inputs, expected ", def->min_inputs,
                                                     def->max_inputs != def->min_inputs ? absl::StrCat("..", def->max_inputs) : ""));
    }
    if (nout < def->min_outputs || nout > def->max_outputs) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": has ", nout, " outputs, expected ", def->min_outputs,
                                                     def->max_outputs != def->min_outputs ? absl::StrCat("..", def->max_outputs) : ""));
    }
    for (int k = 0; k < nin; ++k) {
      int idx = o->inputs()->Get(static_cast<unsigned>(k));
      if (idx == -1) {
        if (k < def->min_inputs) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": required input ", k, " is missing (-1)"));
        }
        continue;
      }
      RETURN_IF_ERROR(check_tensor_index(absl::StrCat(where, " input ", k), idx));
      const TensorInfo& ti = tensors_[static_cast<size_t>(idx)];
      if (ti.data == nullptr && !ti.is_input && ti.producer < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": input ", k, " '", ti.name,
            "' is not a constant, a graph input or the output of an earlier op (cycle or bad order)"));
      }
    }
    for (int k = 0; k < nout; ++k) {
      int idx = o->outputs()->Get(static_cast<unsigned>(k));
      RETURN_IF_ERROR(check_tensor_index(absl::StrCat(where, " output ", k), idx));
      TensorInfo& ti = tensors_[static_cast<size_t>(idx)];
      if (ti.data != nullptr || ti.is_input || ti.producer >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": output '", ti.name,
                                                       "' is already a constant, a graph input or another op's output"));
      }
      if (ti.quant != nullptr || ti.dtype == DType::I4) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": output '", ti.name, "' cannot be quantized/i4"));
      }
      ti.producer = oi;
    }
  }
  if (root_->outputs() == nullptr || root_->outputs()->size() == 0) {
    return absl::InvalidArgumentError(f + ": model declares no outputs");
  }
  for (int idx : *root_->outputs()) {
    RETURN_IF_ERROR(check_tensor_index(f + ": graph output", idx));
    const TensorInfo& ti = tensors_[static_cast<size_t>(idx)];
    if (ti.producer < 0 && !ti.is_input) {
      return absl::InvalidArgumentError(absl::StrCat(f, ": graph output '", ti.name, "' is never produced by any op"));
    }
    outputs_.push_back(idx);
  }
  return absl::OkStatus();
}

absl::Status Model::Prepare() {
  op_state_.resize(static_cast<size_t>(num_ops()));
  for (int i = 0; i < num_ops(); ++i) {
    const OpDef* def = FindOp(op(i).type());
    if (def->prepare != nullptr) {
      auto st = def->prepare(*this, op(i));
      if (!st.ok()) {
        return absl::Status(st.status().code(), absl::StrCat(label_, ": ", OpLabel(i), ": ", st.status().message()));
      }
      op_state_[static_cast<size_t>(i)] = std::move(*st);
    }
  }
  return absl::OkStatus();
}

}  // namespace edgert
