// MX and address lookup: unit tests against a scripted DNS server inside
// this process (a UDP socket on 127.0.0.1 answering with packets built by
// hand, so every answer shape and failure can be produced), OrderExchanges,
// and integration tests (MxDnsmasq.*) against the dnsmasq that
// tests/servers/dnsmasq.sh starts; those skip without DNSMASQ_SERVER.
#include "sync/smtp/mx_resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace mailkeep::smtp {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint16_t kA = 1, kCname = 5, kMx = 15, kAaaa = 28;
constexpr int kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kRefused = 5;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Query {
  uint16_t id = 0;
  std::string name;  // as sent, lower-cased
  uint16_t type = 0;
  Bytes question;    // the question section, for echoing
};

// A DNS response under construction, for one query.
class Packet {
 public:
  Packet(const Query& q, int rcode = kNoError, bool truncated = false) : qname_(q.name) {
    Put16(q.id);
    bytes_.push_back(static_cast<uint8_t>(0x81 | (truncated ? 0x02 : 0)));  // QR, RD (+TC)
    bytes_.push_back(static_cast<uint8_t>(0x80 | rcode));                   // RA + rcode
    Put16(1);  // QDCOUNT
    Put16(0);  // ANCOUNT, set by bytes()
    Put16(0);
    Put16(0);
    bytes_.insert(bytes_.end(), q.question.begin(), q.question.end());
  }

  // Names ending in the question's name are compressed (a pointer to
  // offset 12) when `compress` is set.
  Packet& Mx(const std::string& owner, uint16_t pref, const std::string& exchange, bool compress = true) {
    Bytes rdata;
    rdata.push_back(static_cast<uint8_t>(pref >> 8));
    rdata.push_back(static_cast<uint8_t>(pref));
    Bytes name = Name(exchange, compress);
    rdata.insert(rdata.end(), name.begin(), name.end());
    return Rr(owner, kMx, rdata, compress);
  }
  Packet& Cname(const std::string& owner, const std::string& target) {
    return Rr(owner, kCname, Name(target, true), true);
  }
  Packet& A(const std::string& owner, const char* ip) {
    Bytes rdata(4);
    inet_pton(AF_INET, ip, rdata.data());
    return Rr(owner, kA, rdata, true);
  }
  Packet& Aaaa(const std::string& owner, const char* ip) {
    Bytes rdata(16);
    inet_pton(AF_INET6, ip, rdata.data());
    return Rr(owner, kAaaa, rdata, true);
  }
  Packet& Rr(const std::string& owner, uint16_t type, const Bytes& rdata, bool compress) {
    Bytes name = Name(owner, compress);
    bytes_.insert(bytes_.end(), name.begin(), name.end());
    Put16(type);
    Put16(1);     // IN
    Put32(300);   // TTL
    Put16(static_cast<uint16_t>(rdata.size()));
    bytes_.insert(bytes_.end(), rdata.begin(), rdata.end());
    ++answers_;
    return *this;
  }
  // Appends bytes as they are (for malformed answers) and counts them as a record.
  Packet& Garbage(const Bytes& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    ++answers_;
    return *this;
  }

  Bytes bytes() const {
    Bytes b = bytes_;
    b[6] = static_cast<uint8_t>(answers_ >> 8);
    b[7] = static_cast<uint8_t>(answers_);
    return b;
  }

 private:
  Bytes Name(const std::string& name, bool compress) const {
    Bytes out;
    std::string rest = name;
    if (!rest.empty() && rest.back() == '.') rest.pop_back();
    while (!rest.empty()) {
      if (compress && Lower(rest) == qname_) {
        out.push_back(0xC0);
        out.push_back(12);
        return out;
      }
      size_t dot = rest.find('.');
      std::string label = rest.substr(0, dot);
      out.push_back(static_cast<uint8_t>(label.size()));
      out.insert(out.end(), label.begin(), label.end());
      rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
    }
    out.push_back(0);
    return out;
  }
  void Put16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v));
  }
  void Put32(uint32_t v) {
    Put16(static_cast<uint16_t>(v >> 16));
    Put16(static_cast<uint16_t>(v));
  }

  std::string qname_;
  Bytes bytes_;
  uint16_t answers_ = 0;
};

// A UDP DNS server on 127.0.0.1 (or ::1) answering each query with what the
// handler returns; std::nullopt = no answer (the client times out).
class FakeDns {
 public:
  using Handler = std::function<std::optional<Bytes>(const Query&)>;

