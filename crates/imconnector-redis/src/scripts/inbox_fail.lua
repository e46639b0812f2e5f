-- Moves an entry that failed for good to the failed stream (with the reason), then
-- acknowledges and deletes it.
-- KEYS[1] the stream; KEYS[2] the failed stream.
-- ARGV[1] the group; ARGV[2] the entry id; ARGV[3] the reason; ARGV[4] how many failed entries
-- to keep (about).
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #found > 0 then
  local fields = found[1][2]
  table.insert(fields, 'reason')
  table.insert(fields, ARGV[3])
  table.insert(fields, 'id')
  table.insert(fields, ARGV[2])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
