-- ARGV: 2 call ID, 3 priority (decimal), 4 priority part of the rank.
-- Returns the caller JSON as it is now.
local caller = load_caller(ARGV[2])
if not caller then
  return {'not_waiting'}
end
local prefix = queue_prefix(caller)
local rank = prefix .. ARGV[4] .. string.sub(caller.rank, #prefix + 17)
redis.call('ZREM', WAITING, caller.rank)
redis.call('ZADD', WAITING, 0, rank)
caller.rank = rank
caller.prio = ARGV[3]
local raw = save_caller(caller)
wake(caller.queue)
return {'ok', raw}
