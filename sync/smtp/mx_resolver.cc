#include "sync/smtp/mx_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "store/util/ascii.h"

namespace mailkeep::smtp {
namespace {

constexpr size_t kMaxNames = 8;  // names queried or followed per lookup, CNAMEs included

// ---- names -----------------------------------------------------------------

bool IsIpLiteral(std::string_view s) {
  std::string z(s);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

// Checks a domain or host name for a query and returns it in lower case
// without a trailing dot. `what` is "domain" or "host", for messages.
Result<std::string> NormalizeName(std::string_view name, const char* what) {
  std::string shown(name);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return MakeError(ErrorCode::kInvalidArgument, std::string("empty ") + what + " name");
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(what) + " " + shown +
                           " is an internationalized name: give it in its ASCII form (xn--...); "
                           "IDN conversion is not supported");
    }
  }
  if (name.front() == '[' || IsIpLiteral(name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(what) + " " + shown + " is an address literal, not a name to look up");
  }
  if (name.size() > 253) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(what) + " name is longer than 253 characters: " + shown.substr(0, 40) + "...");
  }
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) {
        return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " " + shown + " has an empty label");
      }
      label = 0;
      continue;
    }
    if (!(ascii::IsAlpha(c) || ascii::IsDigit(c) || c == '-' || c == '_')) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(what) + " " + shown + " has a character not allowed in a host name");
    }
    if (++label > 63) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(what) + " " + shown + " has a label longer than 63 characters");
    }
  }
  return ascii::LowerCopy(name);
}

// ---- the DNS server --------------------------------------------------------

struct ServerAddress {
  bool set = false;
  bool v6 = false;
  sockaddr_in in4{};
  sockaddr_in6 in6{};
};

Result<ServerAddress> ParseServer(const std::string& spec) {
  ServerAddress out;
  if (spec.empty()) return out;
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "dns_server \"" + spec + "\": " + why + " (expected IP, IP:PORT or [IPv6]:PORT)");
  };
  std::string host = spec, port;
  if (spec.front() == '[') {
    size_t close = spec.find(']');
    if (close == std::string::npos) return bad("no closing ]");
    host = spec.substr(1, close - 1);
    std::string rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("garbage after ]");
      port = rest.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    size_t colon = spec.find(':');
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (port.empty()) return bad("empty port");
  }
  unsigned long port_number = 53;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ascii::IsDigit)) return bad("bad port");
    port_number = std::stoul(port);
    if (port_number == 0 || port_number > 65535) return bad("port out of range");
  }
  if (inet_pton(AF_INET, host.c_str(), &out.in4.sin_addr) == 1) {
    out.in4.sin_family = AF_INET;
    out.in4.sin_port = htons(static_cast<uint16_t>(port_number));
  } else if (inet_pton(AF_INET6, host.c_str(), &out.in6.sin6_addr) == 1) {
    out.v6 = true;
    out.in6.sin6_family = AF_INET6;
    out.in6.sin6_port = htons(static_cast<uint16_t>(port_number));
  } else {
    return bad("not an IP address");
  }
  out.set = true;
  return out;
}

// One res_ninit'd resolver state, closed on destruction.
class Resolver {
 public:
  static Result<std::unique_ptr<Resolver>> Open(const ResolverOptions& options) {
    MK_ASSIGN_OR_RETURN(ServerAddress server, ParseServer(options.dns_server));
    auto r = std::unique_ptr<Resolver>(new Resolver);
    if (res_ninit(&r->st_) != 0) {
      return MakeError(ErrorCode::kInternal, "cannot initialise the DNS resolver (res_ninit failed)");
    }
    r->open_ = true;
    // The limits glibc puts on the same settings in resolv.conf.
    if (options.timeout_seconds > 0) r->st_.retrans = std::min(options.timeout_seconds, RES_MAXRETRANS);
    if (options.attempts > 0) r->st_.retry = std::min(options.attempts, RES_MAXRETRY);
    if (server.set) {
      // The system configuration may have left IPv6 servers in the private
      // "_ext" table (malloc'd); res_nclose frees only the first nscount of
      // them, so free those past the one we keep.
      for (int i = 1; i < MAXNS; ++i) {
        std::free(r->st_._u._ext.nsaddrs[i]);
        r->st_._u._ext.nsaddrs[i] = nullptr;
      }
      if (server.v6) {
        // glibc keeps IPv6 servers there, marked by family 0 in nsaddr_list.
        if (r->st_._u._ext.nsaddrs[0] == nullptr) {
          r->st_._u._ext.nsaddrs[0] = static_cast<sockaddr_in6*>(std::malloc(sizeof(sockaddr_in6)));
          if (r->st_._u._ext.nsaddrs[0] == nullptr) {
            return MakeError(ErrorCode::kInternal, "out of memory setting the DNS server");
          }
        }
        *r->st_._u._ext.nsaddrs[0] = server.in6;
        r->st_.nsaddr_list[0] = sockaddr_in{};
        r->st_.nsaddr_list[0].sin_family = 0;
      } else {
        r->st_.nsaddr_list[0] = server.in4;
      }
      r->st_.nscount = 1;
      r->server_ = "DNS server " + options.dns_server;
    } else {
      r->server_ = "the system's DNS resolver";
    }
    return r;
  }

