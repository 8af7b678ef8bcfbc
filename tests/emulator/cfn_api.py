"""cfn.py's stack operations as methods of moto's CloudFormationResponse: the
request is parsed, and the answer serialized, by moto from botocore's service
model; what is in between is cfn.py's (see its docstring for what is modelled).
"""

import io
from urllib.parse import parse_qs

import cfn
import cfn_template as tpl


def query_action(environ):
    """The Action of a query-protocol request (CloudFormation's): it is in the
    form body, so the request log and the knobs (lose_answer_of, stall_after_writes,
    "a refusal sends no write") see DescribeStacks as a read and CreateChangeSet
    as a write, not every POST as a write. The body is put back for moto."""
    if environ.get("REQUEST_METHOD") != "POST" or not environ.get("CONTENT_TYPE", "").startswith(
            "application/x-www-form-urlencoded"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    found = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return found[0] if found else None


def _stack_shape(s):
    shape = {
        "StackId": s.stack_id, "StackName": s.name, "Parameters": s.params, "CreationTime": s.created,
        "StackStatus": s.status, "DisableRollback": s.disable_rollback, "NotificationARNs": [],
        "Capabilities": s.capabilities, "Tags": s.tags, "EnableTerminationProtection": False,
        "DriftInformation": {"StackDriftStatus": s.drift, **({"LastCheckTimestamp": s.drift_checked} if s.drift_checked else {})},
    }
    if s.template and s.template.get("Description"):
        shape["Description"] = s.template["Description"]
    for key, value in (("StackStatusReason", s.reason), ("LastUpdatedTime", s.updated), ("DeletionTime", s.deleted),
                       ("ChangeSetId", s.change_set_id)):
        if value:
            shape[key] = value
    outputs = (s.template or {}).get("Outputs") or {}
    if outputs and s.status.endswith("_COMPLETE") and s.status != "DELETE_COMPLETE":
        ctx = s.context()
        shape["Outputs"] = [{"OutputKey": k, "OutputValue": str(tpl.resolve(o["Value"], ctx)),
                             **({"Description": o["Description"]} if "Description" in o else {})}
                            for k, o in outputs.items()]
    return shape


def _drift_info(res):
    return {"StackResourceDriftStatus": res.drift, **({"LastCheckTimestamp": res.checked} if res.checked else {})}


def _resource_shape(s, res):
    shape = {"StackName": s.name, "StackId": s.stack_id, "LogicalResourceId": res.logical_id,
             "ResourceType": res.type, "Timestamp": res.timestamp, "ResourceStatus": res.status,
             "DriftInformation": _drift_info(res)}
    if res.physical_id:
        shape["PhysicalResourceId"] = res.physical_id
    if res.reason:
        shape["ResourceStatusReason"] = res.reason
    return shape


def _change_set(self):
    name = self._get_param("ChangeSetName")
    stack_name = self._get_param("StackName")
    with cfn.LOCK:
        stacks = [s for group in cfn.STACKS.values() for s in group]
    for s in reversed(stacks):
        if s.account_region != (self.current_account, self.region):
            continue
        if name.startswith("arn:"):
            if name in [c.id for c in s.change_sets.values()]:
                return s, next(c for c in s.change_sets.values() if c.id == name)
        elif stack_name in (s.name, s.stack_id) and s.status != "DELETE_COMPLETE" and name in s.change_sets:
            return s, s.change_sets[name]
    raise cfn.error("ChangeSetNotFoundException", f"ChangeSet [{name}] does not exist")


def _previous(stack):
    """A stack's parameters as given (UsePreviousValue takes these, not the resolved values)."""
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack.params}


