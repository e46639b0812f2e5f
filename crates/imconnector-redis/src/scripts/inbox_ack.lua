-- Acknowledges handled entries and deletes them, so the stream holds only what is not handled.
-- KEYS[1] the stream. ARGV[1] the group; ARGV[2..] the entry ids (at most a few thousand, the
-- limit of `unpack`).
local ids = {unpack(ARGV, 2)}
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
return redis.call('XDEL', KEYS[1], unpack(ids))
