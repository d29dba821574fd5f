#pragma once
// Plots drawn with OpenCV's drawing functions: the scatter of 2-D codes coloured by label.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace latentlab {

/// The colour (R, G, B) of class i: the ten "tab10" colours, repeated.
std::array<uint8_t, 3> class_colour(int64_t i);

/// Draws points xy [N, 2] coloured by labels [N] (int64, 0-based) on a size x size white canvas with
/// axes, tick values, a title and a legend of `names` (one per label; missing names are the label
/// numbers). Returns uint8 [size, size, 3] (RGB).
torch::Tensor scatter_plot(const torch::Tensor& xy, const torch::Tensor& labels, const std::vector<std::string>& names,
                           const std::string& title, int64_t size = 800);

/// scatter_plot written as a PNG (atomically).
void write_scatter_png(const std::string& path, const torch::Tensor& xy, const torch::Tensor& labels,
                       const std::vector<std::string>& names, const std::string& title, int64_t size = 800);

/// Round tick values (1, 2, 2.5 or 5 times a power of ten apart) within [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace latentlab
