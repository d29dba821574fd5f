#include "latentlab/plot.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
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

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> out;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return out;
  double raw = (hi - lo) / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double k = std::ceil(lo / step); k * step <= hi + 1e-9 * step; k += 1) out.push_back(k == 0 ? 0.0 : k * step);
  return out;
}

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
  // round tick values (1, 2, 2.5 or 5 times a power of ten), labels centred under x ticks and
  // right-aligned a few pixels left of y ticks, so none touches the axis
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  int base = 0;
  for (double xv : nice_ticks(x0, x1, 5)) {
    cv::line(img, {px(xv), top + h}, {px(xv), top + h + 5}, cv::Scalar(0, 0, 0));
    auto sz = cv::getTextSize(fmt(xv), font, 0.4, 1, &base);
    cv::putText(img, fmt(xv), {px(xv) - sz.width / 2, top + h + 9 + sz.height}, font, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  for (double yv : nice_ticks(y0, y1, 5)) {
    cv::line(img, {left - 5, py(yv)}, {left, py(yv)}, cv::Scalar(0, 0, 0));
    auto sz = cv::getTextSize(fmt(yv), font, 0.4, 1, &base);
    cv::putText(img, fmt(yv), {left - 9 - sz.width, py(yv) + sz.height / 2}, font, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  // the title in one line across the picture: smaller type, then shortened with "...", until it fits
  {
    std::string t = title;
    double scale = 0.6;
    const int room = s - 2 * 10;
    while (cv::getTextSize(t, font, scale, 1, &base).width > room && scale > 0.4) scale -= 0.05;
    while (t.size() > 4 && cv::getTextSize(t, font, scale, 1, &base).width > room) t = t.substr(0, t.size() - 4) + "...";
    cv::putText(img, t, {10, 25}, font, scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
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
