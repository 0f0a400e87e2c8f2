-- A window's log and its sum expire together, at least `keep_ms` from now (one window after the
-- latest entry): an idle limiter leaves no keys. Sets the sum to `held`.
local function keep_log_and_sum(log, sum_key, held, keep_ms)
  local ttl = redis.call('PTTL', log)
  if ttl < keep_ms then
    ttl = keep_ms
    redis.call('PEXPIRE', log, keep_ms)
  end
  redis.call('SET', sum_key, held, 'PX', ttl)
end
