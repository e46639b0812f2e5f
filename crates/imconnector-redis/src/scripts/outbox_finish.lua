-- Removes settled entries the consumer holds, and keeps (with an expiry) or forgets their keys.
-- KEYS[1] the stream; KEYS[2] the in-flight hash; KEYS[3..] the marks of the entries' keys.
-- ARGV[1] the group; ARGV[2] the consumer; ARGV[3] how long a kept key lives (ms); then one
-- triple per entry: its id, the index in KEYS of its key's mark (0 for none), '1' to forget the
-- key or '0' to keep it. Returns how many entries were removed.
local removed = 0
for i = 4, #ARGV, 3 do
  local id = ARGV[i]
  local mark = tonumber(ARGV[i + 1])
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2])
  if held[1] then
    redis.call('XACK', KEYS[1], ARGV[1], id)
    redis.call('XDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    -- Only this entry's key: a later entry may have taken it after a forget.
    if mark > 0 and redis.call('GET', KEYS[mark]) == id then
      if ARGV[i + 2] == '1' then
        redis.call('DEL', KEYS[mark])
      else
        redis.call('PEXPIRE', KEYS[mark], ARGV[3])
      end
    end
    removed = removed + 1
  end
end
return removed
