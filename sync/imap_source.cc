#include "sync/imap_source.h"
#include "store/util/ascii.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace mailkeep::sync {
namespace {

using ascii::EqualsIgnoreCase;

bool Match(std::string_view pattern, std::string_view name, char delimiter) {
  if (pattern.empty()) return name.empty();
  char p = pattern[0];
  if (p == '*' || p == '%') {
    // Try every split; '%' may not swallow the hierarchy delimiter.
    for (size_t n = 0; n <= name.size(); ++n) {
      if (Match(pattern.substr(1), name.substr(n), delimiter)) return true;
      if (n < name.size() && p == '%' && delimiter != '\0' && name[n] == delimiter) return false;
    }
    return false;
  }
  return !name.empty() && name[0] == p && Match(pattern.substr(1), name.substr(1), delimiter);
}

}  // namespace

bool FolderMatches(const std::string& pattern, const std::string& name, char delimiter) {
  // INBOX is case-insensitive, also as the first level of a hierarchy.
  auto fold_inbox = [&](const std::string& s) {
    if (s.size() >= 5 && EqualsIgnoreCase(std::string_view(s).substr(0, 5), "INBOX") &&
        (s.size() == 5 || s[5] == delimiter)) {
      return "INBOX" + s.substr(5);
    }
    return s;
  };
  return Match(fold_inbox(pattern), fold_inbox(name), delimiter);
}

ImapSource::ImapSource(std::string account, ImapSourceOptions options, ReconnectBudget budget)
    : account_(std::move(account)), options_(std::move(options)), budget_(std::move(budget)) {}

ImapSource::~ImapSource() = default;

Status ImapSource::Connect() {
  MK_ASSIGN_OR_RETURN(client_, imap::ImapClient::Connect(options_.client));
  return OkStatus();
}

namespace {

// The remembered state of a folder that is still on the server, if any.
const FolderState* Before(const ListContext& context, const std::string& folder) {
  for (const auto& f : context.known_folders) {
    if (f.name == folder && !f.gone_at) return &f;
  }
  return nullptr;
}

// Unchanged: same UIDVALIDITY and UIDNEXT (no new message), same
// HIGHESTMODSEQ (no flag change, no expunge). Only with CONDSTORE: without
// a mod-sequence a flag change would go unseen.
bool Unchanged(const ListContext& context, const FolderState* before, uint64_t uidvalidity, uint64_t uidnext,
               uint64_t modseq) {
  return !context.list_unchanged_folders && before != nullptr && modseq != 0 && before->uidvalidity == uidvalidity &&
         before->uidnext == uidnext && before->highestmodseq == modseq;
}

}  // namespace

Result<FolderList> ImapSource::Folders(const ListContext& context) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
  std::vector<imap::Folder> folders;
  MK_RETURN_IF_ERROR(Retrying([&]() -> Status {
    MK_ASSIGN_OR_RETURN(folders, client_->ListFolders());
    return OkStatus();
  }));
  budget_.Progress();
  FolderList out;
  std::set<std::string> server_folders;
  for (const auto& folder : folders) {
    server_folders.insert(folder.name);
    if (!folder.selectable()) continue;
    bool wanted = false;
    for (const auto& p : options_.folders) wanted = wanted || FolderMatches(p, folder.name, folder.delimiter);
    for (const auto& p : options_.exclude) wanted = wanted && !FolderMatches(p, folder.name, folder.delimiter);
    if (!wanted) continue;
    const auto& st = folder.status;
    if (st && Unchanged(context, Before(context, folder.name), st->uidvalidity, st->uidnext, st->highestmodseq)) {
      out.on_server += st->messages;
      continue;  // LIST-STATUS told us: nothing to do, not even a SELECT
    }
    out.names.push_back(folder.name);
  }
  for (const auto& f : context.known_folders) {
    if (!f.gone_at && !server_folders.count(f.name)) out.vanished_folders.push_back(f.name);
  }
  return out;
}

Error ImapSource::SessionError(const Error& e) const {
  if ((!client_ || client_->closed()) && e.code() != ErrorCode::kUnavailable) {
    return Error(ErrorCode::kUnavailable, e.message());
  }
  return e;
}

Status ImapSource::Reconnect(Error why) {
  client_.reset();
  selected_.reset();
  MK_ASSIGN_OR_RETURN(client_, ReconnectImap(options_.client, budget_, std::move(why)));
  return OkStatus();
}