  explicit FakeDns(Handler handler, bool v6 = false) : handler_(std::move(handler)) {
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      socklen_t len = sizeof a;
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      server_ = "[::1]:" + std::to_string(ntohs(a.sin6_port));
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      socklen_t len = sizeof a;
      getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
      server_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    }
    if (ok_) thread_ = std::thread([this] { Serve(); });
  }
  ~FakeDns() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }

  bool ok() const { return ok_; }
  const std::string& server() const { return server_; }
  std::vector<Query> queries() {
    std::lock_guard<std::mutex> lock(mu_);
    return queries_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      uint8_t buf[4096];
      sockaddr_storage from{};
      socklen_t fromlen = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
      if (n < 12) continue;
      Query q;
      q.id = static_cast<uint16_t>(buf[0] << 8 | buf[1]);
      size_t at = 12;
      while (at < static_cast<size_t>(n) && buf[at] != 0) {
        if (!q.name.empty()) q.name += '.';
        q.name.append(reinterpret_cast<char*>(buf + at + 1), buf[at]);
        at += buf[at] + 1u;
      }
      if (at + 5 > static_cast<size_t>(n)) continue;
      q.type = static_cast<uint16_t>(buf[at + 1] << 8 | buf[at + 2]);
      q.question.assign(buf + 12, buf + at + 5);
      q.name = Lower(q.name);
      {
        std::lock_guard<std::mutex> lock(mu_);
        queries_.push_back(q);
      }
      std::optional<Bytes> reply = handler_(q);
      if (reply) sendto(fd_, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), fromlen);
    }
  }

  Handler handler_;
  int fd_ = -1;
  bool ok_ = false;
  std::string server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Query> queries_;
};

ResolverOptions Options(const FakeDns& dns, int timeout = 2, int attempts = 1) {
  ResolverOptions o;
  o.dns_server = dns.server();
  o.timeout_seconds = timeout;
  o.attempts = attempts;
  return o;
}

std::vector<MailExchange> Ex(std::initializer_list<MailExchange> list) { return list; }

// ---- MX answers --------------------------------------------------------------

TEST(LookupMx, TwoPreferencesWithCompressedNamesInLowerCase) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.name != "example.test" || q.type != kMx) return Packet(q, kNxDomain).bytes();
    return Packet(q).Mx("example.test", 20, "MX2.Example.TEST").Mx("EXAMPLE.test", 10, "mx1.example.test", false).bytes();
  });
  ASSERT_TRUE(dns.ok());
  auto r = LookupMx("Example.Test.", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kExchanges);
  EXPECT_EQ(r->exchanges, Ex({{"mx2.example.test", 20}, {"mx1.example.test", 10}}));
  ASSERT_EQ(dns.queries().size(), 1u);
  EXPECT_EQ(dns.queries()[0].name, "example.test");
}

TEST(LookupMx, NoMxRecordsMeansTheDomainItself) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q).bytes(); });  // NOERROR, no answers
  auto r = LookupMx("nomx.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kImplicit);
  EXPECT_EQ(r->exchanges, Ex({{"nomx.test", 0}}));
}

TEST(LookupMx, AnswerWithOnlyOtherNamesCountsAsNoData) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    return Packet(q).Mx("elsewhere.test", 10, "mx.elsewhere.test").A("nomx.test", "192.0.2.1").bytes();
  });
  auto r = LookupMx("nomx.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kImplicit);
}

TEST(LookupMx, NullMx) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q).Mx(q.name, 0, "").bytes(); });
  auto r = LookupMx("nullmx.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kNullMx);
  EXPECT_TRUE(r->exchanges.empty());
}

TEST(LookupMx, NullMxBesideRealExchangesIsDropped) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    return Packet(q).Mx(q.name, 0, "").Mx(q.name, 5, "mx.mixed.test").bytes();
  });
  auto r = LookupMx("mixed.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kExchanges);
  EXPECT_EQ(r->exchanges, Ex({{"mx.mixed.test", 5}}));
}

TEST(LookupMx, AnExchangeListedTwiceKeepsItsLowestPreference) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    return Packet(q).Mx(q.name, 30, "mx.dup.test").Mx(q.name, 10, "MX.dup.test").Mx(q.name, 20, "b.dup.test").bytes();
  });
  auto r = LookupMx("dup.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exchanges, Ex({{"mx.dup.test", 10}, {"b.dup.test", 20}}));
}

