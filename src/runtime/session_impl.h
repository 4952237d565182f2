// Internal side of hone::Session: creation from an in-memory IR model (used by passes, tests and
// the CLI, which already hold an ir::Model).
#pragma once

#include "hone/session.hpp"
#include "ir/graph.h"
#include "runtime/graph_executor.h"

namespace hone {

struct Session::Impl {
  ir::Model model;  // owned: the executor points into its graph
  std::unique_ptr<rt::GraphExecutor> executor;
  std::vector<IoInfo> inputs;
  std::vector<IoInfo> outputs;
  int threads = 1;
};

Result<Session> create_session(ir::Model model, const SessionOptions& options = {});

}  // namespace hone
