-- Argo CD health of a ramp.dev/v1alpha1 Rollout, read from what the Ramp
-- controller writes in its status: phase, message and conditions. It uses
-- only Lua's base library: Argo CD opens no other for a health check from
-- argocd-cm unless useOpenLibs is set.
local hs = {}

local function result(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local function condition(st, type)
  if st.conditions == nil then
    return nil
  end
  for _, c in ipairs(st.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local st = obj.status
if st == nil or st.phase == nil or st.phase == "" then
  return result("Progressing", "waiting for the Ramp controller to observe the Rollout")
end
local message = st.message or ""

-- A status decided from an older generation says nothing of the spec in Git.
local generation = obj.metadata.generation
if generation ~= nil and (st.observedGeneration == nil or st.observedGeneration < generation) then
  local observed = st.observedGeneration or 0
  return result("Progressing", "waiting for the Ramp controller to observe generation " .. generation .. " (status is of generation " .. observed .. ")")
end

-- Nothing moves without a person or a new revision.
local valid = condition(st, "Valid")
if valid ~= nil and valid.status == "False" then
  return result("Degraded", valid.message or message)
end
if st.phase == "Failed" or st.phase == "RolledBack" then
  return result("Degraded", message)
end
-- A rollback is decided and the routes do not carry 0 % canary yet.
if st.rollbackReason ~= nil and st.rollbackReason ~= "" then
  return result("Degraded", message)
end

if st.phase == "Paused" then
  local paused = condition(st, "Paused")
  local reason = ""
  if paused ~= nil and paused.status == "True" then
    reason = paused.reason
  end
  -- Waiting for a person (ramp.dev/promote, approvals) or for a deploy
  -- window to open: Argo CD's Suspended.
  if reason == "Gate" or reason == "DeployWindow" then
    return result("Suspended", message)
  end
  -- Held by ramp.dev/pause, undecided checks or a route not in effect yet:
  -- the rollout is still in flight, and checks go on.
  return result("Progressing", message)
end

if st.phase == "Progressing" then
  return result("Progressing", message)
end

if st.phase == "Healthy" then
  -- Ready is True only when the stable color serves the spec's revision
  -- with all its ready pods.
  local ready = condition(st, "Ready")
  if ready ~= nil and ready.status == "True" then
    return result("Healthy", message)
  end
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    return result("Progressing", ready.message)
  end
  return result("Progressing", message)
end

return result("Unknown", "unknown phase " .. tostring(st.phase) .. ": " .. message)
