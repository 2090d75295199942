-- KEYS: 1 reclaim lock of a node. ARGV: 1 claimant, 2 lock time in
-- milliseconds. Returns 1 when the claimant holds the lock now, else 0.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
