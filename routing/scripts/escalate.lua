-- Start an urgent-team ladder. A: escalation (id, team, reason, call, tiers, alert_tier,
-- repeat_s).
local started = start_escalation(A.escalation)
local e = load_escalation(A.escalation.id)
if not started then
  return finish('duplicate', {escalation_status = e.status, tier = tonumber(e.tier)})
end
return finish('started', {escalation_status = e.status, tier = tonumber(e.tier)})
