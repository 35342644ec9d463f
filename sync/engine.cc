#include "sync/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

namespace mailkeep::sync {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

int64_t WallClock() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// (folder, uidvalidity, key): one place on the server.
using PlaceKey = std::tuple<std::string, uint64_t, std::string>;

PlaceKey Place(const Origin& o) { return {o.folder, o.uidvalidity, o.key}; }

// A message to delete on the server, with the catalog id of its archived copy.
using Deletable = std::pair<ServerMessage, int64_t>;

bool DueForDeletion(const DeletePolicy& policy, int64_t seen_at, int64_t now) {
  switch (policy.kind) {
    case DeletePolicy::Kind::kNever: return false;
    case DeletePolicy::Kind::kAfterDownload: return true;
    case DeletePolicy::Kind::kOlderThan: return now - seen_at >= int64_t{policy.days} * kSecondsPerDay;
  }
  return false;
}

std::string Megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// The key of the place a row stands for: a place taken by a second message
// (a reused UID) keeps the first under its key and the second under
// "KEY#ID" (Catalog::AddLocation).
std::string BaseKey(const KnownLocation& k) {
  const std::string suffix = "#" + std::to_string(k.message);
  if (k.key.size() > suffix.size() && k.key.ends_with(suffix)) return k.key.substr(0, k.key.size() - suffix.size());
  return k.key;
}

// Every copy the archive recorded at each place, those deleted or gone
// from the server left out; a "KEY#ID" row counts for KEY as well. A
// removed place counts even when gone (a server restored from a backup
// may list it again).
class KnownPlaces {
 public:
  explicit KnownPlaces(const KnownFolders& known) {
    for (const auto& [folder, rows] : known) Add(folder, rows);
  }
  KnownPlaces(const std::string& folder, const std::vector<KnownLocation>& rows) { Add(folder, rows); }
  // The copies recorded at the place of `o` (pointers into the KnownFolders).
  const std::vector<const KnownLocation*>& At(const Origin& o) const {
    static const std::vector<const KnownLocation*> kNone;
    auto it = copies_.find(Place(o));
    return it == copies_.end() ? kNone : it->second;
  }
  // When `message` was first archived from the place of `o`, if it was.
  std::optional<int64_t> SeenAt(const Origin& o, int64_t message) const {
    for (const auto* k : At(o)) {
      if (k->message == message) return k->seen_at;
    }
    return std::nullopt;
  }

