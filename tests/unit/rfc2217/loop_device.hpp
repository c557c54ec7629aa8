#pragma once
// Test helper shared by the server and client tests: a loop:// device behind an
// rfc2217::Server that answers every request event the way a real loop device would.

#include <variant>

#include "ttynet/rfc2217/server.hpp"

namespace ttynet::rfc2217::test {

// A loop:// device behind the server: settings are taken as asked, queries answered with the
// value in force, control values echoed, purges done, data echoed.
class LoopDevice {
 public:
  void apply(Server& server, const Event& event) {
    std::visit([&](const auto& e) { apply_one(server, e); }, event);
  }

 private:
  void apply_one(Server& server, const DataReceived& e) { server.send_data(e.data); }
  void apply_one(Server& server, const SignatureRequested&) { server.reply_signature("loop"); }
  void apply_one(Server& server, const BaudRequested& e) {
    if (e.baud) settings_.baud = *e.baud;
    server.reply_baud(settings_.baud);
  }
  void apply_one(Server& server, const DataBitsRequested& e) {
    if (e.data_bits) settings_.data_bits = *e.data_bits;
    server.reply_data_bits(settings_.data_bits);
  }
  void apply_one(Server& server, const ParityRequested& e) {
    if (e.parity) settings_.parity = *e.parity;
    server.reply_parity(settings_.parity);
  }
  void apply_one(Server& server, const StopBitsRequested& e) {
    if (e.stop_bits) settings_.stop_bits = *e.stop_bits;
    server.reply_stop_bits(settings_.stop_bits);
  }
  void apply_one(Server& server, const ControlRequested& e) {
    server.reply_control(e.value == Control::flow_query ? to_wire(settings_.flow) : e.value);
  }
  void apply_one(Server& server, const PurgeRequested& e) { server.reply_purge(e.which); }
  template <typename Other>
  void apply_one(Server&, const Other&) {}

  LineSettings settings_{.baud = 9600};
};

}  // namespace ttynet::rfc2217::test
