-- ARGV: 2 call ID, 3 counselor ID, 4 JSON array of the reserved counselor
-- IDs, 5-6 now, 7 day of now (YYYY-MM-DD).
local call_id, id, now, today = ARGV[2], ARGV[3], stamp(ARGV[5], ARGV[6]), ARGV[7]
local c = load_counselor(id)
if not c then
  return {'unknown_counselor'}
end
if c.state == 'on_call' and c.call == call_id then
  return {'ok'}
end

local caller = load_caller(call_id)
local held = c.state == 'offered' and c.offer == call_id and caller ~= nil and contains(offered_set(caller), id)
if not held then
  if release(call_id, cjson.decode(ARGV[4]), now) then
    wake('')
  end
  return {'lost'}
end

remove_caller(caller)
local freed = false
for _, other in ipairs(offered_set(caller)) do
  if other ~= id and release_counselor(other, call_id, now) then
    freed = true
  end
end

if c.day == today then
  c.answered = (c.answered or 0) + 1
else
  c.day = today
  c.answered = 1
end
local from = c.state
c.state = 'on_call'
c.call = call_id
c.offer = nil
save_counselor(c, from, now)
if freed then
  wake('')
end
return {'ok'}
