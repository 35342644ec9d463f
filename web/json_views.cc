#include "web/json_views.h"

#include <ctime>
#include <set>
#include <sstream>

#include "store/mime/message.h"
#include "store/util/sha256.h"

namespace mailkeep::web {
namespace {

nlohmann::json AddressesJson(const std::vector<mime::Address>& list) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& x : list) a.push_back({{"name", x.name}, {"address", x.address}});
  return a;
}

nlohmann::json DateJson(const std::optional<int64_t>& date) {
  return date ? nlohmann::json(IsoDate(*date)) : nlohmann::json();
}

nlohmann::json LocationJson(const Location& l) {
  nlohmann::json j = {{"source", l.source}, {"account", l.account}, {"folder", l.folder}, {"key", l.key},
                      {"flags", l.flags},   {"seen_at", IsoDate(l.seen_at)}};
  if (l.uidvalidity) j["uidvalidity"] = l.uidvalidity;
  j["internal_date"] = DateJson(l.internal_date);
  if (l.deleted_at) j["deleted_at"] = IsoDate(*l.deleted_at);
  if (l.gone_at) j["gone_at"] = IsoDate(*l.gone_at);
  return j;
}

}  // namespace

std::string IsoDate(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json SearchResultJson(const MessageInfo& info) {
  std::set<std::string> folders, flags;
  for (const auto& l : info.locations) {
    folders.insert(l.folder);
    std::istringstream in(l.flags);
    for (std::string f; in >> f;) flags.insert(f);
  }
  nlohmann::json attachments = nlohmann::json::array();
  for (const auto& p : info.parts) {
    if (!p.filename.empty() && mime::IsAttachment(p.content_type, p.disposition, p.filename)) {
      attachments.push_back(p.filename);
    }
  }
  return {{"id", info.id},
          {"message_id", info.message_id},
          {"thread", info.thread},
          {"date", DateJson(info.date)},
          {"from", AddressesJson(info.from)},
          {"subject", info.subject},
          {"size", info.size},
          {"folders", folders},
          {"flags", flags},
          {"attachments", attachments}};
}

nlohmann::json SearchResultsJson(const std::vector<MessageInfo>& infos) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& info : infos) out.push_back(SearchResultJson(info));
  return out;
}

nlohmann::json MessageJson(const MessageInfo& info, std::string_view raw, const mime::Message& m) {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : m.parts) {
    parts.push_back({{"path", p.path}, {"content_type", p.content_type}, {"charset", p.charset},
                     {"disposition", p.disposition}, {"filename", p.filename}, {"size", p.size}});
  }
  nlohmann::json locations = nlohmann::json::array();
  for (const auto& l : info.locations) locations.push_back(LocationJson(l));
  return {
      {"id", info.id},
      {"message_id", m.message_id},
      {"subject", m.subject},
      {"date", DateJson(m.date)},
      {"from", AddressesJson(m.from)},
      {"sender", AddressesJson(m.sender)},
      {"reply_to", AddressesJson(m.reply_to)},
      {"to", AddressesJson(m.to)},
      {"cc", AddressesJson(m.cc)},
      {"bcc", AddressesJson(m.bcc)},
      {"in_reply_to", m.in_reply_to},
      {"references", m.references},
      {"size", raw.size()},
      // Of the bytes read back: an encrypted archive's catalog keeps a keyed hash.
      {"sha256", ToHex(Sha256(raw))},
      {"parts", parts},
      {"attachments", m.attachments},
      {"text", m.text},
      {"locations", locations},
  };
}

Result<std::vector<MessageInfo>> ThreadInfos(Archive& archive, int64_t thread) {
  MK_ASSIGN_OR_RETURN(auto members, archive.ThreadMessages(thread));
  return archive.GetInfos(members);
}

std::string SenderName(const MessageInfo& info) {
  if (info.from.empty()) return "";
  return info.from.front().name.empty() ? info.from.front().address : info.from.front().name;
}

nlohmann::json ThreadJson(const std::vector<MessageInfo>& members) {
  nlohmann::json out = nlohmann::json::array();
  for (const MessageInfo& m : members) {
    out.push_back({{"id", m.id}, {"message_id", m.message_id}, {"date", DateJson(m.date)}, {"from", SenderName(m)},
                   {"subject", m.subject}});
  }
  return out;
}

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mailkeep::web
