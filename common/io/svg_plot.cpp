#include "common/io/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "common/io/atomic_file.h"

namespace sog {

static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

SvgPlot::SvgPlot(std::string title, std::string x_label, std::string y_label)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

void SvgPlot::add_series(std::string name, std::vector<double> x, std::vector<double> y) {
  if (x.size() != y.size()) {
    throw std::invalid_argument("SvgPlot::add_series '" + name + "': " + std::to_string(x.size()) + " x values but " +
                                std::to_string(y.size()) + " y values");
  }
  series_.push_back({std::move(name), std::move(x), std::move(y)});
}

void SvgPlot::add_hline(std::string name, double y) { hlines_.push_back({std::move(name), y}); }

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / std::max(1, count);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

static std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

static std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string SvgPlot::render(int width, int height) const {
  const double left = 64, right = 16, top = 36, bottom = 52;
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : series_) {
    for (size_t i = 0; i < s.x.size(); i++) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }
  }
  for (const auto& h : hlines_) ymin = std::min(ymin, h.y), ymax = std::max(ymax, h.y);
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1;
  double pad = 0.05 * (ymax - ymin);
  ymin -= pad, ymax += pad;
  const double pw = width - left - right, ph = height - top - bottom;
  auto X = [&](double x) { return left + (x - xmin) / (xmax - xmin) * pw; };
  auto Y = [&](double y) { return top + (1.0 - (y - ymin) / (ymax - ymin)) * ph; };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << width / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" << escape(title_)
    << "</text>\n";
  for (double t : nice_ticks(xmin, xmax, 8)) {
    o << "<line x1=\"" << X(t) << "\" y1=\"" << top << "\" x2=\"" << X(t) << "\" y2=\"" << top + ph
      << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << X(t) << "\" y=\"" << top + ph + 16 << "\" text-anchor=\"middle\">" << fmt(t) << "</text>\n";
  }
  for (double t : nice_ticks(ymin, ymax, 6)) {
    o << "<line x1=\"" << left << "\" y1=\"" << Y(t) << "\" x2=\"" << left + pw << "\" y2=\"" << Y(t)
      << "\" stroke=\"#eee\"/>\n";
    o << "<text x=\"" << left - 6 << "\" y=\"" << Y(t) + 4 << "\" text-anchor=\"end\">" << fmt(t) << "</text>\n";
  }
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#333\"/>\n";
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << height - 12 << "\" text-anchor=\"middle\">" << escape(x_label_)
    << "</text>\n";
  o << "<text transform=\"translate(16," << top + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << escape(y_label_) << "</text>\n";
  size_t legend_row = 0;
  for (const auto& h : hlines_) {
    o << "<line x1=\"" << left << "\" y1=\"" << Y(h.y) << "\" x2=\"" << left + pw << "\" y2=\"" << Y(h.y)
      << "\" stroke=\"#777\" stroke-dasharray=\"6,4\"/>\n";
    o << "<text x=\"" << left + pw - 4 << "\" y=\"" << Y(h.y) - 4 << "\" text-anchor=\"end\" fill=\"#555\">"
      << escape(h.name) << "</text>\n";
  }
  for (size_t k = 0; k < series_.size(); k++) {
    const auto& s = series_[k];
    const char* color = kColors[k % (sizeof(kColors) / sizeof(kColors[0]))];
    o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
    for (size_t i = 0; i < s.x.size(); i++) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      o << X(s.x[i]) << "," << Y(s.y[i]) << " ";
    }
    o << "\"/>\n";
    double ly = top + 14 + 16 * static_cast<double>(legend_row++);
    o << "<line x1=\"" << left + pw - 110 << "\" y1=\"" << ly - 4 << "\" x2=\"" << left + pw - 90 << "\" y2=\""
      << ly - 4 << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
    o << "<text x=\"" << left + pw - 84 << "\" y=\"" << ly << "\">" << escape(s.name) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

void SvgPlot::save(const std::string& path) const { write_file_atomic(path, render()); }

std::string render_grid(const std::vector<SvgPlot>& plots, int columns, int panel_width, int panel_height) {
  if (plots.empty()) throw std::invalid_argument("render_grid: no plot to draw");
  if (columns < 1) throw std::invalid_argument("render_grid: columns must be ≥ 1");
  const int n = static_cast<int>(plots.size());
  const int cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << cols * panel_width << "\" height=\""
    << rows * panel_height << "\">\n";
  for (int i = 0; i < n; i++) {
    std::string panel = plots[i].render(panel_width, panel_height);
    const std::string open = "<svg ";
    const size_t at = panel.find(open);
    // A nested <svg> is placed by its x and y.
    panel.insert(at + open.size(), "x=\"" + std::to_string((i % cols) * panel_width) + "\" y=\"" +
                                       std::to_string((i / cols) * panel_height) + "\" ");
    o << panel.substr(at);
  }
  o << "</svg>\n";
  return o.str();
}

void save_grid(const std::string& path, const std::vector<SvgPlot>& plots, int columns, int panel_width,
               int panel_height) {
  write_file_atomic(path, render_grid(plots, columns, panel_width, panel_height));
}

}  // namespace sog
