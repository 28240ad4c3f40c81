-- Place a call in its queue and offer it at once if a qualified agent is free.
-- A: call, queue, lang (the language she waits for, '*' for none), req_lang (the language she
--    speaks), specs (the specialties she waits for), req_specs (those she asked for), flags, line, callback, risk, risk_rank, priority, rate,
--    widen ([[after_seconds, drop_language, drop_specialties], ...]), max_wait, escalation,
--    unstaffed_overflow.
local cid = A.call
local key = k('call', cid)
local existing = redis.call('HGET', key, 'status')
if existing then
  return finish('duplicate', {call_status = existing})
end
local callback = '0'
if A.callback then callback = '1' end
redis.call('HSET', key, 'queue', A.queue, 'lang', A.lang, 'req_lang', A.req_lang,
           'specs', A.specs, 'req_specs', A.req_specs, 'flags', A.flags, 'line', A.line,
           'callback', callback,
           'risk', A.risk, 'risk_rank', A.risk_rank, 'priority', A.priority, 'rate', A.rate,
           'score', NOW - A.priority / A.rate, 'enqueued_at', NOW,
           'overflow_at', NOW + A.max_wait, 'widen', cjson.encode(A.widen), 'widen_level', 0,
           'attempts', 0, 'status', 'waiting', 'bucket', '', 'agent', '')
redis.call('ZADD', k('waiting'), NOW, cid)
redis.call('ZADD', k('timers'), NOW + A.max_wait, 'over|' .. cid)
if #A.widen > 0 then
  redis.call('ZADD', k('timers'), NOW + A.widen[1][1], 'widen|' .. cid)
end
stat('enqueued')
emit('enqueued', cid, '', {queue = A.queue, risk = A.risk, priority = A.priority,
                          language = A.req_lang, waits_for_language = A.lang ~= '*',
                          specialties = A.specs, flags = A.flags, line = A.line})
if A.escalation then start_escalation(A.escalation) end
local c = load_call(cid)
if A.unstaffed_overflow and redis.call('SCARD', k('present', A.queue)) == 0 then
  overflow(c, 'unstaffed')
  return finish('enqueued', {call_status = c.status, agent = ''})
end
park(c)
dispatch_call(c)
return finish('enqueued', {call_status = c.status, agent = c.agent})
