#include "ttynet/server/port_directory.hpp"

#include <algorithm>

#include "ttynet/server/port_host.hpp"

namespace ttynet::server {

void PortDirectory::add(PortHost& host) { hosts_.push_back(&host); }

void PortDirectory::remove(PortHost& host) { std::erase(hosts_, &host); }

std::vector<PortHost*> PortDirectory::ports() const {
  std::vector<PortHost*> sorted = hosts_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const PortHost* a, const PortHost* b) { return a->name() < b->name(); });
  return sorted;
}

PortHost* PortDirectory::find(std::string_view name) const {
  const auto found = std::find_if(hosts_.begin(), hosts_.end(),
                                  [name](const PortHost* host) { return host->name() == name; });
  return found == hosts_.end() ? nullptr : *found;
}

}  // namespace ttynet::server