 private:
  void Add(const std::string& folder, const std::vector<KnownLocation>& rows) {
    for (const auto& k : rows) {
      if (!k.removed_at && (k.deleted_at || k.gone_at)) continue;
      copies_[PlaceKey{folder, k.uidvalidity, k.key}].push_back(&k);
      if (std::string base = BaseKey(k); base != k.key) copies_[PlaceKey{folder, k.uidvalidity, base}].push_back(&k);
    }
  }
  std::map<PlaceKey, std::vector<const KnownLocation*>> copies_;
};

// Whether the listing may describe the copy `k` archived from that place.
bool ListingAgrees(const ServerMessage& m, const KnownLocation& k) {
  if (m.origin.internal_date && k.internal_date && *m.origin.internal_date != *k.internal_date) return false;
  // The size the server listed there before, where the catalog has it.
  if (m.size != 0 && k.listed_size != 0) return m.size == k.listed_size;
  // CRLF line ends make the listed size at least the archived length and
  // at most twice it.
  return m.size == 0 || (m.size >= k.size && m.size <= 2 * k.size);
}

// The latest copy at that place that the listing agrees with, if any.
const KnownLocation* AgreeingCopy(const ServerMessage& m, const std::vector<const KnownLocation*>& copies) {
  const KnownLocation* best = nullptr;
  for (const auto* k : copies) {
    if (ListingAgrees(m, *k) && (!best || std::tie(k->seen_at, k->message) > std::tie(best->seen_at, best->message))) {
      best = k;
    }
  }
  return best;
}

// Places of a folder to move from UIDVALIDITY `from` (see
// AccountRun::FollowRenumbering): indexes into the folder's rows.
struct Renumbering {
  uint64_t from = 0;
  std::vector<size_t> rows;
};

// Whether a listed message is, beyond doubt from its listing, the copy `k`:
// the size the server listed there before and the INTERNALDATE, both
// known and equal.
bool ListingProves(const ServerMessage& m, const KnownLocation& k) {
  return m.size != 0 && m.size == k.listed_size && m.origin.internal_date && k.internal_date &&
         *m.origin.internal_date == *k.internal_date;
}

// `here`: one folder's listing, all under one UIDVALIDITY. When the archive
// knows no place there under it, but under an earlier one (the newest with
// live places) every listed UID it knows holds, by size and date, what was
// archived there — at least one — those places are to move.
std::optional<Renumbering> FindRenumbering(const std::string& folder, const std::vector<const ServerMessage*>& here,
                                           const std::vector<KnownLocation>& rows) {
  if (here.empty()) return std::nullopt;
  const uint64_t to = here.front()->origin.uidvalidity;
  std::optional<uint64_t> from;
  int64_t newest = 0;
  for (const auto& k : rows) {
    if (k.deleted_at || k.gone_at) continue;
    if (k.uidvalidity == to) return std::nullopt;
    if (!from || k.seen_at > newest) {
      from = k.uidvalidity;
      newest = k.seen_at;
    }
  }
  if (!from) return std::nullopt;
  const KnownPlaces places(folder, rows);
  Renumbering out{*from, {}};
  for (const ServerMessage* m : here) {
    if (m->origin.uidvalidity != to) return std::nullopt;
    Origin o = m->origin;
    o.uidvalidity = *from;
    const auto& copies = places.At(o);
    if (copies.empty()) continue;  // new since
    const KnownLocation* k = AgreeingCopy(*m, copies);
    if (!k || !ListingProves(*m, *k)) return std::nullopt;
    out.rows.push_back(static_cast<size_t>(k - rows.data()));
  }
  if (out.rows.empty()) return std::nullopt;
  return out;
}

// Places the listing names more than once.
std::set<PlaceKey> RepeatedPlaces(const std::vector<ServerMessage>& listing) {
  std::set<PlaceKey> seen, repeated;
  for (const auto& m : listing) {
    if (!seen.insert(Place(m.origin)).second) repeated.insert(Place(m.origin));
  }
  return repeated;
}

}  // namespace

uint64_t ListedSize(std::string_view message) {
  return message.size() + static_cast<uint64_t>(std::count(message.begin(), message.end(), '\n'));
}

SyncPlan PlanSync(const std::vector<ServerMessage>& listing, const KnownFolders& known,
                  const SyncSettings& settings) {
  const KnownPlaces places(known);
  const std::set<PlaceKey> repeated = RepeatedPlaces(listing);
  SyncPlan plan;
  auto fetch = [&](const ServerMessage& m) {
    bool too_large = settings.max_message_size > 0 && m.size > settings.max_message_size;
    (too_large ? plan.too_large : plan.fetch).push_back(m);
  };
  for (const auto& m : listing) {
    if (repeated.count(Place(m.origin))) {
      plan.listed_twice.push_back(m);
      fetch(m);
      continue;
    }
    const auto& copies = places.At(m.origin);
    if (copies.empty()) {
      fetch(m);
      continue;
    }
    const KnownLocation* k = AgreeingCopy(m, copies);
    if (!k) {
      // Another message than was archived from there (a reused UID or
      // UIDL): fetched, so that the archive keeps it if it is new, whatever
      // the policy; compared by hash, nothing is stored twice.
      fetch(m);
      continue;
    }
    // Removed here by `delete` or `prune`: not fetched again, and not
    // deleted on the server (no copy is kept).
    if (k->removed_at) continue;
    if (m.has_flags && m.origin.flags != k->flags) plan.flag_changes.push_back(m);
    if (!DueForDeletion(settings.delete_policy, k->seen_at, settings.now)) continue;
    if (m.size == 0) {
      fetch(m);  // an unknown size proves nothing
    } else {
      plan.deletable.emplace_back(m, k->message);
    }
  }
  return plan;
}

namespace {

class AccountRun {
 public:
  AccountRun(const std::string& account, Source& source, ArchiveGate& archive, const SyncSettings& settings,
             const std::function<void(int64_t, int64_t)>& on_progress)
      : source_(source), archive_(archive), settings_(settings), on_progress_(on_progress) {
    report_.account = account;
    if (settings_.now == 0) settings_.now = WallClock();
  }

