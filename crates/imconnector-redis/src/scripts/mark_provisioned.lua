-- Marks a stored portal provisioned (ARGV[1] = '1') or not (else); a portal not stored (removed
-- meanwhile) is left alone, so no mark outlives its record.
-- KEYS[1] the portal record; KEYS[2] the provisioned mark. Returns 1 when the portal exists.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] == '1' then
  redis.call('SET', KEYS[2], '1')
else
  redis.call('DEL', KEYS[2])
end
return 1
