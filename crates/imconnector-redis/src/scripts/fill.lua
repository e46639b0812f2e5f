-- Counts the shared bucket as full (the portal answered QUERY_LIMIT_EXCEEDED although the bucket
-- let the request through): every replica then waits for it to drain.
-- KEYS[1] the bucket hash; ARGV[1] the capacity, ARGV[2] the drain rate per second.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('HSET', KEYS[1], 'level', ARGV[1], 'last', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) / tonumber(ARGV[2]) * 1000) + 60000)
return 1
