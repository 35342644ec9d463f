#include "sync/imap/imap_client.h"
#include "store/util/ascii.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <new>
#include <utility>

#include "sync/imap/response_parser.h"
#include "sync/net/login_chooser.h"
#include "sync/net/sasl.h"
#include "sync/net/secret_mask.h"

namespace mailkeep::imap {

// Commands this client sends (RFC 3501 §6 and the extensions named in the
// header), one at a time (no pipelining): tag SP command CRLF, where a
// literal "{n}" CRLF octets waits for the server's "+" continuation unless
// the server offers LITERAL+ ("{n+}"). Every command ends with one tagged
// response; any number of untagged responses may come before it, about
// anything (EXISTS, EXPUNGE, FETCH flag changes, ALERTs, BYE).

namespace {

constexpr size_t kMaxSetChars = 2000;        // one UID set in a command line
constexpr size_t kMaxSearchResults = 1u << 24;
constexpr size_t kMaxNotes = 64;             // ALERTs and ENABLED extensions kept

using ascii::EqualsIgnoreCase;
using ascii::StartsWithIgnoreCase;
std::string ToUpper(std::string_view s) { return ascii::UpperCopy(s); }
// Server text (or a folder name) for an error message: one line, bounded.
std::string Sanitize(std::string_view text, size_t max = 200) { return ascii::Printable(text, max); }

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// The response code decides retry: temporary conditions are kUnavailable,
// a missing folder kNotFound.
ErrorCode CodeFor(const Response& r, ErrorCode fallback) {
  const std::string& c = r.code;
  if (c == "THROTTLED" || net::ThrottleWait(r.text, {})) return ErrorCode::kResourceExhausted;
  if (c == "UNAVAILABLE" || c == "INUSE" || c == "LIMIT" || c == "EXPUNGEISSUED") return ErrorCode::kUnavailable;
  if (c == "NONEXISTENT" || c == "TRYCREATE") return ErrorCode::kNotFound;
  return fallback;
}

// "* STATUS name (MESSAGES n UIDNEXT n UIDVALIDITY n [HIGHESTMODSEQ n])";
// nullopt for any other response. Numbers past 32 bits read as the most.
std::optional<FolderStatus> ParseStatus(const Response& r) {
  if (r.name != "STATUS" || r.values.size() < 2 || !r.values[0].is_string() || !r.values[1].is_list()) {
    return std::nullopt;
  }
  FolderStatus st;
  const auto& items = r.values[1].list;
  auto u32 = [](uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); };
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    auto v = items[i + 1].Number();
    if (!v) continue;
    if (items[i].IsAtom("MESSAGES")) st.messages = u32(*v);
    if (items[i].IsAtom("UIDNEXT")) st.uidnext = u32(*v);
    if (items[i].IsAtom("UIDVALIDITY")) st.uidvalidity = u32(*v);
    if (items[i].IsAtom("HIGHESTMODSEQ")) st.highestmodseq = *v;
  }
  return st;
}

// A quoted string can carry any 7-bit text except CR, LF and NUL.
bool Quotable(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// A flag or keyword: atom characters, optionally after one backslash.
bool ValidFlag(std::string_view f) {
  if (!f.empty() && f[0] == '\\') f.remove_prefix(1);
  if (f.empty()) return false;
  for (char c : f) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '(' || c == ')' || c == '{' || c == '"' || c == '\\' || c == '%' ||
        c == '*' || c == ']') {
      return false;
    }
  }
  return true;
}

// "(\\Seen \\Deleted \\*)" → its valid flags and "\\*" (at most 1,000).
std::vector<std::string> ParsePermanentFlags(std::string_view args) {
  std::vector<std::string> out;
  for (auto w : Words(args)) {
    while (!w.empty() && w.front() == '(') w.remove_prefix(1);
    while (!w.empty() && w.back() == ')') w.remove_suffix(1);
    if ((w == "\\*" || ValidFlag(w)) && out.size() < 1000) out.emplace_back(w);
  }
  return out;
}

std::string JoinFlags(std::vector<std::string> flags) {
  std::sort(flags.begin(), flags.end());
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
  std::string out;
  for (const auto& f : flags) {
    if (!out.empty()) out += ' ';
    out += f;
  }
  return out;
}

// Ranges of a sequence set, "*" read as UINT32_MAX. `star_alone` is set
// when the set has a lone "*" (then it cannot be used as a filter).
struct UidRanges {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  bool star_alone = false;
  bool Contains(uint32_t uid) const {
    if (star_alone) return true;
    for (const auto& [lo, hi] : ranges)
      if (uid >= lo && uid <= hi) return true;
    return false;
  }
};

std::optional<UidRanges> ParseUidSet(std::string_view set) {
  UidRanges out;
  if (set.empty()) return std::nullopt;
  size_t pos = 0;
  auto number = [](std::string_view s, uint32_t* v) {
    if (s == "*") {
      *v = UINT32_MAX;
      return true;
    }
    return ParseNumber(s, v) && *v != 0;
  };
  while (pos <= set.size()) {
    size_t comma = set.find(',', pos);
    if (comma == std::string_view::npos) comma = set.size();
    std::string_view item = set.substr(pos, comma - pos);
    size_t colon = item.find(':');
    uint32_t lo = 0, hi = 0;
    if (colon == std::string_view::npos) {
      if (!number(item, &lo)) return std::nullopt;
      if (item == "*") out.star_alone = true;
      hi = lo;
    } else {
      if (!number(item.substr(0, colon), &lo) || !number(item.substr(colon + 1), &hi)) return std::nullopt;
      if (lo > hi) std::swap(lo, hi);
    }
    out.ranges.emplace_back(lo, hi);
    pos = comma + 1;
  }
  return out;
}

// Sorted, unique, non-zero UIDs → sets of at most max_chars characters.
std::vector<std::string> SplitUidSets(const std::vector<uint32_t>& uids, size_t max_chars) {
  std::vector<std::string> sets;
  std::string cur;
  size_t i = 0;
  while (i < uids.size()) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    std::string item = std::to_string(uids[i]);
    if (j > i) item += ":" + std::to_string(uids[j]);
    if (!cur.empty() && cur.size() + 1 + item.size() > max_chars) {
      sets.push_back(std::move(cur));
      cur.clear();
    }
    if (!cur.empty()) cur += ',';
    cur += item;
    i = j + 1;
  }
  if (!cur.empty()) sets.push_back(std::move(cur));
  return sets;
}

// In place: every CRLF becomes LF; a lone CR stays.
void CrlfToLf(std::string* s) {
  size_t r = s->find("\r\n");
  if (r == std::string::npos) return;
  char* d = s->data();
  const size_t n = s->size();
  size_t w = r;
  while (r < n) {
    if (d[r] == '\r' && r + 1 < n && d[r + 1] == '\n') {
      ++r;
      continue;
    }
    d[w++] = d[r++];
  }
  s->resize(w);
}

