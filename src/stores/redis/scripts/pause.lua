-- pause: closes the pause gate until now + ms (Redis time). A pause never shortens a longer one.
--
-- KEYS[1]  pause  STRING  paused-until (ms)
-- ARGV[1]  pause length (ms); 0 only reads the gate
--
-- Reply: whole ms the gate stays closed from now (0 when open).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ms = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = now + ms
if ms > 0 and target > current then
  redis.call('SET', KEYS[1], string.format('%.3f', target), 'PX', math.ceil(ms))
  current = target
end
if current <= now then return 0 end
return math.ceil(current - now)
