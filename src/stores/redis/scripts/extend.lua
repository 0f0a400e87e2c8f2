-- extend: keeps every window entry of a limiter counted longer (the learned delay between a start
-- and its arrival at the provider). Only ever grows; shared by every process, so all of them trim
-- and wait with the same window length.
--
-- KEYS[1]  extend  STRING  ms every window is extended by
-- ARGV[1]  the extension wanted (ms)
-- ARGV[2]  how long to keep the key (ms): the longest window plus the extension
--
-- Reply: the extension in force (whole ms, rounded up).

local wanted = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', math.ceil(tonumber(ARGV[2])))
  current = wanted
else
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
end
return math.ceil(current)
