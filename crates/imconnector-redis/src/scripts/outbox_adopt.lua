-- Renews the consumer's lease, creates the group if needed, and moves to the consumer at most
-- ARGV[5] entries of consumers whose lease ran out; a consumer left with nothing is deleted.
-- KEYS[1] the stream; KEYS[2] the in-flight hash. ARGV[1] the group; ARGV[2] the consumer;
-- ARGV[3] the prefix of lease keys (a lease key is the prefix and a consumer's name, in the
-- stream's hash slot); ARGV[4] the lease (ms); ARGV[5] the most entries to move.
-- Returns the moved entries: {id, {field, value, ...}, in flight (0 or 1)}.
redis.call('SET', ARGV[3] .. ARGV[2], '1', 'PX', ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')
end
local budget = tonumber(ARGV[5])
local adopted = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name
  for j = 1, #info, 2 do
    if info[j] == 'name' then
      name = info[j + 1]
    end
  end
  if budget > 0 and name and name ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. name) == 0 then
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', budget, name)
    local ids = {}
    for _, entry in ipairs(pending) do
      table.insert(ids, entry[1])
    end
    if #ids > 0 then
      local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
      for _, entry in ipairs(claimed) do
        if type(entry) == 'table' and entry[2] then
          table.insert(adopted, {entry[1], entry[2], redis.call('HEXISTS', KEYS[2], entry[1])})
        end
      end
    end
    if #ids < budget then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    end
    budget = budget - #ids
  end
end
return adopted
