-- wrk script: a token never sent before on every request.
--
--   wrk -t2 -c50 -d10s -s new_token.lua http://127.0.0.1:PORT/ -- TOKENS_FILE THREADS
--
-- TOKENS_FILE has one token a line; THREADS must equal wrk's -t. Thread k sends lines
-- k, k+THREADS, k+2*THREADS, ... in order, so no token is sent twice. A thread that has
-- sent all of its tokens stops. wrk divides by the full -d even then, so this script
-- measures the rate itself (LuaJIT ffi, CLOCK_MONOTONIC): responses received, from the
-- first request sent to the last response received, over all threads; it prints
--   new-token: <responses> responses in <seconds> s = <rate> req/s, tokens used up: yes|no
-- Non-2xx answers are counted by wrk ("Non-2xx or 3xx responses").

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } newtoken_timespec;
int clock_gettime(int clk_id, newtoken_timespec *tp);
]]
local ts = ffi.new("newtoken_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2])
  tokens = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id and #line > 0 then
      tokens[#tokens + 1] = "Bearer " .. line
    end
    i = i + 1
  end
  if #tokens == 0 then
    error("no tokens for thread " .. id .. " in " .. path)
  end
  sent = 0
  answered = 0
  used_up = 0
end

function request()
  if sent == 0 then
    t_first = now()
  end
  sent = sent + 1
  -- Past the end only while the stop below takes effect (requests already queued on
  -- other connections): those reuse the first tokens and are not counted.
  local token = tokens[(sent - 1) % #tokens + 1]
  return wrk.format("GET", "/", { ["Authorization"] = token })
end

function response(status, headers, body)
  if sent <= #tokens then
    answered = answered + 1
    t_last = now()
  end
  if sent >= #tokens then
    used_up = 1
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total, first, last, up = 0, nil, nil, false
  for _, t in ipairs(threads) do
    total = total + (t:get("answered") or 0)
    local f, l = t:get("t_first"), t:get("t_last")
    if f and (first == nil or f < first) then first = f end
    if l and (last == nil or l > last) then last = l end
    if t:get("used_up") == 1 then up = true end
  end
  if first and last and last > first then
    io.write(string.format("new-token: %d responses in %.3f s = %.0f req/s, tokens used up: %s\n",
      total, last - first, total / (last - first), up and "yes" or "no"))
  else
    io.write("new-token: no responses\n")
  end
end
