// hone: make trained neural networks smaller and faster, and prove it.
// One subcommand per file (inspect.cc, ...); this file wires them together.
#include <cstdio>
#include <exception>

#include "cli_common.h"
#include "core/cpu_features.h"
#include "core/version.h"

namespace {

const char* kDescription =
    "hone reads an ONNX model, makes it smaller and faster (graph optimization, quantization, ...),\n"
    "writes a standard ONNX model back, and measures latency, size and accuracy for every step.\n\n"
    "Start with:  hone inspect MODEL.onnx      what is in a model\n"
    "             hone run MODEL.onnx --random  run it once\n"
    "Each command has its own --help. Exit codes: 0 ok, 1 a check failed, 2 cannot load\n"
    "(model, data or arguments), 3 failed while running.";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, "hone");
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       [] {
                         return std::string("hone ") + hone::version_string() + " (git " + hone::git_revision() + ")\ncpu: " +
                                hone::cpu_features_string();
                       },
                       "Print the version, git revision and the CPU features hone's kernels will use");
  std::vector<hone::cli::Command> commands;
  for (hone::cli::CommandFactory add : hone::cli::registered_commands()) commands.push_back(add(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are successes, printed by CLI11.
    if (e.get_exit_code() == 0) return app.exit(e);
    // Every other parse error is "cannot load arguments": one line in hone's error format, naming
    // the subcommand whose arguments were wrong.
    std::string where;
    for (const CLI::App* sub : app.get_subcommands())
      if (sub->parsed()) where = sub->get_name();
    std::fprintf(stderr, "hone: %s%s%s (see hone %s--help)\n", where.c_str(), where.empty() ? "" : ": ", e.what(),
                 where.empty() ? "" : (where + " ").c_str());
    return 2;
  }
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "hone: out of memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hone: internal error: %s\n", e.what());
    return 3;
  }
  return 2;
}
