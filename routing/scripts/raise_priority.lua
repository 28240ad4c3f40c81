-- Raise a waiting call's risk or priority (never lower: only a human may lower, elsewhere).
-- A: call, risk, risk_rank, priority, flags (",a,b," to add), escalation, urgent_rank (the
--    risk rank from which a call waits neither for her language nor for a specialist; a silent
--    call never does).
local c = load_call(A.call)
if not c then return finish('unknown_call') end
if c.status ~= 'waiting' and c.status ~= 'offered' then
  return finish('not_waiting', {call_status = c.status})
end
local old_priority, old_rank = tonumber(c.priority), tonumber(c.risk_rank)
local priority = math.max(old_priority, A.priority)
local risk, rank = c.risk, old_rank
if A.risk_rank > old_rank then risk, rank = A.risk, A.risk_rank end
local old_flags = c.flags
local flags = c.flags
for _, f in ipairs(words(A.flags)) do
  if not has(flags, f) then
    if flags == '' then flags = ',' end
    flags = flags .. f .. ','
  end
end
local score = tonumber(c.enqueued_at) - priority / tonumber(c.rate)
redis.call('HSET', k('call', c.id), 'priority', priority, 'risk', risk, 'risk_rank', rank,
           'score', score, 'flags', flags)
c.score, c.priority, c.risk, c.flags = score, priority, risk, flags
if c.status == 'waiting' then
  redis.call('ZADD', k('bucket', c.bucket), score, c.id)
end
if priority ~= old_priority or rank ~= old_rank or flags ~= old_flags then
  emit('priority_raised', c.id, '', {risk = risk, priority = priority, flags = flags,
                                    from_priority = old_priority})
end
if rank >= A.urgent_rank or has(flags, 'silent') then stop_waiting_for_skills(c) end
if A.escalation then start_escalation(A.escalation) end
return finish('raised', {call_status = c.status, priority = priority, risk = risk})