  AccountReport Run() {
    auto start = std::chrono::steady_clock::now();
    auto finished = RunSteps();
    if (!finished && finished.error().code() == ErrorCode::kResourceExhausted) {
      report_.partial = finished.error().message();
    } else if (!finished) {
      Stop(finished.error().message());
    }
    if (auto closed = source_.Close(); !closed && report_.ok) {
      // Deletions already confirmed stay final; anything else is only
      // retried next time, so this is worth a line but loses nothing.
      report_.problems.push_back("closing the session: " + closed.error().message());
    }
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!settings_.dry_run) {
      SyncRun run{report_.account, started_, WallClock(), report_.fetched + report_.duplicates,
                  report_.bytes, report_.deleted, report_.errors + (report_.ok ? 0 : 1)};
      archive_.With([&](Archive& a) { return a.RecordRun(run); });
    }
    return std::move(report_);
  }

 private:
  void Stop(const std::string& why) {
    report_.ok = false;
    report_.problems.push_back(why);
  }

  // One call into the archive; an error there stops the account.
  template <typename F>
  auto Archived(F&& f) {
    auto out = archive_.With(std::forward<F>(f));
    if (!out) archive_failed_ = true;
    return out;
  }

  Status RunSteps() {
    started_ = WallClock();
    MK_RETURN_IF_ERROR(source_.Connect());
    ListContext context;
    MK_ASSIGN_OR_RETURN(context.known_folders, Archived([&](Archive& a) {
      return a.FolderStates(source_.source_name(), report_.account);
    }));
    context.list_unchanged_folders = settings_.delete_policy.kind != DeletePolicy::Kind::kNever;
    context.writable = context.list_unchanged_folders && !settings_.dry_run;
    context.live_places = [&](const std::string& folder, uint64_t uidvalidity) -> Result<int64_t> {
      MK_ASSIGN_OR_RETURN(auto rows, KnownIn(folder));
      std::set<std::string> keys;
      for (const auto& k : rows) {
        if (k.uidvalidity == uidvalidity && !k.deleted_at && !k.gone_at) keys.insert(BaseKey(k));
      }
      return static_cast<int64_t>(keys.size());
    };
    MK_ASSIGN_OR_RETURN(FolderList folders, source_.Folders(context));
    report_.listed += folders.on_server;
    for (const auto& name : folders.names) {
      if (!report_.partial.empty()) break;  // max_bytes_per_run reached: later folders next run
      Status done = SyncFolder(name, context);
      if (done) continue;
      // The archive failing, the session lost, the server throttling or a
      // source without folders: the account stops. Anything else fails
      // that folder only.
      const ErrorCode code = done.error().code();
      if (archive_failed_ || name.empty() || code == ErrorCode::kUnavailable ||
          code == ErrorCode::kResourceExhausted) {
        return done;
      }
      ++report_.errors;
      ++report_.folders_failed;
      report_.problems.push_back("folder " + name + " not synced: " + done.error().message());
    }
    if (settings_.dry_run) return OkStatus();
    for (const auto& folder : folders.vanished_folders) {
      MK_RETURN_IF_ERROR(Archived(
          [&](Archive& a) { return a.MarkFolderGone(source_.source_name(), report_.account, folder, WallClock()); }));
    }
    return OkStatus();
  }

  // What the archive knows of a folder: its locations, then its removed
  // places (KnownLocation::removed_at).
  Result<std::vector<KnownLocation>> KnownIn(const std::string& folder) {
    const std::string source = source_.source_name();
    MK_ASSIGN_OR_RETURN(auto rows, Archived([&](Archive& a) {
      return a.FolderLocations(source, report_.account, folder);
    }));
    MK_ASSIGN_OR_RETURN(auto removed, Archived([&](Archive& a) {
      return a.RemovedPlaces(source, report_.account, folder);
    }));
    rows.insert(rows.end(), std::make_move_iterator(removed.begin()), std::make_move_iterator(removed.end()));
    return rows;
  }

