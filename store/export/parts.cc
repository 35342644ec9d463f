#include "store/export/parts.h"

#include <algorithm>
#include <array>

#include "store/export/utf8.h"
#include "store/mime/decode.h"

namespace mailkeep::exporting {
namespace {

bool IsAncestor(std::string_view ancestor, std::string_view path) {
  return path.size() > ancestor.size() && path.starts_with(ancestor) &&
         (ancestor.empty() || path[ancestor.size()] == '.');
}

bool Encoded(const mime::Part& p) {
  return p.transfer_encoding == "base64" || p.transfer_encoding == "quoted-printable";
}

// The bytes part `i`'s offsets refer to: raw, or the decoded body of its
// nearest transfer-encoded message/rfc822 ancestor (recursively).
std::string BufferOf(std::string_view raw, const mime::Message& m, size_t i) {
  if (!m.parts[i].in_decoded) return std::string(raw);
  for (size_t j = i; j-- > 0;) {
    const mime::Part& a = m.parts[j];
    if (!a.is_message || !Encoded(a) || !IsAncestor(a.path, m.parts[i].path)) continue;
    std::string outer = BufferOf(raw, m, j);
    if (a.body_offset > outer.size()) return {};
    return mime::DecodeTransfer(std::string_view(outer).substr(a.body_offset, a.body_length), a.transfer_encoding);
  }
  return std::string(raw);
}


std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  return s;
}

bool IsDeviceName(std::string_view name) {
  std::string base = Lower(std::string(name.substr(0, name.find('.'))));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  static const std::array<const char*, 4> kPlain = {"con", "prn", "aux", "nul"};
  for (const char* d : kPlain) {
    if (base == d) return true;
  }
  return base.size() == 4 && (base.starts_with("com") || base.starts_with("lpt")) && base[3] >= '0' && base[3] <= '9';
}

// Cuts `s` to at most `max` bytes at a character boundary.
std::string CutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

}  // namespace

Result<std::string> DecodedPart(std::string_view raw, const mime::Message& message, std::string_view path) {
  for (size_t i = 0; i < message.parts.size(); ++i) {
    const mime::Part& p = message.parts[i];
    if (p.path != path) continue;
    if (p.is_multipart) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "part " + std::string(path) + " is a multipart container; pick one of the parts in it");
    }
    std::string buffer = BufferOf(raw, message, i);
    if (p.body_offset > buffer.size()) return std::string();
    return mime::DecodeTransfer(std::string_view(buffer).substr(p.body_offset, p.body_length), p.transfer_encoding);
  }
  return MakeError(ErrorCode::kNotFound, "no part " + std::string(path) + " (`show --json` lists the parts)");
}

std::string SafeFileName(std::string_view name, const std::string& fallback) {
  size_t cut = name.find_last_of("/\\");
  if (cut != std::string_view::npos) name.remove_prefix(cut + 1);
  std::string out;
  for (size_t i = 0; i < name.size();) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x80) {
      size_t n = Utf8Length(name, i);
      out += n && !IsHiddenOrReordering(name.substr(i, n)) ? std::string(name.substr(i, n)) : "_";
      i += n ? n : 1;
      continue;
    }
    bool bad = c < 0x20 || c == 0x7f || std::string_view("<>:\"|?*").find(static_cast<char>(c)) != std::string_view::npos;
    out += bad ? '_' : static_cast<char>(c);
    ++i;
  }
  size_t first = out.find_first_not_of(". ");
  out = first == std::string::npos ? "" : out.substr(first);
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  if (out.empty()) return fallback;
  if (IsDeviceName(out)) out = "_" + out;
  if (out.size() > kMaxFileName) {
    size_t dot = out.rfind('.');
    std::string ext = dot != std::string::npos && out.size() - dot <= 16 ? out.substr(dot) : "";
    out = CutUtf8(out, kMaxFileName - ext.size()) + ext;
  }
  return out;
}

std::optional<std::string> AttachmentNamer::Claim(const std::string& safe_name, const Sha256Digest& contents) {
  if (!written_.insert(contents).second) return std::nullopt;
  std::string name = safe_name;
  size_t dot = safe_name.rfind('.');
  std::string stem = dot == std::string::npos || dot == 0 ? safe_name : safe_name.substr(0, dot);
  std::string ext = dot == std::string::npos || dot == 0 ? "" : safe_name.substr(dot);
  for (int n = 2; !taken_.insert(Lower(name)).second; ++n) {
    std::string suffix = " (" + std::to_string(n) + ")";
    name = CutUtf8(stem, kMaxFileName - suffix.size() - ext.size()) + suffix + ext;
  }
  return name;
}

Result<int64_t> AttachmentWriter::Add(int64_t id, std::string_view raw) {
  mime::ParseLimits limits;
  limits.extract_text = false;
  mime::Message m = mime::ParseMessage(raw, limits);
  int64_t written = 0;
  for (const auto& p : m.parts) {
    if (p.is_multipart || !p.is_attachment) continue;
    MK_ASSIGN_OR_RETURN(std::string data, DecodedPart(raw, m, p.path));
    std::string fallback = std::to_string(id) + "-" + (p.path.empty() ? "1" : p.path) + ".bin";
    auto name = namer_.Claim(SafeFileName(p.filename, fallback), Sha256(data));
    if (!name) {
      ++duplicates_;
      continue;
    }
    MK_RETURN_IF_ERROR(WritePrivateFile(dir_.get(), "." + std::to_string(id), shown_, dir_.get(), *name, data,
                                        shown_ + "/" + *name));
    ++written;
  }
  return written;
}

}  // namespace mailkeep::exporting
