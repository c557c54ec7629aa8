#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <string_view>

#include "commands.hpp"
#include "ttynet/version.hpp"

namespace ttynet::app {

int& exit_code() {
  static int code = 0;
  return code;
}

void configure_logging(int verbosity) {
  auto logger = spdlog::stderr_color_mt("ttynet");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%L%$ %H:%M:%S.%e %n: %v");
  spdlog::set_level(verbosity >= 2   ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::info);
}

void print_error(std::string_view message) {
  std::fprintf(stderr, "ttynet: error: %.*s\n", static_cast<int>(message.size()), message.data());
}

}  // namespace ttynet::app

int main(int argc, char** argv) {
  using namespace ttynet::app;
  const std::string_view invoked_as = argc > 0 ? std::string_view(argv[0]) : "ttynet";
  const auto name = invoked_as.substr(invoked_as.rfind('/') + 1);
  if (name == "esp_rfc2217_server" || name == "esp_rfc2217_server.py") {
    return run_esp_rfc2217_server(argc, argv);
  }
  if (name == "ttynet-ser2net" || name == "ser2net") return run_ser2net(argc, argv);
  CLI::App app{"ttynet: serial ports over the network (RFC 2217 and raw TCP)", "ttynet"};
  app.set_version_flag("--version", std::string("ttynet ") + ttynet::version);
  app.require_subcommand(1);
  app.fallthrough();
  add_serve_command(app);
  add_forward_command(app);
  add_list_command(app);
  add_sim_command(app);
  add_term_command(app);
  add_esptool_command(app);

  auto* help = app.add_subcommand("help", "Show help for a command");
  std::string help_topic;
  help->add_option("command", help_topic, "Command to describe");
  help->callback([&] {
    if (help_topic.empty()) {
      std::fputs(app.help().c_str(), stdout);
      return;
    }
    try {
      std::fputs(app.get_subcommand(help_topic)->help().c_str(), stdout);
    } catch (const CLI::OptionNotFound&) {
      print_error("no command '" + help_topic + "'; see ttynet --help");
      exit_code() = 2;
    }
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const std::exception& error) {  // last resort: one line, never a trace
    print_error(error.what());
    return 1;
  }
  return exit_code();
}
