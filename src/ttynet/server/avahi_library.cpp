#include "ttynet/server/avahi_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

namespace ttynet::server::detail {
namespace {

constexpr const char* library_name = "libavahi-client.so.3";  // Debian's libavahi-client3

class Loader {
 public:
  explicit Loader(void* handle) : handle_(handle) {}

  // Looks `name` up in the library and the ones it depends on (avahi-common).
  template <typename Function>
  void resolve(const char* name, Function& function) {
    function = reinterpret_cast<Function>(::dlsym(handle_, name));
    if (!function && missing_.empty()) missing_ = name;
  }
  const std::string& missing() const { return missing_; }

 private:
  void* handle_;
  std::string missing_;
};

// Without the library (or with one too old) DNS-SD is not supported on this system.
Result<const AvahiLibrary*, Error> load() {
  // Never closed: callbacks into the library may run until the process ends.
  void* handle = ::dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    return make_error(std::errc::not_supported,
                      fmt::format("cannot load {}: {}", library_name, ::dlerror()));
  }
  static AvahiLibrary library;
  Loader loader(handle);
  loader.resolve("avahi_client_new", library.client_new);
  loader.resolve("avahi_client_free", library.client_free);
  loader.resolve("avahi_client_errno", library.client_errno);
  loader.resolve("avahi_client_get_state", library.client_get_state);
  loader.resolve("avahi_entry_group_new", library.entry_group_new);
  loader.resolve("avahi_entry_group_free", library.entry_group_free);
  loader.resolve("avahi_entry_group_reset", library.entry_group_reset);
  loader.resolve("avahi_entry_group_add_service_strlst", library.entry_group_add_service_strlst);
  loader.resolve("avahi_entry_group_commit", library.entry_group_commit);
  loader.resolve("avahi_service_browser_new", library.service_browser_new);
  loader.resolve("avahi_service_browser_free", library.service_browser_free);
  loader.resolve("avahi_service_resolver_new", library.service_resolver_new);
  loader.resolve("avahi_service_resolver_free", library.service_resolver_free);
  loader.resolve("avahi_strerror", library.strerror);
  loader.resolve("avahi_free", library.free);
  loader.resolve("avahi_alternative_service_name", library.alternative_service_name);
  loader.resolve("avahi_address_snprint", library.address_snprint);
  loader.resolve("avahi_string_list_add", library.string_list_add);
  loader.resolve("avahi_string_list_free", library.string_list_free);
  loader.resolve("avahi_string_list_get_next", library.string_list_get_next);
  loader.resolve("avahi_string_list_get_pair", library.string_list_get_pair);
  if (!loader.missing().empty()) {
    return make_error(std::errc::not_supported,
                      fmt::format("cannot use {}: it has no {}", library_name, loader.missing()));
  }
  return &library;
}

}  // namespace

const Result<const AvahiLibrary*, Error>& avahi_library() {
  static const Result<const AvahiLibrary*, Error> loaded = load();
  return loaded;
}

}  // namespace ttynet::server::detail
