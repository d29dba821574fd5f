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

namespace {
// The value of `key` in a .npy header, a Python dict literal: a tuple "(...)" whole, anything else up to
// the next comma or the closing brace, without surrounding spaces.
std::string npy_field(const std::string& header, const std::string& key, const std::string& path) {
  const std::string tag = "'" + key + "':";
  const size_t at = header.find(tag);
  require(at != std::string::npos, path + ": not a NumPy .npy file this reader knows: its header has no '" + key + "'");
  const size_t start = header.find_first_not_of(' ', at + tag.size());
  if (start == std::string::npos) return "";
  const size_t end = header[start] == '(' ? header.find(')', start) : header.find_first_of(",}", start);
  if (end == std::string::npos) return header.substr(start);
  std::string v = header.substr(start, end - start + (header[start] == '(' ? 1 : 0));
  return v.substr(0, v.find_last_not_of(' ') + 1);
}
}  // namespace

torch::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), path + ": cannot open the file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  require(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, path + ": not a NumPy .npy file (it does not start with \\x93NUMPY)");
  const int major = static_cast<unsigned char>(bytes[6]);
  require(major >= 1 && major <= 3, path + ": .npy format version " + std::to_string(major) + " is not one this reader knows (1 to 3)");
  size_t header_len = 0, offset = 10;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  } else {
    require(bytes.size() >= 12, path + ": the .npy file is truncated in its header");
    for (int b = 3; b >= 0; --b) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + b]);
    offset = 12;
  }
  require(header_len <= bytes.size() - offset, path + ": the .npy file is truncated in its header");
  const std::string header = bytes.substr(offset, header_len);
  offset += header_len;
  const std::string descr = npy_field(header, "descr", path);
  torch::ScalarType type;
  if (descr == "'<f4'")
    type = torch::kFloat32;
  else if (descr == "'<f8'")
    type = torch::kFloat64;
  else if (descr == "'|u1'")
    type = torch::kUInt8;
  else if (descr == "'<i8'")
    type = torch::kInt64;
  else
    throw Error(path + ": .npy dtype " + descr + " is not supported; save the array as float32, float64, uint8 or int64");
  require(npy_field(header, "fortran_order", path) == "False",
          path + ": the array is stored in Fortran order; save it with numpy.ascontiguousarray first");
  const std::string shape = npy_field(header, "shape", path);
  require(shape.size() >= 2 && shape.front() == '(' && shape.back() == ')', path + ": the .npy shape " + shape + " is not a tuple");
  std::vector<int64_t> sizes;
  int64_t numel = 1;
  std::stringstream dims(shape.substr(1, shape.size() - 2));
  for (std::string d; std::getline(dims, d, ',');) {
    const size_t first = d.find_first_not_of(" "), last = d.find_last_not_of(" ");
    if (first == std::string::npos) continue;
    d = d.substr(first, last - first + 1);
    require(!d.empty() && d.size() <= 12 && d.find_first_not_of("0123456789") == std::string::npos,
            path + ": the .npy shape " + shape + " is not a tuple of sizes");
    sizes.push_back(std::stoll(d));
    require(sizes.back() == 0 || numel <= (int64_t(1) << 40) / sizes.back(), path + ": the .npy shape " + shape + " is too large");
    numel *= sizes.back();
  }
  const size_t want = static_cast<size_t>(numel) * c10::elementSize(type);
  require(bytes.size() - offset == want, path + ": the .npy file holds " + std::to_string(bytes.size() - offset) +
                                            " bytes of data where its shape " + shape + " needs " + std::to_string(want) +
                                            " (truncated or not written by numpy.save)");
  auto t = torch::empty(sizes, torch::TensorOptions(type));
  if (want > 0) std::memcpy(t.data_ptr(), bytes.data() + offset, want);
  return t;
}

torch::Tensor read_images_npy(const std::string& path, int64_t channels, int64_t height, int64_t width, int64_t min_images) {
  auto t = read_npy(path);
  if (t.dim() == 3 && channels == 1) t = t.unsqueeze(1);
  auto dims = [](const std::vector<int64_t>& v) {
    std::string s;
    for (auto d : v) s += (s.empty() ? "" : "x") + std::to_string(d);
    return s;
  };
  require(t.dim() == 4 && t.size(1) == channels && t.size(2) == height && t.size(3) == width,
          path + ": holds an array of shape " + dims(t.sizes().vec()) + "; expected images n x " +
              dims({channels, height, width}) + " (the dataset's)" + (channels == 1 ? " or n x " + dims({height, width}) : ""));
  require(t.size(0) >= min_images, path + ": holds " + std::to_string(t.size(0)) + " images; at least " +
                                       std::to_string(min_images) + " are needed");
  require(t.scalar_type() != torch::kInt64, path + ": holds int64 values; images are float in [0, 1] or uint8");
  if (t.scalar_type() == torch::kUInt8) return t.to(torch::kFloat32).div_(255.0);
  t = t.to(torch::kFloat32);
  const double lo = t.min().item<double>(), hi = t.max().item<double>();
  require(std::isfinite(lo) && std::isfinite(hi) && lo >= 0 && hi <= 1,
          path + ": values run from " + std::to_string(lo) + " to " + std::to_string(hi) +
              "; images must be in [0, 1] (map a tanh generator's [-1, 1] output with (x + 1) / 2)");
  return t;
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