// Size of `bytes` once every LF not preceded by CR becomes CRLF.
uint64_t CrlfSize(std::string_view bytes) {
  uint64_t n = bytes.size();
  for (size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) ++n;
  return n;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// What one FETCH response said about one message.
struct FetchData {
  std::optional<uint32_t> uid;
  std::optional<std::string> flags;
  std::optional<uint64_t> modseq;
  std::optional<int64_t> internal_date;
  bool has_date = false;
  std::optional<uint64_t> size;
  Value* body = nullptr;   // BODY[] value (string or NIL), owned by the response
  bool has_body = false;
};

std::vector<std::string> FlagList(const Value& list) {
  std::vector<std::string> flags;
  for (const Value& f : list.list) {
    if (!f.is_string()) continue;
    if (EqualsIgnoreCase(f.text, "\\Recent")) continue;
    flags.push_back(f.text);
  }
  return flags;
}

// nullopt (with *why) for a malformed attribute list.
std::optional<FetchData> ParseFetch(Response& r, std::string* why) {
  FetchData d;
  if (r.values.size() != 1 || !r.values[0].is_list()) {
    *why = "FETCH without an attribute list";
    return std::nullopt;
  }
  std::vector<Value>& items = r.values[0].list;
  if (items.size() % 2 != 0) {
    *why = "FETCH attribute without a value";
    return std::nullopt;
  }
  for (size_t i = 0; i < items.size(); i += 2) {
    Value& name = items[i];
    Value& v = items[i + 1];
    if (name.type != Value::Type::kAtom) {
      *why = "FETCH attribute name is not an atom";
      return std::nullopt;
    }
    const std::string& n = name.text;
    if (EqualsIgnoreCase(n, "UID")) {
      auto u = v.Number();
      if (!u || *u == 0 || *u > UINT32_MAX) {
        *why = "bad UID in FETCH";
        return std::nullopt;
      }
      d.uid = static_cast<uint32_t>(*u);
    } else if (EqualsIgnoreCase(n, "FLAGS")) {
      if (!v.is_list()) {
        *why = "FLAGS is not a list";
        return std::nullopt;
      }
      d.flags = JoinFlags(FlagList(v));
    } else if (EqualsIgnoreCase(n, "MODSEQ")) {
      if (!v.is_list() || v.list.size() != 1 || !v.list[0].Number()) {
        *why = "bad MODSEQ in FETCH";
        return std::nullopt;
      }
      d.modseq = *v.list[0].Number();
    } else if (EqualsIgnoreCase(n, "INTERNALDATE")) {
      d.has_date = true;
      if (v.is_string()) d.internal_date = ParseInternalDate(v.text);
    } else if (EqualsIgnoreCase(n, "RFC822.SIZE")) {
      auto s = v.Number();
      if (!s) {
        *why = "bad RFC822.SIZE in FETCH";
        return std::nullopt;
      }
      d.size = *s;
    } else if (StartsWithIgnoreCase(n, "BODY[]")) {
      if (!v.is_string() && !v.is_nil()) {
        *why = "BODY[] is not a string";
        return std::nullopt;
      }
      d.has_body = true;
      d.body = &v;
    }
  }
  return d;
}

struct Piece {
  std::string text;              // sent as is
  std::string_view literal;      // then this as a literal, if is_literal
  bool is_literal = false;
  bool lf_to_crlf = false;       // LF (not after CR) → CRLF inside the literal
};

// One command being built: text, with literals where a string cannot be
// quoted (or for message bytes).
class Command {
 public:
  explicit Command(std::string text) { pieces_.push_back({std::move(text), {}, false, false}); }
  Command& Text(std::string_view s) {
    if (pieces_.back().is_literal) pieces_.push_back({});
    pieces_.back().text += s;
    return *this;
  }
  // A string as a quoted string, or as a literal when it cannot be quoted.
  Command& Astring(std::string_view s) {
    if (Quotable(s)) return Text(Quote(s));
    return Literal(s, false);
  }
  Command& Literal(std::string_view bytes, bool lf_to_crlf) {
    pieces_.back().literal = bytes;
    pieces_.back().is_literal = true;
    pieces_.back().lf_to_crlf = lf_to_crlf;
    return *this;
  }
  const std::vector<Piece>& pieces() const { return pieces_; }

 private:
  std::vector<Piece> pieces_;
};

}  // namespace

std::string UidSetString(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (!uids.empty() && uids[0] == 0) uids.erase(uids.begin());
  auto sets = SplitUidSets(uids, SIZE_MAX);
  return sets.empty() ? std::string() : sets[0];
}

std::optional<int64_t> ParseInternalDate(std::string_view s) {
  // date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  auto fields = Words(s);
  if (fields.size() != 3) return std::nullopt;
  std::string_view date = fields[0], time = fields[1], zone = fields[2];
  size_t d1 = date.find('-');
  size_t d2 = d1 == std::string_view::npos ? d1 : date.find('-', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  unsigned day = 0, year = 0;
  if (!ParseNumber(date.substr(0, d1), &day) || !ParseNumber(date.substr(d2 + 1), &year)) return std::nullopt;
  std::string_view mon = date.substr(d1 + 1, d2 - d1 - 1);
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i)
    if (EqualsIgnoreCase(mon, kMonths[i])) month = i + 1;
  if (month == 0 || day < 1 || day > 31 || year < 1 || year > 9999) return std::nullopt;
  if (time.size() != 8 || time[2] != ':' || time[5] != ':') return std::nullopt;
  unsigned hh = 0, mm = 0, ss = 0;
  if (!ParseNumber(time.substr(0, 2), &hh) || !ParseNumber(time.substr(3, 2), &mm) ||
      !ParseNumber(time.substr(6, 2), &ss) || hh > 23 || mm > 59 || ss > 60) {
    return std::nullopt;
  }
  if (zone.size() != 5 || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
  unsigned zh = 0, zm = 0;
  if (!ParseNumber(zone.substr(1, 2), &zh) || !ParseNumber(zone.substr(3, 2), &zm) || zm > 59) return std::nullopt;
  int64_t offset = static_cast<int64_t>(zh) * 3600 + static_cast<int64_t>(zm) * 60;
  if (zone[0] == '-') offset = -offset;
  int64_t t = DaysFromCivil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
  return t - offset;
}

std::string FormatInternalDate(int64_t t) {
  int64_t days = t / 86400;
  int64_t rem = t % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u-%s-%04lld %02d:%02d:%02d +0000", d, kMonths[m - 1],
                static_cast<long long>(y), static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60));
  return buf;
}

bool Folder::HasAttribute(std::string_view attribute) const {
  for (const auto& a : attributes)
    if (EqualsIgnoreCase(a, attribute)) return true;
  return false;
}

bool Folder::selectable() const { return !HasAttribute("\\Noselect") && !HasAttribute("\\NonExistent"); }

