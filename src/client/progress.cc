#include "client/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace ipa::client {

namespace {
constexpr int kWidth = 20;
}  // namespace

ProgressBar::ProgressBar(std::ostream& out, bool enabled, std::function<double()> clock)
    : out_(out), enabled_(enabled), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
}

void ProgressBar::start(const std::string& label, int64_t total) {
  if (active_) finish();
  label_ = label;
  total_ = total;
  count_ = 0;
  started_ = clock_();
  last_draw_ = -1;
  active_ = true;
  draw();
}

void ProgressBar::set_total(int64_t total) { total_ = total; }

void ProgressBar::add(int64_t n) {
  count_ += n;
  double now = clock_();
  if (now - last_draw_ >= 0.1 || (total_ >= 0 && count_ >= total_)) draw();
}

void ProgressBar::finish(const std::string& note) {
  if (!active_) return;
  active_ = false;
  if (!enabled_) return;
  out_ << "\r" << render() << (note.empty() ? "" : "  " + note) << "\033[K\n";
  out_.flush();
}

std::string ProgressBar::render() const {
  char buf[160];
  std::string bar;
  if (total_ > 0) {
    int filled = static_cast<int>(std::min<int64_t>(count_, total_) * kWidth / total_);
    bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]";
  } else {
    bar = std::string(kWidth + 2, ' ');
  }
  double elapsed = clock_() - started_;
  double rate = elapsed > 0 ? static_cast<double>(count_) / elapsed : 0;
  std::string counts = std::to_string(count_);
  if (total_ >= 0) counts += "/" + std::to_string(total_);
  std::snprintf(buf, sizeof buf, "  %-20s %s %11s %8.1f/s", label_.c_str(), bar.c_str(),
                counts.c_str(), rate);
  return buf;
}

void ProgressBar::draw() {
  last_draw_ = clock_();
  if (!enabled_) return;
  out_ << "\r" << render() << "\033[K";
  out_.flush();
}

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

}  // namespace ipa::client
