#pragma once
// Images and arrays written to disk: PNG grids (with their size checks) and NumPy .npy files, each
// written atomically through files.h, which this header includes.
#include <torch/torch.h>

#include <string>

#include "latentlab/files.h"

namespace latentlab {

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

/// Reads a NumPy .npy file (format 1.0-3.0; float32, float64, uint8 or int64, little-endian, C order,
/// as numpy.save writes them) into a CPU tensor of its dtype and shape. Throws latentlab::Error naming
/// `path` and the fault for anything else: a missing or truncated file, another dtype, Fortran order.
torch::Tensor read_npy(const std::string& path);

/// Images made elsewhere (a PyTorch generator's samples) from a .npy file, as float32 [n, C, H, W] in
/// [0, 1]: float arrays must hold values in [0, 1], uint8 arrays are divided by 255, and [n, H, W] is
/// read as one channel. Throws latentlab::Error naming `path` unless the images are channels x height x
/// width (the dataset's) and at least `min_images` of them.
torch::Tensor read_images_npy(const std::string& path, int64_t channels, int64_t height, int64_t width, int64_t min_images = 1);

/// Writes images either as a PNG grid or, when `path` ends in .npy, as a float32 array [n, C, H, W].
void write_images(const std::string& path, const torch::Tensor& images, int64_t nrow = 8);

}  // namespace latentlab
