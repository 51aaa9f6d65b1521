-- Replace a live family's payload. KEYS[1] family hash; ARGV[1] payload, ARGV[2] now.
-- Returns 1, or 0 if the family is gone or expired.
local v = redis.call('HMGET', KEYS[1], 'abs', 'idle', 'last')
if not v[1] then return 0 end
local now, abs, idle, last = tonumber(ARGV[2]), tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
local exp = abs
if idle > 0 and last + idle < exp then exp = last + idle end
if now >= exp then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'pl', ARGV[1])
return 1
