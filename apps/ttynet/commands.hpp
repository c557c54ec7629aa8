#pragma once
// Each subcommand registers itself on the main app; its callback sets the exit code.

#include <CLI/CLI.hpp>

namespace ttynet::app {

// Exit code of the subcommand that ran (0 when none ran).
int& exit_code();

void add_serve_command(CLI::App& app);
void add_forward_command(CLI::App& app);
void add_list_command(CLI::App& app);
void add_sim_command(CLI::App& app);
void add_term_command(CLI::App& app);
void add_esptool_command(CLI::App& app);

// The whole program when invoked as `esp_rfc2217_server`: that tool's command line, served
// as `ttynet serve --esp`.
int run_esp_rfc2217_server(int argc, char** argv);
// The whole program when invoked as `ttynet-ser2net` or `ser2net`: ser2net 4.x's command line
// (what labgrid's exporter runs), served as `ttynet serve --config` serves ports.
int run_ser2net(int argc, char** argv);

// Sets up logging to stderr; verbosity 0 = info, 1 = debug, 2+ = trace.
void configure_logging(int verbosity);
// One clean line on stderr: "ttynet: error: ...".
void print_error(std::string_view message);

}  // namespace ttynet::app
