-- Stores a refreshed pair under the holder's fence, unless something newer is stored.
-- KEYS[1] the token hash; ARGV[1] the pair (JSON), ARGV[2] the fence.
-- Returns {1, fence} when stored, {0, stored version} when a newer pair won.
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local fence = tonumber(ARGV[2])
if fence <= stored then
  return {0, stored}
end
redis.call('HSET', KEYS[1], 'pair', ARGV[1], 'version', ARGV[2])
-- The counter must stay ahead of every stored version. It is behind when the hash was lost
-- (a Redis restarted without persistence) and a pair refreshed before that is saved late: the
-- next holders would draw fences below the stored version and their saves would be refused.
if tonumber(redis.call('HGET', KEYS[1], 'fence') or '0') < fence then
  redis.call('HSET', KEYS[1], 'fence', ARGV[2])
end
return {1, fence}