std::string Folder::special_use() const {
  static const char* kUses[] = {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"};
  for (const auto& a : attributes)
    for (const char* u : kUses)
      if (EqualsIgnoreCase(a, u)) return u;
  return "";
}

bool SelectedFolder::Permits(std::string_view flag) const {
  if (!has_permanent_flags) return true;
  for (const auto& f : permanent_flags) {
    if (EqualsIgnoreCase(f, flag)) return true;
    if (f == "\\*" && !flag.starts_with('\\')) return true;
  }
  return false;
}

class ImapClient::Impl {
 public:
  using Handler = std::function<Status(Response&)>;

  ImapOptions options;
  net::SecretMask mask;  // Clean() applies it to server text
  ImapLimits limits;
  std::unique_ptr<net::Connection> conn;
  std::unique_ptr<ResponseParser> parser;
  std::vector<std::string> caps;       // upper-cased
  std::vector<std::string> enabled;    // upper-cased
  std::vector<std::string> alerts;
  AuthMethod used = AuthMethod::kAuto;
  uint32_t tag_counter = 0;
  bool logging_out = false;
  bool bye_seen = false;
  // The selected folder.
  bool selected = false;
  bool selected_read_only = true;
  std::string selected_name, selected_wire;
  // Names ListFolders() saw whose wire form is not EncodeModifiedUtf7(name).
  std::map<std::string, std::string> wire_for_name;

  const std::string& peer() const { return conn->peer(); }

  bool Has(std::string_view cap) const {
    for (const auto& c : caps)
      if (EqualsIgnoreCase(c, cap)) return true;
    return false;
  }
  bool Enabled(std::string_view ext) const {
    for (const auto& e : enabled)
      if (EqualsIgnoreCase(e, ext)) return true;
    return false;
  }
  bool Condstore() const { return Enabled("CONDSTORE") || Enabled("QRESYNC"); }

  std::string WireName(const std::string& name) const {
    auto it = wire_for_name.find(name);
    if (it != wire_for_name.end()) return it->second;
    return EncodeModifiedUtf7(name);
  }

  // Server text for a message: never the password even if a server echoes
  // it (masked before it is shortened), and sanitized.
  std::string Clean(std::string_view text) const { return Sanitize(mask.Apply(text)); }

  void SetCaps(const std::vector<std::string_view>& words) {
    caps.clear();
    for (auto w : words) caps.push_back(ToUpper(w));
  }

  Status Usable() const {
    if (conn->closed()) {
      return MakeError(ErrorCode::kUnavailable,
                       "IMAP session with " + conn->peer() + " is closed (after LOGOUT or an earlier error)");
    }
    return OkStatus();
  }

  Status NeedSelected(const char* command) const {
    if (!selected) {
      return MakeError(ErrorCode::kFailedPrecondition, std::string("IMAP ") + command + ": no folder is selected");
    }
    return OkStatus();
  }

  // The stream is out of step: drop it.
  Error ProtocolError(const std::string& what, std::string_view why) {
    conn->Close();
    selected = false;
    return Error(ErrorCode::kFailedPrecondition,
                 "IMAP server " + peer() + " broke the protocol in its reply to " + what + ": " + Clean(why));
  }

  Error NetError(const std::string& what, const Error& e) {
    conn->Close();
    selected = false;
    if (e.code() == ErrorCode::kFailedPrecondition) return ProtocolError(what, e.message());
    return e.WithContext("IMAP " + what);
  }

  // A command's failure: "IMAP <what> at <peer> failed: <server text>".
  Error Failed(const std::string& what, const Response& r, ErrorCode fallback = ErrorCode::kFailedPrecondition) {
    std::string text = r.StatusText();
    if (r.cond == Response::Cond::kBad) text = "BAD " + text;
    return Error(CodeFor(r, fallback), "IMAP " + what + " at " + peer() + " failed: " + Clean(text));
  }

  Result<Response> ReadResponse(const std::string& what) {
    try {
      return ReadResponseUnguarded(what);
    } catch (const std::bad_alloc&) {
      // A literal grows to at most max_literal; if even that fails, give up
      // this session rather than let the exception out.
      parser->Reset();
      conn->Close();
      selected = false;
      return MakeError(ErrorCode::kInternal, "IMAP " + what + " at " + peer() + ": out of memory reading a response");
    }
  }

  Result<Response> ReadResponseUnguarded(const std::string& what) {
    for (;;) {
      const uint64_t remaining = parser->literal_remaining();
      if (remaining > 0) {
        // Straight from the socket into the string that becomes the value.
        Status s = conn->ReadExact(static_cast<size_t>(remaining), parser->literal_buffer());
        if (!s) return std::unexpected(NetError(what, s.error()));
        if (parser->LiteralFilled() == ParseState::kError) {
          return std::unexpected(ProtocolError(what, parser->error()));
        }
        continue;
      }
      auto line = conn->ReadLineView(limits.max_line);
      if (!line) return std::unexpected(NetError(what, line.error()));
      std::string_view in = *line;
      ParseState st = parser->Feed(in);
      if (st == ParseState::kNeedMore) st = parser->Feed(std::string_view("\r\n"));
      if (st == ParseState::kError) return std::unexpected(ProtocolError(what, parser->error()));
      if (st == ParseState::kResponse) return parser->TakeResponse();
    }
  }

  // What any untagged response may carry, whatever command is running.
  Status Common(const Response& r, const std::string& what) {
    if (r.cond == Response::Cond::kBye) bye_seen = true;
    if (r.cond == Response::Cond::kBye && !logging_out) {
      conn->Close();
      selected = false;
      return MakeError(ErrorCode::kUnavailable, "IMAP server " + peer() + " ended the session during " + what +
                                                    ": " + Clean(r.StatusText()));
    }
    if (r.is_status() && r.code == "CAPABILITY") SetCaps(Words(r.code_args));
    if (r.is_status() && r.code == "ALERT") Alert(r.text);
    if (r.name == "CAPABILITY") {
      std::vector<std::string_view> words;
      for (const Value& v : r.values)
        if (v.is_string()) words.push_back(v.text);
      SetCaps(words);
    }
    if (r.name == "ENABLED") {
      for (const Value& v : r.values)
        if (v.is_string() && enabled.size() < kMaxNotes) enabled.push_back(ToUpper(v.text));
    }
    return OkStatus();
  }

  // Keeps the first kMaxNotes alerts (a server may send them forever).
  void Alert(std::string_view text) {
    if (alerts.size() < kMaxNotes) alerts.push_back(Clean(text));
  }

  // What a tagged response may carry besides its outcome.
  void Tagged(const Response& r) {
    if (r.code == "CAPABILITY") SetCaps(Words(r.code_args));
    if (r.code == "ALERT") Alert(r.text);
  }

  // The byte budget of one command's responses (0: the default).
  uint64_t Budget(uint64_t bytes = 0) const { return bytes > 0 ? bytes : options.max_command_bytes; }

  Status WriteLiteralBytes(const Piece& p, const std::string& what) {
    Status s;
    if (!p.lf_to_crlf) {
      s = conn->Write(p.literal);
    } else {
      std::string_view b = p.literal;
      size_t start = 0;
      for (size_t i = 0; i < b.size() && s; ++i) {
        if (b[i] != '\n' || (i > 0 && b[i - 1] == '\r')) continue;
        s = conn->Write(b.substr(start, i - start));
        if (s) s = conn->Write("\r\n");
        start = i + 1;
      }
      if (s && start < b.size()) s = conn->Write(b.substr(start));
    }
    if (!s) return std::unexpected(NetError(what, s.error()));
    return OkStatus();
  }

  // Sends one command and reads up to its tagged response, which is
  // returned (OK, NO or BAD: the caller decides). Untagged responses go to
  // Common() and then to `handler`; the first error `handler` returns is
  // kept, later responses are still read (to stay in step) but not passed,
  // and that error is returned after the tagged response (or instead of the
  // error that ends the reading, when the handler dropped the connection).
  // The responses have `budget` bytes (0: max_command_bytes) and the
  // command deadline (net::Connection::BeginCommand), each time it is sent
  // (Throttled).
  Result<Response> Run(const std::string& what, const Command& cmd, const Handler& handler = nullptr,
                       uint64_t budget = 0) {
    return Throttled(what, [&](bool* passed) {
      Handler counted;
      if (handler) counted = [&, passed](Response& r) { *passed = true; return handler(r); };
      return RunOnce(what, cmd, counted, budget);
    });
  }

  // The one throttle loop of every command, AUTHENTICATE included:
  // `send` sends the command once and returns its tagged response, setting
  // *passed once an untagged response reached its handler. A throttling NO
  // or BAD (net/throttle.h) before that is waited out and the command sent
  // again, as the account's Throttle allows (its throttle_max_wait bounds
  // the waits of the run, max_tries the sends); past that, its error
  // (kResourceExhausted) is returned. Each send has its own deadline.
  Result<Response> Throttled(const std::string& what, const std::function<Result<Response>(bool* passed)>& send) {
    for (int tries = 1;; ++tries) {
      bool passed = false;
      MK_ASSIGN_OR_RETURN(Response r, send(&passed));
      const auto& throttle = options.connect.throttle;
      // Office 365 throttles with NO and with BAD (then often ends the session).
      const bool refused = r.cond == Response::Cond::kNo || r.cond == Response::Cond::kBad;
      if (!refused || passed || !throttle) return r;
      auto waited = throttle->Wait(r.StatusText(), tries, "IMAP " + what + " at " + peer());
      if (!waited) return r;
      MK_RETURN_IF_ERROR(*waited);
    }
  }

  Result<Response> RunOnce(const std::string& what, const Command& cmd, const Handler& handler, uint64_t budget) {
    MK_RETURN_IF_ERROR(Usable());
    conn->BeginCommand(Budget(budget));
    const std::string tag = "A" + std::to_string(++tag_counter);
    std::optional<Error> handler_error;
    auto untagged = [&](Response& r) -> Status {
      MK_RETURN_IF_ERROR(Common(r, what));
      if (handler && !handler_error) {
        Status s = handler(r);
        if (!s) handler_error = s.error();
      }
      return OkStatus();
    };
    auto write = [&](std::string_view data) -> Status {
      Status s = conn->Write(data);
      if (!s) return std::unexpected(NetError(what, s.error()));
      return OkStatus();
    };
    bool first = true;
    for (const Piece& p : cmd.pieces()) {
      if (first) MK_RETURN_IF_ERROR(write(tag + " "));
      first = false;
      MK_RETURN_IF_ERROR(write(p.text));
      if (!p.is_literal) continue;
      const uint64_t n = p.lf_to_crlf ? CrlfSize(p.literal) : p.literal.size();
      const bool plus = Has("LITERAL+") || (Has("LITERAL-") && n <= 4096);
      MK_RETURN_IF_ERROR(write("{" + std::to_string(n) + (plus ? "+" : "") + "}\r\n"));
      if (!plus) {
        Status f = conn->Flush();
        if (!f) return std::unexpected(NetError(what, f.error()));
        for (;;) {
          MK_ASSIGN_OR_RETURN(Response r, ReadResponse(what));
          if (r.kind == Response::Kind::kContinuation) break;
          if (r.kind == Response::Kind::kTagged) {
            if (r.tag != tag) return std::unexpected(ProtocolError(what, "a response with an unknown tag"));
            Tagged(r);
            return r;  // refused before the literal
          }
          MK_RETURN_IF_ERROR(untagged(r));
        }
      }
      MK_RETURN_IF_ERROR(WriteLiteralBytes(p, what));
    }
    MK_RETURN_IF_ERROR(write("\r\n"));
    Status f = conn->Flush();
    if (!f) return std::unexpected(NetError(what, f.error()));
    for (;;) {
      auto read = ReadResponse(what);
      if (!read) return std::unexpected(handler_error ? *handler_error : read.error());
      Response& r = *read;
      if (r.kind == Response::Kind::kContinuation) {
        return std::unexpected(ProtocolError(what, "an unexpected continuation request"));
      }
      if (r.kind == Response::Kind::kTagged) {
        if (r.tag != tag) return std::unexpected(ProtocolError(what, "a response with an unknown tag"));
        Tagged(r);
        if (r.cond != Response::Cond::kOk && r.cond != Response::Cond::kNo && r.cond != Response::Cond::kBad) {
          return std::unexpected(ProtocolError(what, std::string("tagged ") + CondName(r.cond)));
        }
        if (handler_error) return std::unexpected(*handler_error);
        return std::move(r);
      }
      MK_RETURN_IF_ERROR(untagged(r));
    }
  }

  // Run() and require OK.
  Result<Response> RunOk(const std::string& what, const Command& cmd, const Handler& handler = nullptr,
                         ErrorCode fallback = ErrorCode::kFailedPrecondition) {
    MK_ASSIGN_OR_RETURN(Response r, Run(what, cmd, handler));
    if (r.cond != Response::Cond::kOk) return std::unexpected(Failed(what, r, fallback));
    return r;
  }

  Status Capability() {
    MK_ASSIGN_OR_RETURN(Response r, RunOk("CAPABILITY", Command("CAPABILITY")));
    (void)r;
    return OkStatus();
  }

  std::string LoginWhat() const { return "login as " + options.user; }

  uint16_t Port() const {
    const net::ConnectOptions& c = options.connect;
    return c.port != 0 ? c.port : net::DefaultPort(net::Service::kImap, c.tls);
  }
  void Mask() { mask = net::SecretMask(options.user, options.password, options.connect.host, Port()); }

  // The refusal of a login, naming the way it was tried.
  Error LoginError(const Response& r) {
    return Error(CodeFor(r, ErrorCode::kFailedPrecondition),
                 "IMAP " + LoginWhat() + " at " + peer() + " failed (" +
                     net::LoginCommand(net::LoginProtocol::kImap, used) + "): " + Clean(r.StatusText()));
  }

  net::LoginOffer Offer() const {
    net::LoginOffer offer{.tls = conn->secure(), .sasl = {}, .user_pass = !Has("LOGINDISABLED"), .apop = false};
    for (const auto& c : caps)
      if (StartsWithIgnoreCase(c, "AUTH=")) offer.sasl.push_back(c.substr(5));
    return offer;
  }

  // AUTHENTICATE (net::RunSasl): the initial response on the command line
  // with SASL-IR (RFC 4959), else after the first "+"; throttling is
  // waited out as for any command (Throttled).
  Result<Response> Sasl() {
    return Throttled(LoginWhat(), [&](bool*) { return SaslOnce(); });
  }

  Result<Response> SaslOnce() {
    const std::string what = LoginWhat();
    const std::string tag = "A" + std::to_string(++tag_counter);
    conn->BeginCommand(Budget());
    Response done;
    net::SaslWire wire{
        .command = tag + " AUTHENTICATE " + net::SaslMechanism(used),
        .max_command_line = Has("SASL-IR") ? SIZE_MAX : 0,
        .send = [&](const std::string& line) -> Status {
          Status s = conn->Write(line + "\r\n");
          if (s) s = conn->Flush();
          if (!s) return std::unexpected(NetError(what, s.error()));
          return OkStatus();
        },
        // Untagged responses may come between the steps; the command's
        // byte budget and deadline bound them.
        .next = [&](std::string* challenge) -> Result<bool> {
          for (;;) {
            MK_ASSIGN_OR_RETURN(Response r, ReadResponse(what));
            if (r.kind == Response::Kind::kContinuation) {
              *challenge = r.text;
              return true;
            }
            if (r.kind == Response::Kind::kUntagged) {
              MK_RETURN_IF_ERROR(Common(r, what));
              continue;
            }
            if (r.tag != tag) return std::unexpected(ProtocolError(what, "a response with an unknown tag"));
            Tagged(r);
            done = std::move(r);
            return false;
          }
        },
        .broken = [&](std::string_view why) { return ProtocolError(what, why); },
        .host = options.connect.host,
        .port = Port()};
    MK_RETURN_IF_ERROR(net::RunSasl(used, options.user, options.password, wire));
    return done;
  }


  // One login with `used`; the tagged response (NO is not an error here).
  Result<Response> Login() {
    if (used == AuthMethod::kUserPass) {
      Command cmd("LOGIN ");
      cmd.Astring(options.user).Text(" ").Astring(options.password);
      return Run(LoginWhat(), cmd);
    }
    MK_ASSIGN_OR_RETURN(Response r, Sasl());
    if (r.cond == Response::Cond::kNo && net::IsBearer(used) && options.renew_token) {
      // The token may be stale: once more with a new one.
      MK_ASSIGN_OR_RETURN(options.password, options.renew_token());
      Mask();
      MK_ASSIGN_OR_RETURN(r, Sasl());
    }
    return r;
  }

  Status Authenticate() {
    if (options.user.empty()) return MakeError(ErrorCode::kInvalidArgument, "IMAP: no user name given");
    if (!conn->secure() && !options.allow_plaintext) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "refusing to log in as " + options.user + " at " + peer() +
                           " without TLS; use tls = implicit or starttls, or set allow_plaintext = true");
    }
    const net::LoginOffer offer = Offer();
    MK_ASSIGN_OR_RETURN(used, net::ChooseLogin(net::LoginProtocol::kImap, options.auth, offer, peer()));
    MK_ASSIGN_OR_RETURN(Response r, Login());
    if (r.cond == Response::Cond::kNo) {
      if (auto next = net::FallbackLogin(options.auth, used, offer)) {
        used = *next;  // CRAM-MD5 refused: once more with the next method
        MK_ASSIGN_OR_RETURN(r, Login());
      }
    }
    if (r.cond != Response::Cond::kOk) return std::unexpected(LoginError(r));
    // Capabilities change at login; the OK often carries the new ones.
    if (r.code == "CAPABILITY") return OkStatus();
    return Capability();
  }

  Status Open() {
    const std::string what = "greeting";
    conn->BeginCommand(Budget());
    MK_ASSIGN_OR_RETURN(Response greeting, ReadResponse(what));
    if (greeting.kind != Response::Kind::kUntagged || !greeting.is_status()) {
      return std::unexpected(ProtocolError(what, "not a greeting: " + DebugString(greeting)));
    }
    if (greeting.cond != Response::Cond::kOk && greeting.cond != Response::Cond::kPreauth) {
      conn->Close();
      return MakeError(ErrorCode::kUnavailable,
                       "IMAP server " + peer() + " refused the session: " + Clean(greeting.StatusText()));
    }
    const bool preauth = greeting.cond == Response::Cond::kPreauth;
    if (greeting.code == "CAPABILITY") {
      SetCaps(Words(greeting.code_args));
    } else {
      MK_RETURN_IF_ERROR(Capability());
    }
    if (options.connect.tls == net::TlsMode::kStartTls) {
      if (preauth) {
        conn->Close();
        return MakeError(ErrorCode::kFailedPrecondition,
                         "IMAP server " + peer() +
                             " greeted with PREAUTH, so STARTTLS is impossible; refusing to go on without TLS");
      }
      if (!Has("STARTTLS")) {
        conn->Close();
        return MakeError(ErrorCode::kFailedPrecondition,
                         "IMAP server " + peer() +
                             " does not offer STARTTLS; use tls = implicit (port 993), or tls = none only on a "
                             "trusted network");
      }
      MK_ASSIGN_OR_RETURN(Response r, Run("STARTTLS", Command("STARTTLS")));
      if (r.cond != Response::Cond::kOk) {
        conn->Close();
        return std::unexpected(Failed("STARTTLS", r));
      }
      Status tls = conn->StartTls();
      if (!tls) return std::unexpected(tls.error().WithContext("IMAP STARTTLS"));
      // RFC 3501 §6.2.1: capabilities learnt before TLS are discarded.
      caps.clear();
      MK_RETURN_IF_ERROR(Capability());
    }
    if (!preauth) {
      Status auth = Authenticate();
      if (!auth) {
        conn->Close();
        return auth;
      }
    }
    // CONDSTORE / QRESYNC (RFC 7162): QRESYNC implies CONDSTORE.
    if (Has("ENABLE") && (Has("QRESYNC") || Has("CONDSTORE"))) {
      std::string exts = Has("QRESYNC") ? "QRESYNC" : "";
      if (Has("CONDSTORE")) exts += exts.empty() ? "CONDSTORE" : " CONDSTORE";
      MK_ASSIGN_OR_RETURN(Response r, Run("ENABLE", Command("ENABLE " + exts)));
      (void)r;  // a refusal only means no CONDSTORE
    }
    return Compress();
  }

  void Note(const std::string& text) const {
    if (options.debug) options.debug("IMAP " + peer() + ": " + text);
  }

  // COMPRESS DEFLATE (RFC 4978), after login and ENABLE. TLS-level
  // compression would refuse it ([COMPRESSIONACTIVE]); OpenSSL 3 never
  // compresses, so that is only a refusal like any other.
  Status Compress() {
    if (!Has("COMPRESS=DEFLATE")) return OkStatus();
    if (!options.compress) {
      Note("COMPRESS=DEFLATE offered, not used (option compress is off)");
      return OkStatus();
    }
    MK_ASSIGN_OR_RETURN(Response r, Run("COMPRESS", Command("COMPRESS DEFLATE")));
    if (r.cond != Response::Cond::kOk) {
      Note("server refused COMPRESS DEFLATE (" + std::string(r.cond == Response::Cond::kBad ? "BAD " : "") +
           Clean(r.StatusText()) + "); going on uncompressed");
      return OkStatus();
    }
    Status s = conn->StartCompression();
    if (!s) return std::unexpected(NetError("COMPRESS", s.error()));
    Note("COMPRESS=DEFLATE active");
    return OkStatus();
  }

  Result<SelectedFolder> OpenFolder(const std::string& folder, bool read_write) {
    const char* verb = read_write ? "SELECT" : "EXAMINE";
    const std::string what = std::string(verb) + " " + Sanitize(folder);
    const std::string wire = WireName(folder);
    Command cmd(std::string(verb) + " ");
    cmd.Astring(wire);
    if (Has("CONDSTORE") && !Condstore()) cmd.Text(" (CONDSTORE)");
    selected = false;  // the command deselects, whatever its outcome
    SelectedFolder out;
    bool have_uidvalidity = false;
    auto handler = [&](Response& r) -> Status {
      if (r.name == "EXISTS" && r.number) out.exists = *r.number;
      if (r.cond == Response::Cond::kOk) {
        uint64_t v = 0;
        if (r.code == "UIDVALIDITY" && ParseNumber(r.code_args, &v) && v <= UINT32_MAX) {
          out.uidvalidity = static_cast<uint32_t>(v);
          have_uidvalidity = true;
        } else if (r.code == "UIDNEXT" && ParseNumber(r.code_args, &v) && v <= UINT32_MAX) {
          out.uidnext = static_cast<uint32_t>(v);
        } else if (r.code == "HIGHESTMODSEQ" && ParseNumber(r.code_args, &v)) {
          out.highestmodseq = v;
        } else if (r.code == "NOMODSEQ") {
          out.highestmodseq = 0;
        } else if (r.code == "PERMANENTFLAGS") {
          out.permanent_flags = ParsePermanentFlags(r.code_args);
          out.has_permanent_flags = true;
        }
      }
      return OkStatus();
    };
    MK_ASSIGN_OR_RETURN(Response r, Run(what, cmd, handler));
    if (r.cond != Response::Cond::kOk) {
      // RFC 3501 §6.3.1: NO means "no such mailbox, can't access mailbox";
      // Dovecot 2.3 sends it without [NONEXISTENT].
      const bool plain_no = r.cond == Response::Cond::kNo && r.code.empty();
      return std::unexpected(Failed(what, r, plain_no ? ErrorCode::kNotFound : ErrorCode::kFailedPrecondition));
    }
    out.read_only = !read_write || r.code == "READ-ONLY";
    if (!have_uidvalidity || out.uidvalidity == 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "IMAP " + what + " at " + peer() + ": the server sent no UIDVALIDITY, so UIDs cannot be trusted");
    }
    selected = true;
    selected_read_only = out.read_only;
    selected_name = folder;
    selected_wire = wire;
    return out;
  }

  // Every FETCH response of one command, parsed; malformed ones are a
  // protocol error.
  Status ForEachFetch(Response& r, const std::string& what, const std::function<void(FetchData&)>& fn) {
    if (r.name != "FETCH") return OkStatus();
    std::string why;
    auto d = ParseFetch(r, &why);
    if (!d) return std::unexpected(ProtocolError(what, why));
    fn(*d);
    return OkStatus();
  }
};

