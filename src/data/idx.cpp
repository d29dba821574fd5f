#include <zlib.h>

#include <cstdio>
#include <memory>

#include <cstring>

#include "latentlab/data.h"
#include "latentlab/error.h"

namespace latentlab {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// Reads exactly n bytes or returns how many it could; throws on a decompression error.
int64_t read_bytes(gzFile f, void* dst, int64_t n, const std::string& path) {
  auto* out = static_cast<char*>(dst);
  int64_t done = 0;
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - done, 1 << 30));
    int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      throw Error(path + ": corrupt gzip data (" + (msg ? msg : "zlib error") +
                  "); fetch the file again");
    }
    if (got == 0) break;
    done += got;
  }
  return done;
}

const char* idx_type_name(int code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return nullptr;
  }
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::FILE* probe = std::fopen(path.c_str(), "rb");
  if (!probe) throw Error(path + ": cannot open IDX file (" + std::strerror(errno) + ")");
  unsigned char head[2] = {0, 0};
  size_t head_len = std::fread(head, 1, 2, probe);
  std::fclose(probe);
  if (head_len == 0) throw Error(path + ": empty file; expected an IDX file (fetch the data again)");
  bool is_gzip = head_len == 2 && head[0] == 0x1f && head[1] == 0x8b;
  if (ends_with(path, ".gz") && !is_gzip)
    throw Error(path + ": not gzip data although the name ends in .gz; decompress or rename it");

  GzHandle f(gzopen(path.c_str(), "rb"));
  if (!f) throw Error(path + ": cannot open IDX file");
  gzbuffer(f.get(), 1 << 20);

  unsigned char magic[4];
  if (read_bytes(f.get(), magic, 4, path) < 4)
    throw Error(path + ": truncated IDX header (fewer than 4 bytes)");
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(path + ": wrong magic number (first two bytes must be 0); not an IDX file");
  const char* type = idx_type_name(magic[2]);
  if (!type) throw Error(path + ": unknown IDX element type code " + std::to_string(magic[2]));
  if (magic[2] != 0x08)
    throw Error(path + ": IDX element type is " + type + "; latentlab reads unsigned byte images and labels");
  int ndims = magic[3];
  if (ndims < 1 || ndims > 4)
    throw Error(path + ": IDX file has " + std::to_string(ndims) + " dimensions; expected 1 to 4");

  std::vector<int64_t> dims(ndims);
  int64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    unsigned char b[4];
    if (read_bytes(f.get(), b, 4, path) < 4) throw Error(path + ": truncated IDX header (dimension sizes)");
    dims[d] = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | int64_t(b[3]);
    if (dims[d] == 0) throw Error(path + ": IDX file is empty (dimension " + std::to_string(d) + " is 0)");
    if (dims[d] > (int64_t(1) << 36) / count) throw Error(path + ": IDX dimensions are implausibly large");
    count *= dims[d];
  }
  // Read in chunks rather than allocating what the header promises: a short file with a huge header
  // is reported as truncated instead of allocating gigabytes first.
  std::vector<uint8_t> buf;
  int64_t got = 0;
  while (got < count) {
    int64_t want = std::min<int64_t>(count - got, int64_t(1) << 24);
    buf.resize(static_cast<size_t>(got + want));
    int64_t n = read_bytes(f.get(), buf.data() + got, want, path);
    got += n;
    if (n < want) break;
  }
  if (got < count)
    throw Error(path + ": truncated: header promises " + std::to_string(count) + " bytes of data, file holds " +
                std::to_string(got) + "; fetch the file again");
  char extra;
  if (read_bytes(f.get(), &extra, 1, path) != 0)
    throw Error(path + ": longer than its header says (trailing bytes); the dimensions do not match the file");
  torch::Tensor data = torch::empty(dims, torch::kUInt8);
  std::memcpy(data.data_ptr<uint8_t>(), buf.data(), static_cast<size_t>(count));
  return {dims, data};
}

}  // namespace latentlab
