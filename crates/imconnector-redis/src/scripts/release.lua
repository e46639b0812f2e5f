-- Frees the lock if this holder still has it (never another holder's).
-- KEYS[1] the lock; ARGV[1] the lease id. Returns 1 if released.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
