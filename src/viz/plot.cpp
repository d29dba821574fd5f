#include "latentlab/plot.h"

#include <ATen/CPUGeneratorImpl.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "latentlab/error.h"
#include "latentlab/io.h"

namespace latentlab {
namespace {

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

cv::Scalar bgr(int64_t label) {
  auto c = class_colour(label);
  return cv::Scalar(c[2], c[1], c[0]);
}

}  // namespace

std::array<uint8_t, 3> class_colour(int64_t i) {
  static const uint8_t tab10[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                       {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  const uint8_t* c = tab10[((i % 10) + 10) % 10];
  return {c[0], c[1], c[2]};
}

torch::Tensor scatter_plot(const torch::Tensor& xy_in, const torch::Tensor& labels_in, const std::vector<std::string>& names,
                           const std::string& title, int64_t size) {
  require(xy_in.dim() == 2 && xy_in.size(1) == 2, "scatter: points must be [N, 2]");
  require(labels_in.dim() == 1 && labels_in.size(0) == xy_in.size(0), "scatter: one label per point");
  require(xy_in.size(0) >= 1, "scatter: no points");
  require(size >= 200 && size <= 8192, "scatter: size must be in [200, 8192]");
  auto xy = xy_in.to(torch::kFloat64).contiguous();
  auto labels = labels_in.to(torch::kInt64).contiguous();
  require(torch::isfinite(xy).all().item<bool>(), "scatter: the points hold NaN or infinite values");
  const int s = static_cast<int>(size), left = 70, right = 150, top = 40, bottom = 50;
  cv::Mat img(s, s, CV_8UC3, cv::Scalar(255, 255, 255));
  double x0 = xy.select(1, 0).min().item<double>(), x1 = xy.select(1, 0).max().item<double>();
  double y0 = xy.select(1, 1).min().item<double>(), y1 = xy.select(1, 1).max().item<double>();
  double mx = std::max(1e-9, (x1 - x0)) * 0.03, my = std::max(1e-9, (y1 - y0)) * 0.03;
  x0 -= mx, x1 += mx, y0 -= my, y1 += my;
  const int w = s - left - right, h = s - top - bottom;
  auto px = [&](double x) { return left + static_cast<int>((x - x0) / (x1 - x0) * w); };
  auto py = [&](double y) { return top + h - static_cast<int>((y - y0) / (y1 - y0) * h); };
  cv::rectangle(img, {left, top}, {left + w, top + h}, cv::Scalar(0, 0, 0), 1);
  for (int t = 0; t <= 4; ++t) {
    double xv = x0 + (x1 - x0) * t / 4, yv = y0 + (y1 - y0) * t / 4;
    cv::line(img, {px(xv), top + h}, {px(xv), top + h + 5}, cv::Scalar(0, 0, 0));
    cv::putText(img, fmt(xv), {px(xv) - 15, top + h + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::line(img, {left - 5, py(yv)}, {left, py(yv)}, cv::Scalar(0, 0, 0));
    cv::putText(img, fmt(yv), {5, py(yv) + 4}, cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::putText(img, title, {left, 25}, cv::FONT_HERSHEY_SIMPLEX, 0.6, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  // points in a fixed shuffled order, so no class is drawn entirely on top of another
  const int64_t n = xy.size(0);
  auto order = torch::randperm(n, at::detail::createCPUGenerator(0), torch::kInt64);
  const double* p = xy.data_ptr<double>();
  const int64_t* l = labels.data_ptr<int64_t>();
  const int64_t* o = order.data_ptr<int64_t>();
  for (int64_t k = 0; k < n; ++k) {
    int64_t i = o[k];
    cv::circle(img, {px(p[2 * i]), py(p[2 * i + 1])}, 2, bgr(l[i]), cv::FILLED, cv::LINE_AA);
  }
  // legend
  int64_t classes = labels.max().item<int64_t>() + 1;
  for (int64_t c = 0; c < classes && c < 40; ++c) {
    int y = top + 10 + static_cast<int>(c) * 18;
    cv::rectangle(img, {left + w + 15, y - 8}, {left + w + 27, y + 4}, bgr(c), cv::FILLED);
    std::string name = c < static_cast<int64_t>(names.size()) ? names[c] : std::to_string(c);
    cv::putText(img, name.substr(0, 16), {left + w + 33, y + 3}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::Mat rgb;
  cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  return torch::from_blob(rgb.data, {s, s, 3}, torch::kUInt8).clone();
}

void write_scatter_png(const std::string& path, const torch::Tensor& xy, const torch::Tensor& labels,
                       const std::vector<std::string>& names, const std::string& title, int64_t size) {
  auto img = scatter_plot(xy, labels, names, title, size);
  cv::Mat rgb(static_cast<int>(img.size(0)), static_cast<int>(img.size(1)), CV_8UC3, img.data_ptr<uint8_t>()), bgr_img;
  cv::cvtColor(rgb, bgr_img, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> png;
  require(cv::imencode(".png", bgr_img, png), path + ": PNG encoding failed");
  atomic_write(path, std::string(png.begin(), png.end()));
}

}  // namespace latentlab
