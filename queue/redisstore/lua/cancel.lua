-- ARGV: 2 call ID, 3 counselor ID, 4 JSON array of the reserved counselor
-- IDs, 5-6 now.
if redis.call('HEXISTS', COUNSELORS, ARGV[3]) == 0 then
  return {'unknown_counselor'}
end
if release(ARGV[2], cjson.decode(ARGV[4]), stamp(ARGV[5], ARGV[6])) then
  wake('')
end
return {'ok'}
