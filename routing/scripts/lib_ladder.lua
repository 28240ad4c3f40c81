-- Escalation ladders: ring a tier of the urgent-response team at once, climb after a delay,
-- and keep ringing the top tier (with a supervisor alert each round) until a human answers.

local ESC_FIELDS = {'status', 'team', 'reason', 'call', 'tier', 'round', 'next_at', 'tiers',
                    'alert_tier', 'repeat_s', 'started_at', 'acked_by', 'rang', 'urgent_dialled'}

local function load_escalation(eid)
  local v = redis.call('HMGET', k('esc', eid), unpack(ESC_FIELDS))
  if not v[1] then return nil end
  local e = {id = eid}
  for i, f in ipairs(ESC_FIELDS) do e[f] = v[i] end
  return e
end

-- The call's log is where a ladder's steps belong; an alarm without a call logs under the
-- escalation id.
local function escalation_subject(e)
  if e.call and e.call ~= '' then return e.call end
  return e.id
end

-- A member off the console is called on her phone: at once when she is not signed in, and at
-- the next step when she was rung and did not acknowledge within the tier's delay. Each member
-- is called once per escalation (the set lives as long as the escalation's hash).
local function call_members(e, subject, members)
  local called = k('esc', e.id, 'called')
  for _, m in ipairs(members) do
    if redis.call('SADD', called, m) == 1 then
      emit('call_member', subject, m, {escalation = e.id, team = e.team, call = e.call or ''})
    end
  end
end

local function signed_out(member)
  local state = redis.call('HGET', k('agent', member), 'state')
  return (not state) or state == 'offline'
end

local function ladder_step(e)
  local tiers = cjson.decode(e.tiers)
  local tier, round = tonumber(e.tier), tonumber(e.round)
  local subject = escalation_subject(e)
  if tier < #tiers then tier = tier + 1 else round = round + 1 end
  if round > tonumber(e.round) then
    -- Another round of the top tier: its members are phoned again, as the consoles ring again.
    redis.call('DEL', k('esc', e.id, 'called'))
  end
  if e.rang and e.rang ~= '' then
    -- Rung at the last step and nobody acknowledged within its delay.
    call_members(e, subject, cjson.decode(e.rang))
  end
  local members = tiers[tier].members
  local roster = k('team', e.team, 'oncall')
  local use_roster = redis.call('EXISTS', roster) == 1
  local ringing = {}
  for _, m in ipairs(members) do
    if not use_roster or redis.call('SISMEMBER', roster, m) == 1 then
      ringing[#ringing + 1] = m
    end
  end
  if #ringing == 0 then
    -- Better to ring someone off the rota than nobody.
    ringing = members
    emit('escalation_tier_unstaffed', subject, '', {escalation = e.id, team = e.team,
                                                   tier = tier})
  end
  local delay = tiers[tier].delay
  if tier == #tiers then delay = tonumber(e.repeat_s) end
  local next_at = NOW + delay
  redis.call('HSET', k('esc', e.id), 'tier', tier, 'round', round, 'next_at', next_at,
             'last_step_at', NOW, 'rang', cjson.encode(ringing))
  redis.call('ZADD', k('timers'), next_at, 'ladder|' .. e.id)
  emit('escalation_step', subject, '', {escalation = e.id, team = e.team, tier = tier,
                                       round = round, ringing = ringing, next_at = next_at})
  for _, m in ipairs(ringing) do
    emit('ring', subject, m, {escalation = e.id, team = e.team, tier = tier, round = round})
  end
  local away = {}
  for _, m in ipairs(ringing) do
    if signed_out(m) then away[#away + 1] = m end
  end
  call_members(e, subject, away)
  redis.call('EXPIRE', k('esc', e.id, 'called'), CFG.ended_ttl + delay)
  if round > 0 and e.urgent_dialled ~= '1' then
    -- The whole ladder was tried and nobody took it: the line's urgent service is called.
    redis.call('HSET', k('esc', e.id), 'urgent_dialled', '1')
    emit('dial_urgent_number', subject, '', {escalation = e.id, team = e.team,
                                            call = e.call or ''})
  end
  if tier >= tonumber(e.alert_tier) or round > 0 then
    emit('escalation_supervisor_alert', subject, '', {escalation = e.id, team = e.team,
                                                     tier = tier, round = round,
                                                     waited = NOW - tonumber(e.started_at)})
  end
end

-- Starts a ladder unless one with this id exists (alarms and webhooks are retried).
local function start_escalation(spec)
  local key = k('esc', spec.id)
  if redis.call('EXISTS', key) == 1 then return false end
  redis.call('HSET', key, 'status', 'active', 'team', spec.team, 'reason', spec.reason,
             'call', spec.call, 'tier', 0, 'round', 0, 'next_at', NOW,
             'tiers', cjson.encode(spec.tiers), 'alert_tier', spec.alert_tier,
             'repeat_s', spec.repeat_s, 'started_at', NOW, 'acked_by', '')
  redis.call('ZADD', k('escalations'), NOW, spec.id)
  local e = load_escalation(spec.id)
  emit('escalation_started', escalation_subject(e), '', {escalation = spec.id, team = spec.team,
                                                        reason = spec.reason})
  ladder_step(e)
  return true
end