TEST(LookupMx, FollowsACnameInTheSameAnswer) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    return Packet(q)
        .Cname("alias.test", "Step.test")
        .Cname("step.test", "real.test")
        .Mx("real.test", 10, "mx.real.test")
        .Mx("alias.test", 5, "wrong.test")  // not on the chain's end: ignored
        .bytes();
  });
  auto r = LookupMx("alias.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exchanges, Ex({{"mx.real.test", 10}}));
  EXPECT_EQ(dns.queries().size(), 1u);
}

TEST(LookupMx, AsksForTheCnameTargetWhenTheAnswerStopsThere) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.name == "alias.test") return Packet(q).Cname("alias.test", "real.test").bytes();
    if (q.name == "real.test") return Packet(q).Mx("real.test", 10, "mx.real.test").bytes();
    return Packet(q, kNxDomain).bytes();
  });
  auto r = LookupMx("alias.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exchanges, Ex({{"mx.real.test", 10}}));
  auto qs = dns.queries();
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[1].name, "real.test");
  EXPECT_EQ(qs[1].type, kMx);
}

TEST(LookupMx, CnameToANameWithoutMxIsImplicitForTheDomainAsked) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.name == "alias.test") return Packet(q).Cname("alias.test", "host.test").bytes();
    return Packet(q).bytes();  // NODATA
  });
  auto r = LookupMx("alias.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kImplicit);
  EXPECT_EQ(r->exchanges, Ex({{"alias.test", 0}}));
}

TEST(LookupMx, CnameLoopIsATemporaryError) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    return Packet(q).Cname("a.test", "b.test").Cname("b.test", "a.test").bytes();
  });
  auto r = LookupMx("a.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("CNAME chain"), std::string::npos) << r.error().message();
}

TEST(LookupMx, EndlessCnameChainAcrossQueriesStops) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    // n0.test → n1.test → n2.test ... one per answer.
    int n = std::stoi(q.name.substr(1, q.name.find('.') - 1));
    return Packet(q).Cname(q.name, "n" + std::to_string(n + 1) + ".test").bytes();
  });
  auto r = LookupMx("n0.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_LE(dns.queries().size(), 8u);
}

TEST(LookupMx, NxDomainIsPermanent) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q, kNxDomain).bytes(); });
  auto r = LookupMx("nx.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("domain nx.test does not exist"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(dns.server()), std::string::npos) << r.error().message();
}

TEST(LookupMx, NxDomainForTheCnameTargetNamesIt) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.name == "alias.test") return Packet(q).Cname("alias.test", "gone.test").bytes();
    return Packet(q, kNxDomain).bytes();
  });
  auto r = LookupMx("alias.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("gone.test"), std::string::npos) << r.error().message();
}

struct RcodeCase {
  int rcode;
  const char* name;
};
void PrintTo(const RcodeCase& c, std::ostream* os) { *os << c.name; }
class LookupMxRcode : public testing::TestWithParam<RcodeCase> {};

TEST_P(LookupMxRcode, IsTemporaryAndNamed) {
  int rcode = GetParam().rcode;
  FakeDns dns([rcode](const Query& q) -> std::optional<Bytes> { return Packet(q, rcode).bytes(); });
  auto r = LookupMx("example.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find(std::string("answered ") + GetParam().name), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("MX lookup for example.test"), std::string::npos) << r.error().message();
}
INSTANTIATE_TEST_SUITE_P(All, LookupMxRcode,
                         testing::Values(RcodeCase{kServFail, "SERVFAIL"}, RcodeCase{kRefused, "REFUSED"},
                                         RcodeCase{kFormErr, "FORMERR"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LookupMx, NoAnswerTimesOutWithinTheConfiguredBound) {
  FakeDns dns([](const Query&) -> std::optional<Bytes> { return std::nullopt; });
  auto start = std::chrono::steady_clock::now();
  auto r = LookupMx("example.test", Options(dns, /*timeout=*/1, /*attempts=*/2));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("timed out"), std::string::npos) << r.error().message();
  EXPECT_GE(took, std::chrono::milliseconds(1500));
  EXPECT_LT(took, std::chrono::seconds(4));
  EXPECT_EQ(dns.queries().size(), 2u);
}

TEST(LookupMx, NothingListeningFailsFastAndTemporarily) {
  std::string server;
  {
    FakeDns dns([](const Query&) -> std::optional<Bytes> { return std::nullopt; });
    server = dns.server();
  }  // closed: the port now answers ICMP port unreachable
  ResolverOptions o;
  o.dns_server = server;
  o.timeout_seconds = 3;
  o.attempts = 2;
  auto start = std::chrono::steady_clock::now();
  auto r = LookupMx("example.test", o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("no answer from DNS server " + server), std::string::npos)
      << r.error().message();
  EXPECT_LT(took, std::chrono::seconds(7));
}

TEST(LookupMx, TruncatedAnswerWithoutTcpIsTemporary) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q, kNoError, /*truncated=*/true).bytes(); });
  auto r = LookupMx("example.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable) << r.error().message();
}

