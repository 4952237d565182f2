// How far apart the first two CPUs this process may run on are, as the cost of moving data
// between them: prints one JSON line
//
//   {"cpus": [0, 1], "roundtrip_ns": 52.1, "remote_read_us_per_mib": 12.0}
//
// roundtrip_ns: one thread on each CPU hands a counter back and forth through one cache line; the
// median over rounds of the time per round trip. remote_read_us_per_mib: one thread writes 1 MiB,
// the other then reads it (best of 20). bench/models/run.py and int8_compare.py record it with
// every round: on the 2-vCPU development VM the two vCPUs sit either on cores that share an L3
// (~50 ns, ~12 us) or on distant ones (~350 ns, ~37 us), and every multi-threaded runtime is
// slower in the second state (hone's bert_base int8 ~20 %, ONNX Runtime's ~30 %), so a round's
// figure means little without it. Built with the benchmarks, never run by ctest.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// The bounced counter, alone in its cache line (as a local on the stack it shared its line with
// other locals, and the round trip read ~80 ns where it is ~50).
struct alignas(64) Line {
  std::atomic<int64_t> value{0};
  char pad[64 - sizeof(std::atomic<int64_t>)];
};
Line g_line;

// Median ns per round trip of a counter bounced between cpu a (odd values) and cpu b (even).
double roundtrip_ns(int a, int b) {
  constexpr int kTrips = 20000, kRounds = 7;
  std::atomic<int64_t>& line = g_line.value;
  std::vector<double> per_round;
  for (int round = 0; round < kRounds; ++round) {
    line.store(0);
    std::thread echo([&] {
      pin_to(b);
      for (int64_t i = 0; i < kTrips; ++i) {
        while (line.load(std::memory_order_acquire) != 2 * i + 1) {
        }
        line.store(2 * i + 2, std::memory_order_release);
      }
    });
    pin_to(a);
    // Wait until the echo thread is on its CPU and spinning: the first hand-off starts the clock.
    line.store(1, std::memory_order_release);
    while (line.load(std::memory_order_acquire) != 2) {
    }
    const auto t0 = Clock::now();
    for (int64_t i = 1; i < kTrips; ++i) {
      line.store(2 * i + 1, std::memory_order_release);
      while (line.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    const auto t1 = Clock::now();
    echo.join();
    per_round.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / (kTrips - 1));
  }
  std::nth_element(per_round.begin(), per_round.begin() + kRounds / 2, per_round.end());
  return per_round[kRounds / 2];
}

// Best us to read 1 MiB that the thread on cpu `writer` has just written, from cpu `reader`.
double remote_read_us(int reader, int writer) {
  constexpr size_t kBytes = size_t{1} << 20;
  std::vector<char> buf(kBytes);
  pin_to(reader);
  double best = 1e30;
  for (int round = 0; round < 20; ++round) {
    std::thread w([&] {
      pin_to(writer);
      std::fill(buf.begin(), buf.end(), static_cast<char>(round));
    });
    w.join();
    const auto t0 = Clock::now();
    unsigned sum = 0;
    for (size_t i = 0; i < kBytes; i += 64) sum += static_cast<unsigned char>(buf[i]);
    const auto t1 = Clock::now();
    if (sum != static_cast<unsigned>(round) * (kBytes / 64)) {
      std::fprintf(stderr, "core_link: read back the wrong bytes\n");
      return -1;
    }
    best = std::min(best, std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return best;
}

}  // namespace

int main() {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    std::perror("core_link: sched_getaffinity");
    return 1;
  }
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2) {
    std::printf("{\"cpus\": [%d], \"roundtrip_ns\": null, \"remote_read_us_per_mib\": null}\n", cpus.empty() ? -1 : cpus[0]);
    return 0;
  }
  const double rt = roundtrip_ns(cpus[0], cpus[1]);
  const double rd = remote_read_us(cpus[0], cpus[1]);
  if (rd < 0) return 1;
  std::printf("{\"cpus\": [%d, %d], \"roundtrip_ns\": %.1f, \"remote_read_us_per_mib\": %.1f}\n", cpus[0], cpus[1], rt,
              rd);
  return 0;
}
