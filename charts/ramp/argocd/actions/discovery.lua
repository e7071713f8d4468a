-- Argo CD resource actions of a ramp.dev/v1alpha1 Rollout: each one sets an
-- SRE annotation, and is enabled only where the Ramp controller acts on it.
local actions = {}
local st = obj.status or {}
local annotations = obj.metadata.annotations or {}

-- The spellings of true that ramp.dev/pause understands (Lua's string
-- library, which could lower-case, is not opened by Argo CD).
local truths = {
  ["true"] = true, ["True"] = true, ["TRUE"] = true,
  ["yes"] = true, ["Yes"] = true, ["YES"] = true,
  ["on"] = true, ["On"] = true, ["ON"] = true,
  ["y"] = true, ["Y"] = true, ["t"] = true, ["T"] = true, ["1"] = true,
}

local function condition(type)
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

local function set(value)
  return value ~= nil and value ~= ""
end

local rollingBack = set(st.rollbackReason)
-- A canary revision moving through its steps (held or not).
local inFlight = set(st.canaryRevision) and st.phase ~= "RolledBack" and st.phase ~= "Failed" and not rollingBack
-- Checks watching the last promotion, while the old color keeps its pods.
local watching = st.phase == "Healthy" and st.postPromotionUntil ~= nil

local pausedCond = condition("Paused")
local paused = truths[annotations["ramp.dev/pause"]] == true
  or (pausedCond ~= nil and pausedCond.status == "True" and pausedCond.reason == "PausedByAnnotation")

-- The current step is a gate that ramp.dev/promote opens: pause: {}
-- without approvals (those need kubectl ramp approve), not passed yet.
local atGate = false
if inFlight and obj.spec.steps ~= nil and st.gatePassed ~= true then
  local step = obj.spec.steps[(st.currentStep or 0) + 1]
  if step ~= nil and step.pause ~= nil then
    atGate = step.pause.approvals == nil or step.pause.approvals == 0
  end
end

actions["pause"] = {["disabled"] = not inFlight or paused, ["iconClass"] = "fa fa-fw fa-pause-circle"}
actions["resume"] = {["disabled"] = not paused, ["iconClass"] = "fa fa-fw fa-play-circle"}
actions["promote"] = {["disabled"] = not atGate, ["iconClass"] = "fa fa-fw fa-forward"}
actions["promote-full"] = {["disabled"] = not inFlight or st.promoteFull == true, ["iconClass"] = "fa fa-fw fa-angle-double-right"}
actions["abort"] = {["disabled"] = not (inFlight or watching), ["iconClass"] = "fa fa-fw fa-times-circle"}
actions["retry"] = {["disabled"] = st.phase ~= "RolledBack" or not set(st.canaryRevision), ["iconClass"] = "fa fa-fw fa-redo-alt"}

return actions
