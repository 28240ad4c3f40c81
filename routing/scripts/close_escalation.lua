-- The escalation is over without anyone acknowledging it: its call reached a person and
-- ended, or a person has the caller. A: escalation, reason.
local e = load_escalation(A.escalation)
if not e then return finish('unknown_escalation') end
if e.status ~= 'active' then return finish('not_open', {status = e.status}) end
redis.call('HSET', k('esc', e.id), 'status', 'closed', 'closed_reason', A.reason, 'closed_at', NOW)
redis.call('ZREM', k('timers'), 'ladder|' .. e.id)
redis.call('ZREM', k('escalations'), e.id)
redis.call('EXPIRE', k('esc', e.id), CFG.ended_ttl)
emit('escalation_closed', escalation_subject(e), '', {
  escalation = e.id, team = e.team, reason = A.reason, waited = NOW - tonumber(e.started_at)})
return finish('closed', {reason = A.reason})
