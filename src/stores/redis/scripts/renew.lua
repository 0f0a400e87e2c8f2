-- renew: the heartbeat. Pushes the expiry of leases still held by this process to now + TTL, and
-- marks this process present (so a fallback knows how many processes share the limiter).
--
-- KEYS[1]  leases   ZSET  member = lease id, score = expiry (ms)
-- KEYS[2]  clients  ZSET  member = store instance id, score = presence expiry (ms)
-- ARGV[1]  lease TTL (ms)
-- ARGV[2]  this store instance's id
-- ARGV[3]  presence TTL (ms)
-- ARGV[4..] lease ids to renew
--
-- Reply: { peers, lost_id_1, lost_id_2, ... }
--   peers    store instances present now (this one included)
--   lost_id  leases that could not be renewed because their TTL had already run out (reaped by an
--            acquire, or expired and removed here). Their work is still running, but their slot may
--            already be someone else's: the caller reports them and must not release them again.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ttl = tonumber(ARGV[1])
local presence_ttl = tonumber(ARGV[3])
local leases, clients = KEYS[1], KEYS[2]

redis.call('ZADD', clients, now + presence_ttl, ARGV[2])
redis.call('ZREMRANGEBYSCORE', clients, '-inf', now)
redis.call('PEXPIRE', clients, math.ceil(presence_ttl * 2))

local reply = { redis.call('ZCARD', clients) }
for i = 4, #ARGV do
  local id = ARGV[i]
  local expiry = redis.call('ZSCORE', leases, id)
  if expiry and tonumber(expiry) > now then
    -- Whole ms, never past the TTL, as acquire writes them (cheap to compare in a small sorted set).
    redis.call('ZADD', leases, 'XX', math.floor(now + ttl), id)
  else
    if expiry then redis.call('ZREM', leases, id) end
    reply[#reply + 1] = id
  end
end
if #ARGV > 3 then redis.call('PEXPIRE', leases, math.ceil(ttl * 2)) end
return reply
