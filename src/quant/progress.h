// The text of a progress line for long quantization loops (calibration, GPTQ, AWQ, the demo's
// variants): what, a bar, done/total, elapsed time and the time left. Kept apart from the terminal
// handling (tools/hone/sweep_output.h ProgressLine) so that it can be tested.
#pragma once

#include <cstdint>
#include <string>

namespace hone::quant {

// "12 s", "2m05s", "1h02m": short enough for a progress line; negative or non-finite -> "?".
std::string format_duration(double seconds);

// "calibrate [#####               ] 16/64  4.0 s, ETA 12 s"
// elapsed_seconds is the time since the stage's first report, which said `first_done` steps were
// done (0 when it reported before any work). ETA = elapsed / (done - first_done) * (total - done)
// (a linear extrapolation: every sample costs about the same); no ETA until a step has been timed.
// Done: "calibrate [####################] 64/64  16 s". `what` longer than 60 characters is cut;
// width is the bar's width in characters.
std::string format_progress(const std::string& what, int64_t done, int64_t total, double elapsed_seconds,
                            int width = 20, int64_t first_done = 0);

}  // namespace hone::quant