  // Lists one folder (or the whole source), then fetches, records and
  // deletes what the listing calls for, in the source's one selection.
  Status SyncFolder(const std::string& name, const ListContext& context) {
    MK_ASSIGN_OR_RETURN(Listing listed, source_.ListFolder(name, context));
    const std::vector<ServerMessage>& listing = listed.messages;
    report_.listed += listed.on_server >= 0 ? listed.on_server : static_cast<int64_t>(listing.size());

    KnownFolders known;
    for (const auto& m : listing) known[m.origin.folder];
    for (const auto& [folder, uidvalidity] : listed.complete_folders) known[folder];
    for (auto& [folder, rows] : known) {
      MK_ASSIGN_OR_RETURN(rows, KnownIn(folder));
    }
    std::set<PlaceKey> renumbered;
    for (auto& [folder, rows] : known) {
      MK_RETURN_IF_ERROR(FollowRenumbering(folder, listing, rows, &renumbered));
    }
    SyncPlan plan = PlanSync(listing, known, settings_);
    // A place carried over from another UIDVALIDITY is proven for
    // deletion by its bytes, not by its listing.
    std::erase_if(plan.deletable, [&](const Deletable& d) {
      if (!renumbered.count(Place(d.first.origin))) return false;
      plan.fetch.push_back(d.first);
      return true;
    });
    WarnListedTwice(plan.listed_twice);
    for (const auto& m : plan.too_large) {
      ++report_.skipped;
      incomplete_folders_.insert(m.origin.folder);
      report_.problems.push_back("skipped message " + m.origin.key + " in " + m.origin.folder + ": " +
                                 Megabytes(m.size) + " is over max_message_size (" +
                                 Megabytes(settings_.max_message_size) + ")");
    }
    if (settings_.dry_run) return ReportDryRun(plan);

    std::vector<Origin> flag_changes;
    flag_changes.reserve(plan.flag_changes.size());
    for (const auto& m : plan.flag_changes) {
      flag_changes.push_back(m.origin);
      flag_changes.back().account = report_.account;
    }
    auto changed = Archived([&](Archive& a) { return a.UpdateFlags(flag_changes); });
    if (!changed) return std::unexpected(changed.error().WithContext("archive"));
    report_.flags_updated += *changed;
    std::vector<Deletable> proven = ProveByReadback(plan.deletable, &plan.fetch);
    KeepWithinByteBudget(plan.fetch);
    std::vector<Deletable> fetched_deletable;
    MK_RETURN_IF_ERROR(FetchAll(plan.fetch, KnownPlaces(known), RepeatedPlaces(listing), &fetched_deletable));
    // Everything listed is committed now: remember the folders' state, so
    // the next run can skip those that do not change.
    for (const auto& state : listed.folder_states) {
      // A folder with skipped or refused messages is looked at again next
      // time (a raised max_message_size must find them).
      if (incomplete_folders_.count(state.name)) continue;
      MK_RETURN_IF_ERROR(Archived(
          [&](Archive& a) { return a.SetFolderState(source_.source_name(), report_.account, state); }));
    }
    MK_RETURN_IF_ERROR(MarkVanished(listed, known));
    for (const auto& [m, id] : fetched_deletable) {
      if (ReadBack(m, id)) proven.emplace_back(m, id);
    }
    return Delete(proven);
  }

  // max_bytes_per_run: cuts `fetch` where its listed sizes would pass what
  // is left of the run's bytes (the first message of a run always stays),
  // and marks the run partial and the folder to be listed again.
  void KeepWithinByteBudget(std::vector<ServerMessage>& fetch) {
    const uint64_t max = settings_.max_bytes_per_run;
    if (max == 0 || fetch.empty()) return;
    uint64_t planned = report_.bytes;
    size_t keep = 0;
    for (; keep < fetch.size(); ++keep) {
      if (planned >= max || (planned + fetch[keep].size > max && planned > 0)) break;
      planned += fetch[keep].size;
    }
    if (keep == fetch.size()) return;
    for (size_t i = keep; i < fetch.size(); ++i) incomplete_folders_.insert(fetch[i].origin.folder);
    report_.partial = "max_bytes_per_run (" + Megabytes(max) + ") reached; " +
                      std::to_string(fetch.size() - keep) + " messages in " + fetch[keep].origin.folder +
                      " and any later folders wait";
    fetch.resize(keep);
  }

