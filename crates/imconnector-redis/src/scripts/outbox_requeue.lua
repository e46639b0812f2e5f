-- Puts in-flight entries back to queued, each only if the consumer holds it.
-- KEYS[1] the stream; KEYS[2] the in-flight hash. ARGV[1] the group; ARGV[2] the consumer;
-- ARGV[3..] entry ids. Returns how many were put back.
local count = 0
for i = 3, #ARGV do
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if held[1] then
    count = count + redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
return count
