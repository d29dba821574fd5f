// The image-folder path (OpenCV decode, resize, crop, channel handling) on one arbitrary file; the
// first byte picks its extension, channels and size.
#include <filesystem>

#include "fuzz.h"
#include "latentlab/data.h"
#include "latentlab/error.h"

LATENTLAB_FUZZ_TARGET(image) {
  if (size == 0) return;
  static const char* ext[] = {".png", ".jpg", ".bmp", ".jpeg"};
  std::string folder = latentlab::fuzz::scratch() + "/images";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  latentlab::fuzz::write_file(folder + "/a" + ext[data[0] & 3], data + 1, size - 1);
  latentlab::FolderOptions o;
  o.path = folder;
  o.channels = (data[0] & 4) ? 1 : 3;
  o.image_size = (data[0] & 8) ? 8 : 32;
  o.strict = data[0] & 16;
  static std::FILE* quiet = std::fopen("/dev/null", "w");
  LATENTLAB_FUZZ_EXPECTED_ERRORS({
    auto s = latentlab::load_image_folder(o, quiet);
    if (s.train.images.size(1) != o.channels || s.train.images.size(2) != o.image_size) __builtin_trap();
  });
}
