-- Rotate or replay a refresh token: the decision of family.go, atomically.
-- KEYS[1] family hash
-- ARGV[1] H(presented secret)  ARGV[2] H(next(presented secret))
-- ARGV[3] now (unix ms)  ARGV[4] grace (ms)  ARGV[5] key TTL margin (ms)
-- Replies: {'invalid'} | {'expired'} | {'reused', sid, uid}
--   | {'unknown', gen, cur, prev, p2, sid, uid, abs, idle, last}
--   | {'rotate'|'replay', field, value, ...}
local function int(n) return string.format('%.0f', n) end
local f = KEYS[1]
local v = redis.call('HMGET', f, 'cur', 'prev', 'p2', 'p2dl', 'abs', 'idle', 'last', 'gen', 'sid', 'uid')
if not v[1] then return {'invalid'} end
local h0, h1 = ARGV[1], ARGV[2]
local now, grace, margin = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cur, prev, p2 = v[1], v[2] or '', v[3] or ''
local p2dl = tonumber(v[4] or '0')
local abs, idle, last = tonumber(v[5]), tonumber(v[6]), tonumber(v[7])
local kind
if h0 == cur then
  kind = 'rotate'
elseif prev ~= '' and h0 == prev then
  kind = 'replay'
elseif p2 ~= '' and h0 == p2 then
  if now <= p2dl then kind = 'replay' else kind = 'reused' end
else
  return {'unknown', v[8], cur, prev, p2, v[9], v[10], v[5], v[6], v[7]}
end
-- From here the caller holds a genuine token of this family.
local exp = abs
if idle > 0 and last + idle < exp then exp = last + idle end
if now >= exp then
  redis.call('DEL', f)
  return {'expired'}
end
if kind == 'reused' then return {'reused', v[9], v[10]} end
if kind == 'rotate' then
  redis.call('HSET', f, 'p2', prev, 'p2dl', int(now + grace), 'prev', cur, 'cur', h1,
    'gen', int(tonumber(v[8]) + 1), 'last', ARGV[3])
else
  redis.call('HSET', f, 'last', ARGV[3])
end
exp = abs
if idle > 0 and now + idle < exp then exp = now + idle end
redis.call('PEXPIRE', f, int(exp - now + margin))
local r = redis.call('HGETALL', f)
table.insert(r, 1, kind)
return r
