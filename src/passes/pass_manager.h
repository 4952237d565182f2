// Graph optimization passes: rewrite an ir::Model into an equivalent one that runs faster.
//
//   passes::PassOptions o;   // level 1: constant folding, Identity/Dropout elimination, dead code
//   o.level = 2;             // + fusions (BatchNorm folded into Conv/Gemm)
//   HONE_RETURN_IF_ERROR(passes::optimize(model, o));
//
// Every pass keeps the model's outputs equal to the unoptimized model's (within docs/cli.md's
// tolerance; folding BatchNorm reorders float arithmetic). Passes rewrite the main graph; values
// that subgraphs (If/Loop/Scan bodies) read are treated as used and renamed inside them too.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "hone/status.hpp"
#include "ir/graph.h"

namespace hone::passes {

inline constexpr int kMaxLevel = 3;

struct PassOptions {
  int level = 1;                   // 0: none; 1: basic and safe; 2: + fusions; 3: + aggressive
  std::set<std::string> disabled;  // pass names to skip; an unknown name is an error
  // Run ir::verify after every pass so that a pass that breaks the graph is caught where it
  // happened (tests; on by default in debug builds).
#ifdef NDEBUG
  bool verify_each = false;
#else
  bool verify_each = true;
#endif
};

struct PassInfo {
  const char* name;
  int level;  // the lowest optimization level that runs it
  const char* summary;
  Status (*run)(ir::Model&);
};

// Every pass in the order optimize() runs them.
const std::vector<PassInfo>& all_passes();

// Runs the passes of `options.level` (and below) in order, skipping disabled ones.
Status optimize(ir::Model& model, const PassOptions& options);

// Runs one pass by name (tests; also verifies the result when `verify` is set).
Status run_pass(ir::Model& model, const std::string& name, bool verify);

}  // namespace hone::passes