def methods():
    from moto.core.responses import ActionResult, EmptyResult

    def here(self):
        return self.current_account, self.region

    def create_stack(self):
        stack = cfn.new_stack(*here(self), self._get_param("StackName"), cfn.EMU.CURRENT.key)
        body, template, params, values = cfn.prepare(stack, self._get_param("TemplateBody"),
                                                     self._get_param("Parameters", []), {})
        stack.tags = self._get_param("Tags", []) or []
        stack.disable_rollback = bool(self._get_param("DisableRollback", False))
        stack.on_failure = self._get_param("OnFailure") or "ROLLBACK"
        stack.capabilities = self._get_param("Capabilities", []) or []
        cfn.register(stack)
        cfn.start_create(stack, body, template, params, values)
        return ActionResult({"StackId": stack.stack_id})

    def update_stack(self):
        stack = cfn.find(*here(self), self._get_param("StackName"))
        cfn._ready(stack, "updated")
        body, template, params, values = cfn.prepare(
            stack, self._get_param("TemplateBody"), self._get_param("Parameters", []), _previous(stack),
            use_previous=bool(self._get_param("UsePreviousTemplate", False)))
        if self._get_param("Tags") is not None:
            stack.tags = self._get_param("Tags") or []
        if not tpl.changes(stack, template, stack.context(template, values)) and params == stack.params:
            raise cfn.error("ValidationError", "No updates are to be performed.")
        cfn.start_update(stack, body, template, params, values)
        return ActionResult({"StackId": stack.stack_id})

    def delete_stack(self):
        try:
            stack = cfn.find(*here(self), self._get_param("StackName"))
        except Exception:  # noqa: BLE001 - AWS: deleting a missing stack succeeds
            return EmptyResult()
        retain = self._get_param("RetainResources", []) or []
        if retain and stack.status != "DELETE_FAILED":
            raise cfn.error("ValidationError", "Invalid operation on stack: RetainResources can only be specified "
                                               "when the stack is in DELETE_FAILED state.")
        if stack.status == "DELETE_IN_PROGRESS":
            return EmptyResult()
        if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
            raise cfn.error("ValidationError", f"Stack [{stack.name}] cannot be deleted while in status {stack.status}")
        cfn.start_delete(stack, retain)
        return EmptyResult()

    def describe_stacks(self):
        name = self._get_param("StackName")
        if name:
            stacks = [cfn.find(*here(self), name, deleted_too=True)]
        else:
            with cfn.LOCK:
                stacks = [s for s in cfn.STACKS.get(here(self), []) if s.status != "DELETE_COMPLETE"]
        return ActionResult({"Stacks": [_stack_shape(s) for s in reversed(stacks)]})

    def list_stacks(self):
        wanted = self._get_param("StackStatusFilter", []) or []
        with cfn.LOCK:
            stacks = [s for s in cfn.STACKS.get(here(self), []) if not wanted or s.status in wanted]
        return ActionResult({"StackSummaries": [{
            "StackId": s.stack_id, "StackName": s.name, "CreationTime": s.created, "StackStatus": s.status,
            **({"DeletionTime": s.deleted} if s.deleted else {}),
            **({"LastUpdatedTime": s.updated} if s.updated else {})} for s in reversed(stacks)]})

    def get_template(self):
        if self._get_param("ChangeSetName"):
            _, change_set = _change_set(self)
            body = change_set.body
        else:
            body = cfn.find(*here(self), self._get_param("StackName"), deleted_too=True).body
        return ActionResult({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]})

    def _resources(self):
        name, physical = self._get_param("StackName"), self._get_param("PhysicalResourceId")
        if name:
            stack = cfn.find(*here(self), name, deleted_too=True)
        elif physical:
            with cfn.LOCK:
                stack = next((s for s in reversed(cfn.STACKS.get(here(self), []))
                              if any(r.physical_id == physical for r in s.resources.values())), None)
            if stack is None:
                raise cfn.error("ValidationError", f"Stack for {physical} does not exist")
        else:
            raise cfn.error("ValidationError", "Either StackName or PhysicalResourceId must be specified.")
        logical = self._get_param("LogicalResourceId")
        return stack, [r for r in stack.resources.values()
                       if (not logical or r.logical_id == logical) and (not physical or r.physical_id == physical)]

    def describe_stack_resources(self):
        stack, resources = _resources(self)
        return ActionResult({"StackResources": [_resource_shape(stack, r) for r in resources]})

    def describe_stack_resource(self):
        stack, resources = _resources(self)
        if not resources:
            raise cfn.error("ValidationError", f"Resource {self._get_param('LogicalResourceId')} does not exist "
                                               f"for stack {stack.name}")
        detail = _resource_shape(stack, resources[0])
        detail["LastUpdatedTimestamp"] = detail.pop("Timestamp")
        detail["Metadata"] = "{}"
        return ActionResult({"StackResourceDetail": detail})

    def list_stack_resources(self):
        stack = cfn.find(*here(self), self._get_param("StackName"), deleted_too=True)
        return ActionResult({"StackResourceSummaries": [{
            "LogicalResourceId": r.logical_id, "ResourceType": r.type, "LastUpdatedTimestamp": r.timestamp,
            "ResourceStatus": r.status, "DriftInformation": _drift_info(r),
            **({"PhysicalResourceId": r.physical_id} if r.physical_id else {})} for r in stack.resources.values()]})

    def describe_stack_events(self):
        stack = cfn.find(*here(self), self._get_param("StackName"), deleted_too=True)
        return ActionResult({"StackEvents": list(reversed(stack.events))})

    def create_change_set(self):
        name, kind = self._get_param("ChangeSetName"), self._get_param("ChangeSetType") or "UPDATE"
        if kind == "CREATE":
            stack = cfn.new_stack(*here(self), self._get_param("StackName"), cfn.EMU.CURRENT.key)
            stack.template = {"Resources": {}}
        elif kind == "UPDATE":
            stack = cfn.find(*here(self), self._get_param("StackName"))
            cfn._ready(stack, "updated")
        else:
            raise cfn.error("ValidationError", f"ChangeSetType {kind} is not modelled by the emulator")
        if name in stack.change_sets:
            raise cfn.error("AlreadyExistsException", f"ChangeSet {name} already exists")
        body, template, params, values = cfn.prepare(
            stack, self._get_param("TemplateBody"), self._get_param("Parameters", []), _previous(stack),
            use_previous=bool(self._get_param("UsePreviousTemplate", False)))
        change_set = cfn.ChangeSet(stack, name, body, template, params, values, kind, self._get_param("Description"))
        change_set.changes = tpl.changes(stack, template, stack.context(template, values))
        if not change_set.changes and params == stack.params:
            change_set.status, change_set.execution = "FAILED", "UNAVAILABLE"
            change_set.reason = ("The submitted information didn't contain changes. Submit different information "
                                 "to create a change set.")
        if kind == "CREATE":
            stack.status, stack.template = "REVIEW_IN_PROGRESS", None
            stack.event(stack.name, "REVIEW_IN_PROGRESS", "User Initiated")
            cfn.register(stack)
        stack.change_sets[name] = change_set
        return ActionResult({"Id": change_set.id, "StackId": stack.stack_id})

    def describe_change_set(self):
        stack, c = _change_set(self)
        answer = {
            "ChangeSetName": c.name, "ChangeSetId": c.id, "StackId": stack.stack_id, "StackName": stack.name,
            "Parameters": c.params, "CreationTime": c.created, "ExecutionStatus": c.execution, "Status": c.status,
            "NotificationARNs": [], "Capabilities": [], "Tags": stack.tags,
            "Changes": [{"Type": "Resource", "ResourceChange": {**rc, "ChangeSetId": c.id}} for rc in c.changes],
        }
        if c.description:
            answer["Description"] = c.description
        if c.reason:
            answer["StatusReason"] = c.reason
        return ActionResult(answer)

    def execute_change_set(self):
        stack, c = _change_set(self)
        if c.execution != "AVAILABLE":
            raise cfn.error("InvalidChangeSetStatusException",
                            f"ChangeSet [{c.id}] cannot be executed in its current execution status of [{c.execution}]")
        cfn._ready(stack, "updated")
        c.execution = "EXECUTE_IN_PROGRESS"
        stack.change_sets = {c.name: c}  # AWS deletes the stack's other change sets: no longer valid
        if c.kind == "CREATE":
            stack.change_set_id = c.id
            cfn.start_create(stack, c.body, c.template, c.params, c.values, c)
        else:
            cfn.start_update(stack, c.body, c.template, c.params, c.values, c)
        return EmptyResult()

    def delete_change_set(self):
        stack, c = _change_set(self)
        if c.execution == "EXECUTE_IN_PROGRESS":
            raise cfn.error("InvalidChangeSetStatusException", "Cannot delete a change set being executed")
        stack.change_sets.pop(c.name, None)
        return EmptyResult()

    def list_change_sets(self):
        stack = cfn.find(*here(self), self._get_param("StackName"))
        return ActionResult({"Summaries": [{
            "StackId": stack.stack_id, "StackName": stack.name, "ChangeSetId": c.id, "ChangeSetName": c.name,
            "ExecutionStatus": c.execution, "Status": c.status, "CreationTime": c.created,
            **({"StatusReason": c.reason} if c.reason else {})} for c in stack.change_sets.values()]})

    def detect_stack_drift(self):
        stack = cfn.find(*here(self), self._get_param("StackName"))
        cfn._ready(stack, "checked for drift")
        return ActionResult({"StackDriftDetectionId": cfn.detect_drift(stack, self._get_param("LogicalResourceIds"))})

    def describe_stack_drift_detection_status(self):
        answer = cfn.DETECTIONS.get(self._get_param("StackDriftDetectionId"))
        if answer is None:
            raise cfn.error("ValidationError", "Drift detection id does not exist")
        return ActionResult(answer)

    def describe_stack_resource_drifts(self):
        stack = cfn.find(*here(self), self._get_param("StackName"))
        wanted = self._get_param("StackResourceDriftStatusFilters", []) or []
        drifts = [{
            "StackId": stack.stack_id, "LogicalResourceId": r.logical_id, "PhysicalResourceId": r.physical_id,
            "ResourceType": r.type, "StackResourceDriftStatus": r.drift, "Timestamp": r.checked,
            "ExpectedProperties": __import__("json").dumps(r.properties, default=str),
            "PropertyDifferences": r.differences,
        } for r in stack.resources.values() if r.checked and (not wanted or r.drift in wanted)]
        return ActionResult({"StackResourceDrifts": drifts})

    return {f.__name__: f for f in (
        create_stack, update_stack, delete_stack, describe_stacks, list_stacks, get_template,
        describe_stack_resources, describe_stack_resource, list_stack_resources, describe_stack_events,
        create_change_set, describe_change_set, execute_change_set, delete_change_set, list_change_sets,
        detect_stack_drift, describe_stack_drift_detection_status, describe_stack_resource_drifts)}


def patch(emulator):
    """Replace moto's stack operations and register the control endpoints."""
    import functools

    from moto.cloudformation import responses as cfr
    from moto.moto_api._internal import models as moto_api

    cfn.EMU = emulator
    # moto reshapes its own objects for these answers; ours are in the model's shape already.
    cfr.CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {
        k: v for k, v in cfr.CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER.items()
        if not k.startswith(("DescribeChangeSetOutput.", "DescribeStacksOutput."))}
    for name, method in methods().items():
        setattr(cfr.CloudFormationResponse, name, method)
    emulator.CONTROL_ACTIONS["/cfn/stack-status"] = cfn.control_stack_status
    emulator.CONTROL_ACTIONS["/cfn/drift"] = cfn.control_drift
    emulator.CONTROL_ACTIONS["/cfn/seed-stack"] = cfn.control_seed_stack

    moto_reset = moto_api.MotoAPIBackend.reset

    @functools.wraps(moto_reset)
    def reset_with_stacks(self, *args, **kwargs):
        cfn.reset()
        return moto_reset(self, *args, **kwargs)

    moto_api.MotoAPIBackend.reset = reset_with_stacks
