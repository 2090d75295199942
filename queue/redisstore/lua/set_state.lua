-- ARGV: 2 counselor ID, 3 requested state, 4 reason, 5-6 now.
local c = load_counselor(ARGV[2])
if not c then
  return {'unknown_counselor'}
end
local to, reason, now = ARGV[3], ARGV[4], stamp(ARGV[5], ARGV[6])
local from = c.state
local rejected = {'transition', from}

local next
if from == 'offered' or from == 'on_call' then
  if to ~= 'logged_out' then
    return rejected
  end
  c.logout = true
  next = c
elseif to == 'logged_out' then
  next = logged_out(c)
elseif to == 'available' then
  if from == 'available' then
    return {'ok'}
  end
  next = available_from(c, now)
elseif to == 'break' then
  if from == 'logged_out' then
    return rejected
  end
  c.state = 'break'
  c.reason = reason
  if reason == '' then
    c.reason = nil
  end
  c.wrap = nil
  next = c
else
  return rejected
end

save_counselor(next, from, now)
if next.state == 'available' then
  wake('')
end
return {'ok'}
