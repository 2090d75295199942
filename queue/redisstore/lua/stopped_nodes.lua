-- KEYS: 1 set of known nodes. ARGV: 1 prefix of the liveness keys, which
-- share the hash tag of KEYS[1]. Returns the nodes whose liveness key is gone.
local stopped = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. node) == 0 then
    table.insert(stopped, node)
  end
end
return stopped
