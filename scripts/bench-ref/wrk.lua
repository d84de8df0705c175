-- wrk script for scripts/bench-reference.sh: every request carries one of the bearer tokens
-- in $WRK_TOKENS (one per line, rotated); with $WRK_BODY the request is a POST of that JSON
-- ("{n}" becomes the token's number). Requests are formatted once per thread, so wrk's own
-- CPU stays small and equal for both servers. At the end one line "WRK_JSON {...}" sums up.
local reqs, i = {}, 0

function init(args)
  local body = os.getenv("WRK_BODY")
  local n = 0
  for token in io.lines(os.getenv("WRK_TOKENS")) do
    if token ~= "" then
      n = n + 1
      local headers = { ["Authorization"] = "Bearer " .. token }
      if body and body ~= "" then
        headers["Content-Type"] = "application/json"
        reqs[n] = wrk.format("POST", nil, headers, (body:gsub("{n}", tostring(n))))
      else
        reqs[n] = wrk.format("GET", nil, headers)
      end
    end
  end
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
