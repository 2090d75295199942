-- ARGV: 2 lowest rank (inclusive), 3 highest rank (exclusive), 4 length of
-- a rank before the call ID. Returns the callers' JSON in service order.
local ranks = redis.call('ZRANGEBYLEX', WAITING, ARGV[2], ARGV[3])
local skip = tonumber(ARGV[4])
local callers = {}
for _, rank in ipairs(ranks) do
  local raw = redis.call('HGET', CALLERS, string.sub(rank, skip + 1))
  if raw then
    table.insert(callers, raw)
  end
end
return {'ok', callers}
