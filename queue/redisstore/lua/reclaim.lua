-- ARGV: 2 node ID, 3-4 now. Returns the removed callers' JSON, the
-- counselors whose offer was released, and the counselors on a call held by
-- the node. It walks every caller and counselor, which is fine for a step
-- that runs once per stopped node.
local node, now = ARGV[2], stamp(ARGV[3], ARGV[4])

local callers = {}
local all_callers = redis.call('HGETALL', CALLERS)
for i = 1, #all_callers, 2 do
  local caller = cjson.decode(all_callers[i + 1])
  if caller.node == node then
    remove_caller(caller)
    table.insert(callers, all_callers[i + 1])
  end
end

local freed, on_call = {}, {}
local all_counselors = redis.call('HGETALL', COUNSELORS)
for i = 1, #all_counselors, 2 do
  local c = cjson.decode(all_counselors[i + 1])
  if c.node == node and c.state == 'offered' then
    release_counselor(c.id, c.offer, now)
    local caller = load_caller(c.offer)
    if caller and contains(offered_set(caller), c.id) then
      caller.offered_to = nil
      caller.offered_all = nil
      save_caller(caller)
    end
    table.insert(freed, c.id)
  elseif c.node == node and c.state == 'on_call' then
    table.insert(on_call, c.id)
  end
end

if #freed > 0 then
  wake('')
end
return {'ok', callers, freed, on_call}
