-- ramp.dev/promote passes the current manual gate (pause: {}), once per
-- value.
-- The value is new each time: the time, and one "+" more for each value
-- of this second that is set already or was acted on.
local key = "ramp.dev/promote"
local annotations = obj.metadata.annotations or {}
local spent = nil
if obj.status ~= nil and obj.status.controls ~= nil then
  spent = obj.status.controls.promote
end
local value = "promoted in Argo CD at " .. os.date("!%Y-%m-%dT%H:%M:%SZ")
while value == annotations[key] or value == spent do
  value = value .. "+"
end
annotations[key] = value
obj.metadata.annotations = annotations
return obj
