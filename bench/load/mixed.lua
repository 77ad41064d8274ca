-- wrk script: searches and shopper events from many simulated shoppers, against `tessera serve`.
--
-- Usage: wrk -t2 -c72 -d20s -s bench/load/mixed.lua http://127.0.0.1:PORT -- QUERIES IDS
--   QUERIES  file with one query text a line (real queries built from the catalogue)
--   IDS      file with one catalogue product id a line, for the events
--
-- 80% of the requests are searches (GET /api/search, personalized for the shopper), 20% are
-- view, click or add_to_cart events (POST /api/events), each from one of 10,000 shoppers.
-- Every request carries `Connection: close`, so the server closes the connection after its
-- response and a connection's requests do not queue behind one worker (cpp-httplib serves a
-- keep-alive connection on one worker until it closes).
--
-- Each connection sends its next request as soon as the last response arrives (a closed loop),
-- so the offered load is set by the number of connections. wrk's delay() cannot pace a fixed
-- rate here: wrk opens the connection before the delay, and cpp-httplib's worker then waits on
-- the idle connection, so the test would measure idle workers. The summary is one line starting
-- with "RESULT " and a JSON object.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then table.insert(lines, line) end
  end
  return lines
end

local function url_encode(text)
  return (text:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  queries = read_lines(args[1])
  ids = read_lines(args[2])
  statuses = {}
  math.randomseed(os.time() * 100 + thread_index)
end

local event_types = {"view", "click", "add_to_cart"}

function request()
  local user = "load-" .. math.random(1, 10000)
  local headers = {["Connection"] = "close"}
  if math.random() < 0.8 then
    local query = queries[math.random(#queries)]
    return wrk.format("GET", "/api/search?per_page=24&user=" .. user .. "&q=" .. url_encode(query), headers)
  end
  headers["Content-Type"] = "application/json"
  local body = string.format('{"user_id":"%s","type":"%s","product_id":"%s"}', user,
                             event_types[math.random(#event_types)], ids[math.random(#ids)])
  return wrk.format("POST", "/api/events", headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do table.insert(parts, string.format('"%s":%d', status, count)) end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.2f,"rps":%.1f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, table.concat(parts, ",")))
end
