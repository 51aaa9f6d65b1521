-- Add a denylist entry and its feed event (one slot: the denylist tag).
-- KEYS[1] zset id -> expiry (ms) for this kind  KEYS[2] event stream
-- KEYS[3] hash user id -> revoked-before (ms)
-- ARGV: kind ('s'|'j'|'u') id ttl now retention before
local function int(n) return string.format('%.0f', n) end
local kind, id = ARGV[1], ARGV[2]
local ttl, now, ret = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
-- Prune a bounded number of expired entries per write.
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'LIMIT', 0, 256)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  if kind == 'u' then redis.call('HDEL', KEYS[3], unpack(old)) end
end
local exp, before = now + ttl, 0
if kind == 'u' then
  before = tonumber(ARGV[6])
  local had = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  if had > before then before = had end
  exp = before + ttl
  if exp <= now then return 0 end
  redis.call('HSET', KEYS[3], id, int(before))
end
local s = redis.call('ZSCORE', KEYS[1], id)
if s and tonumber(s) > exp then exp = tonumber(s) end
redis.call('ZADD', KEYS[1], int(exp), id)
-- Events older than the entry TTL only announce expired entries: trim them.
local t = redis.call('TIME')
local minid = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ret
if minid < 0 then minid = 0 end
redis.call('XADD', KEYS[2], 'MINID', '~', int(minid), '*', 'k', kind, 'id', id, 'exp', int(exp), 'b', int(before))
return 1
