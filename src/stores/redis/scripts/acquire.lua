-- acquire: atomic try-acquires across the pause gate, every sliding window and the concurrency
-- leases. One call answers a batch of requests (all against the same windows) in order, exactly as
-- that many single calls made one after another at one instant would.
--
-- KEYS[1]  leases   ZSET    member = lease id, score = expiry (whole ms, Redis time)
-- KEYS[2]  pause    STRING  paused-until (ms, Redis time)
-- KEYS[3]  waiting  STRING  set while some acquire is denied: tells release to PUBLISH
-- KEYS[4]  extend   STRING  ms every window is extended by (after unexpected 429s; only grows)
-- then two keys per window w (1-based):
-- KEYS[3+2w]  log  ZSET    score = start time (ms); member = "<first lease id>+:<units>" for the units a
--                          batch of grants charged together (one member per batch, not per lease), or
--                          a reconcile entry written by release ("<lease id>~:<units>", may be negative,
--                          at the lease's start; "<lease id>^:<units>" moved later by an arrival lag;
--                          "<lease id>:<units>" charged late). A member's units are after its last ':'.
-- KEYS[4+2w]  sum  STRING  units held by that log (kept in step, so admission is O(1) amortised)
--
-- ARGV[1]  lease TTL (ms)
-- ARGV[2]  W = number of windows; then W window lengths (ms)
-- ARGV[3+W]  R = number of requests; then per request 2 + 2W values:
--            lease id (a second request with an id already held is answered "granted" again, so a
--            retried call never takes a second slot), max concurrent leases (-1 = no limit), then
--            per window its limit and this request's cost
--
-- Reply: { now, then 4 values per request: granted, wait, reason, window }
--   now      ms of Redis time with 3 decimals, as a string (the start time of every grant, and the
--            exact score of its window entries: release finds them again by it)
--   granted  1 or 0
--   wait     denied: whole ms until the request can fit (never early); for 'concurrency' an upper
--            bound, the earliest lease expiry (a release wakes waiters sooner through PUBLISH); -1
--            for 'never'. Checked in the memory store's order: a closed pause gate answers alone,
--            then the longest window wait, then concurrency.
--   reason   '' | 'pause' | 'window' | 'concurrency' | 'never'
--   window   1-based index of the window that decided the wait ('window', 'never'), else 0

local t = redis.call('TIME')
local now_text = string.format('%.3f', tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000)
-- The score written is exactly the number the reply's text parses to.
local now = tonumber(now_text)
local ttl = tonumber(ARGV[1])
local W = tonumber(ARGV[2])
local R = tonumber(ARGV[3 + W])
local leases, pause, waiting = KEYS[1], KEYS[2], KEYS[3]
local extend = tonumber(redis.call('GET', KEYS[4]) or '0')

local function cost_of(member)
  return tonumber(string.match(member, ':([^:]*)$')) or 0
end

-- Window lengths (extension included) and the units each log holds after dropping what left it.
local length, held, touched = {}, {}, {}
for w = 1, W do
  length[w] = tonumber(ARGV[2 + w]) + extend
  local log, sum_key = KEYS[3 + 2 * w], KEYS[4 + 2 * w]
  local units = tonumber(redis.call('GET', sum_key) or '0')
  local cutoff = now - length[w]
  local gone = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #gone > 0 then
    for _, member in ipairs(gone) do units = units - cost_of(member) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
    if units <= 0 or redis.call('ZCARD', log) == 0 then
      units = 0
      redis.call('DEL', log, sum_key)
    else
      redis.call('SET', sum_key, units, 'KEEPTTL')
    end
  end
  held[w] = units
end

-- Time until `cost` more units fit in window w, walking its log from the oldest entry. Entries of
-- one score leave together (a reconcile entry may be negative), so compare only whole score groups.
local function wait_for(w, limit, cost)
  local need = held[w] + cost - limit
  local freed = 0
  local from = 0
  local log = KEYS[3 + 2 * w]
  local group = nil
  while true do
    local batch = redis.call('ZRANGE', log, from, from + 63, 'WITHSCORES')
    if #batch == 0 then
      if group and freed >= need then return group + length[w] - now end
      return length[w]
    end
    for i = 1, #batch, 2 do
      local score = tonumber(batch[i + 1])
      if group and score ~= group and freed >= need then return group + length[w] - now end
      freed = freed + cost_of(batch[i])
      group = score
    end
    from = from + 64
  end
