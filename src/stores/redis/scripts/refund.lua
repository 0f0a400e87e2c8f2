-- refund: takes back window charges of a released lease that the provider never counted (an
-- attempt that failed before it arrived), so every process sharing the windows gets the room back.
-- Concurrency is not touched (the release freed the slot). The memory store's refund.
--
-- KEYS[1]  waiting  STRING  present while some acquire waits: only then is the refund published
-- KEYS[2]  extend   STRING  ms every window is extended by
-- then two keys per window w (1-based):
-- KEYS[1+2w]  log  ZSET    score = start time (ms), member's units after its last ':' (see acquire.lua)
-- KEYS[2+2w]  sum  STRING  units held by that log
--
-- ARGV[1]  pub/sub channel told about freed capacity
-- ARGV[2]  W = number of windows; then W window lengths (ms)
-- ARGV[3+W]  lease id; ARGV[4+W] its start (the acquire's `now`, exactly as replied)
-- then per window w: ARGV[3+W+2w] charged cost (what the acquire charged), ARGV[4+W+2w] delta (< 0)
--
-- Only while the lease's start is inside the window and its batch entry still in the log. The
-- units come off where they count now: at the start, or where a release moved them by an arrival
-- lag ("<id>^:<units>"); never more than the lease still holds there (a release's "<id>~:" reconcile
-- counts), so another lease of the same batch entry is never freed. When the lease's units cannot
-- be found (moved to a cost the refund does not know), nothing changes: counting on is safe.
-- The refund entry is "<id>!:<units>" at that score: a retried call finds it in place.
--
-- Reply: units freed (all windows together)

-- #include lib/keep-log-and-sum.lua

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local channel = ARGV[1]
local W = tonumber(ARGV[2])
local extend = tonumber(redis.call('GET', KEYS[2]) or '0')
local lease_id = ARGV[3 + W]
local start = tonumber(ARGV[4 + W])
local reconciled = lease_id .. '~:'

local function cost_of(member)
  return tonumber(string.match(member, ':([^:]*)$')) or 0
end

local freed = 0
for w = 1, W do
  local charged = tonumber(ARGV[3 + W + 2 * w])
  local delta = tonumber(ARGV[4 + W + 2 * w])
  local log, sum_key = KEYS[1 + 2 * w], KEYS[2 + 2 * w]
  local length = tonumber(ARGV[2 + w]) + extend
  if charged > 0 and delta < 0 and start > now - length and redis.call('ZCOUNT', log, start, start) > 0 then
    local at, units = start, charged
    local moved = redis.call('ZSCORE', log, lease_id .. '^:' .. charged)
    if moved then
      at = tonumber(moved)
    else
      -- A release's reconcile at the start (with a move to another cost, it took the whole charge).
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', log, start, start)) do
        if string.sub(member, 1, #reconciled) == reconciled then units = units + cost_of(member) end
      end
    end
    local take = math.min(units, -delta)
    local member = lease_id .. '!:' .. (-take)
    if take > 0 and not redis.call('ZSCORE', log, member) then
      redis.call('ZADD', log, at, member)
      local held = tonumber(redis.call('GET', sum_key) or '0') - take
      if held < 0 then held = 0 end
      keep_log_and_sum(log, sum_key, held, math.ceil(at - now + length) + 1000)
      freed = freed + take
    end
  end
end

if freed > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PUBLISH', channel, 'released')
end
return freed
