// The files of web/static/ (style sheet, script), compiled into the binary:
// web/static/embed.cmake generates their definition at build time from the
// files themselves, so the page assets are edited as files and nothing is
// read from disk while serving.
#pragma once

#include <span>
#include <string_view>

namespace mailkeep::web {

struct StaticFile {
  std::string_view name;  // "style.css": served at /static/NAME
  std::string_view data;  // the file's bytes
};

// Every file, in the order web/CMakeLists.txt lists them; the views live as
// long as the program.
std::span<const StaticFile> StaticFiles();

}  // namespace mailkeep::web