Status ImapSource::Retrying(const std::function<Status()>& step, const bool* stop) {
  for (;;) {
    Status out = step();
    if (out) return out;
    // Sessions the server ended only (ServerEndedSession).
    if ((stop && *stop) || !ServerEndedSession(out.error(), *client_)) {
      return std::unexpected(SessionError(out.error()));
    }
    MK_RETURN_IF_ERROR(Reconnect(out.error()));
  }
}

Result<Listing> ImapSource::ListFolder(const std::string& folder, const ListContext& context) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
  Listing listing;
  MK_RETURN_IF_ERROR(Retrying([&]() -> Status {
    MK_ASSIGN_OR_RETURN(listing, ListOpen(folder, context));
    return OkStatus();
  }));
  budget_.Progress();
  return listing;
}

Status ImapSource::Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
  std::set<std::pair<std::string, std::string>> handed;  // (folder, UID) passed to the sink
  bool sink_failed = false;
  const MessageSink counted = [&](RawMessage&& m) -> Status {
    std::pair<std::string, std::string> place{m.origin.folder, m.origin.key};
    Status kept = sink(std::move(m));
    if (!kept) {
      sink_failed = true;
      return kept;
    }
    handed.insert(std::move(place));
    budget_.Progress();
    return OkStatus();
  };
  return Retrying([&]() -> Status {
    if (handed.empty()) return FetchOpen(wanted, counted);
    std::vector<ServerMessage> left;
    for (const auto& m : wanted) {
      if (!handed.count({m.origin.folder, m.origin.key})) left.push_back(m);
    }
    return FetchOpen(left, counted);
  }, &sink_failed);
}

Result<std::vector<ServerMessage>> ImapSource::Delete(const std::vector<ServerMessage>& durable) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
  std::vector<ServerMessage> gone;
  MK_RETURN_IF_ERROR(Retrying([&]() { return DeleteOpen(durable, &gone); }));
  return gone;
}

Result<Listing> ImapSource::ListOpen(const std::string& folder, const ListContext& context) {
  selected_.reset();
  MK_ASSIGN_OR_RETURN(imap::SelectedFolder box, context.writable ? client_->Select(folder) : client_->Examine(folder));
  selected_ = Selection{folder, box.uidvalidity, context.writable};
  Listing listing;
  listing.on_server = box.exists;
  const FolderState* before = Before(context, folder);
  if (Unchanged(context, before, box.uidvalidity, box.uidnext, box.highestmodseq)) return listing;
  // With CONDSTORE and a remembered mod-sequence, only what changed since
  // (new messages have higher mod-sequences too) — unless every message
  // must be listed for the delete policy, or the folder went back in time
  // (UIDNEXT or HIGHESTMODSEQ lower than seen: restored from a backup, its
  // UIDs may name other messages now).
  const bool went_back = before != nullptr && before->uidvalidity == box.uidvalidity &&
                         (box.uidnext < before->uidnext || box.highestmodseq < before->highestmodseq);
  uint64_t changed_since = 0;
  if (!context.list_unchanged_folders && before != nullptr && before->uidvalidity == box.uidvalidity &&
      !went_back && before->highestmodseq != 0 && box.highestmodseq != 0) {
    changed_since = before->highestmodseq;
  }
  std::vector<imap::MessageFlags> messages;
  if (box.exists > 0) {
    MK_ASSIGN_OR_RETURN(messages, client_->FetchFlags("1:*", changed_since));
  }
  if (changed_since != 0 && box.exists > 0 && context.live_places) {
    // What changed does not show what was expunged: when fewer messages
    // are there than the archive knows plus the new ones, list them all.
    int64_t fresh = std::count_if(messages.begin(), messages.end(),
                                  [&](const imap::MessageFlags& m) { return m.uid >= before->uidnext; });
    MK_ASSIGN_OR_RETURN(int64_t live, context.live_places(folder, box.uidvalidity));
    if (int64_t{box.exists} - fresh < live) {
      MK_ASSIGN_OR_RETURN(messages, client_->FetchFlags("1:*", 0));
      changed_since = 0;
    }
  }
  for (auto& m : messages) {
    ServerMessage s;
    s.origin.source = kSource;
    s.origin.account = account_;
    s.origin.folder = folder;
    s.origin.uidvalidity = box.uidvalidity;
    s.origin.key = std::to_string(m.uid);
    s.origin.flags = std::move(m.flags);
    s.has_flags = true;
    if (m.internal_date != 0) s.origin.internal_date = m.internal_date;
    s.size = m.size;
    s.handle = m.uid;
    listing.messages.push_back(std::move(s));
  }
  listing.folder_states.push_back({folder, box.uidvalidity, box.uidnext, box.highestmodseq, std::nullopt});
  if (changed_since == 0) listing.complete_folders.emplace(folder, box.uidvalidity);
  return listing;
}