TEST(LookupMx, MalformedMxRecordIsTemporary) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    // RDATA of 2 bytes: a preference and no exchange.
    return Packet(q).Rr(q.name, kMx, Bytes{0, 10}, true).bytes();
  });
  auto r = LookupMx("example.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("malformed"), std::string::npos) << r.error().message();
}

TEST(LookupMx, ExchangeNameRunningPastItsRecordIsMalformed) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    // RDLENGTH 4, but the name inside goes on into the next record.
    return Packet(q).Rr(q.name, kMx, Bytes{0, 10, 1, 'a'}, true).Mx(q.name, 20, "ok.test").bytes();
  });
  auto r = LookupMx("example.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

TEST(LookupMx, RecordCutShortIsMalformed) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    return Packet(q).Garbage(Bytes{0xC0, 12, 0, 15, 0, 1}).bytes();  // type and class, then the end
  });
  auto r = LookupMx("example.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("malformed"), std::string::npos) << r.error().message();
}

TEST(LookupMx, ServerOverIpv6) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q).Mx(q.name, 7, "mx.v6.test").bytes(); },
              /*v6=*/true);
  if (!dns.ok()) GTEST_SKIP() << "no ::1 here";
  auto r = LookupMx("v6.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exchanges, Ex({{"mx.v6.test", 7}}));
}

// ---- names and options -----------------------------------------------------------

TEST(LookupMx, RejectsNamesThatCannotBeAskedFor) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q).bytes(); });
  for (std::string bad : {std::string(""), std::string("."), std::string("a..test"), std::string(".a.test"),
                          std::string("[192.0.2.1]"), std::string("192.0.2.1"), std::string("::1"),
                          std::string("a b.test"), std::string("a\\.test"), std::string(64, 'x') + ".test",
                          std::string(250, 'a').insert(60, ".").insert(120, ".").insert(180, ".") + ".test"}) {
    auto r = LookupMx(bad, Options(dns));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad << ": " << r.error().message();
  }
  EXPECT_TRUE(dns.queries().empty());
}

TEST(LookupMx, RejectsInternationalizedNamesWithAHint) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q).bytes(); });
  auto r = LookupMx("b\xc3\xbc" "cher.example", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("xn--"), std::string::npos) << r.error().message();
  // The A-label form is asked for as it is.
  auto ok = LookupMx("xn--bcher-kva.example", Options(dns));
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->exchanges, Ex({{"xn--bcher-kva.example", 0}}));
}

TEST(LookupMx, RejectsBadDnsServers) {
  for (const char* bad : {"dns.example", "192.0.2.1:", "192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:5x",
                          "[::1", "[::1]x", "[::1]:", "[nope]:53", "1.2.3.4.5"}) {
    ResolverOptions o;
    o.dns_server = bad;
    auto r = LookupMx("example.test", o);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad << ": " << r.error().message();
    EXPECT_NE(r.error().message().find("dns_server"), std::string::npos) << r.error().message();
  }
}

// ---- addresses -------------------------------------------------------------------

TEST(LookupAddresses, ARecordsThenAaaaRecords) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.type == kAaaa) return Packet(q).Aaaa(q.name, "2001:db8::25").bytes();
    return Packet(q).A(q.name, "192.0.2.2").A(q.name, "192.0.2.1").A(q.name, "192.0.2.2").bytes();
  });
  auto r = LookupAddresses("mx.example.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, (std::vector<std::string>{"192.0.2.2", "192.0.2.1", "2001:db8::25"}));
}

TEST(LookupAddresses, FollowsCnames) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.name == "alias.test") return Packet(q).Cname("alias.test", "host.test").bytes();
    if (q.type == kA) return Packet(q).A("host.test", "192.0.2.7").bytes();
    return Packet(q).bytes();
  });
  auto r = LookupAddresses("alias.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, (std::vector<std::string>{"192.0.2.7"}));
}