end

local paused_for = tonumber(redis.call('GET', pause) or '0') - now

-- Reap leases whose holder stopped renewing them (a crashed process), then count the live ones.
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
local active = redis.call('ZCARD', leases)

-- Leases already held under a request's id (a retried call): answered "granted" again.
local already = {}
if R > 0 then
  local ids = {}
  local at = 4 + W
  for r = 1, R do
    ids[r] = ARGV[at]
    at = at + 2 + 2 * W
  end
  local scores = redis.call('ZMSCORE', leases, unpack(ids))
  for r = 1, R do
    if scores[r] then already[ids[r]] = true end
  end
end

local reply = { now_text }
-- Whole ms, never past the TTL: a small sorted set is a listpack, where an integer score compares
-- without parsing (fractional scores made every insert parse each score as text).
local expiry = math.floor(now + ttl)
local longest_wait = 0
local new_leases = {}
-- Units granted in this batch per window, and the first lease granted (names the batch's entries).
local charged, first_granted = {}, nil
for w = 1, W do charged[w] = 0 end
local base = 4 + W
for r = 1, R do
  local lease_id = ARGV[base]
  local max_concurrent = tonumber(ARGV[base + 1])
  local ok, wait, reason, which = 0, 0, '', 0
  if already[lease_id] then
    ok = 1
  elseif paused_for > 0 then
    wait, reason = paused_for, 'pause'
  else
    for w = 1, W do
      local limit, cost = tonumber(ARGV[base + 2 * w]), tonumber(ARGV[base + 2 * w + 1])
      if cost > limit then
        wait, reason, which = -1, 'never', w
        break
      end
      if cost > 0 and held[w] + cost > limit then
        -- Entries granted earlier in this batch (all at now) are not in the log yet: when the walk
        -- runs past the log's end, room comes only when they leave too, a whole window from now.
        local ww = wait_for(w, limit, cost)
        if ww > wait then wait, reason, which = ww, 'window', w end
      end
    end
    if reason == '' and max_concurrent >= 0 and active >= max_concurrent then
      local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
      wait, reason = ttl, 'concurrency'
      if #first == 2 then wait = tonumber(first[2]) - now end
    end
    if reason == '' then
      -- Granted: a lease, and every window charged at `now` (written once, after the loop).
      ok = 1
      already[lease_id] = true
      if not first_granted then first_granted = lease_id end
      new_leases[#new_leases + 1] = expiry
      new_leases[#new_leases + 1] = lease_id
      active = active + 1
      for w = 1, W do
        local cost = tonumber(ARGV[base + 2 * w + 1])
        if cost > 0 then
          charged[w] = charged[w] + cost
          held[w] = held[w] + cost
          touched[w] = true
        end
      end
    end
  end
  if ok == 0 and wait > longest_wait then longest_wait = wait end
  reply[#reply + 1] = ok
  reply[#reply + 1] = ok == 1 and 0 or math.ceil(wait)
  reply[#reply + 1] = reason
  reply[#reply + 1] = which
  base = base + 2 + 2 * W
end

local granted_any = #new_leases > 0
if granted_any then redis.call('ZADD', leases, unpack(new_leases)) end
-- One entry per window for the whole batch: every grant in it started at `now`.
for w = 1, W do
  if charged[w] > 0 then redis.call('ZADD', KEYS[3 + 2 * w], now, first_granted .. '+:' .. charged[w]) end
end
if granted_any then redis.call('PEXPIRE', leases, math.ceil(ttl * 2)) end
for w = 1, W do
  if touched[w] then
    -- Log and sum expire together, one window after the newest entry: an idle limiter leaves no keys.
    local expire_ms = math.ceil(length[w]) + 1000
    redis.call('PEXPIRE', KEYS[3 + 2 * w], expire_ms)
    redis.call('SET', KEYS[4 + 2 * w], held[w], 'PX', expire_ms)
  end
end
if longest_wait > 0 then
  redis.call('SET', waiting, '1', 'PX', math.max(1, math.ceil(math.max(longest_wait, ttl))))
end
return reply
