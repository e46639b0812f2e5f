-- Compare-and-set: stores a pair only over the version the writer last saw (0: nothing).
-- KEYS[1] the token hash; ARGV[1] the pair (JSON), ARGV[2] the expected version.
-- Returns {1, new version} when stored, {0, stored version} when the writer was stale.
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[2]) then
  return {0, stored}
end
local version = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('HSET', KEYS[1], 'pair', ARGV[1], 'version', version)
return {1, version}
