-- Reads a page of the entries a consumer holds, after a given id, with their state.
-- KEYS[1] the stream; KEYS[2] the in-flight hash. ARGV[1] the group; ARGV[2] the consumer;
-- ARGV[3] the id to read after ('0' first); ARGV[4] the page size.
-- Returns {last id read or '', {{id, {field, value, ...}, in flight}, ...}}; an entry deleted
-- meanwhile is acknowledged and left out.
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[4], 'STREAMS', KEYS[1], ARGV[3])
local held = {}
local last = ''
if read and read[1] then
  for _, entry in ipairs(read[1][2]) do
    last = entry[1]
    if entry[2] then
      table.insert(held, {entry[1], entry[2], redis.call('HEXISTS', KEYS[2], entry[1])})
    else
      redis.call('XACK', KEYS[1], ARGV[1], entry[1])
    end
  end
end
return {last, held}
