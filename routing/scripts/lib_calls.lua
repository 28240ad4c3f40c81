-- Calls: buckets of waiting calls, matching, offers and the ways a call leaves the queue.

local CALL_FIELDS = {'status', 'queue', 'lang', 'specs', 'score', 'bucket', 'agent',
                     'enqueued_at', 'overflow_at', 'offer_deadline', 'callback', 'line', 'risk',
                     'risk_rank', 'priority', 'rate', 'flags', 'widen', 'widen_level', 'req_lang',
                     'attempts'}

local function load_call(cid)
  local v = redis.call('HMGET', k('call', cid), unpack(CALL_FIELDS))
  if not v[1] then return nil end
  local c = {id = cid}
  for i, f in ipairs(CALL_FIELDS) do c[f] = v[i] end
  return c
end

-- A bucket holds waiting calls with the same requirements, ordered by virtual arrival time
-- (arrival minus priority head start), so ageing never needs a re-score.
local function bucket_name(c)
  return c.queue .. '|' .. c.lang .. '|' .. c.specs
end

local function park(c)
  local b = bucket_name(c)
  redis.call('ZADD', k('bucket', b), c.score, c.id)
  redis.call('SADD', k('buckets'), b)
  redis.call('HSET', k('call', c.id), 'status', 'waiting', 'bucket', b, 'agent', '')
  c.status = 'waiting'
  c.bucket = b
  c.agent = ''
end

local function unpark(c)
  if c.bucket and c.bucket ~= '' then
    redis.call('ZREM', k('bucket', c.bucket), c.id)
    if redis.call('ZCARD', k('bucket', c.bucket)) == 0 then
      redis.call('SREM', k('buckets'), c.bucket)
    end
    redis.call('HSET', k('call', c.id), 'bucket', '')
    c.bucket = ''
  end
end

local function declined_by(cid, aid)
  local until_at = redis.call('ZSCORE', k('call', cid, 'declined'), aid)
  return until_at and tonumber(until_at) > NOW
end

local function qualifies(ag, queue, lang, specs)
  if not has(ag.queues, queue) then return false end
  if lang ~= '*' and not has(ag.langs, lang) then return false end
  for _, s in ipairs(words(specs)) do
    if not has(ag.specs, s) then return false end
  end
  return true
end

