-- ARGV: 2 call ID, 3 strategy, 4-5 now, 6 day of now (YYYY-MM-DD), 7 node
-- making the offer, 8 JSON array of excluded IDs, 9 JSON array of
-- [candidate ID, skill level] pairs (empty allows every counselor).
-- Returns the queue name and the reserved counselor IDs.
local caller = load_caller(ARGV[2])
if not caller then
  return {'not_waiting'}
end
if caller.offered_to then
  return {'offer_pending', caller.offered_to}
end
local strategy, now, today, node = ARGV[3], stamp(ARGV[4], ARGV[5]), ARGV[6], ARGV[7]

local excluded = {}
for _, id in ipairs(cjson.decode(ARGV[8])) do
  excluded[id] = true
end
local levels, limited = {}, false
for _, candidate in ipairs(cjson.decode(ARGV[9])) do
  levels[candidate[1]] = candidate[2]
  limited = true
end

-- Candidates in ID order. pos is the place of the ID among every offerable
-- counselor, which round_robin compares with the place of its last pick.
local found = {}
for pos, id in ipairs(redis.call('ZRANGE', OFFERABLE, 0, -1)) do
  if not excluded[id] and (not limited or levels[id] ~= nil) then
    local c = load_counselor(id)
    if c and offerable(c, now) then
      table.insert(found, {c = c, pos = pos, level = levels[id] or 0, idle = idle_since(c)})
    end
  end
end
if #found == 0 then
  return {'no_counselor'}
end

-- Every order ends with the ID, so each is total.
local function by_idle(a, b)
  if not same_time(a.idle, b.idle) then
    return before(a.idle, b.idle)
  end
  return a.pos < b.pos
end

local function answered(c)
  if c.day == today then
    return c.answered or 0
  end
  return 0
end

local less
if strategy == '' or strategy == 'longest_idle' or strategy == 'ring_all' then
  less = by_idle
elseif strategy == 'fewest_calls' then
  less = function(a, b)
    local x, y = answered(a.c), answered(b.c)
    if x ~= y then
      return x < y
    end
    return by_idle(a, b)
  end
elseif strategy == 'skills' then
  less = function(a, b)
    if a.level ~= b.level then
      return a.level > b.level
    end
    return by_idle(a, b)
  end
elseif strategy ~= 'round_robin' then
  return {'unknown_strategy'}
end

local picked
if strategy == 'round_robin' then
  -- The first candidate after the last pick in ID order, else the first.
  local last = redis.call('HGET', ROUND_ROBIN, caller.queue)
  local up_to_last = 0
  if last then
    up_to_last = redis.call('ZLEXCOUNT', OFFERABLE, '-', '[' .. last)
  end
  picked = {found[1]}
  for _, candidate in ipairs(found) do
    if candidate.pos > up_to_last then
      picked = {candidate}
      break
    end
  end
elseif strategy == 'ring_all' then
  table.sort(found, less)
  picked = found
else
  local best = found[1]
  for i = 2, #found do
    if less(found[i], best) then
      best = found[i]
    end
  end
  picked = {best}
end

local ids = {}
for _, candidate in ipairs(picked) do
  local c = candidate.c
  local from = c.state
  c.idle = candidate.idle
  c.state = 'offered'
  c.offer = caller.id
  c.wrap = nil
  c.node = node
  save_counselor(c, from, now)
  table.insert(ids, c.id)
end
if strategy == 'round_robin' then
  redis.call('HSET', ROUND_ROBIN, caller.queue, ids[1])
end

caller.offered_to = ids[1]
if strategy == 'ring_all' then
  caller.offered_all = ids
end
save_caller(caller)
return {'ok', caller.queue, ids}
