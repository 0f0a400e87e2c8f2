-- snapshot: a point-in-time view of one limiter's shared state (drops what has expired on the way).
--
-- KEYS[1]  leases  ZSET    member = lease id, score = expiry (ms)
-- KEYS[2]  pause   STRING  paused-until (ms)
-- KEYS[3]  extend  STRING  ms every window is extended by
-- then two keys per window i (1-based): KEYS[2+2i] log ZSET, KEYS[3+2i] sum STRING
-- ARGV[1..n]  window lengths (ms), one per window
--
-- Reply: { active, paused_for_ms, used_1, ..., used_n }

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function cost_of(member)
  return tonumber(string.match(member, ':([^:]*)$')) or 0
end

local extend = tonumber(redis.call('GET', KEYS[3]) or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local reply = { redis.call('ZCARD', KEYS[1]), 0 }
local paused_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused_until > now then reply[2] = math.ceil(paused_until - now) end

for i = 1, #ARGV do
  local log, sum_key = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  local cutoff = now - tonumber(ARGV[i]) - extend
  local held = tonumber(redis.call('GET', sum_key) or '0')
  local gone = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #gone > 0 then
    for _, member in ipairs(gone) do held = held - cost_of(member) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
    if held <= 0 or redis.call('ZCARD', log) == 0 then
      held = 0
      redis.call('DEL', log, sum_key)
    else
      redis.call('SET', sum_key, held, 'KEEPTTL')
    end
  end
  -- Returned as text: a Lua number in a reply would be truncated to an integer.
  reply[2 + i] = tostring(held)
end
return reply