TEST(LookupAddresses, NxDomainIsPermanentAndAsksOnce) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q, kNxDomain).bytes(); });
  auto r = LookupAddresses("gone.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("host gone.test does not exist"), std::string::npos) << r.error().message();
  EXPECT_EQ(dns.queries().size(), 1u);
}

TEST(LookupAddresses, NoAddressRecordsIsPermanent) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q).bytes(); });
  auto r = LookupAddresses("noaddr.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("has no address"), std::string::npos) << r.error().message();
}

TEST(LookupAddresses, OneFamilyAnsweringIsEnough) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.type == kAaaa) return Packet(q, kServFail).bytes();
    return Packet(q).A(q.name, "192.0.2.9").bytes();
  });
  auto r = LookupAddresses("half.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, (std::vector<std::string>{"192.0.2.9"}));
}

TEST(LookupAddresses, TemporaryFailureWithoutAnyAddress) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.type == kAaaa) return Packet(q).bytes();
    return Packet(q, kServFail).bytes();
  });
  auto r = LookupAddresses("flaky.test", Options(dns));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("A lookup for flaky.test"), std::string::npos) << r.error().message();
}

TEST(LookupAddresses, MalformedAddressRecordIsSkipped) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.type == kAaaa) return Packet(q).bytes();
    return Packet(q).Rr(q.name, kA, Bytes{1, 2, 3}, true).A(q.name, "192.0.2.3").bytes();
  });
  auto r = LookupAddresses("odd.test", Options(dns));
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r, (std::vector<std::string>{"192.0.2.3"}));
}

TEST(LookupAddresses, IpLiteralsNeedNoQuery) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> { return Packet(q, kServFail).bytes(); });
  auto v4 = LookupAddresses("192.0.2.1", Options(dns));
  ASSERT_TRUE(v4) << v4.error().ToString();
  EXPECT_EQ(*v4, (std::vector<std::string>{"192.0.2.1"}));
  auto v6 = LookupAddresses("2001:DB8:0::1", Options(dns));
  ASSERT_TRUE(v6) << v6.error().ToString();
  EXPECT_EQ(*v6, (std::vector<std::string>{"2001:db8::1"}));
  EXPECT_TRUE(dns.queries().empty());
}

TEST(LookupAddresses, ManyThreadsAtOnce) {
  FakeDns dns([](const Query& q) -> std::optional<Bytes> {
    if (q.type == kAaaa) return Packet(q).bytes();
    return Packet(q).A(q.name, "192.0.2.5").bytes();
  });
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = LookupAddresses("h" + std::to_string(t) + "-" + std::to_string(i) + ".test", Options(dns));
        if (r && *r == std::vector<std::string>{"192.0.2.5"}) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, 80);
}

// ---- OrderExchanges ----------------------------------------------------------------