  // A folder listed under a UIDVALIDITY that the archive knows no place
  // under, whose listed messages are, UID by UID, what was archived under
  // an earlier UIDVALIDITY (the same size and INTERNALDATE): the server
  // renumbered the folder, not its messages, as Courier and Mailutils do
  // at every opening until a client opens the folder read-write. The
  // places move to the new UIDVALIDITY (in `rows` and, unless a dry run, in
  // the catalog) instead of every message being fetched and recorded again.
  // One contradicting or undated message and nothing moves.
  Status FollowRenumbering(const std::string& folder, const std::vector<ServerMessage>& listing,
                           std::vector<KnownLocation>& rows, std::set<PlaceKey>* renumbered) {
    std::vector<const ServerMessage*> here;
    for (const auto& m : listing) {
      if (m.origin.folder == folder) here.push_back(&m);
    }
    std::optional<Renumbering> found = FindRenumbering(folder, here, rows);
    if (!found) return OkStatus();
    const uint64_t to = here.front()->origin.uidvalidity;
    std::vector<std::string> keys;
    for (size_t i : found->rows) keys.push_back(rows[i].key);
    if (!settings_.dry_run) {
      MK_RETURN_IF_ERROR(Archived([&](Archive& a) {
        return a.MoveLocations(source_.source_name(), report_.account, folder, found->from, to, keys);
      }));
    }
    for (size_t i : found->rows) {
      rows[i].uidvalidity = to;
      renumbered->insert(PlaceKey{folder, to, BaseKey(rows[i])});
    }
    report_.problems.push_back(
        "the server gave folder " + folder + " a new UIDVALIDITY (" + std::to_string(found->from) + " -> " +
        std::to_string(to) + ") but kept its messages under the same UIDs, as Courier (without courierimapuiddb) "
        "and Mailutils (mbox without X-IMAPbase) do at every opening: " + std::to_string(keys.size()) +
        " archived places carried over, nothing fetched again; open the folder once read-write with a mail "
        "client to make its UIDVALIDITY stable");
    return OkStatus();
  }

  // Places that the server no longer has are marked gone: in a complete
  // listing, those it does not name (expunged by another client, or under
  // an old UIDVALIDITY); in any listing, those where it lists another
  // message than was archived from there (a reused UID or UIDL).
  Status MarkVanished(const Listing& listed, const KnownFolders& known) {
    std::map<PlaceKey, const ServerMessage*> present;
    for (const auto& m : listed.messages) present.emplace(Place(m.origin), &m);
    std::map<std::string, uint64_t> folders = listed.complete_folders;
    for (const auto& m : listed.messages) folders.emplace(m.origin.folder, m.origin.uidvalidity);
    const int64_t now = WallClock();
    for (const auto& [folder, uidvalidity] : folders) {
      auto rows = known.find(folder);
      if (rows == known.end()) continue;
      const bool complete = listed.complete_folders.count(folder) > 0;
      std::vector<std::pair<uint64_t, std::string>> vanished, removed;
      for (const auto& k : rows->second) {
        if (k.deleted_at || k.gone_at) continue;
        const PlaceKey place{folder, k.uidvalidity, BaseKey(k)};
        if (fetched_.count({place, k.message})) continue;  // fetched from there just now
        auto there = present.find(place);
        const bool listed_here = k.uidvalidity == uidvalidity && there != present.end();
        if (listed_here ? ListingAgrees(*there->second, k) : !complete) continue;
        (k.removed_at ? removed : vanished).emplace_back(k.uidvalidity, k.key);
      }
      MK_RETURN_IF_ERROR(Archived(
          [&](Archive& a) { return a.MarkGone(source_.source_name(), report_.account, folder, vanished, now); }));
      MK_RETURN_IF_ERROR(Archived([&](Archive& a) {
        return a.MarkRemovedGone(source_.source_name(), report_.account, folder, removed, now);
      }));
    }
    return OkStatus();
  }

