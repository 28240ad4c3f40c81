-- An agent (or a supervisor or an admin for them) changes presence: available, break or offline.
-- offered, on_call and wrap_up are the router's to set. A: agent, state.
--
-- On a call the caller is never cut off: break or offline is kept as the state to take when the
-- call (and its wrap-up) ends ('after_call' on the agent, answered with status 'after_call');
-- available cancels it (she changed her mind). In wrap-up a change applies at once and drops
-- whatever was pending; so does any change while not on a call.
local ag = load_agent(A.agent)
if not ag then return finish('unknown_agent') end
local target, from = A.state, ag.state
if target ~= 'available' and target ~= 'break' and target ~= 'offline' then
  return finish('invalid_state', {state = from})
end
if from == 'on_call' then
  local before = pending_state(ag) or ''
  local after = target
  if target == 'available' then after = '' end
  if after ~= before then
    if after == '' then
      clear_after_call(ag)
    else
      redis.call('HSET', k('agent', ag.id), 'after_call', after)
    end
    local ev = emit('agent_state_after_call', '', ag.id, {state = from, after_call = after,
                                                         previous = before, call = ag.call})
    publish_to_agent(ag.id, ev)
  end
  return finish('after_call', {state = from, after_call = after, call = ag.call})
end
clear_after_call(ag)
if from == target then return finish('unchanged', {state = from}) end
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
