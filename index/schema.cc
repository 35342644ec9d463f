#include "index/schema.h"

namespace mailkeep::index {

namespace {

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

const Field* FindField(std::string_view name) {
  for (const Field& field : kFields) {
    if (EqualsIgnoreAsciiCase(field.name, name)) return &field;
  }
  return nullptr;
}

}  // namespace mailkeep::index
