-- The agent declines the offer: the call goes to the next agent, never back to this one
-- within the cool-down. A: call, agent.
local c = load_call(A.call)
if not c then return finish('unknown_call') end
if c.status ~= 'offered' or c.agent ~= A.agent then
  return finish('offer_not_current', {call_status = c.status})
end
local ag = load_agent(A.agent)
mark_declined(c, ag.id)
redis.call('HSET', k('agent', ag.id), 'missed', 0)
emit('offer_rejected', c.id, ag.id, {})
stat('rejects')
release_offered_agent(ag, 0)
requeue(c)
dispatch_agent(ag)
return finish('rejected', {call_status = c.status, agent = c.agent})
