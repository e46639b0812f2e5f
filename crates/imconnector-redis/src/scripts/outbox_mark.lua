-- Marks entries in flight, each only if the consumer still holds it.
-- KEYS[1] the stream; KEYS[2] the in-flight hash. ARGV[1] the group; ARGV[2] the consumer;
-- ARGV[3..] entry ids. Returns the ids the consumer no longer holds.
local lost = {}
for i = 3, #ARGV do
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if held[1] then
    redis.call('HSET', KEYS[2], ARGV[i], '1')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
