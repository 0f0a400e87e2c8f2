-- acquire: one atomic try-acquire across the pause gate, every sliding window and the concurrency leases.
--
-- KEYS[1]  leases   ZSET  member = lease id, score = expiry (ms, Redis time)
-- KEYS[2]  pause    STRING  paused-until (ms, Redis time)
-- KEYS[3]  waiting  STRING  set while some acquire is denied: tells release to PUBLISH
-- KEYS[4]  extend   STRING  ms every window is extended by (learned start-to-arrival delay; only grows)
-- then two keys per window i (1-based):
-- KEYS[3+2i]  log  ZSET    member = "<lease id>:<cost>", score = start time (ms)
-- KEYS[4+2i]  sum  STRING  units held by that log (kept in step, so admission is O(1) amortised)
--
-- ARGV[1]  lease id (unique per acquire; a second call with the same id is answered "granted" again)
-- ARGV[2]  max concurrent leases, or -1 for no concurrency limit
-- ARGV[3]  lease TTL (ms)
-- ARGV[4]  n = number of windows; then 3 values per window: window length (ms), limit, cost
--
-- Reply, granted: { 1, now }   (now: a string, ms with 3 decimals)
-- Reply, denied:  { 0, now, wait, reason, window }
--   wait    whole ms until the request can fit (never early); for 'concurrency' an upper bound: the
--           earliest lease expiry (a release wakes waiters sooner through PUBLISH). Checked in the
--           memory store's order: a closed pause gate answers alone, then the longest window wait,
--           then concurrency.
--   reason  'pause' | 'window' | 'concurrency' | 'never'
--   window  1-based index of the window that decided the wait ('window' and 'never'), else 0
-- Times are integer milliseconds from Redis TIME, with microseconds kept in zset scores.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease_id = ARGV[1]
local max_concurrent = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local leases, pause, waiting = KEYS[1], KEYS[2], KEYS[3]
local extend = tonumber(redis.call('GET', KEYS[4]) or '0')

-- A retried call (reply lost on a broken connection) must not take a second slot.
if redis.call('ZSCORE', leases, lease_id) then
  return { 1, string.format('%.3f', now) }
end

local function cost_of(member)
  return tonumber(string.match(member, ':([^:]*)$')) or 0
end

-- Drops entries that left the window, keeping the running sum in step. Returns the units still held.
local function trim(key, sum_key, window_ms)
  local held = tonumber(redis.call('GET', sum_key) or '0')
  local cutoff = now - window_ms
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff)
  if #gone > 0 then
    for _, member in ipairs(gone) do held = held - cost_of(member) end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
    if held <= 0 or redis.call('ZCARD', key) == 0 then
      held = 0
      redis.call('DEL', key, sum_key)
    else
      redis.call('SET', sum_key, held, 'KEEPTTL')
    end
  end
  return held
end

-- Time until `cost` more units fit, walking the log from its oldest entry.
local function wait_for(key, window_ms, held, limit, cost)
  local need = held + cost - limit
  local freed = 0
  local from = 0
  while true do
    local batch = redis.call('ZRANGE', key, from, from + 63, 'WITHSCORES')
    if #batch == 0 then return window_ms end
    for i = 1, #batch, 2 do
      freed = freed + cost_of(batch[i])
      if freed >= need then
        return tonumber(batch[i + 1]) + window_ms - now
      end
    end
    from = from + 64
  end
end

local wait, reason, which = 0, '', 0

-- The pause gate first: while it is closed nothing else matters (the same order as the memory store).
local paused_until = tonumber(redis.call('GET', pause) or '0')
if paused_until > now then
  redis.call('SET', waiting, '1', 'PX', math.max(1, math.ceil(math.max(paused_until - now, ttl))))
  return { 0, string.format('%.3f', now), math.ceil(paused_until - now), 'pause', 0 }
end

local held = {}
for i = 1, n do
  local base = 4 + (i - 1) * 3
  local window_ms, limit, cost = tonumber(ARGV[base + 1]) + extend, tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local units = trim(KEYS[3 + 2 * i], KEYS[4 + 2 * i], window_ms)
  held[i] = units
  if cost > limit then
    return { 0, string.format('%.3f', now), -1, 'never', i }
  end
  if cost > 0 and units + cost > limit then
    local w = wait_for(KEYS[3 + 2 * i], window_ms, units, limit, cost)
    if w > wait then wait, reason, which = w, 'window', i end
  end
end

-- Reap leases whose holder stopped renewing them (a crashed process), then count the live ones.
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
if max_concurrent >= 0 and wait <= 0 then
  if redis.call('ZCARD', leases) >= max_concurrent then
    local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
    local until_expiry = ttl
    if #first == 2 then until_expiry = tonumber(first[2]) - now end
    wait, reason = until_expiry, 'concurrency'
  end
end

if wait > 0 then
  redis.call('SET', waiting, '1', 'PX', math.max(1, math.ceil(math.max(wait, ttl))))
  return { 0, string.format('%.3f', now), math.ceil(wait), reason, which }
end

-- Granted: take a lease and charge every window at `now`.
redis.call('ZADD', leases, now + ttl, lease_id)
redis.call('PEXPIRE', leases, math.ceil(ttl * 2))
for i = 1, n do
  local base = 4 + (i - 1) * 3
  local window_ms, cost = tonumber(ARGV[base + 1]) + extend, tonumber(ARGV[base + 3])
  if cost > 0 then
    -- Log and sum expire together, one window after the newest entry: an idle limiter leaves no keys.
    local expire_ms = math.ceil(window_ms) + 1000
    redis.call('ZADD', KEYS[3 + 2 * i], now, lease_id .. ':' .. ARGV[base + 3])
    redis.call('PEXPIRE', KEYS[3 + 2 * i], expire_ms)
    redis.call('SET', KEYS[4 + 2 * i], held[i] + cost, 'PX', expire_ms)
  end
end
return { 1, string.format('%.3f', now) }
