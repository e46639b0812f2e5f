-- Takes a started code-flow authorization: 1 if it was kept and has not expired, else 0. It is
-- removed either way, in one step, so of two takes of one state at most one gets 1.
-- KEYS[1] the portal's sorted set (see authorization_save.lua), ARGV[1] the returned state.
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
if tonumber(expires) > now then
  return 1
end
return 0
