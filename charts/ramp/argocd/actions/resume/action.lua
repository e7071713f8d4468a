-- ramp.dev/pause: "false" resumes a paused rollout. The annotation is set to
-- "false" rather than removed: Argo CD turns an emptied annotations table
-- back into the live annotations, so removing the last one would not patch.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ramp.dev/pause"] = "false"
return obj
