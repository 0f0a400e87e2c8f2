-- release: returns concurrency leases and reconciles the costs they charged to their windows. One
-- call handles a batch of releases (all against the same windows), in order.
--
-- KEYS[1]  leases   ZSET    member = lease id, score = expiry (ms)
-- KEYS[2]  waiting  STRING  present while some acquire waits: only then is a release published
-- KEYS[3]  extend   STRING  ms every window is extended by
-- then two keys per window w (1-based):
-- KEYS[2+2w]  log  ZSET    score = start time (ms), member's units after its last ':' (see acquire.lua)
-- KEYS[3+2w]  sum  STRING  units held by that log
--
-- ARGV[1]  pub/sub channel told about freed capacity
-- ARGV[2]  W = number of windows; then W window lengths (ms)
-- ARGV[3+W]  R = number of releases; then per release: lease id, its start (the acquire's `now`,
--            exactly as replied), arrival lag (ms, 0 = none), A = number of adjustments, and per
--            adjustment: window index (1-based), charged cost (what the acquire charged), delta.
--            While the lease's start is inside window w, its charge there becomes
--            max(0, charged + delta), counted from start + lag: acquire wrote the charge inside one
--            batch entry at the start, so this adds reconcile entries instead of rewriting it (a
--            negative one at the start, and with a lag the new charge at start + lag). Once the start
--            has left the window nothing changes. A lease charged 0 up front gets a positive delta as
--            a new entry at now (or at start + lag when that is later). (The memory store's reconcile.)
--
-- Reply: { now, released_1, ..., released_R }
--   released  1 when the lease was held; 0 when it had already expired (its TTL ran out without a
--             heartbeat and an acquire reaped it): the caller reports that instead of freeing twice.
-- Idempotent: a retried call finds the lease gone and its reconcile entries already in place.

-- #include lib/keep-log-and-sum.lua

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local channel = ARGV[1]
local W = tonumber(ARGV[2])
local leases, waiting = KEYS[1], KEYS[2]
local extend = tonumber(redis.call('GET', KEYS[3]) or '0')

local reply = { string.format('%.3f', now) }
local freed = false
local R = tonumber(ARGV[3 + W])

-- Every lease's expiry in one read, and every lease removed in one write.
local ids = {}
do
  local at = 4 + W
  for r = 1, R do
    ids[r] = ARGV[at]
    at = at + 4 + 3 * tonumber(ARGV[at + 3])
  end
end
local expiries = {}
if R > 0 then
  expiries = redis.call('ZMSCORE', leases, unpack(ids))
  redis.call('ZREM', leases, unpack(ids))
end

-- Reconcile entries per window (score, member pairs), the change of units they make, and the
-- latest score written (the log lives one window past it).
local adds, change, latest = {}, {}, {}

local function add(w, score, member, units)
  local log = KEYS[2 + 2 * w]
  -- A retried release finds its entry in place.
  if redis.call('ZSCORE', log, member) then return end
  local list = adds[w]
  if not list then
    list = {}
    adds[w] = list
    change[w] = 0
    latest[w] = score
  end
  list[#list + 1] = score
  list[#list + 1] = member
  change[w] = change[w] + units
  if score > latest[w] then latest[w] = score end
end

local base = 4 + W
for r = 1, R do
  local lease_id = ARGV[base]
  local start = tonumber(ARGV[base + 1])
  local lag = tonumber(ARGV[base + 2])
  local A = tonumber(ARGV[base + 3])
  local released = 0
  -- An expired lease that no acquire has reaped yet is freed all the same, but reported as expired.
  if expiries[r] and tonumber(expiries[r]) > now then
    released = 1
    freed = true
  end
  for a = 1, A do
    local at = base + 4 + (a - 1) * 3
    local w, charged, delta = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
    local final = charged + delta
    if final < 0 then final = 0 end
    if charged > 0 then
      -- Only while its start is inside the window and its batch entry still in the log (a window
      -- extended since may reach back past entries trimmed before).
      if start > now - tonumber(ARGV[2 + w]) - extend and redis.call('ZCOUNT', KEYS[2 + 2 * w], start, start) > 0 then
        if lag > 0 then
          add(w, start, lease_id .. '~:' .. (-charged), -charged)
          if final > 0 then add(w, start + lag, lease_id .. '^:' .. final, final) end
        elseif final ~= charged then
          add(w, start, lease_id .. '~:' .. (final - charged), final - charged)
        end
      end
    elseif final > 0 then
      local at_ms = now
      if start + lag > at_ms then at_ms = start + lag end
      add(w, at_ms, lease_id .. ':' .. final, final)
    end
  end
  reply[#reply + 1] = released
  base = base + 4 + 3 * A
end

for w = 1, W do
  local list = adds[w]
  if list then
    local log, sum_key = KEYS[2 + 2 * w], KEYS[3 + 2 * w]
    redis.call('ZADD', log, unpack(list))
    local held = tonumber(redis.call('GET', sum_key) or '0') + change[w]
    if held < 0 then held = 0 end
    keep_log_and_sum(log, sum_key, held, math.ceil(latest[w] - now + tonumber(ARGV[2 + w]) + extend) + 1000)
    if change[w] < 0 then freed = true end
  end
end

if freed and redis.call('EXISTS', waiting) == 1 then
  redis.call('PUBLISH', channel, 'released')
end
return reply
