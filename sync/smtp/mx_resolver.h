// MX lookup for direct delivery (RFC 5321 §5.1, RFC 7505 null MX) and the
// address lookup of the chosen exchange, both through glibc's resolver
// (res_nquery on a private resolver state) so that one DNS server, the
// system's or a configured "IP[:PORT]" (tests point it at dnsmasq), answers
// both questions.
//
// What a lookup means for the caller:
//   LookupMx → kExchanges   try the exchanges in OrderExchanges() order;
//            → kImplicit    no MX records: deliver to the domain itself
//                           (exchanges = {domain, preference 0});
//            → kNullMx      the domain accepts no mail: fail the message.
//   Errors (one line, naming the name asked for and the DNS server):
//     kNotFound         NXDOMAIN: "domain nx.example does not exist". Permanent.
//     kUnavailable      no answer (timeout, nothing listening), SERVFAIL,
//                       REFUSED, FORMERR/NOTIMP, a malformed or truncated
//                       answer, a CNAME chain too long or looping: the
//                       caller defers the message and retries later.
//     kInvalidArgument  the name cannot be asked for: empty, too long, a bad
//                       label, an address literal, or non-ASCII (an IDN
//                       must be given in its A-label form, "xn--…": no
//                       conversion is done here), or a bad dns_server.
//     kInternal         the resolver could not be initialised.
//
// CNAMEs: an answer is followed from the name asked for through the CNAME
// records in it (case-insensitively); when it stops at a CNAME target
// without the records asked for, the target is queried in turn (at most 8
// names in all). kImplicit names the domain as given, not the CNAME target:
// the address lookup follows the CNAME again.
//
// Names are compared and returned in lower case, without a trailing dot.
//
// Thread-safety: every call uses its own resolver state (res_ninit /
// res_nclose); calls from different threads may run at once.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"

namespace mailkeep::smtp {

struct ResolverOptions {
  // "" = the system resolver (/etc/resolv.conf). Otherwise the only server
  // asked: "IPv4", "IPv4:PORT", "IPv6" or "[IPv6]:PORT"; port default 53.
  std::string dns_server;
  // Seconds to wait for each answer, and tries per query; a query with no
  // answer gives up after about timeout_seconds * attempts. 0 keeps the
  // value of the system resolver's configuration (glibc: 5 s, 2 tries).
  // Capped as glibc caps them in resolv.conf: 30 s, 5 tries.
  int timeout_seconds = 5;
  int attempts = 2;
};

struct MailExchange {
  std::string host;        // lower case, no trailing dot
  uint16_t preference = 0;
  friend bool operator==(const MailExchange&, const MailExchange&) = default;
};

struct MxAnswer {
  enum Kind {
    kExchanges,  // MX records: `exchanges`, as the server listed them (deduplicated)
    kImplicit,   // no MX records (NODATA): exchanges = {domain, 0} (RFC 5321 §5.1)
    kNullMx,     // RFC 7505: a single MX "." - the domain accepts no mail
  };
  Kind kind = kExchanges;
  std::vector<MailExchange> exchanges;  // empty for kNullMx
};

// The MX records of `domain` ("example.com" or "example.com.").
// A "." exchange listed beside real ones is dropped (RFC 7505 forbids the
// mix; the real ones are used). An exchange listed twice is kept once, with
// its lowest preference.
Result<MxAnswer> LookupMx(std::string_view domain, const ResolverOptions& options);

// The addresses of `host` as strings a socket can dial ("192.0.2.1",
// "2001:db8::1"): its A records first, then its AAAA records, each in the
// order the server gave them, CNAMEs followed. An IP literal is returned
// as it is, without a query.
// Errors as for LookupMx, plus kNotFound "host X has no address" when both
// queries answer NODATA (e.g. an exchange that names a non-host). When one
// query answers and the other fails temporarily, the addresses found are
// returned.
Result<std::vector<std::string>> LookupAddresses(std::string_view host,
                                                 const ResolverOptions& options);

// The order in which to try exchanges: ascending preference; exchanges of
// equal preference shuffled with `rng` (RFC 5321 §5.1 "randomize"), so
// that a fixed seed gives a fixed order.
std::vector<MailExchange> OrderExchanges(std::vector<MailExchange> exchanges, std::mt19937& rng);

}  // namespace mailkeep::smtp