TEST(OrderExchanges, PreferenceOrderWithTiesShuffled) {
  std::vector<MailExchange> in = {{"c", 20}, {"a", 10}, {"x", 30}, {"b", 10}, {"d", 20}, {"e", 20}};
  std::set<std::string> seen_first_of_10, seen_orders_of_20;
  for (unsigned seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(seed);
    auto out = OrderExchanges(in, rng);
    ASSERT_EQ(out.size(), in.size());
    for (size_t i = 1; i < out.size(); ++i) ASSERT_LE(out[i - 1].preference, out[i].preference);
    EXPECT_EQ(out.back(), (MailExchange{"x", 30}));
    seen_first_of_10.insert(out[0].host);
    seen_orders_of_20.insert(out[2].host + out[3].host + out[4].host);
  }
  EXPECT_EQ(seen_first_of_10, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(seen_orders_of_20.size(), 6u);  // all 3! orders of c, d, e
}

TEST(OrderExchanges, SameSeedSameOrder) {
  std::vector<MailExchange> in = {{"a", 5}, {"b", 5}, {"c", 5}, {"d", 5}, {"e", 1}};
  std::mt19937 r1(42), r2(42);
  EXPECT_EQ(OrderExchanges(in, r1), OrderExchanges(in, r2));
  std::mt19937 r3(1);
  EXPECT_TRUE(OrderExchanges({}, r3).empty());
  EXPECT_EQ(OrderExchanges({{"only", 3}}, r3), Ex({{"only", 3}}));
}

// ---- against dnsmasq (tests/servers/dnsmasq.sh) ------------------------------------

class MxDnsmasq : public testing::Test {
 protected:
  void SetUp() override {
    const char* server = std::getenv("DNSMASQ_SERVER");
    if (server == nullptr || *server == '\0') GTEST_SKIP() << "DNSMASQ_SERVER is not set: run under dnsmasq.sh";
    options_.dns_server = server;
    options_.timeout_seconds = 2;
    options_.attempts = 2;
  }
  static std::string Env(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
  }
  ResolverOptions options_;
};

TEST_F(MxDnsmasq, TwoPreferences) {
  auto r = LookupMx("example.test", options_);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kExchanges);
  std::mt19937 rng(7);
  EXPECT_EQ(OrderExchanges(r->exchanges, rng), Ex({{"mx1.example.test", 10}, {"mx2.example.test", 20}}));
  auto mx1 = LookupAddresses("mx1.example.test", options_);
  ASSERT_TRUE(mx1) << mx1.error().ToString();
  EXPECT_EQ(*mx1, (std::vector<std::string>{Env("DNSMASQ_MX1_ADDR", "127.0.0.1")}));
  auto mx2 = LookupAddresses("mx2.example.test", options_);
  ASSERT_TRUE(mx2) << mx2.error().ToString();
  EXPECT_EQ(*mx2, (std::vector<std::string>{Env("DNSMASQ_MX2_ADDR", "127.0.0.4")}));
}

TEST_F(MxDnsmasq, NoMxButAnAddress) {
  auto r = LookupMx("nomx.test", options_);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kImplicit);
  EXPECT_EQ(r->exchanges, Ex({{"nomx.test", 0}}));
  auto a = LookupAddresses("nomx.test", options_);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(*a, (std::vector<std::string>{Env("DNSMASQ_NOMX_ADDR", "127.0.0.1")}));
}

TEST_F(MxDnsmasq, NullMx) {
  auto r = LookupMx("nullmx.test", options_);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kNullMx);
}

TEST_F(MxDnsmasq, NxDomain) {
  auto r = LookupMx("nx.example.test", options_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(r.error().message().find("domain nx.example.test does not exist"), std::string::npos)
      << r.error().message();
  auto a = LookupAddresses("mx9.example.test", options_);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code(), ErrorCode::kNotFound);
}

TEST_F(MxDnsmasq, BothAddressFamilies) {
  auto a = LookupAddresses("dual.example.test", options_);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(*a, (std::vector<std::string>{"127.0.0.1", "::1"}));
}

TEST_F(MxDnsmasq, CnameAnsweredWithoutItsTargetsMx) {
  // dnsmasq answers MX alias.example.test with the CNAME alone; the target
  // has no MX, so the domain itself is used, and its address is the target's.
  auto r = LookupMx("alias.example.test", options_);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->kind, MxAnswer::kImplicit);
  EXPECT_EQ(r->exchanges, Ex({{"alias.example.test", 0}}));
  auto a = LookupAddresses("alias.example.test", options_);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(*a, (std::vector<std::string>{Env("DNSMASQ_MX1_ADDR", "127.0.0.1")}));
}

TEST_F(MxDnsmasq, AnswerTooBigForUdpComesOverTcp) {
  auto r = LookupMx("many.example.test", options_);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->exchanges.size(), 60u);
  std::mt19937 rng(1);
  auto ordered = OrderExchanges(r->exchanges, rng);
  EXPECT_EQ(ordered.front(), (MailExchange{"mx01.many.example.test", 1}));
  EXPECT_EQ(ordered.back(), (MailExchange{"mx60.many.example.test", 60}));
}

TEST_F(MxDnsmasq, OutsideItsZoneIsRefusedAndTemporary) {
  auto r = LookupMx("example.com", options_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message().find("REFUSED"), std::string::npos) << r.error().message();
}

TEST_F(MxDnsmasq, NothingListeningIsTemporaryAndBounded) {
  // A port of dnsmasq's address that nothing listens on: bind one, close it.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  ResolverOptions o = options_;
  o.dns_server = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  auto start = std::chrono::steady_clock::now();
  auto r = LookupMx("example.test", o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_LT(took, std::chrono::seconds(o.timeout_seconds * o.attempts + 1));
}

}  // namespace
}  // namespace mailkeep::smtp
