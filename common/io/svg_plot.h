// A small SVG line plot: labelled axes, ticks, a legend; enough for loss curves in a report.
//
//   SvgPlot plot("pretraining loss", "step", "loss");
//   plot.add_series("train", steps, train_losses);
//   plot.add_series("val", val_steps, val_losses);
//   plot.save("loss.svg");   // atomic
#pragma once
#include <string>
#include <vector>

namespace sog {

class SvgPlot {
 public:
  SvgPlot(std::string title, std::string x_label, std::string y_label);
  void add_series(std::string name, std::vector<double> x, std::vector<double> y);
  void add_hline(std::string name, double y);  // a dashed reference line (e.g. ln V, a target)
  std::string render(int width = 720, int height = 420) const;
  void save(const std::string& path) const;

 private:
  struct Series {
    std::string name;
    std::vector<double> x, y;
  };
  struct HLine {
    std::string name;
    double y;
  };
  std::string title_, x_label_, y_label_;
  std::vector<Series> series_;
  std::vector<HLine> hlines_;
};

// Several plots in one SVG, `columns` to a row, each panel_width × panel_height (a dashboard).
// Each plot keeps its own axes and legend. Throws for no plot or columns < 1.
std::string render_grid(const std::vector<SvgPlot>& plots, int columns, int panel_width = 420,
                        int panel_height = 260);
void save_grid(const std::string& path, const std::vector<SvgPlot>& plots, int columns, int panel_width = 420,
               int panel_height = 260);

// "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count);

}  // namespace sog
