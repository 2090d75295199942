-- Helpers shared by every queue script. Go prepends this file to each of
-- them, and every queue script gets the same KEYS and ARGV[1].
--
-- Times are {unix_seconds, nanoseconds} pairs, which a Lua number (a
-- double) represents exactly, unlike Unix nanoseconds. nil means Go's zero
-- time. These scripts never order strings with <, because Lua 5.1 compares
-- strings with strcoll in the locale that redis-server sets at start, while
-- Go compares bytes. ID order comes from sorted sets of equal scores, which
-- Redis orders by bytes.

local CALLERS = KEYS[1]     -- hash: call ID -> caller JSON
local WAITING = KEYS[2]     -- sorted set, all scores 0: caller ranks
local COUNSELORS = KEYS[3]  -- hash: counselor ID -> counselor JSON
local OFFERABLE = KEYS[4]   -- sorted set, all scores 0: IDs of available and wrap_up counselors
local ROUND_ROBIN = KEYS[5] -- hash: queue name -> counselor its last round_robin offer picked
local WAKE = ARGV[1]        -- pub/sub channel for wake-ups

local ZERO = {-62135596800, 0}

local function stamp(seconds, nanoseconds)
  return {tonumber(seconds), tonumber(nanoseconds)}
end

local function before(a, b)
  a = a or ZERO
  b = b or ZERO
  if a[1] ~= b[1] then
    return a[1] < b[1]
  end
  return a[2] < b[2]
end

local function same_time(a, b)
  return not before(a, b) and not before(b, a)
end

local function contains(list, value)
  for _, item in ipairs(list) do
    if item == value then
      return true
    end
  end
  return false
end

local function wake(queue)
  redis.call('PUBLISH', WAKE, queue)
end

local function load_caller(id)
  local raw = redis.call('HGET', CALLERS, id)
  if not raw then
    return nil
  end
  return cjson.decode(raw)
end

local function save_caller(caller)
  local raw = cjson.encode(caller)
  redis.call('HSET', CALLERS, caller.id, raw)
  return raw
end

local function remove_caller(caller)
  redis.call('HDEL', CALLERS, caller.id)
  redis.call('ZREM', WAITING, caller.rank)
end

-- The rank is queue prefix .. priority (16 hex) .. arrival (24 hex) .. call ID.
local function queue_prefix(caller)
  return string.sub(caller.rank, 1, #caller.rank - 40 - #caller.id)
end

-- The counselors ringing for a waiting caller.
local function offered_set(caller)
  if caller.offered_all then
    return caller.offered_all
  end
  if caller.offered_to then
    return {caller.offered_to}
  end
  return {}
end

local function load_counselor(id)
  local raw = redis.call('HGET', COUNSELORS, id)
  if not raw then
    return nil
  end
  return cjson.decode(raw)
end

-- Stores c, with since set to now when c's state differs from prev_state,
-- and keeps the offerable index in step.
local function save_counselor(c, prev_state, now)
  if c.state ~= prev_state then
    c.since = now
  end
  redis.call('HSET', COUNSELORS, c.id, cjson.encode(c))
  if c.state == 'available' or c.state == 'wrap_up' then
    redis.call('ZADD', OFFERABLE, 0, c.id)
  else
    redis.call('ZREM', OFFERABLE, c.id)
  end
end

-- A new record in state for counselor c, keeping what no state change
-- resets: Since (replaced by save_counselor on a change) and the answered
-- count.
local function fresh(c, state)
  return {id = c.id, state = state, since = c.since, answered = c.answered, day = c.day}
end

local function logged_out(c)
  return fresh(c, 'logged_out')
end

-- An offered counselor freed from its caller: logged_out when a logout is
-- pending, else available with its idle time kept.
local function released(c)
  if c.logout then
    return logged_out(c)
  end
  local next = fresh(c, 'available')
  next.idle = c.idle
  return next
end

-- c made available at now. A counselor leaving wrap_up after its end
-- counts as idle since that end.
local function available_from(c, now)
  local next = fresh(c, 'available')
  next.idle = now
  if c.state == 'wrap_up' and before(c.wrap, now) then
    next.idle = c.wrap
  end
  return next
end

local function offerable(c, now)
  if c.state == 'available' then
    return true
  end
  return c.state == 'wrap_up' and not before(now, c.wrap)
end

local function idle_since(c)
  if c.state == 'wrap_up' then
    return c.wrap
  end
  return c.idle
end

-- Frees counselor id when it is still offered for call_id. Returns true
-- when it did.
local function release_counselor(id, call_id, now)
  local c = load_counselor(id)
  if c and c.state == 'offered' and c.offer == call_id then
    save_counselor(released(c), c.state, now)
    return true
  end
  return false
end

-- Frees both sides of a reservation where they still hold it. Returns true
-- when anything changed.
local function release(call_id, ids, now)
  local changed = false
  for _, id in ipairs(ids) do
    if release_counselor(id, call_id, now) then
      changed = true
    end
  end

  local caller = load_caller(call_id)
  if caller and caller.offered_to and contains(ids, caller.offered_to) then
    caller.offered_to = nil
    caller.offered_all = nil
    save_caller(caller)
    changed = true
  end
  return changed
end
