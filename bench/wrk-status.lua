-- wrk script for bench/run.py --pong --quick: counts every response by status and
-- prints "status <code> <count>" lines at the end, so the smoke run can fail on anything
-- but 200 (wrk itself only counts codes above 399). A per-response callback costs wrk
-- time, so the full run's throughput figures are taken without it.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      io.write(string.format("status %d %d\n", code, n))
    end
  end
end
