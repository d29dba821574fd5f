#include "latentlab/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "latentlab/error.h"

namespace latentlab {

torch::Tensor make_grid(const torch::Tensor& images, int64_t nrow, int64_t padding) {
  TORCH_CHECK(images.dim() == 4, "make_grid expects [n, C, H, W]");
  auto x = images.detach().to(torch::kCPU, torch::kFloat32).clamp(0, 1);
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  nrow = std::max<int64_t>(1, std::min(nrow, n));
  int64_t rows = (n + nrow - 1) / nrow;
  auto grid = torch::zeros({c, rows * (h + padding) + padding, nrow * (w + padding) + padding});
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = i / nrow, col = i % nrow;
    grid.slice(1, padding + r * (h + padding), padding + r * (h + padding) + h)
        .slice(2, padding + col * (w + padding), padding + col * (w + padding) + w)
        .copy_(x[i]);
  }
  return grid.mul(255).round_().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

void check_png_grid(const std::string& path, int64_t n, int64_t height, int64_t width, int64_t nrow, int64_t padding) {
  nrow = std::max<int64_t>(1, std::min(nrow, n));
  int64_t rows = (n + nrow - 1) / nrow;
  int64_t gh = rows * (height + padding) + padding, gw = nrow * (width + padding) + padding;
  if (gh > kMaxPngSide || gw > kMaxPngSide || gh * gw > kMaxPngPixels)
    throw Error(path + ": a grid of " + std::to_string(n) + " images with " + std::to_string(nrow) + " per row would be " +
                std::to_string(gw) + " x " + std::to_string(gh) + " pixels, more than a PNG grid may hold (" +
                std::to_string(kMaxPngSide) + " per side, " + std::to_string(kMaxPngPixels) +
                " pixels); write a .npy array instead, or choose --nrow near " +
                std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(double(n)))))) + " for a square grid");
}

void write_png_grid(const std::string& path, const torch::Tensor& images, int64_t nrow) {
  TORCH_CHECK(images.dim() == 4, "write_png_grid expects [n, C, H, W]");
  check_png_grid(path, images.size(0), images.size(2), images.size(3), nrow);
  auto g = make_grid(images, nrow);
  int c = static_cast<int>(g.size(2));
  TORCH_CHECK(c == 1 || c == 3, "PNG grids need 1 or 3 channels");
  cv::Mat m(static_cast<int>(g.size(0)), static_cast<int>(g.size(1)), c == 1 ? CV_8UC1 : CV_8UC3, g.data_ptr<uint8_t>());
  cv::Mat out = m;
  if (c == 3) cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
  std::vector<uchar> buf;
  if (!cv::imencode(".png", out, buf)) throw Error("cannot encode PNG for " + path);
  atomic_write(path, std::string(buf.begin(), buf.end()));
}

void write_reconstruction_grid(const std::string& path, const torch::Tensor& x, const torch::Tensor& y,
                               int64_t per_row) {
  TORCH_CHECK(x.sizes() == y.sizes() && x.dim() == 4, "reconstruction grid: inputs and outputs must match");
  int64_t n = x.size(0), rows = (n + per_row - 1) / per_row;
  auto pad = [&](const torch::Tensor& t) {
    auto out = torch::zeros({rows * per_row, t.size(1), t.size(2), t.size(3)});
    out.slice(0, 0, n).copy_(t.detach().to(torch::kCPU, torch::kFloat32));
    return out.reshape({rows, per_row, t.size(1), t.size(2), t.size(3)});
  };
  auto pairs = torch::stack({pad(x), pad(y)}, 1).reshape({-1, x.size(1), x.size(2), x.size(3)});
  write_png_grid(path, pairs, per_row);
}

void write_npy(const std::string& path, const torch::Tensor& t_in) {
  auto t = t_in.detach().to(torch::kCPU).contiguous();
  std::string descr;
  switch (t.scalar_type()) {
    case torch::kFloat32: descr = "<f4"; break;
    case torch::kInt64: descr = "<i8"; break;
    case torch::kUInt8: descr = "|u1"; break;
    default: throw Error("write_npy: unsupported dtype for " + path);
  }
  std::string shape = "(";
  for (int64_t d = 0; d < t.dim(); ++d) shape += std::to_string(t.size(d)) + (t.dim() == 1 || d + 1 < t.dim() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  uint16_t hl = static_cast<uint16_t>(header.size());
  bytes += static_cast<char>(hl & 0xff);
  bytes += static_cast<char>(hl >> 8);
  bytes += header;
  bytes.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  atomic_write(path, bytes);
}

void check_image_output(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  if (ext != ".npy" && ext != ".png")
    throw Error("-o " + path + ": the output must end in .png (an image grid) or .npy (a NumPy array)");
}

void write_images(const std::string& path, const torch::Tensor& images, int64_t nrow) {
  check_image_output(path);
  auto ext = std::filesystem::path(path).extension().string();
  if (ext == ".npy")
    write_npy(path, images.detach().to(torch::kCPU, torch::kFloat32).clamp(0, 1));
  else
    write_png_grid(path, images, nrow);
}

}  // namespace latentlab
