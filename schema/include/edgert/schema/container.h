// The .efb container: a fixed 64-byte header, the FlatBuffers root (edgert.fbs), then one weight
// segment. Everything little-endian. Layout and checks are described in schema/README.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgert::format {

inline constexpr char kMagic[8] = {'E', 'D', 'G', 'E', 'R', 'T', 'F', 'B'};
// Major changes break readers (a reader refuses a newer major); minor ones only add fields.
inline constexpr uint32_t kFormatMajor = 1;
inline constexpr uint32_t kFormatMinor = 0;
inline constexpr size_t kSegmentAlignment = 64;  // every Buffer.offset and the segment start

struct FileHeader {
  char magic[8];             // kMagic
  uint32_t format_major;     // kFormatMajor
  uint32_t format_minor;     // kFormatMinor
  uint64_t flatbuffer_offset;  // == sizeof(FileHeader)
  uint64_t flatbuffer_size;
  uint64_t segment_offset;   // multiple of kSegmentAlignment, >= flatbuffer end
  uint64_t segment_size;
  uint64_t file_size;        // total bytes; a shorter file is truncated
  uint64_t reserved;         // zero
};
static_assert(sizeof(FileHeader) == 64, "FileHeader is 64 bytes on disk");

inline constexpr uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace edgert::format
