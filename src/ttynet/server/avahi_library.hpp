#pragma once
// Avahi's client library, loaded the first time DNS-SD is used instead of at program start: it
// brings D-Bus, libsystemd and their compression and crypto libraries along, about 1 MiB of
// memory that a server announcing nothing should not carry (docs/benchmarks.md). Internal to
// the DNS-SD code.

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>

#include <string>

#include "ttynet/util/error.hpp"
#include "ttynet/util/result.hpp"

namespace ttynet::server::detail {

// The functions DNS-SD uses, named as in Avahi without the "avahi_" prefix.
struct AvahiLibrary {
  decltype(&avahi_client_new) client_new = nullptr;
  decltype(&avahi_client_free) client_free = nullptr;
  decltype(&avahi_client_errno) client_errno = nullptr;
  decltype(&avahi_client_get_state) client_get_state = nullptr;
  decltype(&avahi_entry_group_new) entry_group_new = nullptr;
  decltype(&avahi_entry_group_free) entry_group_free = nullptr;
  decltype(&avahi_entry_group_reset) entry_group_reset = nullptr;
  decltype(&avahi_entry_group_add_service_strlst) entry_group_add_service_strlst = nullptr;
  decltype(&avahi_entry_group_commit) entry_group_commit = nullptr;
  decltype(&avahi_service_browser_new) service_browser_new = nullptr;
  decltype(&avahi_service_browser_free) service_browser_free = nullptr;
  decltype(&avahi_service_resolver_new) service_resolver_new = nullptr;
  decltype(&avahi_service_resolver_free) service_resolver_free = nullptr;
  decltype(&avahi_strerror) strerror = nullptr;
  decltype(&avahi_free) free = nullptr;
  decltype(&avahi_alternative_service_name) alternative_service_name = nullptr;
  decltype(&avahi_address_snprint) address_snprint = nullptr;
  decltype(&avahi_string_list_add) string_list_add = nullptr;
  decltype(&avahi_string_list_free) string_list_free = nullptr;
  decltype(&avahi_string_list_get_next) string_list_get_next = nullptr;
  decltype(&avahi_string_list_get_pair) string_list_get_pair = nullptr;
};

// Loads the library once per process (thread-safe) and keeps it; later calls return the same
// result. The error (std::errc::not_supported) says why: "cannot load libavahi-client.so.3:
// <why>".
const Result<const AvahiLibrary*, Error>& avahi_library();

}  // namespace ttynet::server::detail
