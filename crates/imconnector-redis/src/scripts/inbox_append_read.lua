-- Appends a verified event as inbox_append.lua does, then reads the stream's oldest unread entry
-- for the appending replica's consumer in the same step: the new one, unless older entries were
-- never read. The replica that stored an event so holds it pending without reading it back.
-- KEYS[1] the key's mark; KEYS[2] the stream.
-- ARGV[1] time to live (ms); ARGV[2] the key; ARGV[3] member_id; ARGV[4] the payload;
-- ARGV[5] the consumer group; ARGV[6] the consumer.
-- Returns false for a duplicate; {id} when the new entry was read; {id, older_id, older_fields}
-- when an older entry was read in its place; {id, false} when none was (the group is missing).
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return false
end
local id = redis.call('XADD', KEYS[2], '*', 'key', ARGV[2], 'member', ARGV[3], 'payload', ARGV[4])
local read = redis.call('XREADGROUP', 'GROUP', ARGV[5], ARGV[6], 'COUNT', 1, 'STREAMS', KEYS[2], '>')
local entry = read and read[1] and read[1][2][1]
if not entry then
  return {id, false}
end
if entry[1] == id then
  return {id}
end
return {id, entry[1], entry[2]}