ImapClient::ImapClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ImapClient::~ImapClient() {
  if (impl_ && impl_->conn) impl_->conn->Close();
}

Result<std::unique_ptr<ImapClient>> ImapClient::Connect(const ImapOptions& options) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->options.connect.service = net::Service::kImap;
    impl->Mask();
    if (options.max_literal > 0) impl->limits.max_literal = options.max_literal;
    if (options.max_line > 0) {
      impl->limits.max_line = options.max_line;
      impl->limits.max_text = std::max(impl->limits.max_text, options.max_line);
    }
    impl->parser = std::make_unique<ResponseParser>(impl->limits);
    auto conn = net::Connection::Open(impl->options.connect);
    if (!conn) return std::unexpected(conn.error());
    impl->conn = std::move(*conn);
    MK_RETURN_IF_ERROR(impl->Open());
    return std::unique_ptr<ImapClient>(new ImapClient(std::move(impl)));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("IMAP connect: ") + e.what());
  }
}

bool ImapClient::HasCapability(std::string_view cap) const { return impl_->Has(cap); }
const std::vector<std::string>& ImapClient::capabilities() const { return impl_->caps; }
bool ImapClient::IsEnabled(std::string_view extension) const { return impl_->Enabled(extension); }
AuthMethod ImapClient::auth_method() const { return impl_->used; }
bool ImapClient::secure() const { return impl_->conn->secure(); }
bool ImapClient::compressed() const { return impl_->conn->compressing(); }
bool ImapClient::closed() const { return impl_->conn->closed(); }
bool ImapClient::timed_out() const { return impl_->conn->timed_out(); }
const std::string& ImapClient::peer() const { return impl_->peer(); }