  // One line for all keys the server lists more than once.
  void WarnListedTwice(const std::vector<ServerMessage>& listed_twice) {
    std::set<std::pair<std::string, std::string>> places;
    for (const auto& m : listed_twice) places.emplace(m.origin.folder, m.origin.key);
    if (places.empty()) return;
    std::string names;
    int shown = 0;
    for (const auto& [folder, key] : places) {
      if (shown++ == 3) {
        names += " and " + std::to_string(places.size() - 3) + " more";
        break;
      }
      names += (names.empty() ? "" : ", ") + key + " in " + folder;
    }
    report_.problems.push_back("the server lists " + std::to_string(listed_twice.size()) + " messages under " +
                               std::to_string(places.size()) + " repeated key(s) (" + names +
                               "): they are archived, but mailkeep never deletes them, as it cannot tell them apart");
  }

  Status ReportDryRun(const SyncPlan& plan) {
    report_.would_fetch += static_cast<int64_t>(plan.fetch.size());
    for (const auto& m : plan.fetch) {
      report_.would_fetch_bytes += m.size;
      report_.details.push_back("fetch " + m.origin.folder + " " + m.origin.key + " " + std::to_string(m.size));
    }
    // After a real run, everything fetched would be deletable too under
    // after-download (older-than:0d likewise), except repeated keys.
    std::vector<const ServerMessage*> deletes;
    for (const auto& [m, id] : plan.deletable) deletes.push_back(&m);
    if (DueForDeletion(settings_.delete_policy, settings_.now, settings_.now)) {
      const std::set<PlaceKey> repeated = RepeatedPlaces(plan.listed_twice);
      for (const auto& m : plan.fetch) {
        if (!repeated.count(Place(m.origin))) deletes.push_back(&m);
      }
    }
    report_.would_delete += static_cast<int64_t>(deletes.size());
    for (const auto* m : deletes) report_.details.push_back("delete " + m->origin.folder + " " + m->origin.key);
    return OkStatus();
  }

  // The archived copy of `id`, read back whole (SHA-256 checked); nullopt,
  // with a line in the report, when it does not read back.
  std::optional<std::string> ReadBack(const ServerMessage& m, int64_t id) {
    auto raw = archive_.With([&](Archive& a) { return a.ReadRaw(id); });
    if (raw) return std::move(*raw);
    ++report_.errors;
    report_.problems.push_back("message " + m.origin.key + " left on the server: its archived copy (id " +
                               std::to_string(id) + ") does not read back: " + raw.error().message() +
                               "; run `mailkeep verify`");
    return std::nullopt;
  }

  // Known copies due for deletion: those whose archived bytes read back
  // with the size the server lists now are returned; the others are added
  // to `fetch`, to be compared by hash.
  std::vector<Deletable> ProveByReadback(const std::vector<Deletable>& due, std::vector<ServerMessage>* fetch) {
    std::vector<Deletable> proven;
    for (const auto& [m, id] : due) {
      auto raw = ReadBack(m, id);
      if (!raw) continue;
      if (ListedSize(*raw) == m.size) {
        proven.emplace_back(m, id);
      } else {
        fetch->push_back(m);
      }
    }
    return proven;
  }

