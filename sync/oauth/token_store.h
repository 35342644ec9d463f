// TokenStore: an account's OAuth 2.0 tokens in the archive's state, one
// directory ARCHIVE/oauth (0700) with two files per account or relay,
// written with WriteFileAtomic (temp file 0600, fsync, rename, fsync dir):
//   NAME.refresh   the refresh token, one line
//   NAME.access    "mailkeep-oauth-access 1\n" EXPIRES_AT "\n" TOKEN "\n":
//                  the cached access token and when it expires (Unix
//                  seconds, UTC)
// NAME is "account.work" or "relay.default" (section names are
// [A-Za-z0-9._-]+, so NAME is a plain file name).
//
// Files are read with limits (64 KiB) and refused when group- or
// world-accessible or not regular files. A damaged access cache is treated
// as absent (the caller refreshes); a damaged refresh token file is an error
// that names the file, never its content.
//
// Thread-safety: one TokenStore per thread; two processes writing the same
// account's files race only within a rename (the later one wins whole).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/util/status.h"

namespace mailkeep::oauth {

struct CachedAccessToken {
  std::string token;
  int64_t expires_at = 0;      // Unix seconds
};

class TokenStore {
 public:
  // `archive_dir` must exist; `name` as above (REQUIRES: [A-Za-z0-9._-]+).
  TokenStore(std::string archive_dir, std::string name);

  // nullopt when none was stored yet.
  Result<std::optional<std::string>> LoadRefreshToken() const;
  Status SaveRefreshToken(std::string_view token);

  // nullopt when none is cached or the cache is unreadable or damaged.
  std::optional<CachedAccessToken> LoadAccessToken() const;
  Status SaveAccessToken(const CachedAccessToken& cached);
  Status ForgetAccessToken();

  const std::string& refresh_path() const { return refresh_path_; }

 private:
  Status MakeDir() const;

  std::string dir_, refresh_path_, access_path_;
};

}  // namespace mailkeep::oauth
