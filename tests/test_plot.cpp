// The scatter plot: size, the class colours where the points are, the legend, and bad input.
#include <opencv2/imgcodecs.hpp>

#include "common.h"
#include "latentlab/plot.h"

namespace latentlab::test {

class PlotTest : public Seeded {};

TEST_F(PlotTest, PointsTakeTheirClassColour) {
  // two tight clusters: class 0 at (0, 0), class 1 at (10, 10)
  auto xy = torch::cat({torch::randn({200, 2}) * 0.1, torch::randn({200, 2}) * 0.1 + 10});
  auto labels = torch::cat({torch::zeros({200}, torch::kInt64), torch::ones({200}, torch::kInt64)});
  auto img = scatter_plot(xy, labels, {"zero", "one"}, "test", 400);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{400, 400, 3}));
  auto count = [&](int64_t cls) {
    auto c = class_colour(cls);
    auto m = (img.select(2, 0) == c[0]) & (img.select(2, 1) == c[1]) & (img.select(2, 2) == c[2]);
    return m;
  };
  auto m0 = count(0), m1 = count(1);
  EXPECT_GT(m0.sum().item<int64_t>(), 50);
  EXPECT_GT(m1.sum().item<int64_t>(), 50);
  // class 0 sits bottom-left of the plot area, class 1 top-right (ignoring the legend swatches at x > 250)
  auto cols = torch::arange(400).unsqueeze(0).expand({400, 400});
  auto rows = torch::arange(400).unsqueeze(1).expand({400, 400});
  auto plot_area = cols < 250;
  EXPECT_GT(((m0 & plot_area) & (rows > 200) & (cols < 150)).sum().item<int64_t>(), 20);
  EXPECT_GT(((m1 & plot_area) & (rows < 200) & (cols > 150)).sum().item<int64_t>(), 20);
  write_scatter_png(path("s.png"), xy, labels, {"zero", "one"}, "test", 400);
  auto back = cv::imread(path("s.png"));
  EXPECT_EQ(back.rows, 400);
}

TEST_F(PlotTest, BadInputIsRefused) {
  EXPECT_ERROR_WITH(scatter_plot(torch::zeros({3, 3}), torch::zeros({3}, torch::kInt64), {}, ""), "[N, 2]");
  EXPECT_ERROR_WITH(scatter_plot(torch::zeros({3, 2}), torch::zeros({2}, torch::kInt64), {}, ""), "one label per point");
  auto nan = torch::zeros({2, 2});
  nan[0][0] = NAN;
  EXPECT_ERROR_WITH(scatter_plot(nan, torch::zeros({2}, torch::kInt64), {}, ""), "NaN");
}

TEST(Plot, TicksAreRoundNumbersInsideTheRange) {
  EXPECT_EQ(nice_ticks(-0.37, 1.92, 5), (std::vector<double>{0.0, 0.5, 1.0, 1.5}));
  EXPECT_EQ(nice_ticks(0, 100, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(nice_ticks(-3.3, 3.3, 5), (std::vector<double>{-2, 0, 2}));
  EXPECT_EQ(nice_ticks(-3.3, 3.3, 8), (std::vector<double>{-3, -2, -1, 0, 1, 2, 3}));
  EXPECT_TRUE(nice_ticks(1, 1, 5).empty());
}

}  // namespace latentlab::test
