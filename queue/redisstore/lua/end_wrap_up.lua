-- ARGV: 2 counselor ID, 3-4 now.
local c = load_counselor(ARGV[2])
if not c then
  return {'unknown_counselor'}
end
if c.state ~= 'wrap_up' then
  return {'transition', c.state}
end
save_counselor(available_from(c, stamp(ARGV[3], ARGV[4])), c.state, stamp(ARGV[3], ARGV[4]))
wake('')
return {'ok'}