  ~Resolver() {
    if (open_) res_nclose(&st_);
  }
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  res_state state() { return &st_; }
  const std::string& server() const { return server_; }
  int timeout() const { return st_.retrans; }
  int attempts() const { return st_.retry; }

 private:
  Resolver() = default;
  struct __res_state st_ {};
  bool open_ = false;
  std::string server_;
};

// ---- one query -------------------------------------------------------------

struct Record {
  std::string owner;  // lower case
  uint16_t type = 0;
  const unsigned char* rdata = nullptr;   // into the packet
  uint16_t rdlen = 0;
};

enum class Outcome { kRecords, kNxDomain, kNoData };

// The records of `type` for `name` (lower case), CNAMEs followed, or why
// there are none. The records point into `packet`, which outlives them.
struct Resolved {
  Outcome outcome = Outcome::kNoData;
  std::string last_name;                    // where the CNAME chain ended
  std::vector<unsigned char> packet;        // the answer the records are in
  std::vector<Record> records;
};

const char* TypeName(int type) {
  switch (type) {
    case ns_t_mx: return "MX";
    case ns_t_a: return "A";
    case ns_t_aaaa: return "AAAA";
    default: return "DNS";
  }
}

const char* RcodeName(int rcode) {
  switch (rcode) {
    case ns_r_formerr: return "FORMERR";
    case ns_r_servfail: return "SERVFAIL";
    case ns_r_nxdomain: return "NXDOMAIN";
    case ns_r_notimpl: return "NOTIMP";
    case ns_r_refused: return "REFUSED";
    default: return nullptr;
  }
}

std::string LookupName(int type, const std::string& name) {
  return std::string(TypeName(type)) + " lookup for " + name;
}

// Parses the answer section. Returns false on a malformed packet.
bool ParseAnswers(const std::vector<unsigned char>& packet, std::vector<Record>& out) {
  ns_msg msg;
  if (ns_initparse(packet.data(), static_cast<int>(packet.size()), &msg) != 0) return false;
  int count = ns_msg_count(msg, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) return false;
    if (ns_rr_class(rr) != ns_c_in) continue;
    Record r;
    r.owner = ascii::LowerCopy(ns_rr_name(rr));
    if (!r.owner.empty() && r.owner.back() == '.' && r.owner.size() > 1) r.owner.pop_back();
    r.type = ns_rr_type(rr);
    r.rdata = ns_rr_rdata(rr);
    r.rdlen = ns_rr_rdlen(rr);
    out.push_back(std::move(r));
  }
  return true;
}

