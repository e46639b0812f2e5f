-- Extends the lease if this holder still has it.
-- KEYS[1] the lock; ARGV[1] the lease id, ARGV[2] the lease in ms. Returns 1 if extended.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
