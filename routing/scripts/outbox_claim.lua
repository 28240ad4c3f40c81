-- Lease undelivered events whose first delivery should have happened by now (the process
-- that made them died or failed): they are delivered at least once. A: limit.
local ids = redis.call('ZRANGEBYSCORE', k('outbox'), '-inf', NOW, 'LIMIT', 0, A.limit)
local bodies = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', k('outbox'), NOW + CFG.outbox_grace, id)
  local body = redis.call('HGET', k('outbox', 'data'), id)
  if body then
    bodies[#bodies + 1] = body
  else
    redis.call('ZREM', k('outbox'), id)
  end
end
return cjson.encode({status = 'claimed', result = {bodies = bodies}, events = {}})