// Expands the domain name at `at` inside `packet`; it must end within
// [at, end). Returns it in lower case without a trailing dot ("" = the root).
std::optional<std::string> ExpandName(const std::vector<unsigned char>& packet, const unsigned char* at,
                                      const unsigned char* end) {
  char buf[NS_MAXDNAME];
  int n = dn_expand(packet.data(), packet.data() + packet.size(), at, buf, sizeof buf);
  if (n < 0 || at + n > end) return std::nullopt;
  std::string name = ascii::LowerCopy(buf);
  if (name == ".") name.clear();
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

// Sends one query and follows the CNAME chain, querying again where an
// answer stops at a CNAME target (at most kMaxNames names).
Result<Resolved> Resolve(Resolver& resolver, const std::string& name, int type) {
  std::string current = name;
  std::set<std::string> seen{current};
  for (size_t queries = 0; queries < kMaxNames; ++queries) {
    Resolved result;
    result.packet.assign(NS_MAXMSG, 0);  // zeroed: a QR bit later means an answer came
    errno = 0;
    int n = res_nquery(resolver.state(), current.c_str(), ns_c_in, type, result.packet.data(),
                       static_cast<int>(result.packet.size()));
    int saved_errno = errno;
    if (n < 0) {
      int herr = resolver.state()->res_h_errno;
      if (herr == HOST_NOT_FOUND) {
        result.outcome = Outcome::kNxDomain;
        result.last_name = current;
        return result;
      }
      if (herr == NO_DATA) {
        result.outcome = Outcome::kNoData;
        result.last_name = current;
        return result;
      }
      // TRY_AGAIN, NO_RECOVERY, NETDB_INTERNAL: the server's trouble or the
      // network's, not the domain's.
      std::string why;
      const unsigned char* h = result.packet.data();
      const char* rcode = (h[2] & 0x80) ? RcodeName(h[3] & 0x0f) : nullptr;
      if (rcode != nullptr) {
        why = resolver.server() + " answered " + rcode;
      } else if (saved_errno == ECONNREFUSED) {
        why = "no answer from " + resolver.server() + " (connection refused: nothing listening?)";
      } else if (saved_errno == ETIMEDOUT || herr == TRY_AGAIN) {
        why = "no answer from " + resolver.server() + " (timed out after " + std::to_string(resolver.attempts()) +
              " tries of " + std::to_string(resolver.timeout()) + " s)";
      } else {
        why = "no usable answer from " + resolver.server() + " (" + hstrerror(herr) + ")";
      }
      std::string what = LookupName(type, name);
      if (current != name) what += " (CNAME target " + current + ")";
      return MakeError(ErrorCode::kUnavailable, what + ": " + why + "; try again later");
    }
    if (static_cast<size_t>(n) > result.packet.size()) n = static_cast<int>(result.packet.size());
    result.packet.resize(static_cast<size_t>(n));
    std::vector<Record> all;
    if (!ParseAnswers(result.packet, all)) {
      return MakeError(ErrorCode::kUnavailable,
                       LookupName(type, name) + ": malformed answer from " + resolver.server() + "; try again later");
    }
    std::string queried = current;
    // Follow the chain as far as this answer goes.
    for (;;) {
      auto cname = std::find_if(all.begin(), all.end(), [&](const Record& r) {
        return r.type == ns_t_cname && r.owner == current;
      });
      if (cname == all.end() || type == ns_t_cname) break;
      std::optional<std::string> target = ExpandName(result.packet, cname->rdata, cname->rdata + cname->rdlen);
      if (!target || target->empty()) {
        return MakeError(ErrorCode::kUnavailable, LookupName(type, name) + ": malformed CNAME record for " + current +
                                                      " from " + resolver.server() + "; try again later");
      }
      if (!seen.insert(*target).second || seen.size() > kMaxNames) {
        return MakeError(ErrorCode::kUnavailable, LookupName(type, name) + ": CNAME chain loops or is longer than " +
                                                      std::to_string(kMaxNames) + " names (at " + *target +
                                                      "); try again later");
      }
      current = *target;
    }
    for (Record& r : all) {
      if (r.type == type && r.owner == current) result.records.push_back(std::move(r));
    }
    result.last_name = current;
    if (!result.records.empty()) {
      result.outcome = Outcome::kRecords;
      return result;
    }
    if (current == queried) {
      // Records, but none for the name asked for: as good as NODATA.
      result.outcome = Outcome::kNoData;
      return result;
    }
    // The answer stopped at a CNAME target: ask for the target.
  }
  return MakeError(ErrorCode::kUnavailable, LookupName(type, name) + ": CNAME chain longer than " +
                                                std::to_string(kMaxNames) + " names; try again later");
}

std::string NxDomainMessage(const char* what, const std::string& name, const Resolved& r, const Resolver& resolver) {
  std::string m = std::string(what) + " " + name + " does not exist (NXDOMAIN";
  if (r.last_name != name) m += " for its CNAME target " + r.last_name;
  return m + " from " + resolver.server() + ")";
}

}  // namespace

