-- A human answers the ladder: it stops. A: escalation, agent.
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
return finish('acknowledged', {acknowledged_by = A.agent, tier = tonumber(e.tier)})
