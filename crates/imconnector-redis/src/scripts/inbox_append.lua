-- Appends a verified event unless its key was appended within the time to live: the key is
-- remembered and the entry added in one step, so two replicas given the same event store it once.
-- KEYS[1] the key's mark; KEYS[2] the stream.
-- ARGV[1] time to live (ms); ARGV[2] the key; ARGV[3] member_id; ARGV[4] the payload.
-- Returns the entry id, or false for a duplicate.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return false
end
return redis.call('XADD', KEYS[2], '*', 'key', ARGV[2], 'member', ARGV[3], 'payload', ARGV[4])