  // Fetches `wanted`, committing in batches. A committed message is added
  // to `deletable` when the policy says its copy at that place is due: one
  // archived from there before by its first sighting, one new by now.
  // Repeated places are never added.
  Status FetchAll(const std::vector<ServerMessage>& wanted, const KnownPlaces& places,
                  const std::set<PlaceKey>& repeated, std::vector<Deletable>* deletable) {
    std::map<PlaceKey, const ServerMessage*> by_place;
    for (const auto& m : wanted) by_place.emplace(Place(m.origin), &m);
    auto maybe_deletable = [&](const Origin& origin, int64_t id) {
      auto it = by_place.find(Place(origin));
      if (it == by_place.end() || repeated.count(it->first)) return;
      int64_t seen_at = places.SeenAt(origin, id).value_or(settings_.now);
      if (DueForDeletion(settings_.delete_policy, seen_at, settings_.now)) deletable->emplace_back(*it->second, id);
    };
    int64_t total = static_cast<int64_t>(wanted.size());
    int64_t done = 0;

    std::vector<RawMessage> batch;
    size_t batch_bytes = 0;
    auto commit = [&]() -> Status {
      if (batch.empty()) return OkStatus();
      std::vector<Origin> origins;
      origins.reserve(batch.size());
      for (const auto& m : batch) origins.push_back(m.origin);
      auto outcomes = archive_.With([&](Archive& a) {
        auto stored = a.Ingest(std::move(batch), settings_.keep_parsed ? &*settings_.keep_parsed : nullptr);
        if (stored && settings_.after_commit) settings_.after_commit(a, *stored);
        return stored;
      });
      batch.clear();
      batch_bytes = 0;
      if (!outcomes) {
        archive_failed_ = true;
        return std::unexpected(outcomes.error().WithContext("archive"));
      }
      for (size_t i = 0; i < outcomes->size(); ++i) {
        const IngestOutcome& o = (*outcomes)[i];
        switch (o.status) {
          case IngestStatus::kStored: ++report_.fetched; break;
          case IngestStatus::kDuplicate:
          case IngestStatus::kKnownLocation: ++report_.duplicates; break;
          case IngestStatus::kFailed:
            ++report_.errors;
            incomplete_folders_.insert(origins[i].folder);
            report_.problems.push_back("message " + origins[i].key + " in " + origins[i].folder +
                                       " not stored: " + o.error);
            continue;
        }
        fetched_.emplace(Place(origins[i]), o.id);
        maybe_deletable(origins[i], o.id);
      }
      return OkStatus();
    };

    Status fetched = source_.Fetch(wanted, [&](RawMessage&& m) -> Status {
      if (auto it = by_place.find(Place(m.origin)); it != by_place.end()) m.origin.listed_size = it->second->size;
      report_.bytes += m.bytes.size();
      batch_bytes += m.bytes.size();
      batch.push_back(std::move(m));
      ++done;
      if (on_progress_) on_progress_(done, total);
      if (batch.size() >= settings_.batch_messages || batch_bytes >= settings_.batch_bytes) return commit();
      return OkStatus();
    });
    // Whatever arrived whole is kept, even when the fetch broke off.
    Status committed = commit();
    if (!fetched) return fetched;
    return committed;
  }

  // Deletes `proven` on the server: each one's catalog commit is durable
  // and its archived bytes read back whole (ReadBack).
  Status Delete(const std::vector<Deletable>& proven) {
    if (proven.empty()) return OkStatus();
    std::vector<ServerMessage> messages;
    std::map<PlaceKey, int64_t> ids;
    for (const auto& [m, id] : proven) {
      messages.push_back(m);
      ids.emplace(Place(m.origin), id);
    }
    MK_ASSIGN_OR_RETURN(std::vector<ServerMessage> gone, source_.Delete(messages));
    report_.deleted += static_cast<int64_t>(gone.size());
    // Record per folder; a failure here loses nothing (the server copy is
    // gone but the archive holds it), it only leaves deleted_at empty.
    std::map<std::tuple<std::string, std::string, uint64_t>, std::vector<std::pair<std::string, int64_t>>> keys;
    for (const auto& m : gone) {
      auto id = ids.find(Place(m.origin));
      if (id == ids.end()) continue;  // not asked for: a source's mistake, nothing to record
      keys[{m.origin.source, m.origin.folder, m.origin.uidvalidity}].emplace_back(m.origin.key, id->second);
    }
    int64_t now = WallClock();
    for (const auto& [where, list] : keys) {
      const auto& [src, folder, uidvalidity] = where;
      auto marked = archive_.With(
          [&](Archive& a) { return a.MarkDeleted(src, report_.account, folder, uidvalidity, list, now); });
      if (!marked) report_.problems.push_back("recording deletions: " + marked.error().message());
    }
    return OkStatus();
  }

  Source& source_;
  ArchiveGate& archive_;
  SyncSettings settings_;
  const std::function<void(int64_t, int64_t)>& on_progress_;
  AccountReport report_;
  int64_t started_ = 0;
  std::set<std::string> incomplete_folders_;
  bool archive_failed_ = false;
  std::set<std::pair<PlaceKey, int64_t>> fetched_;  // (place, message) committed in this run
};

}  // namespace

AccountReport SyncAccount(const std::string& account, Source& source, ArchiveGate& archive,
                          const SyncSettings& settings, const std::function<void(int64_t, int64_t)>& on_progress) {
  return AccountRun(account, source, archive, settings, on_progress).Run();
}

}  // namespace mailkeep::sync
