-- Fills in the application token of a stored portal that has none (an install POST of the older
-- shape stored it empty); a token already there is never replaced, a portal not stored is left
-- alone. KEYS[1] the portal record (JSON); ARGV[1] the token. Returns 1 when filled.
local text = redis.call('GET', KEYS[1])
if not text then
  return 0
end
local record = cjson.decode(text)
if record.application_token ~= nil and record.application_token ~= '' then
  return 0
end
record.application_token = ARGV[1]
redis.call('SET', KEYS[1], cjson.encode(record))
return 1
