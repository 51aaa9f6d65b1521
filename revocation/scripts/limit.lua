-- GCRA step for one limiter key. Times are microseconds (exact in a Lua
-- double until the year 2255).
-- KEYS[1]: the key's theoretical arrival time (tat), absent = full budget.
-- ARGV: op ("take", "peek" or "refund"), interval, period, now ("" = the
-- server's clock).
-- Returns {allowed (0/1), remaining, retry-after}.
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval, period, op = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[1]
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end

local function store(t)
  if t <= now then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], string.format('%.0f', t), 'PX', math.ceil((t - now) / 1000))
  end
end

-- A clock stepped back leaves tat more than a period ahead: count the key
-- as exhausted, never as blocked for longer (see gcra in limit.go), and
-- keep it so.
if tat > now + period then
  tat = now + period
  store(tat)
end

if op == 'refund' then
  store(tat - interval)
  return {1, 0, 0}
end
local nxt = tat + interval
local over = nxt - now - period
if over > 0 then
  return {0, 0, over}
end
if op == 'take' then
  store(nxt)
end
return {1, math.floor((period - (nxt - now)) / interval), 0}
