#include "sync/migrate/migrator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

#include "store/util/mutf7.h"
#include "sync/migrate/folder_map.h"
#include "sync/reconnect.h"

namespace mailkeep::migrate {
namespace {

constexpr char kImap[] = "imap";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

// "inbox" and "Inbox/x" as the server spells INBOX: "INBOX", "INBOX/x".
std::string NormalizeInbox(std::string name, char delimiter) {
  if (name.size() >= 5 && EqualsIgnoreCase(std::string_view(name).substr(0, 5), "INBOX") &&
      (name.size() == 5 || (delimiter != '\0' && name[5] == delimiter))) {
    name.replace(0, 5, "INBOX");
  }
  return name;
}

int Rank(const Location& l) {
  if (l.source == "imap") return 0;
  if (l.source == "maildir") return 1;
  if (l.source == "mbox") return 2;
  return 3;
}

// The message's locations, best first (see the top of the file).
std::vector<const Location*> RankedLocations(const MessageInfo& info, const std::string& target_account) {
  std::vector<const Location*> out;
  for (const auto& l : info.locations) out.push_back(&l);
  auto key = [&](const Location* l) {
    bool target = l->source == kImap && l->account == target_account;
    return std::make_tuple(l->gone_at.has_value(), Rank(*l), target, l->deleted_at.has_value());
  };
  std::stable_sort(out.begin(), out.end(), [&](const Location* a, const Location* b) { return key(a) < key(b); });
  return out;
}

std::string LastComponent(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The neutral path (folder_map.h) of a local (Maildir, mbox, .eml
// directory) place.
Path LocalPath(const Location& l) {
  std::string name = LastComponent(l.folder);
  if (name.empty() || name == "/" || EqualsIgnoreCase(name, "Maildir") || EqualsIgnoreCase(name, "INBOX")) {
    return {"INBOX"};
  }
  if (l.source == "maildir" && name.size() > 1 && name[0] == '.') {
    // Maildir++: ".Lists.dev" is Lists/dev; names are modified UTF-7 on disk.
    Path out;
    for (auto& part : ToNeutral(name.substr(1), Layout{"", '.'})) {
      auto decoded = TryDecodeModifiedUtf7(part);
      out.push_back(decoded ? *decoded : part);
    }
    return ParseNeutral(NeutralString(out));
  }
  if (l.source == "mbox") {
    for (const char* ext : {".gz", ".zst", ".xz", ".bz2"}) {
      if (EndsWithIgnoreCase(name, ext) && name.size() > std::string_view(ext).size()) {
        name.resize(name.size() - std::string_view(ext).size());
        break;
      }
    }
    for (const char* ext : {".mbox", ".mbx"}) {
      if (EndsWithIgnoreCase(name, ext) && name.size() > std::string_view(ext).size()) {
        name.resize(name.size() - std::string_view(ext).size());
        break;
      }
    }
  }
  return ParseNeutral(name);
}

std::vector<std::string> FlagWords(const std::string& flags) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < flags.size()) {
    size_t j = std::min(flags.find(' ', i), flags.size());
    if (j > i) out.push_back(flags.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string JoinFlags(const std::set<std::string>& flags) {
  std::string s;
  for (const auto& f : flags) s += (s.empty() ? "" : " ") + f;
  return s;
}

// Flags to send: sorted, without \Recent and \Deleted.
std::string CleanFlags(const std::string& flags) {
  std::set<std::string> out;
  for (auto& f : FlagWords(flags)) {
    if (!EqualsIgnoreCase(f, "\\Recent") && !EqualsIgnoreCase(f, "\\Deleted")) out.insert(f);
  }
  return JoinFlags(out);
}

struct Target {
  std::string folder;
  std::string flags;
  std::optional<int64_t> internal_date;
};

// `folder_for` gives the target folder for the best place (nullptr: none).
Target PlanMessage(const MessageInfo& info, const std::string& account,
                   const std::function<std::string(const Location*)>& folder_for) {
  auto ranked = RankedLocations(info, account);
  Target t;
  t.folder = folder_for(ranked.empty() ? nullptr : ranked.front());
  for (const Location* l : ranked) {
    if (l->gone_at) break;  // flags of a place the server no longer has are stale
    if (l->source == kImap || l->source == "maildir") {
      t.flags = CleanFlags(l->flags);
      break;
    }
  }
  for (const Location* l : ranked) {
    if (l->internal_date) {
      t.internal_date = l->internal_date;
      break;
    }
  }
  if (!t.internal_date) t.internal_date = info.date;
  return t;
}

// A Message-ID that can go into a quoted IMAP SEARCH string as it is.
bool Searchable(const std::string& id) {
  if (id.empty() || id.size() > 900) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

// Whether `e` stops the run: the session is gone (kUnavailable), or the
// server throttles longer than throttle_max_wait (kResourceExhausted:
// the run is partial, net/throttle.h).
bool Stops(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kResourceExhausted;
}

struct ServerPlace {
  uint32_t uidvalidity = 0, uid = 0;
};

// A keyword: a flag without a backslash (IMAP system flags have one).
bool HasKeyword(const std::string& flags) {
  for (const auto& f : FlagWords(flags)) {
    if (f[0] != '\\') return true;
  }
  return false;
}

// Looks for the message `raw` in `folder` on the server, after an APPEND
// whose answer never arrived: candidates by size (what we sent: LF as
// CRLF, or as the server may count it, with LF) and Message-ID, then
// compared byte for byte. Leaves no
// folder selected. nullopt when it is not there (or the folder is missing).
Result<std::optional<ServerPlace>> FindOnServer(imap::ImapClient& client, const std::string& folder,
                                                const std::string& raw, const std::string& message_id) {
  auto box = client.Examine(folder);
  if (!box) {
    if (box.error().code() == ErrorCode::kNotFound) return std::optional<ServerPlace>();
    return std::unexpected(box.error());
  }
  uint64_t size = raw.size();
  std::string want;  // as FetchMessages hands it back: CRLF as LF
  want.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) ++size;
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    want += raw[i];
  }
  // From the size with LF line ends to the size with CRLF: Courier 5
  // searches by its file's size (LF), not RFC822.SIZE (measured: a message
  // of RFC822.SIZE 82 is not LARGER 81 SMALLER 83, it is LARGER 76).
  std::string criteria = "LARGER " + std::to_string(want.size() - 1) + " SMALLER " + std::to_string(size + 1);
  if (Searchable(message_id)) criteria += " HEADER Message-ID \"" + message_id + "\"";
  std::optional<ServerPlace> found;
  if (box->exists > 0 && size > 0) {
    MK_ASSIGN_OR_RETURN(auto uids, client.UidSearch(criteria));
    if (!uids.empty()) {
      MK_RETURN_IF_ERROR(client.FetchMessages(uids, [&](imap::FetchedMessage&& m) -> Status {
        if (!found && m.bytes == want) found = ServerPlace{box->uidvalidity, m.uid};
        return OkStatus();
      }));
    }
  }
  MK_RETURN_IF_ERROR(client.Unselect());
  return found;
}

}  // namespace

struct Migrator::State {
  State(Archive& a, const imap::ImapOptions& i, Options o, Warn w)
      : archive(a), imap(i), options(std::move(o)), warn(std::move(w)), budget(std::move(options.reconnect)) {}
  Archive& archive;
  imap::ImapOptions imap;               // to log in again (Reconnect)
  Options options;
  Warn warn;
  sync::ReconnectBudget budget;
  std::unique_ptr<imap::ImapClient> client;
  // Per folder, its UIDVALIDITY and a lower bound of its UIDNEXT before
  // the next APPEND there: from LIST-STATUS, SELECT, or the UID of the last
  // APPEND there plus one (UIDs are assigned ascending, RFC 3501 2.3.1.1:
  // anything added after it has a higher UID). UIDNEXT never decreases, so
  // a folder whose UIDNEXT is still at most that after an APPEND that got
  // no answer has had nothing added: it did not get the message.
  struct Mark {
    uint32_t uidvalidity = 0, uidnext = 0;
  };
  std::map<std::string, Mark> marks;
  std::map<int64_t, Mark> unanswered;   // intent of an APPEND without an answer in this run → its folder's mark then
  std::optional<FolderMapper> mapper;   // the target's layout, special-use folders, the user's rules
  std::set<std::string> existing;       // folders on the server
  std::optional<std::string> fixed;     // the one target folder, unless keep_folders
  std::vector<std::string> created;
  std::map<std::string, std::string> refused;                   // folder → why it could not be created / selected
  std::map<std::string, Layout> source_layouts;                 // source IMAP account → its layout (InferLayout)
  std::map<std::pair<std::string, int64_t>, int64_t> unknown;  // (folder, message) → intent id
  std::map<std::string, std::set<int64_t>> live;                // folder → messages with a live place there
  std::set<std::string> dropped_flags;  // warned about once each
  std::set<std::string> uid_unknown;    // folders warned about: an appended message's UID not found
  // The folder last SELECTed for its PERMANENTFLAGS and UIDNEXT (and left
  // again, see PrepareFolder), what SELECT said, and the lowest UID the
  // next message appended there can have.
  std::string known;
  imap::SelectedFolder known_box;
  uint32_t next_uid = 0;
  int appends = 0;

  std::string FolderFor(const Location* best);
  const Layout& SourceLayout(const std::string& account);
  Result<std::set<int64_t>*> LiveIn(const std::string& folder);
  Outcome MigrateOnce(int64_t id);
  bool SessionEnded(const Outcome& out) const;
  Status Reconnect(const std::string& why);
  void MarkFolder(const std::string& folder, uint32_t uidvalidity, uint32_t uidnext);
  Result<bool> ProvenNotAppended(const std::string& folder, int64_t intent);
  Outcome Plan(const MessageInfo& info, Outcome out, bool check_first);
  Outcome Recover(int64_t id, int64_t intent, const std::string& raw, const std::string& message_id, Outcome out);
  Outcome Append(int64_t id, int64_t intent, const std::string& raw, const std::string& message_id, Outcome out);
  // Whether PrepareFolder SELECTs the folder: not, only to mark it (a
  // refusal is no error), or for PERMANENTFLAGS / UIDNEXT (it must).
  enum class Open { kNo, kForMark, kRequired };
  Status PrepareFolder(const std::string& folder, Open open);
  std::string PermittedFlags(const std::string& folder, const std::string& flags);
  Result<ServerPlace> AppendedPlace(const std::string& folder, const std::string& message_id);
  Origin Place(const Outcome& out) const;
};

namespace {

Outcome Failed(Outcome out, const Error& e, bool archive = false) {
  out.kind = Outcome::kFailed;
  out.error = e.message();
  out.archive = archive;
  out.stop = archive || Stops(e);
  out.partial = !archive && e.code() == ErrorCode::kResourceExhausted;
  return out;
}

}  // namespace

Migrator::Migrator(std::unique_ptr<State> state) : s_(std::move(state)) {}
Migrator::~Migrator() = default;

Result<std::unique_ptr<Migrator>> Migrator::Connect(Archive& archive, const imap::ImapOptions& imap, Options options,
                                                    Warn warn) {
  auto s = std::unique_ptr<State>(new State(archive, imap, std::move(options), std::move(warn)));
  MK_ASSIGN_OR_RETURN(s->client, imap::ImapClient::Connect(imap));
  MK_ASSIGN_OR_RETURN(auto listed, s->client->ListFolders());
  auto personal = s->client->Namespace();  // refused (NO, BAD): the names tell
  if (!personal && personal.error().code() == ErrorCode::kUnavailable) return std::unexpected(personal.error());
  std::vector<std::string> names;
  for (const auto& f : listed) {
    s->existing.insert(f.name);
    names.push_back(f.name);
    if (f.status) s->MarkFolder(f.name, f.status->uidvalidity, f.status->uidnext);
  }
  // The layout: NAMESPACE's; without it the prefix as the names suggest and
  // the hierarchy delimiter of INBOX, else of the first folder that has one.
  Layout layout{InferLayout(names).prefix, '\0'};
  for (const auto& f : listed) {
    if (f.name == "INBOX" && f.delimiter != '\0') layout.delimiter = f.delimiter;
  }
  for (const auto& f : listed) {
    if (layout.delimiter == '\0') layout.delimiter = f.delimiter;
  }
  if (personal && *personal) layout = Layout{(*personal)->prefix, (*personal)->delimiter};
  s->mapper.emplace(layout, listed, s->options.folder_map);
  if (!s->options.keep_folders) {
    const std::string& f = s->options.folder;
    s->fixed = s->existing.count(f) ? f : FromNeutral(ParseNeutral(f), layout);
  }
  MK_ASSIGN_OR_RETURN(auto intents, archive.UnknownIntents(IntentKind::kAppend));
  for (const Intent& i : intents) {
    if (i.target == s->options.account) s->unknown[{i.via, i.message}] = i.id;
  }
  return std::unique_ptr<Migrator>(new Migrator(std::move(s)));
}

std::vector<std::string> Migrator::Finish(bool connection_lost) {
  if (!s_->client) return {};  // a reconnect that failed
  if (!connection_lost) static_cast<void>(s_->client->Logout());
  return s_->client->TakeAlerts();
}

const std::vector<std::string>& Migrator::created_folders() const { return s_->created; }

const Layout& Migrator::State::SourceLayout(const std::string& account) {
  auto it = source_layouts.find(account);
  if (it == source_layouts.end()) {
    std::vector<std::string> names;
    if (auto states = archive.FolderStates(kImap, account)) {
      for (const auto& f : *states) names.push_back(f.name);
    }
    it = source_layouts.emplace(account, InferLayout(names)).first;
  }
  return it->second;
}

// The target folder for a message whose best place is `l` (see the top of
// migrator.h and folder_map.h).
std::string Migrator::State::FolderFor(const Location* l) {
  if (fixed) return *fixed;
  const Layout& target = mapper->target();
  if (l != nullptr && l->source == kImap && l->account == options.account) {
    return l->folder.empty() ? "INBOX" : NormalizeInbox(l->folder, target.delimiter);  // already the target's name
  }
  if (l == nullptr || l->source == "pop3") return mapper->Map({"INBOX"});
  if (l->source == kImap) return mapper->Map(ToNeutral(l->folder, SourceLayout(l->account)));
  return mapper->Map(LocalPath(*l));
}

Result<std::set<int64_t>*> Migrator::State::LiveIn(const std::string& folder) {
  auto it = live.find(folder);
  if (it == live.end()) {
    MK_ASSIGN_OR_RETURN(auto rows, archive.FolderLocations(kImap, options.account, folder));
    std::set<int64_t> ids;
    for (const auto& k : rows) {
      if (!k.deleted_at) ids.insert(k.message);
    }
    it = live.emplace(folder, std::move(ids)).first;
  }
  return &it->second;
}

Origin Migrator::State::Place(const Outcome& out) const {
  Origin o;
  o.source = kImap;
  o.account = options.account;
  o.folder = out.folder;
  o.flags = out.flags;
  o.internal_date = out.internal_date;
  return o;
}

// A message whose session the server ended on the way (EOF, reset, BYE;
// sync::ServerEndedSession) is tried again in a new session, within the
// reconnect budget (sync/reconnect.h: 3 in a row without a message done,
// pauses 0, 1, 2 s). Its APPEND, if one was in flight, is an unknown
// intent by then: Recover settles it before anything is appended again.
Outcome Migrator::Migrate(int64_t id) {
  State& s = *s_;
  for (;;) {
    if (!s.client) return Failed(Outcome(), Error(ErrorCode::kUnavailable, "IMAP: not connected (a reconnect failed)"));
    Outcome out = s.MigrateOnce(id);
    if (!s.SessionEnded(out)) {
      if (out.kind != Outcome::kFailed) s.budget.Progress();
      return out;
    }
    if (Status st = s.Reconnect(out.error); !st) return Failed(out, st.error());
  }
}

bool Migrator::State::SessionEnded(const Outcome& out) const {
  return out.kind == Outcome::kFailed && out.stop && !out.archive && !out.partial && client &&
         sync::ServerEndedSession(Error(ErrorCode::kUnavailable, out.error), *client);
}

Status Migrator::State::Reconnect(const std::string& why) {
  client.reset();
  known.clear();  // nothing is selected in a new session; PERMANENTFLAGS are asked for again
  MK_ASSIGN_OR_RETURN(client, sync::ReconnectImap(imap, budget, Error(ErrorCode::kUnavailable, why)));
  return OkStatus();
}

void Migrator::State::MarkFolder(const std::string& folder, uint32_t uidvalidity, uint32_t uidnext) {
  if (uidvalidity == 0 || uidnext == 0) {
    marks.erase(folder);
  } else {
    marks[folder] = Mark{uidvalidity, uidnext};
  }
}

// Whether the APPEND of `intent` to `folder`, sent in this run without an
// answer, provably did not happen: the folder's UIDVALIDITY is the one
// marked before it and its UIDNEXT no higher. False when nothing was marked
// (an intent of an earlier run, a folder without LIST-STATUS, SELECT or a
// UID from an earlier APPEND): the message is then looked for.
Result<bool> Migrator::State::ProvenNotAppended(const std::string& folder, int64_t intent) {
  auto mark = unanswered.find(intent);
  if (mark == unanswered.end()) return false;
  auto now = client->MailboxStatus(folder);
  if (!now) return now.error().code() == ErrorCode::kNotFound ? Result<bool>(false) : std::unexpected(now.error());
  return now->uidvalidity == mark->second.uidvalidity && now->uidnext != 0 && now->uidnext <= mark->second.uidnext;
}

Outcome Migrator::State::MigrateOnce(int64_t id) {
  State& s = *this;
  Outcome out;
  auto info = s.archive.GetInfo(id);
  if (!info) return Failed(out, info.error(), true);
  if (!*info) return Failed(out, Error(ErrorCode::kNotFound, "no such message"));
  Target t = PlanMessage(**info, s.options.account, [&s](const Location* l) { return s.FolderFor(l); });
  out.folder = t.folder;
  out.flags = t.flags;
  out.internal_date = t.internal_date;
  auto live = s.LiveIn(t.folder);
  if (!live) return Failed(out, live.error(), true);
  auto found = s.unknown.find({t.folder, id});
  const int64_t intent = found == s.unknown.end() ? 0 : found->second;
  if ((*live)->count(id)) {
    out.kind = Outcome::kAlready;
    // A stale intent (a sync found the message there first): dropped.
    if (intent != 0 && !s.options.dry_run && s.archive.ResolveAppend(intent, id, nullptr)) s.unknown.erase(found);
    return out;
  }
  if (s.options.dry_run) return s.Plan(**info, out, intent != 0);
  auto raw = s.archive.ReadRaw(id);
  if (!raw) return Failed(out, raw.error());
  if (intent != 0) {
    out = s.Recover(id, intent, *raw, (*info)->message_id, out);
    if (out.kind != Outcome::kAppended) return out;
  }
  return s.Append(id, intent, *raw, (*info)->message_id, out);
}

Outcome Migrator::State::Plan(const MessageInfo& info, Outcome out, bool check_first) {
  out.kind = Outcome::kAppended;
  out.bytes = info.size;
  out.check_first = check_first;
  out.create_folder = !existing.count(out.folder);
  if (out.create_folder) {
    existing.insert(out.folder);
    created.push_back(out.folder);
  }
  live[out.folder].insert(info.id);
  return out;
}

// An unknown intent: is the message there? kAppended = provably not
// (UIDNEXT, ProvenNotAppended), or not found and retry_unknown says append
// it.
Outcome Migrator::State::Recover(int64_t id, int64_t intent, const std::string& raw, const std::string& message_id,
                                 Outcome out) {
  auto proven = ProvenNotAppended(out.folder, intent);
  if (!proven) return Failed(out, proven.error().WithContext("looking for an unconfirmed APPEND in " + out.folder));
  if (*proven) {
    out.kind = Outcome::kAppended;
    return out;
  }
  auto found = FindOnServer(*client, out.folder, raw, message_id);
  if (!found) {
    Error e = found.error().WithContext("looking for an unconfirmed APPEND in " + out.folder);
    return Failed(out, e);
  }
  if (*found) {
    Origin place = Place(out);
    place.uidvalidity = (*found)->uidvalidity;
    place.key = std::to_string((*found)->uid);
    if (Status st = archive.ResolveAppend(intent, id, &place); !st) {
      return Failed(out, st.error().WithContext("found in " + out.folder + " but not recorded in the archive"), true);
    }
    unknown.erase({out.folder, id});
    live[out.folder].insert(id);
    MarkFolder(out.folder, (*found)->uidvalidity, (*found)->uid + 1);  // at most its UIDNEXT: safe
    out.kind = Outcome::kRecovered;
    return out;
  }
  if (!options.retry_unknown) {
    out.kind = Outcome::kUnknown;
    warn("message " + std::to_string(id) + ": an earlier APPEND to " + out.folder +
         " got no answer and the message is not found there by size and content; not appended again (check the "
         "folder; --retry-unknown appends it)");
    return out;
  }
  out.kind = Outcome::kAppended;
  return out;
}

// Creates the folder if it is missing; unless `open` is kNo, SELECTs it
// (once while it stays the folder appended to) for its PERMANENTFLAGS and
// UIDNEXT and leaves it again: no folder is selected while a message is
// appended (GNU Mailutils 3.15 keeps only the first APPEND, without its
// flags, into the folder a session has SELECTed read-write; Courier refuses
// an APPEND into the folder it has EXAMINEd). The SELECT also marks the
// folder (its UIDNEXT before the APPEND), so that an APPEND without an
// answer can be proved not stored on servers without LIST-STATUS. A SELECT,
// not a STATUS: Courier 5 reports a new UIDVALIDITY at every STATUS of a
// folder no session has SELECTed read-write (measured: 796518490, then
// 796518491 after 1.1 s), which would void the proof; a read-write SELECT
// fixes it (and Courier's SELECT lacks UIDNEXT: STATUS after it gives it).
// A folder that cannot be created, or selected when that is
// kRequired, is refused for the rest of the run: one error line, not one
// per message; a SELECT only kForMark that is refused leaves the folder
// without a mark (e.g. a folder one may only APPEND to).
Status Migrator::State::PrepareFolder(const std::string& folder, Open open) {
  auto refuse = [&](const Error& e) -> Status {
    if (Stops(e)) return std::unexpected(e);
    refused[folder] = e.message() + "; every message for " + folder +
                      " is skipped this run (map it elsewhere with --map or folder_map)";
    return MakeError(ErrorCode::kFailedPrecondition, refused[folder]);
  };
  if (!existing.count(folder)) {
    if (Status st = client->CreateFolder(folder); !st) return refuse(st.error());
    existing.insert(folder);
    created.push_back(folder);
  }
  if (open == Open::kNo || known == folder) return OkStatus();
  known.clear();
  auto box = client->Select(folder);
  if (!box && open == Open::kForMark && !Stops(box.error())) return OkStatus();
  if (!box) return refuse(box.error());
  MK_RETURN_IF_ERROR(client->Unselect());
  known = folder;
  known_box = *box;
  next_uid = box->uidnext;
  if (next_uid == 0) {
    // Courier 5 sends no UIDNEXT on SELECT (RFC 3501 requires it); STATUS
    // does, once the SELECT has fixed its UIDVALIDITY (checked: the same).
    auto status = client->MailboxStatus(folder);
    if (!status && Stops(status.error())) return std::unexpected(status.error());
    if (status && status->uidvalidity == box->uidvalidity) next_uid = status->uidnext;
  }
  MarkFolder(folder, box->uidvalidity, next_uid);
  return OkStatus();
}

// `flags` without those `folder` does not keep (PERMANENTFLAGS, known when
// PrepareFolder selected it); one warning per dropped flag and run.
std::string Migrator::State::PermittedFlags(const std::string& folder, const std::string& flags) {
  if (known != folder) return flags;
  std::set<std::string> kept;
  for (auto& f : FlagWords(flags)) {
    if (known_box.Permits(f)) {
      kept.insert(f);
    } else if (dropped_flags.insert(f).second) {
      warn("account " + options.account + " does not keep the flag " + f + " (not in PERMANENTFLAGS of " + known +
           "): messages are appended without it");
    }
  }
  return JoinFlags(kept);
}

// Without UIDPLUS: the place of the message just appended to `folder` (the
// one PrepareFolder knows), EXAMINEd for it — the one new UID from next_uid
// on (UID FETCH: GNU Mailutils answers UID SEARCH UID n:* with nothing),
// else the one among them with its Message-ID. uid 0 when neither is unique
// (another client appending messages without a Message-ID at the same
// time). The folder's mark is then the UIDNEXT that EXAMINE gave (after
// the APPEND, so at most what it is before the next one). Leaves no folder
// selected.
Result<ServerPlace> Migrator::State::AppendedPlace(const std::string& folder, const std::string& message_id) {
  MK_ASSIGN_OR_RETURN(auto box, client->Examine(folder));
  ServerPlace place{box.uidvalidity, 0};
  MK_ASSIGN_OR_RETURN(auto listed, client->FetchFlags(std::to_string(std::max<uint32_t>(next_uid, 1)) + ":*"));
  std::vector<uint32_t> fresh;
  for (const auto& m : listed) fresh.push_back(m.uid);
  if (!fresh.empty()) next_uid = std::max(next_uid, fresh.back() + 1);
  if (fresh.size() == 1) {
    place.uid = fresh.front();
  } else if (!fresh.empty() && Searchable(message_id)) {
    MK_ASSIGN_OR_RETURN(auto same, client->UidSearch("HEADER Message-ID \"" + message_id + "\""));
    std::vector<uint32_t> in_range;
    for (uint32_t u : same) {
      if (std::binary_search(fresh.begin(), fresh.end(), u)) in_range.push_back(u);
    }
    if (in_range.size() == 1) place.uid = in_range.front();
  }
  MarkFolder(folder, box.uidvalidity, box.uidnext != 0 ? box.uidnext : place.uid + (place.uid != 0));
  MK_RETURN_IF_ERROR(client->Unselect());
  return place;
}

// The intent (unless an unknown one is being retried), the APPEND, and its
// place recorded with the intent resolved.
Outcome Migrator::State::Append(int64_t id, int64_t intent, const std::string& raw, const std::string& message_id,
                                Outcome out) {
  if (auto it = refused.find(out.folder); it != refused.end()) {
    out = Failed(out, Error(ErrorCode::kFailedPrecondition, it->second));
    out.repeat = true;
    return out;
  }
  // SELECTed for PERMANENTFLAGS when a keyword is to be set (servers refuse
  // keywords they do not keep with BAD), for UIDNEXT without UIDPLUS, and
  // for the folder's mark when nothing gave one yet (PrepareFolder).
  const bool uidplus = client->HasCapability("UIDPLUS");
  const Open open = !uidplus || HasKeyword(out.flags) ? Open::kRequired
                    : marks.count(out.folder)         ? Open::kNo
                                                      : Open::kForMark;
  if (Status st = PrepareFolder(out.folder, open); !st) return Failed(out, st.error());
  out.flags = PermittedFlags(out.folder, out.flags);
  if (intent == 0) {
    std::vector<Intent> recorded = {Intent::For(IntentKind::kAppend, id, options.account, out.folder)};
    if (Status st = archive.RecordIntents(recorded); !st) {
      return Failed(out, st.error().WithContext("not appended: recording the intent failed"), true);
    }
    intent = recorded[0].id;
  }
  auto result = client->Append(out.folder, raw, out.flags, out.internal_date);
  if (!result && result.error().code() == ErrorCode::kNotFound) {
    // [TRYCREATE]: the folder went away since LIST; make it once more.
    if (client->CreateFolder(out.folder)) result = client->Append(out.folder, raw, out.flags, out.internal_date);
  }
  if (!result) {
    // Refused: nothing was appended, the intent goes. Connection lost: the
    // server may have it; the intent stays unknown, for Recover after a
    // reconnect (Migrate) or in the next run.
    if (result.error().code() != ErrorCode::kUnavailable) {
      static_cast<void>(archive.ResolveAppend(intent, id, nullptr));
    } else {
      unknown[{out.folder, id}] = intent;
      if (auto m = marks.find(out.folder); m != marks.end()) unanswered[intent] = m->second;
    }
    return Failed(out, result.error());
  }
  if (options.debug_crash_after_appends > 0 && ++appends >= options.debug_crash_after_appends) std::abort();
  Origin place = Place(out);
  std::optional<ServerPlace> at;
  marks.erase(out.folder);  // UIDNEXT moved past it: marked again where the server tells
  if (result->uidvalidity != 0 && result->uid != 0) {
    at = ServerPlace{result->uidvalidity, result->uid};
    MarkFolder(out.folder, at->uidvalidity, at->uid + 1);
  } else if (known == out.folder) {
    auto found = AppendedPlace(out.folder, message_id);
    if (found && found->uid != 0) at = *found;
  }
  if (!at && uid_unknown.insert(out.folder).second) {
    warn("account " + options.account + " sent no UID for a message appended to " + out.folder +
         " (no UIDPLUS) and it could not be found by UID or Message-ID: recorded without one, so a sync of the "
         "account fetches it again");
  }
  if (at) place.uidvalidity = at->uidvalidity;
  place.key = at ? std::to_string(at->uid) : "appended-" + std::to_string(id);
  if (Status st = archive.ResolveAppend(intent, id, &place); !st) {
    // On the server; the intent stays, so the next run finds it there.
    return Failed(out, st.error().WithContext("appended to " + out.folder + " but not recorded in the archive"), true);
  }
  unknown.erase({out.folder, id});
  live[out.folder].insert(id);
  out.kind = Outcome::kAppended;
  out.bytes = raw.size();
  return out;
}

}  // namespace mailkeep::migrate
