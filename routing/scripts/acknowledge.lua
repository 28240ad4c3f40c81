-- A human answers the ladder: it stops. A: escalation, agent, offer_call.
-- With ``offer_call`` (she answered at her console) the woman's call, still waiting, is offered
-- to her at once unless she is on another call: whoever answers the ring gets the woman too,
-- whatever her queues and languages (an interpreter is flagged as for any offer).
local e = load_escalation(A.escalation)
if not e then return finish('unknown_escalation') end
if e.status ~= 'active' then
  return finish('already_acknowledged', {acknowledged_by = e.acked_by})
end
redis.call('HSET', k('esc', e.id), 'status', 'acknowledged', 'acked_by', A.agent, 'acked_at', NOW)
redis.call('ZREM', k('timers'), 'ladder|' .. e.id)
redis.call('ZREM', k('escalations'), e.id)
redis.call('EXPIRE', k('esc', e.id), CFG.ended_ttl)
emit('escalation_acknowledged', escalation_subject(e), A.agent, {
  escalation = e.id, team = e.team, tier = tonumber(e.tier), round = tonumber(e.round),
  waited = NOW - tonumber(e.started_at)})
local call_offered = false
if A.offer_call and e.call and e.call ~= '' then
  local c = load_call(e.call)
  local ag = load_agent(A.agent)
  local free = ag and (ag.state == 'available' or ag.state == 'break' or ag.state == 'offline'
                       or (ag.state == 'wrap_up' and not pending_state(ag)))
  if c and c.status == 'waiting' and free then
    if ag.state == 'break' or ag.state == 'offline' then
      -- Not taking calls (a supervisor at the wallboard, a member on a break): she goes back
      -- to that state after this call, or at once if she lets the offer pass.
      redis.call('HSET', k('agent', ag.id), 'after_call', ag.state)
      ag.after_call = ag.state
    end
    offer(c, ag)
    call_offered = true
  end
end
return finish('acknowledged', {acknowledged_by = A.agent, tier = tonumber(e.tier),
                               call_offered = call_offered})
