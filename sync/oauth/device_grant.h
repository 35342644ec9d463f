// The OAuth 2.0 device authorization grant (RFC 8628), run once per account
// by `mailkeep oauth ACCOUNT`: ask the device authorization endpoint for a
// code, show the user where to enter it, poll the token endpoint at the
// server's interval until the user approved, denied or the code expired,
// then keep the refresh token in the archive's state (and cache the access
// token that came with it).
//
// Polling (RFC 8628 §3.5): authorization_pending → wait `interval` and poll
// again; slow_down → the interval grows by 5 s from then on (at most
// kMaxInterval); network trouble (kUnavailable: no connection, a timeout,
// a 5xx) → the interval doubles and the poll is repeated, at most
// kMaxUnreachablePolls times in a row, then one line; expired_token,
// access_denied or any other error → stop with one line; the device code's
// own expires_in bounds the whole wait (a poll that would come after it is
// not made: "the code expired before it was approved; run the command
// again").
//
// Thread-safety: plain function; the hooks are called on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/util/status.h"
#include "sync/oauth/token_client.h"
#include "sync/oauth/token_store.h"

namespace mailkeep::oauth {

inline constexpr int kMaxUnreachablePolls = 5;

struct DevicePrompt {
  std::string verification_uri;           // https://..., visible ASCII
  std::string verification_uri_complete;  // may be empty
  std::string user_code;                  // visible ASCII, <= kMaxUserCode
  int64_t expires_in = 0;                 // seconds
};

struct DeviceGrantHooks {
  std::function<void(const DevicePrompt&)> show;    // REQUIRED: tell the user
  std::function<void(int seconds)> sleep;           // empty = really sleep (tests count instead)
  std::function<int64_t()> now;                     // Unix seconds; empty = the system clock
};

// REQUIRES: client.device_url set. Errors: RequestToken's; kFailedPrecondition
// for denied, expired or refused (with the server's error text); the store's.
Status RunDeviceGrant(const ClientConfig& client, TokenStore& store, const DeviceGrantHooks& hooks);

}  // namespace mailkeep::oauth
