-- ARGV: 2 call ID. Returns the 1-based position as a string.
local caller = load_caller(ARGV[2])
if not caller then
  return {'not_waiting'}
end
local ahead = redis.call('ZLEXCOUNT', WAITING, '[' .. queue_prefix(caller), '(' .. caller.rank)
return {'ok', tostring(ahead + 1)}
