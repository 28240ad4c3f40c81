-- An urgent-team member took the call from the alert on her phone: it leaves the queues, and an
-- agent it was being offered to has the offer withdrawn. A: call, member.
local c = load_call(A.call)
if not c then return finish('unknown_call') end
local taken = {waited = NOW - tonumber(c.enqueued_at), risk = c.risk, flags = c.flags}
if c.status == 'offered' then
  local ag = load_agent(c.agent)
  local ev = emit('offer_withdrawn', c.id, ag.id, {reason = 'taken_by_team'})
  publish_to_agent(ag.id, ev)
  release_offered_agent(ag, 0)
  close_call(c, 'taken')
  emit('taken_by_team', c.id, A.member, taken)
  dispatch_agent(ag)
  return finish('taken')
end
if c.status == 'waiting' then
  close_call(c, 'taken')
  emit('taken_by_team', c.id, A.member, taken)
  return finish('taken')
end
return finish('not_waiting', {call_status = c.status})
