-- ARGV: 2 counselor ID, 3 'wrap_up' or 'available' (Go compares the
-- times), 4-5 end of wrap-up, 6-7 now.
local c = load_counselor(ARGV[2])
if not c then
  return {'unknown_counselor'}
end
if c.state ~= 'on_call' then
  return {'transition', c.state}
end
local wrap, now = stamp(ARGV[4], ARGV[5]), stamp(ARGV[6], ARGV[7])

local next
if c.logout then
  next = logged_out(c)
elseif ARGV[3] == 'available' then
  next = fresh(c, 'available')
  next.idle = now
else
  next = fresh(c, 'wrap_up')
  next.idle = wrap
  next.wrap = wrap
end

save_counselor(next, c.state, now)
if next.state ~= 'logged_out' then
  wake('')
end
return {'ok'}
