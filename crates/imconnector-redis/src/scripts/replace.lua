-- Stores a pair unconditionally under a new version (installation, re-authorisation): it
-- outranks every pair stored and every refresh in flight.
-- KEYS[1] the token hash; ARGV[1] the pair (JSON). Returns the new version.
local version = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('HSET', KEYS[1], 'pair', ARGV[1], 'version', version)
return version
