// The OAuth 2.0 device authorization grant (RFC 8628), run once per account
// by `mailkeep oauth ACCOUNT`: ask the device authorization endpoint for a
// code, show the user where to enter it, poll the token endpoint at the
// server's interval until the user approved, denied or the code expired,
// then keep the refresh token in the archive's state (and cache the access
// token that came with it).
//
// Polling (RFC 8628 §3.5): authorization_pending → wait `interval` and poll
// again; slow_down → the interval grows by 5 s (at most kMaxInterval);
// expired_token, access_denied or any other error → stop with one line;
// the device code's own expires_in bounds the whole wait.
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

struct DevicePrompt {
  std::string verification_uri;           // https://..., visible ASCII
  std::string verification_uri_complete;  // may be empty
  std::string user_code;                  // visible ASCII, <= kMaxUserCode
  int64_t expires_in = 0;                 // seconds
};

struct DeviceGrantHooks {
  std::function<void(const DevicePrompt&)> show;    // REQUIRED: tell the user
  std::function<void(int seconds)> sleep;           // empty = really sleep
  std::function<int64_t()> now;                     // Unix seconds; empty = the system clock
};

// REQUIRES: client.device_url set. Errors: RequestToken's; kFailedPrecondition
// for denied, expired or refused (with the server's error text); the store's.
Status RunDeviceGrant(const ClientConfig& client, TokenStore& store, const DeviceGrantHooks& hooks);

}  // namespace mailkeep::oauth
