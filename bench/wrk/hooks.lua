-- wrk script: every request is a distinct, valid provider event, so nothing is dropped as a
-- duplicate (Ringside dedupes on provider event ids and on byte-identical bodies).
--
--   wrk -t2 -c50 -d10s -s bench/wrk/hooks.lua http://127.0.0.1:PORT/hooks/generic/TOKEN -- generic NONCE
--
-- Formats: voiceshot (XML), whippy (JSON), teltel (JSON), exotel-form (urlencoded POST),
-- exotel-multipart (multipart POST), exotel-get (GET pass-through), generic (JSON).
-- Each call goes through its provider's lifecycle (ringing/connected, answered, ended), one
-- event per request; NONCE keeps ids unique across wrk runs against the same store.

local fmt, nonce, base
local n = 0
-- `tid` (1, 2, ...) is set in each thread's Lua state by setup().

local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  fmt = args[1] or "generic"
  nonce = args[2] or tostring(os.time())
  base = wrk.path
end

local function pad(i, width)
  return string.format("%0" .. width .. "d", i % (10 ^ width))
end

local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function form(pairs)
  local out = {}
  for _, kv in ipairs(pairs) do out[#out + 1] = enc(kv[1]) .. "=" .. enc(kv[2]) end
  return table.concat(out, "&")
end

local boundary = "----RingsideBench7MA4YWxkTrZu0gW"
local function multipart(pairs)
  local out = {}
  for _, kv in ipairs(pairs) do
    out[#out + 1] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. kv[1] ..
      "\"\r\n\r\n" .. kv[2] .. "\r\n"
  end
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return table.concat(out)
end

local json_h = { ["Content-Type"] = "application/json" }
local xml_h = { ["Content-Type"] = "text/xml" }
local form_h = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local multi_h = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }

-- One builder per format: (id, call number, step) -> method, query, headers, body.
local formats = {}

formats.generic = { steps = 3, build = function(id, c, step)
  local from = "+1415" .. pad(c, 7)
  local event = ({ "newCall", "answer", "hangup" })[step + 1]
  local extra = ({
    '"user":["201","202"]',
    '"user":["201"],"answeringNumber":"201"',
    '"cause":"normalClearing","answeringNumber":"201"',
  })[step + 1]
  return "POST", nil, json_h, string.format(
    '{"event":"%s","from":"%s","to":"4930777000000","direction":"in","callId":"%s",%s}',
    event, from, id, extra)
end }

formats.voiceshot = { steps = 3, build = function(id, c, step)
  local body
  if step == 0 then
    body = string.format('<campaign menuid="1-3" callid="%s" action="4" callerid="818%s"/>', id, pad(c, 7))
  elseif step == 1 then
    body = string.format('<prompt menuid="1-3" callid="%s" promptid="2" keypress="1"/>', id)
  else
    body = string.format('<campaign menuid="1-3" callid="%s" action="5" duration="24"/>', id)
  end
  return "POST", nil, xml_h, body
end }

formats.whippy = { steps = 2, build = function(id, c, step)
  local event = step == 0 and "call.started" or "call.ended"
  local status = step == 0 and "call_in_progress" or "call_completed.user_hangup"
  return "POST", nil, json_h, string.format(
    '{"data":{"id":"%s","to":"+14244023931","from":"+1218%s","direction":"INBOUND",' ..
    '"channel_id":"be1ecaf2-9ce7-448c-8755-e5009ccc4345","contact_id":"8241b8e5-98a2-44d7-975b-15f5c2bf3cf4",' ..
    '"created_at":"2023-08-24T10:05:18.432652Z","updated_at":"2023-08-24T10:05:18.432652Z",' ..
    '"attachments":[],"delivery_status":"%s","user_id":42},"event":"%s","request_id":"r-%s"}',
    id, pad(c, 7), status, event, id)
end }

formats.teltel = { steps = 4, build = function(id, c, step)
  local from = "3712" .. pad(c, 7)
  local event = ({ "START", "RING", "RINGRESULT", "COMPLETED" })[step + 1]
  local extra = ({
    '"to":"37167000000"',
    '"to":"201"',
    '"state":"ANSWER","to":"201"',
    '"hanged_by":"phone","is_answered":true,"to":"37167000000"',
  })[step + 1]
  return "POST", nil, json_h, string.format(
    '{"id":"ev-%s-%d","event":"%s","timestamp":"2024-05-02 09:15:0%d","accountcode":"acc-77",' ..
    '"session_id":"s-%s","call_id":"%s","direction":"inbound","type":"standard","participants":0,' ..
    '"phase":"didtosip","from":"%s",%s}',
    id, step, event, step, id, id, from, extra)
end }

local function exotel_status(id, c, step)
  local event = ({ "ringing", "answered", "terminal" })[step + 1]
  local status = ({ "in-progress", "in-progress", "completed" })[step + 1]
  return {
    { "CallSid", id }, { "EventType", event }, { "DateCreated", "2022-04-06 10:48:00" },
    { "DateUpdated", "2022-04-06 10:48:1" .. step }, { "Status", status },
    { "To", "0878" .. pad(c, 7) }, { "From", "07874762218" }, { "PhoneNumberSid", "08044556678" },
    { "StartTime", "2022-04-06 10:48:04" }, { "EventTime", "2022-04-06 10:48:1" .. step },
    { "Direction", "outbound-api" }, { "ConversationDuration", step == 2 and "6" or "" },
    { "Legs", '[{"OnCallDuration":12,"Status":"' .. status .. '"}]' },
  }
end

formats["exotel-form"] = { steps = 3, build = function(id, c, step)
  return "POST", nil, form_h, form(exotel_status(id, c, step))
end }

formats["exotel-multipart"] = { steps = 3, build = function(id, c, step)
  return "POST", nil, multi_h, multipart(exotel_status(id, c, step))
end }

formats["exotel-get"] = { steps = 3, build = function(id, c, step)
  local event = ({ "Dial", "Answered", "Terminal" })[step + 1]
  return "GET", "?" .. form({
    { "CallSid", id }, { "CallFrom", "0987" .. pad(c, 7) }, { "CallTo", "08044556678" },
    { "Direction", "incoming" }, { "Created", "2024-05-02 14:45:00" },
    { "CurrentTime", "2024-05-02 14:45:0" .. step }, { "DialWhomNumber", "09812345601" },
    { "Status", step == 2 and "free" or "busy" }, { "EventType", event },
  }), nil, ""
end }

function request()
  local f = formats[fmt]
  if f == nil then error("unknown format " .. tostring(fmt)) end
  local c = math.floor(n / f.steps)
  local step = n % f.steps
  n = n + 1
  local id = nonce .. "-" .. tid .. "-" .. c
  local method, query, headers, body = f.build(id, tid * 1000000 + c, step)
  return wrk.format(method, base .. (query or ""), headers, body)
end
