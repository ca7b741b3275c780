-- Argo CD health of an OpsGate OpsRequest (opsgate.dev/v1alpha1).
--
-- Phases map to Argo CD health so a GitOps sync shows where a request stands:
--   Pending, Planning, Approved, Running           -> Progressing
--   AwaitingApproval                               -> Suspended (names the Approval)
--   Succeeded, Answered                            -> Healthy
--   Denied, NeedsInfo, Failed, Rejected, Expired   -> Degraded (why: the Ready condition,
--                                                    else the policy decision)
-- A request the controller has not seen yet (no status) or has not seen at its current
-- generation (status.observedGeneration < metadata.generation) is Progressing: its status
-- describes an older spec.

local PROGRESSING = { Pending = true, Planning = true, Approved = true, Running = true }
local HEALTHY = { Succeeded = true, Answered = true }
local DEGRADED = { Denied = true, NeedsInfo = true, Failed = true, Rejected = true, Expired = true }

local function find_condition(status, condition_type)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == condition_type then
      return condition
    end
  end
  return nil
end

-- The message of the Ready condition, if the controller wrote one.
local function ready_message(status)
  local ready = find_condition(status, "Ready")
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    return ready.message
  end
  return nil
end

-- "Denied: <messages of the policies that did not pass>", from status.policy.
local function policy_message(status)
  local policy = status.policy
  if policy == nil or policy.decision == nil then
    return nil
  end
  local reasons = {}
  if policy.results ~= nil then
    for _, result in ipairs(policy.results) do
      if result.result ~= nil and result.result ~= "pass" and result.message ~= nil then
        table.insert(reasons, result.message)
      end
    end
  end
  if #reasons == 0 then
    return "Policy decision: " .. policy.decision
  end
  return "Policy decision " .. policy.decision .. ": " .. table.concat(reasons, "; ")
end

local function health(obj)
  local status = obj.status
  if status == nil or status.phase == nil then
    return "Progressing", "Waiting for the OpsGate controller to pick up the request"
  end
  local generation = obj.metadata.generation
  if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
    return "Progressing", "Waiting for the OpsGate controller to observe generation " .. generation
  end

  local phase = status.phase
  if phase == "AwaitingApproval" then
    if status.approval ~= nil and status.approval.name ~= nil then
      return "Suspended", "Awaiting approval: Approval " .. status.approval.name
    end
    return "Suspended", "Awaiting approval"
  end
  if PROGRESSING[phase] then
    return "Progressing", ready_message(status) or ("Request is " .. phase)
  end
  if HEALTHY[phase] then
    return "Healthy", ready_message(status) or ("Request " .. string.lower(phase))
  end
  if DEGRADED[phase] then
    return "Degraded", ready_message(status) or policy_message(status) or ("Request " .. phase)
  end
  return "Unknown", "Unknown phase " .. phase
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
