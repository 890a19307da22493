-- wrk script: POST /token with grant_type=client_credentials and client_secret_post, counting
-- non-200 answers per thread and printing one summary at the end.
dofile(os.getenv("BENCH_DIR") .. "/summary.lua")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "grant_type=client_credentials&client_id=" .. os.getenv("BENCH_CLIENT_ID")
    .. "&client_secret=" .. os.getenv("BENCH_CLIENT_SECRET")
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  report(threads, summary, latency)
end