Status ImapSource::Open(const std::string& folder, uint64_t uidvalidity, bool writable) {
  // Still open as listed: the same selection, whatever the server would
  // say of its UIDVALIDITY at another opening.
  if (selected_ && selected_->folder == folder && selected_->uidvalidity == uidvalidity &&
      (selected_->writable || !writable)) {
    return OkStatus();
  }
  selected_.reset();
  auto box = writable ? client_->Select(folder) : client_->Examine(folder);
  if (!box) return std::unexpected(box.error());
  if (box->uidvalidity != uidvalidity) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "IMAP folder " + folder + " changed its UIDVALIDITY during the sync (" +
                         std::to_string(uidvalidity) + " -> " + std::to_string(box->uidvalidity) +
                         "); nothing there was deleted, the next run looks at it again");
  }
  selected_ = Selection{folder, box->uidvalidity, writable};
  return OkStatus();
}

Status ImapSource::FetchOpen(const std::vector<ServerMessage>& wanted, const MessageSink& sink) {
  // Folder by folder, in listing order.
  for (size_t i = 0; i < wanted.size();) {
    const Origin& first = wanted[i].origin;
    std::map<uint32_t, const ServerMessage*> by_uid;
    std::vector<uint32_t> uids;
    size_t j = i;
    for (; j < wanted.size() && wanted[j].origin.folder == first.folder; ++j) {
      uids.push_back(static_cast<uint32_t>(wanted[j].handle));
      by_uid.emplace(static_cast<uint32_t>(wanted[j].handle), &wanted[j]);
    }
    MK_RETURN_IF_ERROR(Open(first.folder, first.uidvalidity, /*writable=*/false));
    MK_RETURN_IF_ERROR(client_->FetchMessages(uids, [&](imap::FetchedMessage&& m) -> Status {
      auto it = by_uid.find(m.uid);
      if (it == by_uid.end()) return OkStatus();  // not asked for
      RawMessage raw;
      raw.bytes = std::move(m.bytes);
      raw.origin = it->second->origin;
      raw.origin.flags = std::move(m.flags);
      if (m.internal_date != 0) raw.origin.internal_date = m.internal_date;
      return sink(std::move(raw));
    }));
    i = j;
  }
  return OkStatus();
}

Status ImapSource::DeleteOpen(const std::vector<ServerMessage>& durable, std::vector<ServerMessage>* gone) {
  std::map<std::pair<std::string, uint64_t>, std::vector<const ServerMessage*>> by_folder;
  for (const auto& m : durable) by_folder[{m.origin.folder, m.origin.uidvalidity}].push_back(&m);
  std::set<std::pair<std::string, uint64_t>> done;  // before a reconnect
  for (const auto& m : *gone) done.emplace(m.origin.folder, m.origin.uidvalidity);
  for (const auto& [where, messages] : by_folder) {
    if (done.count(where)) continue;
    const auto& [folder, uidvalidity] = where;
    // After a reconnect this SELECTs again and checks the UIDVALIDITY.
    MK_RETURN_IF_ERROR(Open(folder, uidvalidity, /*writable=*/true));
    std::vector<uint32_t> uids;
    for (const auto* m : messages) uids.push_back(static_cast<uint32_t>(m->handle));
    // A failure in a later folder leaves the earlier deletions unrecorded
    // (their places keep deleted_at empty): nothing is lost either way.
    // Deleting again after a lost session is safe: under the same
    // UIDVALIDITY a UID never names another message.
    MK_RETURN_IF_ERROR(client_->DeleteMessages(uids));
    for (const auto* m : messages) gone->push_back(*m);
    budget_.Progress();
  }
  return OkStatus();
}

Status ImapSource::Close() {
  if (!client_) return OkStatus();
  auto out = client_->Logout();
  client_.reset();
  selected_.reset();
  return out;
}

}  // namespace mailkeep::sync
