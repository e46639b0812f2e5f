-- The portal's leaky bucket, shared by every replica: +1 per request, drains ARGV[1] per second,
-- holds ARGV[2]. Time comes from the Redis server, so replicas' clocks do not matter.
-- KEYS[1] the bucket hash. Returns 0 when the request is admitted (and counted), otherwise the
-- microseconds until it would be (nothing is counted). While a push-back's pause lasts
-- ('paused_until', set by fill.lua) nothing is admitted.
local rate = tonumber(ARGV[1]) / 1000000
local capacity = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'level', 'last', 'paused_until')
local paused_until = tonumber(state[3]) or 0
if now < paused_until then
  return paused_until - now
end
local level = tonumber(state[1]) or 0
local last = tonumber(state[2]) or now
-- A clock stepped backwards drains nothing rather than refilling the bucket.
if now > last then
  level = math.max(0, level - (now - last) * rate)
  last = now
end
local admitted = level + 1 <= capacity + 1e-9
if admitted then
  level = level + 1
end
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'last', string.format('%d', last))
redis.call('PEXPIRE', KEYS[1], math.ceil(level / rate / 1000) + 60000)
if admitted then
  return 0
end
return math.ceil((level + 1 - capacity) / rate)
