-- wrk script: a token never sent before on every request.
--
--   wrk -t2 -c50 -d10s -s new_token.lua http://127.0.0.1:PORT/ -- TOKENS_FILE THREADS
--
-- TOKENS_FILE has one token a line; THREADS must equal wrk's -t. Thread k sends lines
-- k, k+THREADS, k+2*THREADS, ... in order, so no token is sent twice. A thread that has
-- sent all of its tokens stops. wrk divides by the full -d even then, so this script
-- measures the rate itself (LuaJIT ffi, CLOCK_MONOTONIC): each thread counts responses
-- in 10 ms buckets; the rate is the responses received while every thread was running
-- (from the last thread's first request to the first thread's last response: wrk reads
-- this file for one thread while the previous one already sends), over that window. It
-- prints
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
  buckets = {}
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
    t_last = now()
    local b = math.floor(t_last * 100)
    buckets[b] = (buckets[b] or 0) + 1
  end
  if sent >= #tokens then
    used_up = 1
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local first, last, up = nil, nil, false
  for _, t in ipairs(threads) do
    local f, l = t:get("t_first"), t:get("t_last")
    if f == nil or l == nil then
      io.write("new-token: no responses\n")
      return
    end
    if first == nil or f > first then first = f end
    if last == nil or l < last then last = l end
    if t:get("used_up") == 1 then up = true end
  end
  local from, to = math.ceil(first * 100), math.floor(last * 100)
  local total = 0
  for _, t in ipairs(threads) do
    for b, n in pairs(t:get("buckets")) do
      if b >= from and b < to then total = total + n end
    end
  end
  if to > from then
    local secs = (to - from) / 100
    io.write(string.format("new-token: %d responses in %.2f s = %.0f req/s, tokens used up: %s\n",
      total, secs, total / secs, up and "yes" or "no"))
  else
    io.write("new-token: no window where all threads ran\n")
  end
end
