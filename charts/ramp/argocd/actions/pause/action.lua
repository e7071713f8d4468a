-- ramp.dev/pause: "true" holds the rollout at its weight; checks go on and
-- a breach still rolls back.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ramp.dev/pause"] = "true"
return obj
