-- renew: the heartbeat. Pushes the expiry of leases still held by this process to now + TTL.
--
-- KEYS[1]  leases  ZSET  member = lease id, score = expiry (ms)
-- ARGV[1]  lease TTL (ms)
-- ARGV[2..] lease ids to renew
--
-- Reply: the ids that could not be renewed because their TTL had already run out (reaped by an
-- acquire, or expired and removed here). Their work is still running, but their slot may already
-- be someone else's: the caller reports them and must not release them again.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ttl = tonumber(ARGV[1])
local leases = KEYS[1]
local lost = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local expiry = redis.call('ZSCORE', leases, id)
  if expiry and tonumber(expiry) > now then
    redis.call('ZADD', leases, 'XX', now + ttl, id)
  else
    if expiry then redis.call('ZREM', leases, id) end
    lost[#lost + 1] = id
  end
end
if #ARGV > 1 then redis.call('PEXPIRE', leases, math.ceil(ttl * 2)) end
return lost
