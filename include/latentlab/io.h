#pragma once
// Files that are never seen half-written: everything is written to a temporary file beside the
// target, flushed, and renamed over it.
#include <torch/torch.h>

#include <string>

namespace latentlab {

/// Writes `bytes` to `path` atomically (temp file + fsync + rename). Throws latentlab::Error naming
/// the file and the reason (for example a full disk).
void atomic_write(const std::string& path, const std::string& bytes);

/// Throws latentlab::Error naming `flag` unless `path` can be written, before any work: nothing of the
/// other kind is in the way (a folder where a file is wanted, or a file where a folder is), and the
/// nearest existing folder at or above it is writable (missing folders are created on writing).
/// Creates nothing.
void check_can_create(const std::string& path, const std::string& flag, bool folder = false);

/// Appends `line` (which ends in '\n') to `path` with one write (O_APPEND), creating the file. A
/// reader may see the line's end missing while it is written, or after a kill: line readers skip a
/// line that does not parse. Throws latentlab::Error naming the file and the reason.
void append_line(const std::string& path, const std::string& line);

/// Reads a whole file; throws latentlab::Error naming it when it cannot.
std::string read_file(const std::string& path);

/// Images [n, C, H, W] with values in [0, 1] as a grid with `nrow` images per row and `padding`
/// pixels between them: uint8 [H', W', C].
torch::Tensor make_grid(const torch::Tensor& images, int64_t nrow = 8, int64_t padding = 2);

/// Largest PNG grid written: libpng's default limit per side, and a bound on the pixels (memory).
constexpr int64_t kMaxPngSide = 1000000;
constexpr int64_t kMaxPngPixels = int64_t(1) << 28;

/// Throws latentlab::Error naming `path` when a grid of n images of height x width with `nrow` per
/// row would exceed what a PNG grid may hold; call it before the work that makes the images.
void check_png_grid(const std::string& path, int64_t n, int64_t height, int64_t width, int64_t nrow, int64_t padding = 2);

/// Throws unless `path` ends in .png or .npy (the outputs write_images knows).
void check_image_output(const std::string& path);

/// Writes images [n, C, H, W] in [0, 1] as a PNG grid (atomically).
void write_png_grid(const std::string& path, const torch::Tensor& images, int64_t nrow = 8);

/// Writes inputs x over their reconstructions y ([n, C, H, W] each) as a PNG grid: each row of
/// `per_row` inputs sits above the row of their reconstructions (missing places stay black).
void write_reconstruction_grid(const std::string& path, const torch::Tensor& x, const torch::Tensor& y,
                               int64_t per_row = 8);

/// Writes a tensor as a NumPy .npy file (float32, int64 or uint8; C order), atomically.
void write_npy(const std::string& path, const torch::Tensor& t);

/// Writes images either as a PNG grid or, when `path` ends in .npy, as a float32 array [n, C, H, W].
void write_images(const std::string& path, const torch::Tensor& images, int64_t nrow = 8);

}  // namespace latentlab
