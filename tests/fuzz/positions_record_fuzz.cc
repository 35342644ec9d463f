// libFuzzer target for index/positions' record reader: what a damaged
// index hands the phrase filter. Besides "no crash, no out-of-bounds read,
// no UB", it checks, for every input the reader accepts whose terms come
// in increasing order:
//   - written again (EncodePositions), it reads back to the same entries;
//   - in that record, every term is found on its own, and each term's
//     first position followed by the term at the next position (if any)
//     is found as a phrase.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "index/positions.h"

namespace {

using mailkeep::index::DecodePositions;
using mailkeep::index::EncodePositions;
using mailkeep::index::HasPhrase;
using mailkeep::index::TermPositions;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view record(reinterpret_cast<const char*>(data), size);
  std::vector<TermPositions> terms;
  const bool read = DecodePositions(record, &terms);
  (void)HasPhrase(record, {{"the"}, {"cat", "Scat"}});
  if (!terms.empty()) (void)HasPhrase(record, {{terms.front().term}, {terms.back().term}});
  if (!read || terms.empty()) return 0;
  for (size_t i = 1; i < terms.size(); ++i) {
    if (!(terms[i - 1].term < terms[i].term)) return 0;  // not in order: not a record the writer makes
  }
  const std::string again = EncodePositions(terms);
  std::vector<TermPositions> reread;
  Check(DecodePositions(again, &reread) && reread == terms);
  for (size_t i = 0; i < terms.size() && i < 64; ++i) {
    if (terms[i].term.empty() || terms[i].positions.empty()) continue;
    Check(HasPhrase(again, {{terms[i].term}}));
    const Xapian::termpos first = terms[i].positions.front();
    for (const TermPositions& next : terms) {
      for (Xapian::termpos p : next.positions) {
        if (p == first + 1 && !next.term.empty()) Check(HasPhrase(again, {{terms[i].term}, {next.term}}));
      }
    }
  }
  return 0;
}
