-- Keeps a started code-flow authorization of one portal, single-use, until it expires.
-- KEYS[1] the portal's sorted set: state -> expiry (microseconds, the Redis server's clock, so
-- the replicas' clocks do not matter; microseconds, so states saved one after another never
-- tie and the oldest is the one dropped). ARGV[1] the state, ARGV[2] its lifetime in
-- microseconds, ARGV[3] how many the portal keeps: beyond that its soonest to expire (its
-- oldest) go; no other portal's key is touched.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if extra > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
end
-- The set goes when its last state expires (replicas may use different lifetimes).
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.ceil(tonumber(last[2]) / 1000)))
return 0
