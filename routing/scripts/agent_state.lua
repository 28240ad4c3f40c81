-- An agent (or a supervisor for them) changes presence: available, break or offline.
-- offered, on_call and wrap_up are the router's to set. A: agent, state.
local ag = load_agent(A.agent)
if not ag then return finish('unknown_agent') end
local target, from = A.state, ag.state
if target ~= 'available' and target ~= 'break' and target ~= 'offline' then
  return finish('invalid_state', {state = from})
end
if from == target then return finish('unchanged', {state = from}) end
if from == 'on_call' then return finish('agent_on_call', {state = from}) end
local withdrawn = nil
if from == 'offered' then
  withdrawn = load_call(ag.call)
  local ev = emit('offer_withdrawn', withdrawn.id, ag.id, {reason = 'agent_' .. target})
  publish_to_agent(ag.id, ev)
  mark_declined(withdrawn, ag.id)
end
if from == 'wrap_up' then
  redis.call('ZREM', k('timers'), 'wrap|' .. ag.id)
end
if target == 'available' then
  redis.call('HSET', k('agent', ag.id), 'missed', 0)
  agent_available(ag, NOW)
else
  agent_to(ag, target, '')
end
emit('agent_state_changed', '', ag.id, {from = from, to = target})
if withdrawn then requeue(withdrawn) end
dispatch_agent(ag)
return finish('changed', {state = ag.state, call = ag.call})
