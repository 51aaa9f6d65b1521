-- wrk-refresh.lua: sesame's refresh route under wrk, each refresh token
-- used once, following the rotation chains (an independent check of
-- bench/cmd/loadgen's refresh figures).
--
--   cd bench && go run ./cmd/loadgen -serve -servers sesame -tokens /tmp/tokens.txt -sessions 128 &
--   wrk -t2 -c64 -d5s --latency -s wrk-refresh.lua http://127.0.0.1:PORT -- /tmp/tokens.txt 2
--
-- (-serve prints the URL; loadgen starts its own redis-server unless given
-- -redis.) The arguments are the tokens file and wrk's thread count: each
-- thread takes every Nth token. Give at least twice as many sessions as
-- connections: wrk asks for one request more than it has connections
-- before the first answer, and each token is good for one refresh (a second
-- use outside the grace window ends its session). New tokens are needed for
-- every run.
local queue, head, tail = {}, 1, 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    if (n - id) % tonumber(args[2]) == 0 then
      tail = tail + 1
      queue[tail] = line
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Session-Transport"] = "header"
end

function request()
  local t = queue[head]
  if t == nil then
    error("wrk-refresh.lua: out of refresh tokens; give more sessions")
  end
  queue[head] = nil
  head = head + 1
  return wrk.format(nil, "/auth/refresh", nil, '{"refresh_token":"' .. t .. '"}')
end

function response(status, headers, body)
  -- A failed refresh gives no token: its chain ends, and wrk counts the
  -- status under "Non-2xx or 3xx responses".
  local t = string.match(body, '"refresh_token":"([^"]+)"')
  if t then
    tail = tail + 1
    queue[tail] = t
  end
end
