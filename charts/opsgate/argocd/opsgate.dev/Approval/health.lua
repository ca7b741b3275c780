-- Argo CD health of an OpsGate Approval (opsgate.dev/v1alpha1).
--
--   Pending            -> Suspended (waiting for approvers: how many received of how many)
--   Approved           -> Healthy
--   Rejected, Expired  -> Degraded (why: the Ready condition, else the state)
-- No status yet, or a status older than the current generation (a decision was appended and
-- not yet counted), is Progressing.

local function ready_message(status)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" and condition.message ~= nil and condition.message ~= "" then
      return condition.message
    end
  end
  return nil
end

local function health(obj)
  local status = obj.status
  if status == nil or status.state == nil then
    return "Progressing", "Waiting for the OpsGate controller to pick up the approval"
  end
  local generation = obj.metadata.generation
  if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
    return "Progressing", "Waiting for the OpsGate controller to count the decisions of generation " .. generation
  end

  local state = status.state
  if state == "Pending" then
    local required = 1
    if obj.spec ~= nil and obj.spec.requiredApprovals ~= nil then
      required = obj.spec.requiredApprovals
    end
    local received = status.approvalsReceived or 0
    return "Suspended", "Awaiting approval: " .. received .. " of " .. required .. " received"
  end
  if state == "Approved" then
    return "Healthy", ready_message(status) or "Approved"
  end
  if state == "Rejected" or state == "Expired" then
    return "Degraded", ready_message(status) or ("Approval " .. string.lower(state))
  end
  return "Unknown", "Unknown state " .. state
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
