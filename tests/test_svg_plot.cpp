#include <gtest/gtest.h>

#include "common/io/svg_plot.h"

using namespace sog;

TEST(SvgPlot, NiceTicksAreRoundNumbers) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(1.3, 4.1, 3), (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(nice_ticks(0, 2000, 4), (std::vector<double>{0, 500, 1000, 1500, 2000}));
}

TEST(SvgPlot, RendersAxesLabelsSeriesAndLegend) {
  SvgPlot p("loss <curve>", "step", "loss");
  p.add_series("train", {0, 1, 2}, {5.5, 3.0, 2.0});
  p.add_series("val", {0, 2}, {5.6, 2.2});
  p.add_hline("ln V", 5.545);
  std::string svg = p.render();
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("loss &lt;curve&gt;"), std::string::npos);  // escaped title
  EXPECT_NE(svg.find(">step<"), std::string::npos);
  EXPECT_NE(svg.find(">train<"), std::string::npos);
  EXPECT_NE(svg.find(">val<"), std::string::npos);
  EXPECT_NE(svg.find(">ln V<"), std::string::npos);
  size_t polylines = 0;
  for (size_t i = svg.find("<polyline"); i != std::string::npos; i = svg.find("<polyline", i + 1)) polylines++;
  EXPECT_EQ(polylines, 2u);
}

TEST(SvgPlot, MismatchedSeriesIsAnError) {
  SvgPlot p("t", "x", "y");
  EXPECT_THROW(p.add_series("bad", {1, 2}, {1}), std::invalid_argument);
}

TEST(SvgPlot, GridPlacesEachPanelInItsCell) {
  std::vector<SvgPlot> plots;
  for (const char* name : {"reward", "kl", "entropy"}) {
    SvgPlot p(name, "step", name);
    p.add_series(name, {0, 1, 2}, {1.0, 2.0, 1.5});
    plots.push_back(p);
  }
  const std::string svg = render_grid(plots, 2, 300, 200);
  // 2 columns × 2 rows of 300 × 200, the three panels nested at (0,0), (300,0), (0,200)
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"400\"", 0), 0u);
  EXPECT_NE(svg.find("<svg x=\"0\" y=\"0\" "), std::string::npos);
  EXPECT_NE(svg.find("<svg x=\"300\" y=\"0\" "), std::string::npos);
  EXPECT_NE(svg.find("<svg x=\"0\" y=\"200\" "), std::string::npos);
  size_t opened = 0, closed = 0;
  for (size_t i = svg.find("<svg"); i != std::string::npos; i = svg.find("<svg", i + 1)) opened++;
  for (size_t i = svg.find("</svg>"); i != std::string::npos; i = svg.find("</svg>", i + 1)) closed++;
  EXPECT_EQ(opened, 4u);
  EXPECT_EQ(closed, 4u);
  EXPECT_NE(svg.find(">entropy<"), std::string::npos);
  EXPECT_THROW(render_grid({}, 2), std::invalid_argument);
  EXPECT_THROW(render_grid(plots, 0), std::invalid_argument);
}
