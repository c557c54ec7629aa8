#pragma once
// The ports one process serves, as the dashboard finds them (`serve --http`): each PortHost
// joins while it lives. On the event loop only, like the hosts.

#include <string_view>
#include <vector>

namespace ttynet::server {

class PortHost;

class PortDirectory {
 public:
  void add(PortHost& host);
  void remove(PortHost& host);
  // By name, then in the order they joined.
  std::vector<PortHost*> ports() const;
  PortHost* find(std::string_view name) const;

 private:
  std::vector<PortHost*> hosts_;
};

}  // namespace ttynet::server
