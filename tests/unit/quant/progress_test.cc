#include "quant/progress.h"

#include <gtest/gtest.h>

#include <cmath>

namespace hone::quant {
namespace {

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0.0 s");
  EXPECT_EQ(format_duration(4.04), "4.0 s");
  EXPECT_EQ(format_duration(12.9), "12 s");
  EXPECT_EQ(format_duration(125), "2m05s");
  EXPECT_EQ(format_duration(3600 + 2 * 60 + 5), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(NAN), "?");
  EXPECT_EQ(format_duration(1e30), ">1000000h");
}

TEST(Progress, BarAndEta) {
  // A quarter done in 4 s: 12 s left at the same pace.
  EXPECT_EQ(format_progress("calibrate", 16, 64, 4.0), "calibrate [#####               ] 16/64  4.0 s, ETA 12 s");
  // No ETA before the first step, none once done.
  EXPECT_EQ(format_progress("calibrate", 0, 64, 0.5), "calibrate [                    ] 0/64  0.5 s");
  EXPECT_EQ(format_progress("calibrate", 64, 64, 16.0), "calibrate [####################] 64/64  16 s");
  EXPECT_EQ(format_progress("gptq", 1, 3, 20.0, 6), "gptq [##    ] 1/3  20 s, ETA 40 s");
  // The stage's first report came after one step (the calibration loop reports after each sample):
  // only the steps since then are timed, so no ETA from that report alone.
  EXPECT_EQ(format_progress("calibrate", 1, 64, 0.0, 4, 1), "calibrate [    ] 1/64  0.0 s");
  EXPECT_EQ(format_progress("calibrate", 5, 64, 2.0, 4, 1), "calibrate [    ] 5/64  2.0 s, ETA 29 s");
}

TEST(Progress, OutOfRangeInputsStayReadable) {
  EXPECT_EQ(format_progress("x", 5, 0, 1.0, 4), "x [    ] 0/0  1.0 s");
  EXPECT_EQ(format_progress("x", 9, 4, 1.0, 4), "x [####] 4/4  1.0 s");
  EXPECT_EQ(format_progress("x", -3, 4, 1.0, 4), "x [    ] 0/4  1.0 s");
  const std::string long_name(100, 'a');
  EXPECT_EQ(format_progress(long_name, 1, 2, 1.0, 2).substr(0, 61), std::string(60, 'a') + " ");
}

}  // namespace
}  // namespace hone::quant
