-- Resets the idle time of the entries still pending for this consumer (a replica still working
-- on them), leaving alone those another consumer claimed meanwhile.
-- KEYS[1] the stream. ARGV[1] the group; ARGV[2] the consumer; ARGV[3..] entry ids.
local touched = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending > 0 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    touched = touched + 1
  end
end
return touched
