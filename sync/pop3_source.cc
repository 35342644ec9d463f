#include "sync/pop3_source.h"

#include <cstdint>
#include <map>
#include <set>

namespace mailkeep::sync {

Pop3Source::Pop3Source(std::string account, pop3::Pop3Options options, ReconnectBudget budget)
    : account_(std::move(account)), options_(std::move(options)), budget_(std::move(budget)) {}

Pop3Source::~Pop3Source() = default;

Status Pop3Source::Connect() {
  MK_ASSIGN_OR_RETURN(client_, pop3::Pop3Client::Connect(options_));
  return OkStatus();
}

Status Pop3Source::Reconnect(Error why) {
  for (;;) {
    if (client_) session_limit_ = client_->replies();
    client_.reset();
    listing_session_ = false;
    renumbered_.reset();
    if (!budget_.Spend()) {
      return MakeError(ErrorCode::kUnavailable,
                       "POP3: " + budget_.GaveUp(options_.connect.host + ":" + std::to_string(options_.connect.port),
                                                 why.message()));
    }
    auto c = pop3::Pop3Client::Connect(options_);
    if (c) {
      client_ = std::move(*c);
      return OkStatus();
    }
    if (c.error().code() != ErrorCode::kUnavailable) return MakeError(ErrorCode::kUnavailable, c.error().message());
    why = c.error();
  }
}

Status Pop3Source::Retrying(const std::function<Status()>& step, const bool* stop) {
  for (;;) {
    Status out = step();
    // Sessions the server ended only (see ImapSource::Retrying).
    if (out || (stop && *stop) || out.error().code() != ErrorCode::kUnavailable ||
        (client_ && (!client_->closed() || client_->timed_out()))) {
      return out;
    }
    MK_RETURN_IF_ERROR(Reconnect(out.error()));
  }
}

Status Pop3Source::Renumber() {
  if (listing_session_ || renumbered_) return OkStatus();
  MK_ASSIGN_OR_RETURN(auto entries, client_->List());
  std::map<std::string, pop3::MailboxEntry> unique;
  std::set<std::string> repeated;
  for (auto& e : entries) {
    if (!unique.emplace(e.uidl, e).second) repeated.insert(e.uidl);
  }
  for (const auto& uidl : repeated) unique.erase(uidl);
  renumbered_ = std::move(unique);
  return OkStatus();
}

std::optional<int> Pop3Source::NumberOf(const ServerMessage& m) const {
  if (listing_session_) return static_cast<int>(m.handle);
  auto it = renumbered_->find(m.origin.key);
  if (it == renumbered_->end() || it->second.size != m.size) return std::nullopt;
  return it->second.number;
}

Result<Listing> Pop3Source::List(const ListContext&) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "POP3: not connected");
  std::vector<pop3::MailboxEntry> entries;
  MK_RETURN_IF_ERROR(Retrying([&]() -> Status {
    MK_ASSIGN_OR_RETURN(entries, client_->List());
    return OkStatus();
  }));
  listing_session_ = true;
  budget_.Progress();
  Listing listing;
  std::vector<ServerMessage>& out = listing.messages;
  out.reserve(entries.size());
  for (auto& e : entries) {
    ServerMessage m;
    m.origin.source = kSource;
    m.origin.account = account_;
    m.origin.folder = kFolder;
    m.origin.key = std::move(e.uidl);
    m.size = e.size;
    m.handle = e.number;
    out.push_back(std::move(m));
  }
  listing.complete_folders.emplace(kFolder, 0);  // UIDL lists the whole maildrop
  return listing;
}

Status Pop3Source::Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "POP3: not connected");
  std::vector<bool> done(wanted.size());
  size_t missing = 0;
  bool sink_failed = false;
  MK_RETURN_IF_ERROR(Retrying([&]() -> Status {
    MK_RETURN_IF_ERROR(Renumber());
    std::map<int, size_t> by_number;
    std::vector<int> numbers;
    for (size_t i = 0; i < wanted.size(); ++i) {
      if (done[i]) continue;
      std::optional<int> number = NumberOf(wanted[i]);
      if (!number) {
        done[i] = true;
        ++missing;
        continue;
      }
      numbers.push_back(*number);
      by_number.emplace(*number, i);
    }
    return client_->Retrieve(numbers, [&](int number, std::string&& bytes) -> Status {
      auto it = by_number.find(number);
      if (it == by_number.end()) {
        return MakeError(ErrorCode::kInternal,
                         "POP3: server sent message " + std::to_string(number) + ", not asked for");
      }
      RawMessage raw;
      raw.bytes = std::move(bytes);
      raw.origin = wanted[it->second].origin;
      Status kept = sink(std::move(raw));
      if (!kept) {
        sink_failed = true;
        return kept;
      }
      done[it->second] = true;
      budget_.Progress();
      return OkStatus();
    });
  }, &sink_failed));
  if (missing > 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "POP3: " + std::to_string(missing) +
                         " listed messages were no longer there under their UIDL after the server ended the "
                         "session and mailkeep logged in again; nothing deleted, the next run looks again");
  }
  return OkStatus();
}

size_t Pop3Source::DeleteRoom() const {
  if (session_limit_ == 0) return SIZE_MAX;
  const int room = session_limit_ - client_->replies() - 1;  // one reply for QUIT
  return room > 0 ? static_cast<size_t>(room) : 1;
}

Result<std::vector<ServerMessage>> Pop3Source::Delete(const std::vector<ServerMessage>& durable) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "POP3: not connected");
  std::vector<ServerMessage> gone;
  size_t next = 0;
  Status deleted = Retrying([&]() -> Status {
    while (next < durable.size()) {
      if (!client_) {  // the last chunk's QUIT ended the session: a new one, not a reconnect
        MK_ASSIGN_OR_RETURN(client_, pop3::Pop3Client::Connect(options_));
      }
      MK_RETURN_IF_ERROR(Renumber());  // before the room is counted: it takes commands too
      const size_t room = DeleteRoom();
      std::vector<int> numbers;
      std::vector<const ServerMessage*> chunk;
      size_t end = next;
      for (; end < durable.size() && numbers.size() < room; ++end) {
        // Gone since (maybe by an earlier QUIT whose answer was lost): not claimed.
        std::optional<int> number = NumberOf(durable[end]);
        if (!number) continue;
        numbers.push_back(*number);
        chunk.push_back(&durable[end]);
      }
      if (!numbers.empty()) {
        MK_RETURN_IF_ERROR(client_->Delete(numbers));
        // Only QUIT's +OK makes the deletions final (the UPDATE state).
        Status quit = client_->Quit();
        if (!quit) return std::unexpected(quit.error().WithContext("deletions not confirmed by the server"));
        client_.reset();
        listing_session_ = false;
        renumbered_.reset();
        for (const auto* m : chunk) gone.push_back(*m);
        budget_.Progress();
      }
      next = end;
    }
    return OkStatus();
  });
  if (!deleted) return std::unexpected(deleted.error());
  return gone;
}

Status Pop3Source::Close() {
  if (!client_) return OkStatus();
  auto quit = client_->Quit();
  client_.reset();
  return quit;
}

}  // namespace mailkeep::sync
