// Text normalization shared by the indexer and the query parser, so that a
// query term always meets the term the indexer produced.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailkeep::index {

// Lower-cases UTF-8 text and removes diacritics (é → e, ß → ss, Å → a),
// leaving other scripts as they are. Invalid UTF-8 is passed through.
std::string FoldText(std::string_view utf8);

// The terms an address contributes under an address field prefix `prefix`:
// the whole address ("alice@example.org"), the local part ("alice") and the
// domain ("example.org"), each folded; names are indexed as text.
// Returned without the prefix.
std::vector<std::string> AddressTerms(std::string_view address);

}  // namespace mailkeep::index
