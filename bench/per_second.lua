-- wrk script: counts answers per wall-clock second (os.time) and status,
-- in each thread; at the end, adds the threads up and prints one line a
-- second: "second <unix seconds> <answers> <non-2xx answers>".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  answers = {}
  failed = {}
end

function response(status, headers, body)
  local second = os.time()
  answers[second] = (answers[second] or 0) + 1
  if status < 200 or status > 299 then
    failed[second] = (failed[second] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total, bad, seconds = {}, {}, {}
  for _, thread in ipairs(threads) do
    for second, n in pairs(thread:get("answers")) do
      if total[second] == nil then table.insert(seconds, second) end
      total[second] = (total[second] or 0) + n
    end
    for second, n in pairs(thread:get("failed")) do
      bad[second] = (bad[second] or 0) + n
    end
  end
  table.sort(seconds)
  for _, second in ipairs(seconds) do
    io.write(string.format("second %d %d %d\n", second, total[second], bad[second] or 0))
  end
end
