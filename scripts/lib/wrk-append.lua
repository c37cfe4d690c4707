-- wrk script for scripts/bench-durable.sh: POST 64-byte appends.
-- Arguments (after `--`): STREAM_PREFIX STREAMS_PER_THREAD
-- Thread t appends round-robin to STREAM_PREFIX-t-0 .. STREAM_PREFIX-t-(n-1),
-- which the caller created beforehand; with one connection per stream, each
-- connection is one closed-loop writer (one append in flight at a time).
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end

function init(args)
  prefix = args[1]
  per_thread = tonumber(args[2])
  body = string.rep("x", 64)
  headers = { ["Content-Type"] = "application/octet-stream" }
  i = 0
end

function request()
  local path = prefix .. "-" .. tid .. "-" .. (i % per_thread)
  i = i + 1
  return wrk.format("POST", path, headers, body)
end
