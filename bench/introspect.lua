-- wrk script: POST /introspect for one valid access token, as the resource server's client.
dofile(os.getenv("BENCH_DIR") .. "/summary.lua")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = os.getenv("BENCH_BASIC")
  wrk.body = "token=" .. os.getenv("BENCH_TOKEN") .. "&token_type_hint=access_token"
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"active":true', 1, true) then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  report(threads, summary, latency)
end
