-- Create a family and index it under its user (one slot: the user's tag).
-- KEYS[1] family hash  KEYS[2] user index (zset fid -> absolute expiry)
-- ARGV: fid sid uid payload now abs idle ua ip cur margin
-- Replies 1 when created (or already created by this very call), 0 when
-- the family exists: the family id is derived from the session id, and an
-- existing family is never overwritten.
local function int(n) return string.format('%.0f', n) end
local fid, now, abs, margin = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[11])
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- The same create run again (go-redis retries a pipeline whose
  -- connection failed, replies already read included): the random first
  -- secret's hash is this call's own, so it was created.
  if redis.call('HGET', KEYS[1], 'cur') == ARGV[10] and redis.call('HGET', KEYS[1], 'gen') == '0' then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], 'sid', ARGV[2], 'uid', ARGV[3], 'pl', ARGV[4], 'ct', ARGV[5], 'last', ARGV[5],
  'abs', ARGV[6], 'idle', ARGV[7], 'ua', ARGV[8], 'ip', ARGV[9], 'cur', ARGV[10], 'gen', 0)
local idle = tonumber(ARGV[7])
local exp = abs
if idle > 0 and now + idle < exp then exp = now + idle end
redis.call('PEXPIRE', KEYS[1], int(exp - now + margin))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[6], fid)
local want = abs - now + margin
if redis.call('PTTL', KEYS[2]) < want then redis.call('PEXPIRE', KEYS[2], int(want)) end
return 1