-- Longest-idle available agent holding every skill the call needs (speaking ``lang``) and not
-- in a decline cool-down for it.
local function best_agent_for_call(c, lang)
  local sets = {k('avail', 'q', c.queue)}
  if lang ~= '*' then sets[#sets + 1] = k('avail', 'l', lang) end
  for _, s in ipairs(words(c.specs)) do sets[#sets + 1] = k('avail', 's', s) end
  local smallest, smallest_n = 1, nil
  for i, key in ipairs(sets) do
    local n = redis.call('ZCARD', key)
    if n == 0 then return nil end
    if smallest_n == nil or n < smallest_n then smallest, smallest_n = i, n end
  end
  local start = 0
  while start < smallest_n do
    local batch = redis.call('ZRANGE', sets[smallest], start, start + 63)
    for _, aid in ipairs(batch) do
      local ok = true
      for i, key in ipairs(sets) do
        if i ~= smallest and not redis.call('ZSCORE', key, aid) then
          ok = false
          break
        end
      end
      if ok and not declined_by(c.id, aid) then return aid end
    end
    start = start + 64
  end
  return nil
end

-- A call at the wrap-up risk or above, or a silent one, does not wait for anyone's wrap-up:
-- with nobody available it is offered to an agent writing up her last call.
local function yields_wrap_up(risk_rank, flags)
  return num(risk_rank, -1) >= CFG.wrap_yield_rank or has(flags, 'silent')
end

local function urgent_call(cid)
  local v = redis.call('HMGET', k('call', cid), 'risk_rank', 'flags')
  return yields_wrap_up(v[1], v[2])
end

-- Best waiting call this agent can take: the lowest virtual arrival time over every bucket
-- whose requirements the agent meets (with ``urgent_only``, among calls that do not wait for
-- a wrap-up).
local function best_call_for_agent(ag, urgent_only)
  local best_cid, best_score = nil, nil
  for _, b in ipairs(redis.call('SMEMBERS', k('buckets'))) do
    local queue, lang, specs = string.match(b, '^([^|]*)|([^|]*)|(.*)$')
    if queue and qualifies(ag, queue, lang, specs) then
      local head = redis.call('ZRANGE', k('bucket', b), 0, CFG.scan - 1, 'WITHSCORES')
      for i = 1, #head, 2 do
        local cid, score = head[i], tonumber(head[i + 1])
        if best_score ~= nil and (score > best_score
            or (score == best_score and cid > best_cid)) then
          break
        end
        if not declined_by(cid, ag.id) and (not urgent_only or urgent_call(cid)) then
          best_cid, best_score = cid, score
          break
        end
      end
    end
  end
  return best_cid
end

-- The agent in wrap-up nearest its end who can take the call (never one who asked for a break
-- or to log off after it).
local function wrapping_agent_for_call(c)
  for _, aid in ipairs(redis.call('ZRANGE', k('wrapping'), 0, -1)) do
    local ag = load_agent(aid)
    if ag and ag.state == 'wrap_up' and not pending_state(ag)
        and qualifies(ag, c.queue, c.lang, c.specs) and not declined_by(c.id, aid) then
      return aid
    end
  end
  return nil
end

-- The language she needs an interpreter for with this agent, or false.
local function interpreter_needed(c, ag)
  if c.req_lang ~= '*' and not has(ag.langs, c.req_lang) then return c.req_lang end
  return false
end

local function offer(c, ag)
  unpark(c)
  local interpreter = interpreter_needed(c, ag)
  if interpreter and not has(c.flags, 'interpreter') then
    if c.flags == '' then c.flags = ',' end
    c.flags = c.flags .. 'interpreter,'
    redis.call('HSET', k('call', c.id), 'flags', c.flags)
  end
  redis.call('HSET', k('call', c.id), 'interpreter_needed', interpreter or '')
  local deadline = NOW + CFG.offer_timeout
  local attempts = redis.call('HINCRBY', k('call', c.id), 'attempts', 1)
  redis.call('HSET', k('call', c.id), 'status', 'offered', 'agent', ag.id, 'offered_at', NOW,
             'offer_deadline', deadline)
  c.status, c.agent, c.offer_deadline = 'offered', ag.id, deadline
  agent_to(ag, 'offered', c.id)
  redis.call('ZADD', k('timers'), deadline, 'offer|' .. c.id)
  local ev = emit('offered', c.id, ag.id, {
    expires_at = deadline, attempt = attempts, queue = c.queue, risk = c.risk,
    language = c.req_lang, specialties = c.specs, flags = c.flags,
    interpreter_needed = interpreter, waited = NOW - tonumber(c.enqueued_at)})
  publish_to_agent(ag.id, ev)
  stat('offers')
end

-- A call that does not wait for her language (risk before language) still goes to a free
-- agent who speaks it when there is one, and to any free agent otherwise.
local function dispatch_call(c)
  if c.status ~= 'waiting' then return end
  local aid = nil
  if c.lang == '*' and c.req_lang ~= '*' then aid = best_agent_for_call(c, c.req_lang) end
  if not aid then aid = best_agent_for_call(c, c.lang) end
  if not aid and yields_wrap_up(c.risk_rank, c.flags) then aid = wrapping_agent_for_call(c) end
  if aid then offer(c, load_agent(aid)) end
end

local function dispatch_agent(ag)
  local cid = nil
  if ag.state == 'available' then
    cid = best_call_for_agent(ag, false)
  elseif ag.state == 'wrap_up' and not pending_state(ag) then
    cid = best_call_for_agent(ag, true)
  end
  if cid then offer(load_call(cid), ag) end
end

-- Risk before language: from now on any free agent of the queue may take her (a transfer to
-- a named agent still waits for that agent: her personal skill is kept).
local function stop_waiting_for_skills(c)
  local specs = ''
  for _, s in ipairs(words(c.specs)) do
    if string.sub(s, 1, #CFG.personal_skill) == CFG.personal_skill then
      specs = specs .. ',' .. s
    end
  end
  if specs ~= '' then specs = specs .. ',' end
  if c.lang == '*' and c.specs == specs then return end
  local was_waiting = c.status == 'waiting'
  if was_waiting then unpark(c) end
  redis.call('HSET', k('call', c.id), 'lang', '*', 'specs', specs)
  c.lang, c.specs = '*', specs
  emit('widened', c.id, '', {level = num(c.widen_level, 0), language = '*', specialties = specs,
                            reason = 'urgent'})
  if was_waiting then
    park(c)
    dispatch_call(c)
  end
end

local function clear_call_timers(cid)
  redis.call('ZREM', k('timers'), 'offer|' .. cid, 'widen|' .. cid, 'over|' .. cid,
             'retry|' .. cid)
end

-- Terminal states keep the hash for a day so retried webhooks stay idempotent.
local function close_call(c, status)
  unpark(c)
  clear_call_timers(c.id)
  redis.call('ZREM', k('waiting'), c.id)
  redis.call('DEL', k('call', c.id, 'declined'))
  redis.call('HSET', k('call', c.id), 'status', status, 'ended_at', NOW, 'agent', c.agent or '')
  redis.call('EXPIRE', k('call', c.id), CFG.ended_ttl)
  c.status = status
end

local function overflow(c, reason)
  local waited = NOW - tonumber(c.enqueued_at)
  close_call(c, 'overflowed')
  stat('overflowed')
  emit('overflowed', c.id, '', {line = c.line, queue = c.queue, waited = waited,
                               reason = reason or 'max_wait'})
end

-- Back to waiting after a reject, a missed offer or a withdrawn offer; past the maximum wait
-- the call overflows instead.
local function requeue(c)
  redis.call('ZREM', k('timers'), 'offer|' .. c.id)
  if NOW >= tonumber(c.overflow_at) then
    overflow(c)
    return
  end
  park(c)
  dispatch_call(c)
end

-- Marks the agent as having passed on this call for the cool-down and makes sure the call is
-- looked at again when the cool-down ends.
local function mark_declined(c, aid)
  local until_at = NOW + CFG.cooldown
  redis.call('ZADD', k('call', c.id, 'declined'), until_at, aid)
  redis.call('EXPIRE', k('call', c.id, 'declined'), CFG.ended_ttl)
  redis.call('ZADD', k('timers'), until_at, 'retry|' .. c.id)
end

local function abandon(c)
  local waited = NOW - tonumber(c.enqueued_at)
  close_call(c, 'abandoned')
  stat('abandoned')
  emit('abandoned', c.id, '', {waited = waited, queue = c.queue})
  if c.callback == '1' then
    local created = redis.call('ZADD', k('callbacks'), 'NX', NOW, c.id)
    if created == 1 then
      redis.call('HSET', k('callback', c.id), 'call', c.id, 'line', c.line, 'queue', c.queue,
                 'language', c.req_lang, 'risk', c.risk, 'abandoned_at', NOW, 'waited', waited)
      emit('callback_task_created', c.id, '', {line = c.line})
    end
  end
end

-- Her call and its wrap-up are over: the state she (or an admin) asked for during the call
-- (never offered a call in between), else available. The caller dispatches.
local function after_call_over(ag, from)
  local pending = pending_state(ag)
  if not pending then
    agent_available(ag, NOW)
    return
  end
  clear_after_call(ag)
  agent_to(ag, pending, '')
  local ev = emit('agent_state_changed', '', ag.id, {from = from, to = pending,
                                                     reason = 'after_call'})
  publish_to_agent(ag.id, ev)
end

local function start_wrap_up(ag)
  if CFG.wrap_up <= 0 then
    after_call_over(ag, 'on_call')
    return
  end
  local until_at = NOW + CFG.wrap_up
  agent_to(ag, 'wrap_up', '')
  redis.call('HSET', k('agent', ag.id), 'wrap_until', until_at)
  redis.call('ZADD', k('timers'), until_at, 'wrap|' .. ag.id)
  redis.call('ZADD', k('wrapping'), until_at, ag.id)
end

-- The agent's offer ends without an answer: rejected, missed or withdrawn.
local function release_offered_agent(ag, missed)
  if pending_state(ag) then
    -- Offered while on a break or offline (she answered an escalation's ring): back to it.
    after_call_over(ag, 'offered')
  elseif missed >= CFG.missed_limit then
    agent_to(ag, 'break', '')
    emit('agent_sent_to_break', '', ag.id, {missed = missed, reason = 'missed_offers'})
  else
    agent_available(ag, num(ag.idle_since, NOW))
  end
end
