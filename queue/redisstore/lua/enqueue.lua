-- ARGV: 2 call ID, 3 caller JSON, 4 rank, 5 queue name.
if redis.call('HEXISTS', CALLERS, ARGV[2]) == 1 then
  return {'already_queued'}
end
redis.call('HSET', CALLERS, ARGV[2], ARGV[3])
redis.call('ZADD', WAITING, 0, ARGV[4])
wake(ARGV[5])
return {'ok'}
