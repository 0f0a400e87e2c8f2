-- release: returns a concurrency lease and reconciles the costs it charged to its windows.
--
-- KEYS[1]  leases   ZSET    member = lease id, score = expiry (ms)
-- KEYS[2]  waiting  STRING  present while some acquire waits: only then is a release published
-- KEYS[3]  extend   STRING  ms every window is extended by
-- then two keys per adjusted window i (1-based):
-- KEYS[2+2i]  log  ZSET    member = "<lease id>:<cost>", score = start time (ms)
-- KEYS[3+2i]  sum  STRING  units held by that log
--
-- ARGV[1]  lease id
-- ARGV[2]  pub/sub channel told about freed capacity
-- ARGV[3]  n = number of adjusted windows; then 3 values per window: window length (ms), charged cost
--          (exactly as the acquire sent it), delta.
--          The lease's entry "<lease id>:<charged>" becomes "<lease id>:<max(0, charged + delta)>" at
--          its start time while it is still inside the window (a cost counts in full at its start);
--          once it has left the window the delta no longer matters. A lease charged 0 up front gets a
--          positive delta as a new entry at now. (The memory store's reconcile, step for step.)
--
-- Reply: { released, now }
--   released  1 when the lease was held; 0 when it had already expired (its TTL ran out without a
--             heartbeat and an acquire reaped it): the caller reports that instead of freeing twice.
-- Idempotent: a retried call finds the lease gone and the reconciled entry already in place.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease_id = ARGV[1]
local n = tonumber(ARGV[3])
local leases, waiting = KEYS[1], KEYS[2]
local extend = tonumber(redis.call('GET', KEYS[3]) or '0')

local released = 0
local lease_expiry = redis.call('ZSCORE', leases, lease_id)
if lease_expiry then
  redis.call('ZREM', leases, lease_id)
  -- An expired lease that no acquire has reaped yet is freed all the same, but reported as expired.
  if tonumber(lease_expiry) > now then released = 1 end
end

local freed = released == 1
for i = 1, n do
  local base = 3 + (i - 1) * 3
  local window_ms, charged_text, delta = tonumber(ARGV[base + 1]) + extend, ARGV[base + 2], tonumber(ARGV[base + 3])
  local charged = tonumber(charged_text)
  local log, sum_key = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  if delta ~= 0 then
    local final = charged + delta
    if final < 0 then final = 0 end
    local new_member = lease_id .. ':' .. final
    local change = 0
    if charged > 0 then
      local old_member = lease_id .. ':' .. charged_text
      local score = redis.call('ZSCORE', log, old_member)
      if score then
        redis.call('ZREM', log, old_member)
        if final > 0 then redis.call('ZADD', log, score, new_member) end
        change = final - charged
      end
    elseif delta > 0 and not redis.call('ZSCORE', log, new_member) then
      redis.call('ZADD', log, now, new_member)
      redis.call('PEXPIRE', log, math.ceil(window_ms) + 1000)
      change = final
    end
    if change ~= 0 then
      local held = tonumber(redis.call('GET', sum_key) or '0') + change
      if held < 0 then held = 0 end
      -- Keep the log's expiry (one window after its newest entry); the sum expires with it.
      local log_ttl = redis.call('PTTL', log)
      if log_ttl > 0 then
        redis.call('SET', sum_key, held, 'PX', log_ttl)
      elseif log_ttl == -2 then
        redis.call('DEL', sum_key)
      else
        redis.call('SET', sum_key, held)
      end
      if change < 0 then freed = true end
    end
  end
end

if freed and redis.call('EXISTS', waiting) == 1 then
  redis.call('PUBLISH', ARGV[2], lease_id)
end
return { released, string.format('%.3f', now) }
