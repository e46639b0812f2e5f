-- Appends one outbox entry, held by the appending consumer, unless its idempotency key is known.
-- KEYS[1] the stream; KEYS[2] the key's mark (ignored when ARGV[3] is '').
-- ARGV[1] the group; ARGV[2] the consumer; ARGV[3] the idempotency key or ''; ARGV[4] the chat;
-- ARGV[5] the payload.
-- Returns {1, id} when stored, {0, id of the entry that holds the key} for a duplicate.
local keyed = ARGV[3] ~= ''
if keyed then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    return {0, existing}
  end
end
local id = redis.call('XADD', KEYS[1], '*', 'chat', ARGV[4], 'key', ARGV[3], 'payload', ARGV[5])
-- Every entry is delivered to its consumer here, so the next undelivered entry is this one; the
-- loop only guards against entries written by hand (they join this consumer's pending list).
for _ = 1, 100 do
  local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
  if not read or not read[1] or not read[1][2][1] or read[1][2][1][1] == id then
    break
  end
end
if keyed then
  -- No expiry while the entry is held: `outbox_finish` sets it.
  redis.call('SET', KEYS[2], id)
end
return {1, id}
