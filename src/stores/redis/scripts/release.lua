-- release: returns concurrency leases and reconciles the costs they charged to their windows. One
-- call handles a batch of releases (all against the same windows), in order.
--
-- KEYS[1]  leases   ZSET    member = lease id, score = expiry (ms)
-- KEYS[2]  waiting  STRING  present while some acquire waits: only then is a release published
-- KEYS[3]  extend   STRING  ms every window is extended by
-- then two keys per window w (1-based):
-- KEYS[2+2w]  log  ZSET    member = "<lease id>:<cost>", score = start time (ms)
-- KEYS[3+2w]  sum  STRING  units held by that log
--
-- ARGV[1]  pub/sub channel told about freed capacity
-- ARGV[2]  W = number of windows; then W window lengths (ms)
-- ARGV[3+W]  R = number of releases; then per release: lease id, A = number of adjustments, and per
--            adjustment: window index (1-based), charged cost (exactly as the acquire sent it), delta.
--            The lease's entry "<lease id>:<charged>" becomes "<lease id>:<max(0, charged + delta)>"
--            at its start time while it is still in the log (a cost counts in full at its start);
--            once it has left the window the delta no longer matters. A lease charged 0 up front
--            gets a positive delta as a new entry at now. (The memory store's reconcile, step for step.)
--
-- Reply: { now, released_1, ..., released_R }
--   released  1 when the lease was held; 0 when it had already expired (its TTL ran out without a
--             heartbeat and an acquire reaped it): the caller reports that instead of freeing twice.
-- Idempotent: a retried call finds the lease gone and the reconciled entry already in place.

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
    at = at + 2 + 3 * tonumber(ARGV[at + 1])
  end
end
local expiries = {}
if R > 0 then
  expiries = redis.call('ZMSCORE', leases, unpack(ids))
  redis.call('ZREM', leases, unpack(ids))
end

local base = 4 + W
for r = 1, R do
  local lease_id = ARGV[base]
  local A = tonumber(ARGV[base + 1])
  local released = 0
  -- An expired lease that no acquire has reaped yet is freed all the same, but reported as expired.
  if expiries[r] and tonumber(expiries[r]) > now then
    released = 1
    freed = true
  end
  for a = 1, A do
    local at = base + 2 + (a - 1) * 3
    local w, charged_text, delta = tonumber(ARGV[at]), ARGV[at + 1], tonumber(ARGV[at + 2])
    local charged = tonumber(charged_text)
    local window_ms = tonumber(ARGV[2 + w]) + extend
    local log, sum_key = KEYS[2 + 2 * w], KEYS[3 + 2 * w]
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
  reply[#reply + 1] = released
  base = base + 2 + 3 * A
end

if freed and redis.call('EXISTS', waiting) == 1 then
  redis.call('PUBLISH', channel, 'released')
end
return reply
