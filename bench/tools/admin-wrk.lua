-- admin-wrk.lua: signed admin API requests (ADMIN_API.md §1) for wrk, over
-- wrk's keep-alive connections, to measure the admin port's throughput.
--
--   wrk -t1 -c16 -d10s --latency -s bench/tools/admin-wrk.lua http://127.0.0.1:7071 \
--       -- COMMAND GROUP USERSIG [IDENTIFIER] [SDKAPPID]
--
-- COMMAND: get_online_member_num (a read answered by the room's home shard)
--          forbid_send_msg (a durable write: a store commit before the reply,
--          and an `event muted` pushed to every member of GROUP)
-- USERSIG: a UserSig of IDENTIFIER (default administrator) signed with the
--          engine's secret, e.g. `build/liveroom-sig --secret KEY --user administrator`;
--          its alphabet (base64 with * - _) needs no URL escaping.
-- SDKAPPID defaults to 1400000000.
--
-- Every request carries a fresh `random` in its query. forbid_send_msg mutes
-- one of 1000 made-up members per request (wrk-<thread>-<n>) for an hour, so
-- the writes are real row updates, not one row rewritten. Each reply is
-- checked for "ErrorCode":0: a run whose requests fail is not a measurement,
-- and done() says how many failed.

local group, sig, ident, app
local n = 0
local threads = {}
-- globals: setup() sets thread_id in each thread's state; done() runs in
-- another state and reads command and fails from the threads'
thread_id = 0
fails = 0
command = nil

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

function init(args)
   command = args[1] or "get_online_member_num"
   group = args[2]
   sig = args[3]
   ident = args[4] or "administrator"
   app = args[5] or "1400000000"
   if not group or not sig then
      error("usage: -- COMMAND GROUP USERSIG [IDENTIFIER] [SDKAPPID]")
   end
   if command ~= "get_online_member_num" and command ~= "forbid_send_msg" then
      error("COMMAND: get_online_member_num or forbid_send_msg")
   end
   math.randomseed(os.time() + thread_id)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

local function path()
   return "/v4/group_open_http_svc/" .. command .. "?sdkappid=" .. app .. "&identifier=" ..
      ident .. "&usersig=" .. sig .. "&random=" .. math.random(0, 4294967295) ..
      "&contenttype=json"
end

function request()
   n = n + 1
   local body
   if command == "forbid_send_msg" then
      body = string.format('{"GroupId":"%s","Members_Account":["wrk-%d-%d"],"MuteTime":3600}',
                           group, thread_id, n % 1000)
   else
      body = string.format('{"GroupId":"%s"}', group)
   end
   return wrk.format(nil, path(), nil, body)
end

function response(status, headers, body)
   if status ~= 200 or not string.find(body, '"ErrorCode":0', 1, true) then
      fails = fails + 1
      if fails == 1 then
         io.stderr:write("admin-wrk: first failed reply: " .. status .. " " .. body .. "\n")
      end
   end
end

function done(summary, latency, requests)
   local failed = 0
   local command = threads[1] and threads[1]:get("command")
   for _, t in ipairs(threads) do
      failed = failed + (t:get("fails") or 0)
   end
   local secs = summary.duration / 1e6
   io.write(string.format(
      "admin-wrk: %s %d requests in %.2f s = %.0f req/s, failed replies %d, " ..
      "latency ms p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f\n",
      command, summary.requests, secs, summary.requests / secs, failed,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000))
end
