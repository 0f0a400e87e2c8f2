-- release: returns a concurrency lease and reconciles the costs it charged to its windows.
--
-- KEYS[1]  leases   ZSET    member = lease id, score = expiry (ms)
-- KEYS[2]  waiting  STRING  present while some acquire waits: only then is a release published
-- then two keys per adjusted window i (1-based):
-- KEYS[1+2i]  log  ZSET    member = "<lease id>:<cost>", score = start time (ms)
-- KEYS[2+2i]  sum  STRING  units held by that log
--
-- ARGV[1]  lease id
-- ARGV[2]  pub/sub channel told about freed capacity
-- ARGV[3]  the lease's start time (ms, as the acquire reply gave it)
-- ARGV[4]  n = number of adjusted windows; then 3 values per window: window length (ms), charged cost,
--          final cost. The final cost replaces the charged one at the lease's start time (a cost
--          counts in full at its start), and only while that start is still inside the window.
--
-- Reply: { released, now }
--   released  1 when the lease was held; 0 when it had already expired (its TTL ran out without a
--             heartbeat and an acquire reaped it): the caller reports that instead of freeing twice.
-- Idempotent: a retried call finds the lease gone and the final cost already in place.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease_id = ARGV[1]
local started = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local leases, waiting = KEYS[1], KEYS[2]

local released = 0
local lease_expiry = redis.call('ZSCORE', leases, lease_id)
if lease_expiry then
  redis.call('ZREM', leases, lease_id)
  -- An expired lease that no acquire has reaped yet is freed all the same, but reported as expired.
  if tonumber(lease_expiry) > now then released = 1 end
end

local freed = released == 1
for i = 1, n do
  local base = 4 + (i - 1) * 3
  local window_ms, charged, final = tonumber(ARGV[base + 1]), ARGV[base + 2], ARGV[base + 3]
  local log, sum_key = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local old_member = lease_id .. ':' .. charged
  local new_member = lease_id .. ':' .. final
  if charged ~= final and not redis.call('ZSCORE', log, new_member) then
    local score = redis.call('ZSCORE', log, old_member)
    local delta = tonumber(final)
    if score then
      redis.call('ZREM', log, old_member)
      delta = delta - tonumber(charged)
    else
      score = started
    end
    if tonumber(score) > now - window_ms then
      if tonumber(final) > 0 then redis.call('ZADD', log, score, new_member) end
      local held = tonumber(redis.call('GET', sum_key) or '0') + delta
      if held < 0 then held = 0 end
      local expire_ms = math.ceil(window_ms) + 1000
      redis.call('SET', sum_key, held, 'PX', expire_ms)
      redis.call('PEXPIRE', log, expire_ms)
      if delta < 0 then freed = true end
    end
  end
end

if freed and redis.call('EXISTS', waiting) == 1 then
  redis.call('PUBLISH', ARGV[2], lease_id)
end
return { released, string.format('%.3f', now) }
