-- ARGV: 2 call ID. Returns the caller JSON as it was.
local raw = redis.call('HGET', CALLERS, ARGV[2])
if not raw then
  return {'not_waiting'}
end
remove_caller(cjson.decode(raw))
return {'ok', raw}
