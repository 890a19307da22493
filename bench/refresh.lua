-- wrk script: POST /token with grant_type=refresh_token. Each thread holds a queue of refresh
-- tokens; a request takes one, its answer gives back the successor, so no token is used twice.
dofile(os.getenv("BENCH_DIR") .. "/summary.lua")
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  local all = {}
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    table.insert(all, line)
  end
  local mine = {}
  local nthreads = tonumber(os.getenv("BENCH_THREADS_COUNT"))
  for i = counter, #all, nthreads do
    table.insert(mine, all[i])
  end
  thread:set("seed", table.concat(mine, ","))
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  queue = {}
  for token in string.gmatch(seed, "[^,]+") do
    table.insert(queue, token)
  end
  auth = "client_id=" .. os.getenv("BENCH_CLIENT_ID") .. "&client_secret=" .. os.getenv("BENCH_CLIENT_SECRET")
end

function request()
  local token = table.remove(queue)
  if token == nil then
    token = "exhausted"
  end
  return wrk.format("POST", "/token", { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token .. "&" .. auth)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    return
  end
  local successor = string.match(body, '"refresh_token":"([^"]+)"')
  if successor then
    table.insert(queue, successor)
  end
end

function done(summary, latency, requests)
  report(threads, summary, latency)
end
