-- The call ended (caller hung up, or the conversation finished). A: call.
local c = load_call(A.call)
if not c then return finish('unknown_call') end
local status = c.status
if status == 'waiting' then
  abandon(c)
  return finish('abandoned', {call_status = 'abandoned'})
end
if status == 'offered' then
  local ag = load_agent(c.agent)
  local ev = emit('offer_withdrawn', c.id, ag.id, {reason = 'caller_hung_up'})
  publish_to_agent(ag.id, ev)
  release_offered_agent(ag, 0)
  abandon(c)
  dispatch_agent(ag)
  return finish('abandoned', {call_status = 'abandoned'})
end
if status == 'answered' then
  local ag = load_agent(c.agent)
  close_call(c, 'completed')
  -- Her console learns at once that the caller is gone (she may still be mid-sentence).
  publish_to_agent(ag.id, emit('completed', c.id, ag.id, {}))
  if ag.state == 'on_call' and ag.call == c.id then
    start_wrap_up(ag)
    dispatch_agent(ag)
  end
  return finish('completed', {call_status = 'completed', agent = ag.id})
end
return finish('already_ended', {call_status = status})