std::vector<std::string> ImapClient::TakeAlerts() {
  std::vector<std::string> out;
  out.swap(impl_->alerts);
  return out;
}

Result<std::vector<Folder>> ImapClient::ListFolders() {
  Impl& d = *impl_;
  const bool extended = d.Has("LIST-EXTENDED");
  const bool special = d.Has("SPECIAL-USE") && extended;
  const bool status = d.Has("LIST-STATUS");
  std::string cmd = "LIST \"\" \"*\"";
  if (extended) {
    cmd += " RETURN (CHILDREN";
    if (special) cmd += " SPECIAL-USE";
    if (status) {
      cmd += " STATUS (MESSAGES UIDNEXT UIDVALIDITY";
      if (d.Has("CONDSTORE")) cmd += " HIGHESTMODSEQ";
      cmd += ")";
    }
    cmd += ")";
  }
  std::vector<Folder> folders;
  std::map<std::string, FolderStatus> statuses;
  auto handler = [&](Response& r) -> Status {
    if (r.name == "LIST" && folders.size() >= d.options.max_folders) {
      return std::unexpected(
          d.ProtocolError("LIST", "more than " + std::to_string(d.options.max_folders) + " folders (max_folders)"));
    }
    if (r.name == "LIST") {
      if (r.values.size() < 3 || !r.values[0].is_list() || !(r.values[1].is_string() || r.values[1].is_nil()) ||
          !(r.values[2].is_string() || r.values[2].is_nil())) {
        return std::unexpected(d.ProtocolError("LIST", "a malformed LIST response"));
      }
      Folder f;
      for (const Value& a : r.values[0].list)
        if (a.is_string()) f.attributes.push_back(a.text);
      if (r.values[1].is_string() && r.values[1].text.size() == 1) f.delimiter = r.values[1].text[0];
      f.wire_name = r.values[2].text;
      if (auto decoded = TryDecodeModifiedUtf7(f.wire_name)) {
        f.name = std::move(*decoded);
      } else {
        f.name = f.wire_name;
      }
      if (EncodeModifiedUtf7(f.name) != f.wire_name) d.wire_for_name[f.name] = f.wire_name;
      folders.push_back(std::move(f));
    } else if (auto st = ParseStatus(r)) {
      statuses[r.values[0].text] = *st;
    }
    return OkStatus();
  };
  MK_ASSIGN_OR_RETURN(Response r, d.RunOk("LIST", Command(cmd), handler));
  (void)r;
  for (auto& f : folders) {
    auto it = statuses.find(f.wire_name);
    if (it != statuses.end()) f.status = it->second;
  }
  return folders;
}

