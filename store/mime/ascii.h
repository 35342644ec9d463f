// The parser's ASCII helpers are the shared ones (store/util/ascii.h).
#pragma once

#include "store/util/ascii.h"

namespace mailkeep::mime {
namespace ascii = ::mailkeep::ascii;
}  // namespace mailkeep::mime
