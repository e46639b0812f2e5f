-- The portal answered QUERY_LIMIT_EXCEEDED although the shared bucket let the request through:
-- its own bucket is full. Counts the shared bucket as full and pauses it for the refused
-- request's retry wait, so every replica holds back, then resumes at the drain rate.
-- KEYS[1] the bucket hash; ARGV[1] the capacity, ARGV[2] the drain rate per second, ARGV[3]
-- the pause in microseconds.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 1000000
local pause = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local paused_until = math.max(tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0, now + pause)
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', capacity), 'last', string.format('%d', now),
  'paused_until', string.format('%d', paused_until))
redis.call('PEXPIRE', KEYS[1], math.ceil((paused_until - now + capacity / rate) / 1000) + 60000)
return 1
