-- wrk script for bench/intake.py: each request POSTs a 01/TCD report of the next unit,
-- with that unit's reporter token and an Idempotency-Key of its own.
--
-- Environment (set by bench/intake.py):
--   BENCH_TOKENS   file of "UNIT TOKEN" lines
--   BENCH_PERIOD   period code;  BENCH_PATH  the URL path;  BENCH_FIGURES  figures as JSON
--   BENCH_TOTAL    responses to collect, over all threads;  BENCH_THREADS  wrk's -t
--   BENCH_OUT      directory for ids-N.txt, the submission ids of the 202 answers
--
-- A thread stops once it has collected its share of answers; the requests still in
-- flight at that moment are sent, stored and processed, but not counted. It then writes
-- done-N.txt (its first-request and last-answer times), which tells bench/intake.py to
-- interrupt wrk: wrk itself would sleep for the whole -d duration.

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local CLOCK_MONOTONIC = 1

local function now()
  local ts = ffi.new("bench_timespec")
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  units, tokens = {}, {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local unit, token = line:match("^(%S+)%s+(%S+)$")
    units[#units + 1] = unit
    tokens[#tokens + 1] = token
  end
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local total = tonumber(os.getenv("BENCH_TOTAL"))
  share = math.floor(total / nthreads) + ((id < total % nthreads) and 1 or 0)
  period, path, figures = os.getenv("BENCH_PERIOD"), os.getenv("BENCH_PATH"), os.getenv("BENCH_FIGURES")
  sent, answered, accepted, refused, first_refusal = 0, 0, 0, 0, ""
  out = os.getenv("BENCH_OUT")
  ids = io.open(out .. "/ids-" .. id .. ".txt", "w")
end

function request()
  if sent == 0 then started = now() end
  local n = sent * nthreads + id
  sent = sent + 1
  local u = (n % #units) + 1
  local body = '{"period":"' .. period .. '","unit":"' .. units[u] .. '","form":"01/TCD","figures":' .. figures .. '}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[u],
    ["Idempotency-Key"] = "bench-" .. id .. "-" .. sent,
  }
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  -- Answers still in flight after the thread's share (wrk stops a thread only after its
  -- current round) are not counted: their reports are stored and processed all the same.
  if answered >= share then return end
  answered = answered + 1
  if status == 202 then
    accepted = accepted + 1
    ids:write(body:match('"id":%s*"?([%w%-]+)'), "\n")
  else
    refused = refused + 1
    if first_refusal == "" then first_refusal = status .. " " .. body:sub(1, 300) end
  end
  if answered == share then
    ids:close()
    local marker = io.open(out .. "/done-" .. id .. ".txt", "w")
    marker:write(string.format("%.6f %.6f\n", started, now()))
    marker:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local accepted_all, answered_all, refused_all, refusal = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    accepted_all = accepted_all + thread:get("accepted")
    answered_all = answered_all + thread:get("answered")
    refused_all = refused_all + thread:get("refused")
    if refusal == "" then refusal = thread:get("first_refusal") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"seconds":%.4f,"answered":%d,"accepted":%d,"refused":%d,"refusal":"%s",' ..
    '"socket_errors":%d,"timeouts":%d,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.duration / 1e6, answered_all, accepted_all, refused_all, (refusal:gsub('[%c"\\]', " ")),
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
