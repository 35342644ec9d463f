// The JSON objects mailkeep prints and serves: one builder per view, used by
// the command line (`search --format json`, `show --json`, `thread --json`)
// and by the web API (web/api.cc), so that both always say the same thing.
// Pure functions of what the archive returned; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/archive.h"
#include "store/mime/message.h"
#include "store/util/status.h"

namespace mailkeep::web {

// "2024-03-01T12:00:00Z" (UTC).
std::string IsoDate(int64_t unix_seconds);

// One result of `search --format json`: id, message_id, thread, date, from,
// subject, size, folders, flags, attachments (from the catalog alone).
nlohmann::json SearchResultJson(const MessageInfo& info);
// The array of `search --format json`.
nlohmann::json SearchResultsJson(const std::vector<MessageInfo>& infos);

// `show --json`: the message as parsed from `raw` (its stored bytes) plus
// the catalog's id and locations.
nlohmann::json MessageJson(const MessageInfo& info, std::string_view raw, const mime::Message& message);

// The catalog facts of every message of `thread`, oldest first (messages
// removed meanwhile are left out).
Result<std::vector<MessageInfo>> ThreadInfos(Archive& archive, int64_t thread);
// `thread --json`: an array with, for each member, id, message_id, date,
// from (SenderName) and subject.
nlohmann::json ThreadJson(const std::vector<MessageInfo>& members);
// The first From's display name, else its address; "" when none.
std::string SenderName(const MessageInfo& info);

// `value` as text: indented by `indent` spaces (-1: one line), invalid UTF-8
// replaced by U+FFFD (a message's bytes are not always UTF-8).
std::string DumpJson(const nlohmann::json& value, int indent = -1);

}  // namespace mailkeep::web
