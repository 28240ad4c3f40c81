-- Shared head of every routing script: arguments, keys, agents, events.
--
-- Calling convention (routing/lua.py): KEYS[1] is the key prefix (all routing keys share one
-- cluster hash tag, so keys built here land on the same shard); ARGV[1] is `now` in epoch
-- seconds (the caller's clock, never the server's: simulations and tests control time);
-- ARGV[2] the router-wide settings as JSON; ARGV[3] the operation's arguments as JSON.
local P = KEYS[1]
local NOW = tonumber(ARGV[1])
local CFG = cjson.decode(ARGV[2])
local A = cjson.decode(ARGV[3])
local EVENTS = {}

local function k(...)
  return P .. ':' .. table.concat({...}, ':')
end

-- Lists are stored as ",a,b," so membership is one plain find.
local function has(list, item)
  return list ~= nil and list ~= false and string.find(list, ',' .. item .. ',', 1, true) ~= nil
end

local function words(s)
  local t = {}
  if s then
    for w in string.gmatch(s, '[^,]+') do t[#t + 1] = w end
  end
  return t
end

local function num(v, default)
  local n = tonumber(v)
  if n == nil then return default end
  return n
end

-- Every transition records what it did as events: into the outbox (redelivered by the sweeper
-- if the process dies before handing them on) and into the script's reply.
local function emit(kind, call, agent, data)
  local id = redis.call('INCR', k('seq'))
  local ev = {id = id, kind = kind, call = call or '', agent = agent or '', at = NOW,
              data = data or {}}
  redis.call('HSET', k('outbox', 'data'), id, cjson.encode(ev))
  redis.call('ZADD', k('outbox'), NOW + CFG.outbox_grace, id)
  EVENTS[#EVENTS + 1] = ev
  return ev
end

local function publish_to_agent(aid, ev)
  redis.call('PUBLISH', CFG.channel .. aid, cjson.encode(ev))
end

local function stat(field, amount)
  local key = k('stats', math.floor((NOW + CFG.day_offset) / 86400))
  redis.call('HINCRBYFLOAT', key, field, amount or 1)
  redis.call('EXPIRE', key, 3 * 86400)
end

local function finish(status, result)
  return cjson.encode({status = status, result = result or {}, events = EVENTS})
end

-- Agents ------------------------------------------------------------------------------------

-- after_call: 'break' or 'offline' asked for during a call, taken when the call (and its
-- wrap-up) ends instead of available; absent otherwise (see lib_calls.lua's after_call_over).
local AGENT_FIELDS = {'state', 'since', 'idle_since', 'call', 'langs', 'specs', 'queues',
                      'missed', 'wrap_until', 'after_call'}

local function load_agent(aid)
  local v = redis.call('HMGET', k('agent', aid), unpack(AGENT_FIELDS))
  if not v[1] then return nil end
  local ag = {id = aid}
  for i, f in ipairs(AGENT_FIELDS) do ag[f] = v[i] end
  return ag
end

-- An available agent is indexed in one sorted set per skill (score: idle since), so the
-- longest-idle qualified agent is found by walking the smallest set and probing the others.
local function avail_keys(ag)
  local keys = {k('avail', 'all')}
  for _, q in ipairs(words(ag.queues)) do keys[#keys + 1] = k('avail', 'q', q) end
  for _, l in ipairs(words(ag.langs)) do keys[#keys + 1] = k('avail', 'l', l) end
  for _, s in ipairs(words(ag.specs)) do keys[#keys + 1] = k('avail', 's', s) end
  return keys
end

-- Agents not offline (even on break) staff their queues: a call to a queue nobody staffs
-- overflows at once instead of waiting out the maximum wait.
local function set_presence(ag, present)
  for _, q in ipairs(words(ag.queues)) do
    if present then
      redis.call('SADD', k('present', q), ag.id)
    else
      redis.call('SREM', k('present', q), ag.id)
    end
  end
end

local function unindex_agent(ag)
  for _, key in ipairs(avail_keys(ag)) do redis.call('ZREM', key, ag.id) end
end

-- Agents in wrap-up are indexed by when it ends: a call that cannot wait (see lib_calls.lua's
-- yields_wrap_up) is offered to one of them when nobody is available.
local function leave_wrap_up(ag)
  redis.call('ZREM', k('timers'), 'wrap|' .. ag.id)
  redis.call('ZREM', k('wrapping'), ag.id)
end

local function agent_available(ag, idle_since)
  if ag.state == 'wrap_up' then leave_wrap_up(ag) end
  redis.call('HSET', k('agent', ag.id), 'state', 'available', 'since', NOW,
             'idle_since', idle_since, 'call', '')
  for _, key in ipairs(avail_keys(ag)) do redis.call('ZADD', key, idle_since, ag.id) end
  set_presence(ag, true)
  ag.state = 'available'
  ag.idle_since = idle_since
  ag.call = ''
end

-- The state she asked to take after her call, or nil.
local function pending_state(ag)
  if ag.after_call == 'break' or ag.after_call == 'offline' then return ag.after_call end
  return nil
end

local function clear_after_call(ag)
  if ag.after_call and ag.after_call ~= '' then
    redis.call('HDEL', k('agent', ag.id), 'after_call')
  end
  ag.after_call = ''
end

-- Any state but available: leaves the availability index.
local function agent_to(ag, state, call)
  if ag.state == 'available' then unindex_agent(ag) end
  if ag.state == 'wrap_up' and state ~= 'wrap_up' then leave_wrap_up(ag) end
  redis.call('HSET', k('agent', ag.id), 'state', state, 'since', NOW, 'call', call or '')
  set_presence(ag, state ~= 'offline')
  ag.state = state
  ag.call = call or ''
end
