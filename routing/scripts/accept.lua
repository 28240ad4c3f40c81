-- The agent takes the call offered to them. A: call, agent.
local c = load_call(A.call)
if not c then return finish('unknown_call') end
if c.status == 'answered' and c.agent == A.agent then
  return finish('already_accepted', {call_status = c.status, agent = c.agent})
end
if c.status ~= 'offered' or c.agent ~= A.agent then
  return finish('offer_not_current', {call_status = c.status})
end
local ag = load_agent(A.agent)
local waited = NOW - tonumber(c.enqueued_at)
clear_call_timers(c.id)
redis.call('ZREM', k('waiting'), c.id)
redis.call('DEL', k('call', c.id, 'declined'))
redis.call('HSET', k('call', c.id), 'status', 'answered', 'answered_at', NOW, 'waited', waited)
agent_to(ag, 'on_call', c.id)
redis.call('HSET', k('agent', ag.id), 'missed', 0)
stat('answered')
stat('wait_total', waited)
if waited <= CFG.service_level then stat('answered_in_sl') end
-- The language she needs an interpreter for with this agent (set when the offer was made),
-- for the console and the call's record; conferencing one in is the telephony's.
local interpreter = redis.call('HGET', k('call', c.id), 'interpreter_needed')
if interpreter == '' then interpreter = false end
emit('answered', c.id, ag.id, {waited = waited, attempt = num(c.attempts, 1),
                              risk = c.risk, queue = c.queue, flags = c.flags,
                              interpreter_needed = interpreter})
return finish('answered', {call_status = 'answered', agent = ag.id, waited = waited,
                           interpreter_needed = interpreter})
