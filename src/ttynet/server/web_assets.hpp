#pragma once
// The dashboard's pages, scripts and styles, xterm.js among them, compiled into the program
// (cmake/embed_files.cmake, from src/ttynet/server/web/), so `serve --http` needs no files at
// run time and its pages work offline.

#include <span>
#include <string_view>

namespace ttynet::server {

struct WebAsset {
  std::string_view path;  // as requested: "/", "/assets/xterm.js", ...
  std::string_view content_type;
  std::string_view body;
};

std::span<const WebAsset> web_assets();

}  // namespace ttynet::server
