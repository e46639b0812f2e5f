-- Takes the refresh lock of a portal if it is free.
-- KEYS[1] the lock, KEYS[2] the token hash; ARGV[1] the lease id, ARGV[2] the lease in ms.
-- Returns {1, fence, stored version} when taken (the fence comes from the same counter as every
-- stored version, so it orders this holder after everything stored so far), otherwise
-- {0, remaining lease in ms, stored version}.
local version = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('HINCRBY', KEYS[2], 'fence', 1)
  return {1, fence, version}
end
return {0, redis.call('PTTL', KEYS[1]), version}
