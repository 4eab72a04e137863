// Progress bars for `ipa-client fetch` and `sync`: one line per resource type, redrawn in place
// on a terminal with the count, a bar when the server gave a total, and the rate. When disabled
// (stdout is not a terminal) it prints nothing: callers print their plain lines instead.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace ipa::client {

class ProgressBar {
 public:
  // `clock` returns seconds (steady); the default is std::chrono::steady_clock.
  ProgressBar(std::ostream& out, bool enabled, std::function<double()> clock = {});

  bool enabled() const { return enabled_; }
  // Starts a new line for `label`; `total` < 0 when unknown.
  void start(const std::string& label, int64_t total = -1);
  void set_total(int64_t total);
  // Adds `n` items and redraws (at most every 100 ms, and always when the total is reached).
  void add(int64_t n);
  // Draws the final state followed by `note` and a newline.
  void finish(const std::string& note = "");

  // The line as it is drawn now (without "\r"), e.g.
  // "  Observation          [#######.............]    120/340   35.2/s".
  std::string render() const;

 private:
  void draw();
  std::ostream& out_;
  bool enabled_;
  std::function<double()> clock_;
  std::string label_;
  int64_t total_ = -1;
  int64_t count_ = 0;
  double started_ = 0;
  double last_draw_ = -1;
  bool active_ = false;
};

// Returns whether file descriptor `fd` is a terminal (isatty).
bool is_terminal(int fd);

}  // namespace ipa::client