Result<FolderStatus> ImapClient::MailboxStatus(const std::string& folder) {
  Impl& d = *impl_;
  const std::string wire = d.WireName(folder);
  Command cmd("STATUS ");
  cmd.Astring(wire).Text(" (MESSAGES UIDNEXT UIDVALIDITY)");
  FolderStatus out;
  auto handler = [&](Response& r) -> Status {
    auto st = ParseStatus(r);
    if (st && (r.values[0].text == wire || (EqualsIgnoreCase(wire, "INBOX") && EqualsIgnoreCase(r.values[0].text, wire)))) {
      out = *st;
    }
    return OkStatus();
  };
  MK_ASSIGN_OR_RETURN(Response r, d.RunOk("STATUS " + Sanitize(folder), cmd, handler, ErrorCode::kNotFound));
  (void)r;
  return out;
}

Result<std::optional<PersonalNamespace>> ImapClient::Namespace() {
  Impl& d = *impl_;
  if (!d.Has("NAMESPACE")) return std::optional<PersonalNamespace>();
  std::optional<PersonalNamespace> personal;
  auto handler = [&](Response& r) -> Status {
    if (r.name != "NAMESPACE" || personal || r.values.empty() || !r.values[0].is_list()) return OkStatus();
    const Value& first = r.values[0].list.empty() ? r.values[0] : r.values[0].list[0];
    if (!first.is_list() || first.list.size() < 2 || !first.list[0].is_string()) {
      return std::unexpected(d.ProtocolError("NAMESPACE", "a malformed personal namespace"));
    }
    if (first.list[0].text.size() > 1000) return std::unexpected(d.ProtocolError("NAMESPACE", "a prefix over 1000 bytes"));
    PersonalNamespace ns;
    ns.prefix = DecodeModifiedUtf7(first.list[0].text);
    if (first.list[1].is_string() && first.list[1].text.size() == 1) ns.delimiter = first.list[1].text[0];
    personal = std::move(ns);
    return OkStatus();
  };
  MK_ASSIGN_OR_RETURN(Response r, d.RunOk("NAMESPACE", Command("NAMESPACE"), handler));
  (void)r;
  return personal;
}

Result<SelectedFolder> ImapClient::Examine(const std::string& folder) { return impl_->OpenFolder(folder, false); }
Result<SelectedFolder> ImapClient::Select(const std::string& folder) { return impl_->OpenFolder(folder, true); }

