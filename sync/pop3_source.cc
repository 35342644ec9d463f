#include "sync/pop3_source.h"

#include <map>

namespace mailkeep::sync {

Pop3Source::Pop3Source(std::string account, pop3::Pop3Options options)
    : account_(std::move(account)), options_(std::move(options)) {}

Pop3Source::~Pop3Source() = default;

Status Pop3Source::Connect() {
  MK_ASSIGN_OR_RETURN(client_, pop3::Pop3Client::Connect(options_));
  return OkStatus();
}

Result<Listing> Pop3Source::List(const ListContext&) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "POP3: not connected");
  MK_ASSIGN_OR_RETURN(auto entries, client_->List());
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
  std::map<int, const ServerMessage*> by_number;
  std::vector<int> numbers;
  numbers.reserve(wanted.size());
  for (const auto& m : wanted) {
    numbers.push_back(static_cast<int>(m.handle));
    by_number.emplace(static_cast<int>(m.handle), &m);
  }
  return client_->Retrieve(numbers, [&](int number, std::string&& bytes) -> Status {
    auto it = by_number.find(number);
    if (it == by_number.end()) {
      return MakeError(ErrorCode::kInternal, "POP3: server sent message " + std::to_string(number) + ", not asked for");
    }
    RawMessage raw;
    raw.bytes = std::move(bytes);
    raw.origin = it->second->origin;
    return sink(std::move(raw));
  });
}

Result<std::vector<ServerMessage>> Pop3Source::Delete(const std::vector<ServerMessage>& durable) {
  if (!client_) return MakeError(ErrorCode::kFailedPrecondition, "POP3: not connected");
  std::vector<int> numbers;
  numbers.reserve(durable.size());
  for (const auto& m : durable) numbers.push_back(static_cast<int>(m.handle));
  MK_RETURN_IF_ERROR(client_->Delete(numbers));
  // Only QUIT's +OK makes the deletions final (the UPDATE state).
  auto quit = client_->Quit();
  client_.reset();
  if (!quit) return std::unexpected(quit.error().WithContext("deletions not confirmed by the server"));
  return durable;
}

Status Pop3Source::Close() {
  if (!client_) return OkStatus();
  auto quit = client_->Quit();
  client_.reset();
  return quit;
}

}  // namespace mailkeep::sync
