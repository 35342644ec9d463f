// POP3 as a sync Source: one folder, "INBOX", whose places are UIDLs.
// Deletions are DELE commands made final by QUIT, so Delete() ends the
// session; a connection lost before QUIT deletes nothing (RFC 1939 §6).
#pragma once

#include <memory>
#include <string>

#include "sync/pop3/pop3_client.h"
#include "sync/source.h"

namespace mailkeep::sync {

class Pop3Source : public Source {
 public:
  Pop3Source(std::string account, pop3::Pop3Options options);
  ~Pop3Source() override;

  const char* source_name() const override { return kSource; }
  Status Connect() override;
  Result<Listing> List(const ListContext& context) override;
  Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) override;
  Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) override;
  Status Close() override;

  static constexpr char kSource[] = "pop3";
  static constexpr char kFolder[] = "INBOX";

 private:
  std::string account_;
  pop3::Pop3Options options_;
  std::unique_ptr<pop3::Pop3Client> client_;
};

}  // namespace mailkeep::sync