Status ImapClient::Unselect() {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  if (!d.selected) return OkStatus();
  if (d.Has("UNSELECT")) {
    MK_ASSIGN_OR_RETURN(Response r, d.RunOk("UNSELECT", Command("UNSELECT")));
    (void)r;
  } else {
    if (!d.selected_read_only) {
      // CLOSE expunges in a read-write folder: re-open it read-only first.
      MK_ASSIGN_OR_RETURN(SelectedFolder f, d.OpenFolder(d.selected_name, false));
      (void)f;
    }
    MK_ASSIGN_OR_RETURN(Response r, d.RunOk("CLOSE", Command("CLOSE")));
    (void)r;
  }
  d.selected = false;
  return OkStatus();
}

Result<std::vector<uint32_t>> ImapClient::UidSearch(const std::string& criteria) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.NeedSelected("UID SEARCH"));
  for (char c : criteria) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F) {
      return MakeError(ErrorCode::kInvalidArgument, "IMAP UID SEARCH: criteria must be printable ASCII");
    }
  }
  std::optional<UidRanges> filter;
  {
    auto words = Words(criteria);
    if (words.size() == 2 && EqualsIgnoreCase(words[0], "UID")) filter = ParseUidSet(words[1]);
  }
  const bool esearch = d.Has("ESEARCH");
  const std::string tag_next = "A" + std::to_string(d.tag_counter + 1);
  std::vector<uint32_t> uids;
  auto add = [&](uint64_t v) -> Status {
    if (v == 0 || v > UINT32_MAX) return std::unexpected(d.ProtocolError("UID SEARCH", "a UID out of range"));
    if (uids.size() >= kMaxSearchResults) {
      return std::unexpected(d.ProtocolError("UID SEARCH", "more than " + std::to_string(kMaxSearchResults) + " UIDs"));
    }
    uids.push_back(static_cast<uint32_t>(v));
    return OkStatus();
  };
  auto handler = [&](Response& r) -> Status {
    if (r.name == "SEARCH") {
      for (const Value& v : r.values) {
        if (v.is_list()) continue;  // (MODSEQ n)
        auto n = v.Number();
        if (!n) return std::unexpected(d.ProtocolError("UID SEARCH", "a non-number in SEARCH"));
        MK_RETURN_IF_ERROR(add(*n));
      }
    } else if (r.name == "ESEARCH") {
      size_t i = 0;
      if (i < r.values.size() && r.values[i].is_list()) {
        // (TAG "A5"): answers another command?
        const auto& c = r.values[i].list;
        if (c.size() == 2 && c[0].IsAtom("TAG") && c[1].text != tag_next) return OkStatus();
        ++i;
      }
      for (; i < r.values.size(); ++i) {
        if (r.values[i].IsAtom("UID")) continue;
        if (!r.values[i].IsAtom("ALL") || i + 1 >= r.values.size()) {
          ++i;  // MIN / MAX / COUNT / MODSEQ and their value
          continue;
        }
        auto set = ParseUidSet(r.values[++i].text);
        if (!set || set->star_alone) return std::unexpected(d.ProtocolError("UID SEARCH", "a bad ESEARCH ALL set"));
        for (const auto& [lo, hi] : set->ranges) {
          if (hi == UINT32_MAX || hi - lo >= kMaxSearchResults) {
            return std::unexpected(d.ProtocolError("UID SEARCH", "an ESEARCH range too large"));
          }
          for (uint64_t u = lo; u <= hi; ++u) MK_RETURN_IF_ERROR(add(u));
        }
      }
    }
    return OkStatus();
  };
  Command cmd(std::string("UID SEARCH ") + (esearch ? "RETURN (ALL) " : "") + criteria);
  MK_ASSIGN_OR_RETURN(Response r, d.RunOk("UID SEARCH", cmd, handler));
  (void)r;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (filter) std::erase_if(uids, [&](uint32_t u) { return !filter->Contains(u); });
  return uids;
}

Result<std::vector<MessageFlags>> ImapClient::FetchFlags(const std::string& uid_set, uint64_t changed_since) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.NeedSelected("UID FETCH"));
  auto filter = ParseUidSet(uid_set);
  if (!filter) return MakeError(ErrorCode::kInvalidArgument, "IMAP UID FETCH: bad UID set \"" + Sanitize(uid_set) + "\"");
  const bool condstore = d.Condstore();
  std::string cmd =
      "UID FETCH " + uid_set + " (UID FLAGS INTERNALDATE RFC822.SIZE" + (condstore ? " MODSEQ" : "") + ")";
  if (condstore && changed_since > 0) cmd += " (CHANGEDSINCE " + std::to_string(changed_since) + ")";
  std::map<uint32_t, MessageFlags> found;
  auto handler = [&](Response& r) -> Status {
    return d.ForEachFetch(r, "UID FETCH", [&](FetchData& f) {
      if (!f.uid || !filter->Contains(*f.uid)) return;  // an unsolicited update
      MessageFlags& m = found[*f.uid];
      m.uid = *f.uid;
      if (f.flags) m.flags = *f.flags;
      if (f.size) m.size = *f.size;
      if (f.internal_date) m.internal_date = *f.internal_date;
      if (f.modseq) m.modseq = *f.modseq;
    });
  };
  MK_ASSIGN_OR_RETURN(Response r, d.RunOk("UID FETCH", Command(cmd), handler));
  (void)r;
  std::vector<MessageFlags> out;
  out.reserve(found.size());
  for (auto& [uid, m] : found) out.push_back(std::move(m));
  return out;
}

