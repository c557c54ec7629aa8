#pragma once
// One run of the bench: starts the servers on fresh ptys and measures every figure.

#include "options.hpp"
#include "report.hpp"

namespace ttynet::bench {

// Fails with a BenchError naming the servers' state and logs.
Result run(const Options& options);

}  // namespace ttynet::bench