Result<MxAnswer> LookupMx(std::string_view domain, const ResolverOptions& options) {
  MK_ASSIGN_OR_RETURN(std::string name, NormalizeName(domain, "domain"));
  MK_ASSIGN_OR_RETURN(auto resolver, Resolver::Open(options));
  MK_ASSIGN_OR_RETURN(Resolved r, Resolve(*resolver, name, ns_t_mx));
  MxAnswer answer;
  switch (r.outcome) {
    case Outcome::kNxDomain:
      return MakeError(ErrorCode::kNotFound, NxDomainMessage("domain", name, r, *resolver));
    case Outcome::kNoData:
      answer.kind = MxAnswer::kImplicit;
      answer.exchanges.push_back({name, 0});
      return answer;
    case Outcome::kRecords:
      break;
  }
  bool null_mx = false;
  for (const Record& rec : r.records) {
    if (rec.rdlen < 3) {
      return MakeError(ErrorCode::kUnavailable, LookupName(ns_t_mx, name) + ": malformed MX record from " +
                                                    resolver->server() + "; try again later");
    }
    uint16_t preference = ns_get16(rec.rdata);
    std::optional<std::string> host = ExpandName(r.packet, rec.rdata + 2, rec.rdata + rec.rdlen);
    if (!host) {
      return MakeError(ErrorCode::kUnavailable, LookupName(ns_t_mx, name) + ": malformed MX record from " +
                                                    resolver->server() + "; try again later");
    }
    if (host->empty()) {
      null_mx = true;
      continue;
    }
    auto same = std::find_if(answer.exchanges.begin(), answer.exchanges.end(),
                             [&](const MailExchange& e) { return e.host == *host; });
    if (same == answer.exchanges.end()) {
      answer.exchanges.push_back({std::move(*host), preference});
    } else {
      same->preference = std::min(same->preference, preference);
    }
  }
  if (answer.exchanges.empty() && null_mx) answer.kind = MxAnswer::kNullMx;
  return answer;
}

Result<std::vector<std::string>> LookupAddresses(std::string_view host, const ResolverOptions& options) {
  {
    std::string z(host);
    in6_addr a6;
    in_addr a4;
    char buf[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, z.c_str(), &a4) == 1) return std::vector<std::string>{z};
    if (inet_pton(AF_INET6, z.c_str(), &a6) == 1 && inet_ntop(AF_INET6, &a6, buf, sizeof buf) != nullptr) {
      return std::vector<std::string>{buf};
    }
  }
  MK_ASSIGN_OR_RETURN(std::string name, NormalizeName(host, "host"));
  MK_ASSIGN_OR_RETURN(auto resolver, Resolver::Open(options));

  std::vector<std::string> addresses;
  std::optional<Error> temporary;
  for (int type : {ns_t_a, ns_t_aaaa}) {
    Result<Resolved> r = Resolve(*resolver, name, type);
    if (!r) {
      if (!temporary) temporary = r.error();
      continue;
    }
    if (r->outcome == Outcome::kNxDomain) {
      if (type == ns_t_a) return MakeError(ErrorCode::kNotFound, NxDomainMessage("host", name, *r, *resolver));
      continue;  // an AAAA NXDOMAIN after A records: keep what we have
    }
    if (r->outcome == Outcome::kNoData) continue;
    size_t size = type == ns_t_a ? 4 : 16;
    for (const Record& rec : r->records) {
      char buf[INET6_ADDRSTRLEN];
      if (rec.rdlen != size ||
          inet_ntop(type == ns_t_a ? AF_INET : AF_INET6, rec.rdata, buf, sizeof buf) == nullptr) {
        if (!temporary) {
          temporary = Error(ErrorCode::kUnavailable, LookupName(type, name) + ": malformed " + TypeName(type) +
                                                         " record from " + resolver->server() + "; try again later");
        }
        continue;
      }
      if (std::find(addresses.begin(), addresses.end(), buf) == addresses.end()) addresses.emplace_back(buf);
    }
  }
  if (!addresses.empty()) return addresses;
  if (temporary) return std::unexpected(*temporary);
  return MakeError(ErrorCode::kNotFound,
                   "host " + name + " has no address (neither A nor AAAA records at " + resolver->server() + ")");
}

std::vector<MailExchange> OrderExchanges(std::vector<MailExchange> exchanges, std::mt19937& rng) {
  std::stable_sort(exchanges.begin(), exchanges.end(),
                   [](const MailExchange& a, const MailExchange& b) { return a.preference < b.preference; });
  for (auto run = exchanges.begin(); run != exchanges.end();) {
    auto end = std::find_if(run, exchanges.end(),
                            [&](const MailExchange& e) { return e.preference != run->preference; });
    std::shuffle(run, end, rng);
    run = end;
  }
  return exchanges;
}

}  // namespace mailkeep::smtp