Status ImapClient::FetchMessages(const std::vector<uint32_t>& requested,
                                 const std::function<Status(FetchedMessage&&)>& sink) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.NeedSelected("UID FETCH"));
  std::vector<uint32_t> uids = requested;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (!uids.empty() && uids[0] == 0) return MakeError(ErrorCode::kInvalidArgument, "IMAP UID FETCH: UID 0");
  if (uids.empty()) return OkStatus();
  const std::string what = "UID FETCH";

  // 1. Sizes, to cut byte-bounded chunks and to skip what is too big.
  std::map<uint32_t, uint64_t> sizes;
  for (const std::string& set : SplitUidSets(uids, kMaxSetChars)) {
    auto handler = [&](Response& r) -> Status {
      return d.ForEachFetch(r, what, [&](FetchData& f) {
        if (f.uid && f.size && std::binary_search(uids.begin(), uids.end(), *f.uid)) sizes[*f.uid] = *f.size;
      });
    };
    MK_ASSIGN_OR_RETURN(Response r, d.RunOk(what, Command("UID FETCH " + set + " (UID RFC822.SIZE)"), handler));
    (void)r;
  }

  // 2. Chunks.
  std::vector<std::vector<uint32_t>> chunks;
  std::vector<uint64_t> chunk_bytes;  // the RFC822.SIZEs each chunk asks for
  std::vector<std::pair<uint32_t, uint64_t>> too_big;
  {
    std::vector<uint32_t> cur;
    uint64_t bytes = 0;
    size_t chars = 0;
    auto close_chunk = [&] {
      chunks.push_back(std::move(cur));
      chunk_bytes.push_back(bytes);
      cur.clear();
      bytes = 0;
      chars = 0;
    };
    for (const auto& [uid, size] : sizes) {
      if (size > d.limits.max_literal) {
        too_big.emplace_back(uid, size);
        continue;
      }
      const size_t uid_chars = std::to_string(uid).size() + 1;
      if (!cur.empty() && (cur.size() >= std::max<size_t>(1, d.options.fetch_chunk_messages) ||
                           bytes + size > d.options.fetch_chunk_bytes || chars + uid_chars > kMaxSetChars)) {
        close_chunk();
      }
      cur.push_back(uid);
      bytes += size;
      chars += uid_chars;
    }
    if (!cur.empty()) close_chunk();
  }

  // 3. Each chunk: messages go to the sink in UID order as soon as every
  // smaller UID of the chunk has come (servers answer in that order anyway).
  std::optional<Error> failure;
  std::vector<uint32_t> no_body;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const std::vector<uint32_t>& chunk = chunks[c];
    struct Pending {
      FetchedMessage m;
      bool complete = false;
    };
    std::map<uint32_t, Pending> pending;
    size_t next = 0;
    bool stop = false;
    auto deliver = [&](bool final) {
      while (next < chunk.size()) {
        auto it = pending.find(chunk[next]);
        if (it == pending.end() || !it->second.complete) {
          if (!final) return;
          ++next;  // the server sent nothing usable for it
          continue;
        }
        if (!stop) {
          Status s = sink(std::move(it->second.m));
          if (!s) {
            stop = true;
            failure = s.error();
          }
        }
        pending.erase(it);
        ++next;
      }
    };
    auto handler = [&](Response& r) -> Status {
      return d.ForEachFetch(r, what, [&](FetchData& f) {
        if (!f.uid || !std::binary_search(chunk.begin(), chunk.end(), *f.uid)) return;
        if (stop) return;
        Pending& p = pending[*f.uid];
        p.m.uid = *f.uid;
        if (f.flags) p.m.flags = *f.flags;
        if (f.internal_date) p.m.internal_date = *f.internal_date;
        if (f.size) p.m.size = *f.size;
        if (f.has_body) {
          if (f.body->is_nil()) {
            no_body.push_back(*f.uid);
            pending.erase(*f.uid);
            return;
          }
          p.m.bytes = std::move(f.body->text);
          CrlfToLf(&p.m.bytes);
          p.complete = true;
          deliver(false);
        }
      });
    };
    // The sizes are the server's claim: the answer may bring twice them
    // (plus max_command_bytes), held by the bytes that came, whatever order
    // the messages come in.
    const uint64_t claimed = std::min<uint64_t>(chunk_bytes[c], UINT64_MAX / 4);
    const uint64_t budget = 2 * claimed + std::min<uint64_t>(d.Budget(), UINT64_MAX / 2);
    const std::string set = SplitUidSets(chunk, SIZE_MAX)[0];
    MK_ASSIGN_OR_RETURN(
        Response r, d.Run(what, Command("UID FETCH " + set + " (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
                          handler, budget));
    deliver(true);
    if (failure) return std::unexpected(*failure);
    if (r.cond != Response::Cond::kOk) return std::unexpected(d.Failed(what, r));
  }
  if (!too_big.empty() || !no_body.empty()) {
    std::string msg = "IMAP UID FETCH at " + d.peer() + " in " + Sanitize(d.selected_name) + ": ";
    if (!too_big.empty()) {
      msg += "message UID " + std::to_string(too_big[0].first) + " (" + std::to_string(too_big[0].second) +
             " bytes) is larger than max_literal (" + std::to_string(d.limits.max_literal) + " bytes)";
      if (too_big.size() > 1) msg += " and " + std::to_string(too_big.size() - 1) + " more";
      msg += "; skipped";
    }
    if (!no_body.empty()) {
      if (!too_big.empty()) msg += "; ";
      msg += "the server sent no body (NIL) for UID " + std::to_string(no_body[0]);
      if (no_body.size() > 1) msg += " and " + std::to_string(no_body.size() - 1) + " more";
    }
    return MakeError(ErrorCode::kFailedPrecondition, msg);
  }
  return OkStatus();
}

Status ImapClient::DeleteMessages(const std::vector<uint32_t>& requested) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.NeedSelected("UID EXPUNGE"));
  std::vector<uint32_t> uids = requested;
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (!uids.empty() && uids[0] == 0) return MakeError(ErrorCode::kInvalidArgument, "IMAP UID STORE: UID 0");
  if (uids.empty()) return OkStatus();
  if (!d.Has("UIDPLUS")) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "IMAP server " + d.peer() +
                         " lacks UIDPLUS; refusing to delete, because a plain EXPUNGE could remove other messages "
                         "marked \\Deleted");
  }
  if (d.selected_read_only) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "IMAP: folder " + Sanitize(d.selected_name) + " is open read-only; Select() it to delete");
  }
  const auto sets = SplitUidSets(uids, kMaxSetChars);
  for (const auto& set : sets) {
    MK_ASSIGN_OR_RETURN(Response r,
                        d.RunOk("UID STORE", Command("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)")));
    (void)r;
  }
  for (const auto& set : sets) {
    MK_ASSIGN_OR_RETURN(Response r, d.RunOk("UID EXPUNGE", Command("UID EXPUNGE " + set)));
    (void)r;
  }
  return OkStatus();
}

Status ImapClient::CreateFolder(const std::string& folder) {
  Impl& d = *impl_;
  const std::string what = "CREATE " + Sanitize(folder);
  Command cmd("CREATE ");
  cmd.Astring(d.WireName(folder));
  MK_ASSIGN_OR_RETURN(Response r, d.Run(what, cmd));
  if (r.cond == Response::Cond::kOk || r.code == "ALREADYEXISTS") return OkStatus();
  return std::unexpected(d.Failed(what, r));
}

Result<ImapClient::AppendResult> ImapClient::Append(const std::string& folder, std::string_view bytes,
                                                    const std::string& flags, std::optional<int64_t> internal_date) {
  Impl& d = *impl_;
  const std::string what = "APPEND to " + Sanitize(folder);
  std::vector<std::string> list;
  for (auto f : Words(flags)) {
    if (!ValidFlag(f)) {
      return MakeError(ErrorCode::kInvalidArgument, "IMAP " + what + ": bad flag \"" + Sanitize(f, 80) + "\"");
    }
    if (EqualsIgnoreCase(f, "\\Recent")) continue;
    list.emplace_back(f);
  }
  Command cmd("APPEND ");
  cmd.Astring(d.WireName(folder));
  if (!list.empty()) cmd.Text(" (" + JoinFlags(std::move(list)) + ")");
  if (internal_date) cmd.Text(" \"" + FormatInternalDate(*internal_date) + "\"");
  cmd.Text(" ").Literal(bytes, /*lf_to_crlf=*/true);
  MK_ASSIGN_OR_RETURN(Response r, d.RunOk(what, cmd));
  AppendResult out;
  if (r.code == "APPENDUID" && d.Has("UIDPLUS")) {
    auto w = Words(r.code_args);
    uint32_t uv = 0, uid = 0;
    if (w.size() == 2 && ParseNumber(w[0], &uv) && ParseNumber(w[1], &uid)) {
      out.uidvalidity = uv;
      out.uid = uid;
    }
  }
  return out;
}

Status ImapClient::Logout() {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  d.logging_out = true;
  auto r = d.Run("LOGOUT", Command("LOGOUT"));
  d.conn->Close();
  d.selected = false;
  if (!r) {
    // The server may close right after its BYE.
    if (d.bye_seen && r.error().code() == ErrorCode::kUnavailable) return OkStatus();
    return std::unexpected(r.error());
  }
  if (r->cond != Response::Cond::kOk) return std::unexpected(d.Failed("LOGOUT", *r));
  return OkStatus();
}

}  // namespace mailkeep::imap
