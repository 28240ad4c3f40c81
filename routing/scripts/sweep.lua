-- Fire due timers: missed offers, skill widening, overflow, retries after a cool-down, the end
-- of wrap-up and ladder steps. Each timer is taken (ZREM) inside this script, so any number
-- of processes may sweep at once and each timer fires exactly once. A: limit.

local function offer_timed_out(cid)
  local c = load_call(cid)
  if not c or c.status ~= 'offered' then return end
  if tonumber(c.offer_deadline) > NOW then
    redis.call('ZADD', k('timers'), c.offer_deadline, 'offer|' .. cid)
    return
  end
  local ag = load_agent(c.agent)
  mark_declined(c, ag.id)
  local missed = redis.call('HINCRBY', k('agent', ag.id), 'missed', 1)
  local ev = emit('offer_timed_out', c.id, ag.id, {missed = missed})
  publish_to_agent(ag.id, ev)
  stat('offer_timeouts')
  release_offered_agent(ag, missed)
  requeue(c)
  dispatch_agent(ag)
end

local function widen(cid)
  local c = load_call(cid)
  if not c or (c.status ~= 'waiting' and c.status ~= 'offered') then return end
  local steps = cjson.decode(c.widen)
  local level = num(c.widen_level, 0) + 1
  local step = steps[level]
  if not step then return end
  -- Dropping the language lets any agent take the call; the interpreter flag is set when it is
  -- offered to an agent who does not speak it (see offer in lib_calls.lua).
  local lang, specs = c.lang, c.specs
  if step[2] then lang = '*' end
  if step[3] then specs = '' end
  local changed = lang ~= c.lang or specs ~= c.specs
  local was_waiting = changed and c.status == 'waiting'
  if was_waiting then unpark(c) end
  redis.call('HSET', k('call', cid), 'lang', lang, 'specs', specs, 'widen_level', level)
  c.lang, c.specs, c.widen_level = lang, specs, level
  if changed then
    emit('widened', cid, '', {level = level, language = lang, specialties = specs})
  end
  if steps[level + 1] then
    redis.call('ZADD', k('timers'), tonumber(c.enqueued_at) + steps[level + 1][1],
               'widen|' .. cid)
  end
  if was_waiting then
    park(c)
    dispatch_call(c)
  end
end

local function overflow_due(cid)
  local c = load_call(cid)
  if not c then return end
  if c.status == 'waiting' then
    overflow(c)
  elseif c.status == 'offered' then
    -- An offer is out: let it resolve; a requeue past the maximum wait overflows.
    redis.call('ZADD', k('timers'), c.offer_deadline, 'over|' .. cid)
  end
end

local function retry(cid)
  local c = load_call(cid)
  if c and c.status == 'waiting' then dispatch_call(c) end
end

local function wrap_up_over(aid)
  local ag = load_agent(aid)
  if not ag or ag.state ~= 'wrap_up' then return end
  after_call_over(ag, 'wrap_up')
  dispatch_agent(ag)
end

local function ladder_due(eid)
  local e = load_escalation(eid)
  if e and e.status == 'active' then ladder_step(e) end
end

local HANDLERS = {offer = offer_timed_out, widen = widen, over = overflow_due, retry = retry,
                  wrap = wrap_up_over, ladder = ladder_due}

local due = redis.call('ZRANGEBYSCORE', k('timers'), '-inf', NOW, 'LIMIT', 0, A.limit)
for _, member in ipairs(due) do
  redis.call('ZREM', k('timers'), member)
  local sep = string.find(member, '|', 1, true)
  local handler = HANDLERS[string.sub(member, 1, sep - 1)]
  if handler then handler(string.sub(member, sep + 1)) end
end
local left = redis.call('ZCOUNT', k('timers'), '-inf', NOW)
return finish('swept', {fired = #due, left = left})
