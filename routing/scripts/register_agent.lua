-- Create an agent (offline) or update their skills. A: agent, langs, specs, queues.
-- Every process re-registers the active agents when it starts its router, so a state asked
-- for after a call survives while that call (or its wrap-up) lasts; any other is stale.
local ag = load_agent(A.agent)
local key = k('agent', A.agent)
if ag and ag.state ~= 'on_call' and ag.state ~= 'wrap_up' and ag.state ~= 'offered' then
  clear_after_call(ag)
end
if ag and ag.state == 'available' then unindex_agent(ag) end
if ag then set_presence(ag, false) end
redis.call('HSET', key, 'langs', A.langs, 'specs', A.specs, 'queues', A.queues)
redis.call('SADD', k('agents'), A.agent)
if not ag then
  redis.call('HSET', key, 'state', 'offline', 'since', NOW, 'idle_since', NOW, 'missed', 0,
             'call', '', 'wrap_until', 0)
  return finish('created', {state = 'offline'})
end
ag = load_agent(A.agent)
set_presence(ag, ag.state ~= 'offline')
if ag.state == 'available' then
  agent_available(ag, num(ag.idle_since, NOW))
  dispatch_agent(ag)
end
return finish('updated', {state = ag.state})
