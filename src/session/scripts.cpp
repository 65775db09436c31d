// The session scripts (see scripts.hpp for the shared arguments).
//
// Invariants every script keeps:
//   - a live session has its hash, an entry in its user's index and one in
//     its bucket's expiry index, the last two scored by its expiry
//     min(last_seen + idle_ms, expires_abs) in ms;
//   - a session is dead when now >= that expiry; whoever first sees it dead
//     removes all three (kill) and appends one "expired" event, so each
//     dead session gets exactly one;
//   - a rotated-away id is a stub hash {rotated_to, user, grace_until}
//     living for the grace period (by Redis's expiry and by grace_until, for
//     the store's clock) and never indexed.
// Numbers go to redis.call through int(): Redis formats a Lua number it is
// given in the shortest form, which may be "1.7e+12", and PEXPIREAT wants
// an integer.
#include "session/scripts.hpp"

#include <string>

namespace rcache::session_detail {
namespace {

constexpr const char* prelude = R"lua(
local base, now_text, maxlen = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(now_text)
local stream, bucket = base .. 'events', base .. 'expiry'
local function int(n) return string.format('%d', n) end
local function skey(id) return base .. 's:' .. id end
local function ukey(user) return base .. 'u:' .. user end
local function emit(kind, id, user, ...)
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'kind', kind, 'id', id, 'user', user,
             'at', now_text, ...)
end
-- Removes every trace of a session; `why` is the event (destroyed, expired, evicted).
local function kill(id, user, why)
  redis.call('DEL', skey(id))
  redis.call('ZREM', ukey(user), id)
  redis.call('ZREM', bucket, id .. ' ' .. user)
  emit(why, id, user)
end
-- Drops the user's dead index entries, each with its "expired" event.
local function prune(user)
  local dead = redis.call('ZRANGE', ukey(user), '-inf', now_text, 'BYSCORE', 'LIMIT', 0, 1000)
  for _, id in ipairs(dead) do kill(id, user, 'expired') end
end
-- The session's fields as a table and as Redis gave them; nil when absent.
local function load(id)
  local flat = redis.call('HGETALL', skey(id))
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t, flat
end
local function expiry_of(f)
  return math.min(tonumber(f.last_seen) + tonumber(f.idle_ms), tonumber(f.expires_abs))
end
-- Places the session at `exp` in both indexes; the user's index lives as
-- long as its last entry. `indexed`: the session is in the user's index
-- already, so the index has an expiry, at least the session's old one.
local function index(id, user, exp, indexed)
  redis.call('ZADD', ukey(user), int(exp), id)
  redis.call('ZADD', bucket, int(exp), id .. ' ' .. user)
  if indexed then
    redis.call('PEXPIREAT', ukey(user), int(exp), 'GT')
  elseif redis.call('PEXPIRETIME', ukey(user)) < exp then
    redis.call('PEXPIREAT', ukey(user), int(exp))
  end
end
-- The live session an id names (following rotation stubs, A -> B -> C when
-- rotated twice within the grace period): its id, fields and Redis's field
-- list; nil when dead (removed now) or unknown.
local function live(id)
  local f, flat = load(id)
  for _ = 1, 16 do
    if not (f and f.rotated_to) then break end
    if now >= tonumber(f.grace_until) then
      redis.call('DEL', skey(id))  -- by this clock, Redis was about to expire it
      return nil
    end
    id = f.rotated_to
    f, flat = load(id)
  end
  if not f or f.rotated_to then return nil end
  if now >= expiry_of(f) then
    kill(id, f.user, 'expired')
    return nil
  end
  return id, f, flat
end
)lua";

std::string with_prelude(const char* body) {
  return std::string(prelude) + body;
}

}  // namespace

