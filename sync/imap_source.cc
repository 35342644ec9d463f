#include "sync/imap_source.h"
#include "store/util/ascii.h"

#include <map>
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

ImapSource::ImapSource(std::string account, ImapSourceOptions options)
    : account_(std::move(account)), options_(std::move(options)) {}

ImapSource::~ImapSource() = default;

Status ImapSource::Connect() {
  MK_ASSIGN_OR_RETURN(client_, imap::ImapClient::Connect(options_.client));
  return OkStatus();
}

Result<Listing> ImapSource::List(const ListContext& context) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
  MK_ASSIGN_OR_RETURN(std::vector<imap::Folder> folders, client_->ListFolders());
  std::map<std::string, const FolderState*> known;
  for (const auto& f : context.known_folders) known.emplace(f.name, &f);

  Listing listing;
  int64_t on_server = 0;
  std::set<std::string> server_folders;
  for (const auto& folder : folders) {
    server_folders.insert(folder.name);
    if (!folder.selectable()) continue;
    bool wanted = false;
    for (const auto& p : options_.folders) wanted = wanted || FolderMatches(p, folder.name, folder.delimiter);
    for (const auto& p : options_.exclude) wanted = wanted && !FolderMatches(p, folder.name, folder.delimiter);
    if (!wanted) continue;

    const FolderState* before = nullptr;
    if (auto it = known.find(folder.name); it != known.end() && !it->second->gone_at) before = it->second;
    // Unchanged: same UIDVALIDITY and UIDNEXT (no new message), same
    // HIGHESTMODSEQ (no flag change, no expunge). Only with CONDSTORE:
    // without a mod-sequence a flag change would go unseen.
    auto unchanged = [&](uint64_t uidvalidity, uint64_t uidnext, uint64_t modseq) {
      return !context.list_unchanged_folders && before != nullptr && modseq != 0 &&
             before->uidvalidity == uidvalidity && before->uidnext == uidnext && before->highestmodseq == modseq;
    };
    if (folder.status && unchanged(folder.status->uidvalidity, folder.status->uidnext, folder.status->highestmodseq)) {
      on_server += folder.status->messages;
      continue;  // LIST-STATUS told us: nothing to do, not even a SELECT
    }
    MK_ASSIGN_OR_RETURN(imap::SelectedFolder box, client_->Examine(folder.name));
    on_server += box.exists;
    if (unchanged(box.uidvalidity, box.uidnext, box.highestmodseq)) continue;
    // With CONDSTORE and a remembered mod-sequence, only what changed since
    // (new messages have higher mod-sequences too) — unless every message
    // must be listed for the delete policy.
    uint64_t changed_since = 0;
    if (!context.list_unchanged_folders && before != nullptr && before->uidvalidity == box.uidvalidity &&
        before->highestmodseq != 0 && box.highestmodseq != 0) {
      changed_since = before->highestmodseq;
    }
    std::vector<imap::MessageFlags> messages;
    if (box.exists > 0) {
      MK_ASSIGN_OR_RETURN(messages, client_->FetchFlags("1:*", changed_since));
    }
    for (auto& m : messages) {
      ServerMessage s;
      s.origin.source = kSource;
      s.origin.account = account_;
      s.origin.folder = folder.name;
      s.origin.uidvalidity = box.uidvalidity;
      s.origin.key = std::to_string(m.uid);
      s.origin.flags = std::move(m.flags);
      s.has_flags = true;
      if (m.internal_date != 0) s.origin.internal_date = m.internal_date;
      s.size = m.size;
      s.handle = m.uid;
      listing.messages.push_back(std::move(s));
    }
    listing.folder_states.push_back({folder.name, box.uidvalidity, box.uidnext, box.highestmodseq, std::nullopt});
  }
  MK_RETURN_IF_ERROR(client_->Unselect());
  for (const auto& f : context.known_folders) {
    if (!f.gone_at && !server_folders.count(f.name)) listing.vanished_folders.push_back(f.name);
  }
  listing.on_server = on_server;
  return listing;
}

Status ImapSource::Open(const std::string& folder, uint64_t uidvalidity, bool writable) {
  auto box = writable ? client_->Select(folder) : client_->Examine(folder);
  if (!box) return std::unexpected(box.error());
  if (box->uidvalidity != uidvalidity) {
    return MakeError(ErrorCode::kUnavailable, "IMAP folder " + folder + " changed its UIDVALIDITY during the sync (" +
                                                  std::to_string(uidvalidity) + " -> " +
                                                  std::to_string(box->uidvalidity) + "); the next run catches up");
  }
  return OkStatus();
}

Status ImapSource::Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
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
  return client_->Unselect();
}

Result<std::vector<ServerMessage>> ImapSource::Delete(const std::vector<ServerMessage>& durable) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "IMAP: not connected");
  std::map<std::pair<std::string, uint64_t>, std::vector<const ServerMessage*>> by_folder;
  for (const auto& m : durable) by_folder[{m.origin.folder, m.origin.uidvalidity}].push_back(&m);
  std::vector<ServerMessage> gone;
  for (const auto& [where, messages] : by_folder) {
    const auto& [folder, uidvalidity] = where;
    MK_RETURN_IF_ERROR(Open(folder, uidvalidity, /*writable=*/true));
    std::vector<uint32_t> uids;
    for (const auto* m : messages) uids.push_back(static_cast<uint32_t>(m->handle));
    // A failure in a later folder leaves the earlier deletions unrecorded
    // (their places keep deleted_at empty): nothing is lost either way.
    MK_RETURN_IF_ERROR(client_->DeleteMessages(uids));
    for (const auto* m : messages) gone.push_back(*m);
  }
  MK_RETURN_IF_ERROR(client_->Unselect());
  return gone;
}

Status ImapSource::Close() {
  if (!client_) return OkStatus();
  auto out = client_->Logout();
  client_.reset();
  return out;
}

}  // namespace mailkeep::sync
