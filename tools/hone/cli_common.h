// Shared pieces of the `hone` command line: exit codes, error lines, shape overrides, tables.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "hone/tensor.hpp"

namespace hone::cli {

// docs/cli.md's table: 0 ok, 1 check failed, 2 cannot load, 3 failed while running.
int exit_code(const Status& s);
// Prints "hone: <command>: <message>" on stderr and returns the exit code for it.
int fail(const std::string& command, const Status& s);

// A subcommand: its CLI11 parser and what to run when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Each subcommand file registers itself (no central list to edit):
//   static const CommandRegistration kReg(30, add_quantize);
// `order` fixes the command's place in `hone --help`.
using CommandFactory = Command (*)(CLI::App& root);
struct CommandRegistration {
  CommandRegistration(int order, CommandFactory factory);
};
// Registered factories sorted by order.
std::vector<CommandFactory> registered_commands();

// True when `path` names the same file as `model` (an output must never replace an input).
bool same_file_as_model(const std::string& path, const std::string& model);

// "--shape NAME=1x3x224x224" values -> map; error on malformed text.
Result<std::map<std::string, Shape>> parse_shape_overrides(const std::vector<std::string>& specs);

// Human numbers: 1234567 -> "1.23 M"; bytes -> "4.7 MiB".
std::string human_count(double v);
std::string human_bytes(double bytes);

// A text table with aligned columns.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str(const std::string& indent = "  ") const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace hone::cli