// KEYS[1] the new session's hash, KEYS[2] the user's index.
// ARGV[4] id, [5] user, [6] idle ms, [7] lifetime ms, [8] cap (0: none),
// [9] 'evict' | 'refuse', [10] device id, [11] user agent, [12] ip,
// [13...] data name, value pairs. Returns the number of sessions evicted;
// RCACHE_CAP when the cap refuses.
const script& create_script() {
  static const script s(with_prelude(R"lua(
local id, user = ARGV[4], ARGV[5]
local idle, life, cap = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
prune(user)
local evicted = 0
if cap > 0 then
  local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
  local over = #ids - cap + 1
  if over > 0 then
    if ARGV[9] == 'refuse' then
      return redis.error_reply('RCACHE_CAP the user has ' .. #ids .. ' sessions')
    end
    -- Least recently seen first; ties in the index's order (sooner expiry,
    -- then the smaller id byte by byte: Lua's own < on strings follows the locale).
    local seen = {}
    for i, s in ipairs(ids) do
      seen[i] = {s, tonumber(redis.call('HGET', skey(s), 'last_seen')) or 0, i}
    end
    table.sort(seen, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[3] < b[3]
    end)
    for i = 1, over do kill(seen[i][1], user, 'evicted') end
    evicted = over
  end
end
local abs = now + life
local exp = math.min(now + idle, abs)
local fields = {'user', user, 'device_id', ARGV[10], 'user_agent', ARGV[11], 'ip', ARGV[12],
                'created', now_text, 'last_seen', now_text, 'idle_ms', ARGV[6],
                'expires_abs', int(abs), 'version', '0'}
for i = 13, #ARGV, 2 do
  fields[#fields + 1] = 'data:' .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], int(exp))
index(id, user, exp)
emit('created', id, user, 'device', ARGV[10], 'ip', ARGV[12])
return evicted
)lua"));
  return s;
}

// KEYS[1] the id's hash. ARGV[4] id, [5] '1' to touch, [6] '1' for a
// "touched" event. Returns the session's fields (last_seen as now when
// touched), or nil.
const script& read_script() {
  static const script s(with_prelude(R"lua(
local id, f, flat = live(ARGV[4])
if not id then return false end
if ARGV[5] == '1' then
  prune(f.user)
  local exp = math.min(now + tonumber(f.idle_ms), tonumber(f.expires_abs))
  redis.call('HSET', skey(id), 'last_seen', now_text)
  redis.call('PEXPIREAT', skey(id), int(exp))
  index(id, f.user, exp, true)
  if ARGV[6] == '1' then emit('touched', id, f.user) end
  for i = 1, #flat, 2 do
    if flat[i] == 'last_seen' then flat[i + 1] = now_text end
  end
end
return flat
)lua"));
  return s;
}

// KEYS[1] the id's hash. ARGV[4] id, [5] expected version ('' any),
// [6] max data fields, [7] n, then n name/value pairs to set, then names to
// remove. Returns the new version, or nil; RCACHE_VERSION / RCACHE_FIELDS.
const script& update_script() {
  static const script s(with_prelude(R"lua(
local id, f = live(ARGV[4])
if not id then return false end
if ARGV[5] ~= '' and f.version ~= ARGV[5] then
  return redis.error_reply('RCACHE_VERSION the session is at version ' .. f.version)
end
local n = tonumber(ARGV[7])
local sets, removes = {}, {}
local count = 0
for k, _ in pairs(f) do
  if string.sub(k, 1, 5) == 'data:' then count = count + 1 end
end
for i = 8, 7 + 2 * n, 2 do
  local name = 'data:' .. ARGV[i]
  if f[name] == nil then count = count + 1; f[name] = '' end
  sets[#sets + 1] = name
  sets[#sets + 1] = ARGV[i + 1]
end
for i = 8 + 2 * n, #ARGV do
  local name = 'data:' .. ARGV[i]
  if f[name] ~= nil then count = count - 1; f[name] = nil end
  removes[#removes + 1] = name
end
if count > tonumber(ARGV[6]) then
  return redis.error_reply('RCACHE_FIELDS the session would hold ' .. count .. ' fields')
end
if #sets > 0 then redis.call('HSET', skey(id), unpack(sets)) end
if #removes > 0 then redis.call('HDEL', skey(id), unpack(removes)) end
return redis.call('HINCRBY', skey(id), 'version', 1)
)lua"));
  return s;
}

// KEYS[1] the old id's hash, KEYS[2] the new id's hash. ARGV[4] old id,
// [5] new id, [6] grace ms. Returns the session's fields, or nil (also for
// an id that was itself rotated away).
const script& rotate_script() {
  static const script s(with_prelude(R"lua(
local old, new = ARGV[4], ARGV[5]
local f, flat = load(old)
if not f or f.rotated_to then return false end
local exp = expiry_of(f)
if now >= exp then
  kill(old, f.user, 'expired')
  return false
end
redis.call('COPY', KEYS[1], KEYS[2])
redis.call('DEL', KEYS[1])
local grace_until = math.min(now + tonumber(ARGV[6]), exp)
redis.call('HSET', KEYS[1], 'rotated_to', new, 'user', f.user, 'grace_until', int(grace_until))
redis.call('PEXPIREAT', KEYS[1], int(grace_until))
redis.call('ZREM', ukey(f.user), old)
redis.call('ZREM', bucket, old .. ' ' .. f.user)
prune(f.user)
index(new, f.user, exp)
emit('rotated', new, f.user, 'from', old)
return flat
)lua"));
  return s;
}

// KEYS[1] the id's hash. ARGV[4] id. Returns 1, or 0 when there was none.
const script& destroy_script() {
  static const script s(with_prelude(R"lua(
local stub = load(ARGV[4])
local id, f = live(ARGV[4])
if stub and stub.rotated_to then redis.call('DEL', KEYS[1]) end
if not id then return 0 end
kill(id, f.user, 'destroyed')
return 1
)lua"));
  return s;
}

// KEYS[1] the user's index, KEYS[2] (when the id to keep is in the user's
// bucket) its hash. ARGV[4] user, [5] the id to keep ('' none; an old id in
// its grace period keeps the session it was rotated to). Returns how many
// were destroyed.
const script& destroy_all_script() {
  static const script s(with_prelude(R"lua(
local user, keep = ARGV[4], ARGV[5]
if #KEYS > 1 then keep = live(keep) or keep end
prune(user)
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= keep then
    kill(id, user, 'destroyed')
    n = n + 1
  end
end
return n
)lua"));
  return s;
}

// KEYS[1] the user's index. ARGV[4] user. Returns one array per live
// session: id, device_id, user_agent, ip, created, last_seen, idle_ms,
// expires_abs, version.
const script& list_script() {
  static const script s(with_prelude(R"lua(
local user = ARGV[4]
prune(user)
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local m = redis.call('HMGET', skey(id), 'device_id', 'user_agent', 'ip', 'created',
                       'last_seen', 'idle_ms', 'expires_abs', 'version')
  if m[4] then
    out[#out + 1] = {id, m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]}
  else
    kill(id, user, 'expired')  -- Redis expired the hash before this clock said so
  end
end
return out
)lua"));
  return s;
}

// KEYS[1] the bucket's expiry index. ARGV[4] most sessions to remove.
// Returns {removed, still due}.
const script& sweep_script() {
  static const script s(with_prelude(R"lua(
local due = redis.call('ZRANGE', KEYS[1], '-inf', now_text, 'BYSCORE', 'LIMIT', 0,
                       tonumber(ARGV[4]))
for _, m in ipairs(due) do
  local sp = string.find(m, ' ', 1, true)
  kill(string.sub(m, 1, sp - 1), string.sub(m, sp + 1), 'expired')
end
return {#due, redis.call('ZCOUNT', KEYS[1], '-inf', now_text)}
)lua"));
  return s;
}

// KEYS[1] the lease. ARGV[1] its owner's token. Deletes it if still ours.
const script& release_script() {
  static const script s(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");
  return s;
}

}  // namespace rcache::session_detail
