# Writes OUT, a C++ file that holds the files of FILES ('|'-separated paths)
# as byte arrays, listed by StaticFiles() (web/static_files.h). Run at build
# time: web/CMakeLists.txt reruns it when a file changes.
string(REPLACE "|" ";" files "${FILES}")
set(arrays "")
set(table "")
set(n 0)
foreach(path IN LISTS files)
  get_filename_component(name "${path}" NAME)
  file(READ "${path}" hex HEX)
  string(LENGTH "${hex}" digits)
  math(EXPR size "${digits} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){24})" "\\1\n  " bytes "${bytes}")
  string(APPEND arrays "const unsigned char kFile${n}[] = {\n  ${bytes}0};\n")
  string(APPEND table "    {\"${name}\", std::string_view(reinterpret_cast<const char*>(kFile${n}), ${size})},\n")
  math(EXPR n "${n} + 1")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from web/static/ by web/static/embed.cmake: do not edit.
#include \"web/static_files.h\"

namespace mailkeep::web {
namespace {

${arrays}
}  // namespace

std::span<const StaticFile> StaticFiles() {
  static const StaticFile kFiles[] = {
${table}  };
  return kFiles;
}

}  // namespace mailkeep::web
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
