#include "edgert/schema/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "edgert/schema/container.h"

namespace edgert::format {

absl::StatusOr<std::string> SerializeEfb(fb::ModelT& model,
                                         const std::vector<std::string_view>& blobs) {
  model.buffers.clear();
  uint64_t seg = 0;
  for (std::string_view b : blobs) {
    model.buffers.emplace_back(seg, b.size());
    seg = AlignUp(seg + b.size(), kSegmentAlignment);
  }
  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.Finish(fb::Model::Pack(fbb, &model), fb::ModelIdentifier());
  if (fbb.GetSize() > (1u << 31) - 1) {
    return absl::ResourceExhaustedError("model graph description exceeds 2 GiB");
  }
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.format_major = kFormatMajor;
  h.format_minor = kFormatMinor;
  h.flatbuffer_offset = sizeof(FileHeader);
  h.flatbuffer_size = fbb.GetSize();
  h.segment_offset = AlignUp(h.flatbuffer_offset + h.flatbuffer_size, kSegmentAlignment);
  h.segment_size = seg;
  h.file_size = h.segment_offset + h.segment_size;
  std::string out(h.file_size, '\0');
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + h.flatbuffer_offset, fbb.GetBufferPointer(), fbb.GetSize());
  for (size_t i = 0; i < blobs.size(); ++i) {
    if (!blobs[i].empty()) {
      std::memcpy(out.data() + h.segment_offset + model.buffers[i].offset(), blobs[i].data(),
                  blobs[i].size());
    }
  }
  return out;
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError(absl::StrCat(path, ": write failed: ", std::strerror(e)));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": write failed: ", std::strerror(e)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": rename failed: ", std::strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace edgert::format
