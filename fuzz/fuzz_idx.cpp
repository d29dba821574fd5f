// The IDX reader on arbitrary bytes: the first byte picks a plain file or a gzip-compressed one.
#include <zlib.h>

#include "fuzz.h"
#include "latentlab/data.h"
#include "latentlab/error.h"

LATENTLAB_FUZZ_TARGET(idx) {
  if (size == 0) return;
  bool gz = data[0] & 1;
  std::string path = latentlab::fuzz::scratch() + (gz ? "/input.gz" : "/input");
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (size > 1) gzwrite(f, data + 1, static_cast<unsigned>(size - 1));
    gzclose(f);
  } else {
    latentlab::fuzz::write_file(path, data + 1, size - 1);
  }
  LATENTLAB_FUZZ_EXPECTED_ERRORS({
    auto a = latentlab::read_idx(path);
    int64_t n = 1;
    for (auto d : a.dims) n *= d;
    if (a.data.numel() != n) __builtin_trap();  // the tensor must hold exactly what the header says
  });
}
