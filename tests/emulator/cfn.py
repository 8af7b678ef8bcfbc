"""CloudFormation, the subset cdnctl's takeover of a CDK stack needs (issue #28).

moto 5.2.5's CloudFormation does not know CloudFront resources and its change
sets carry no Replacement or PolicyAction. This module replaces the stack
operations of moto's CloudFormationResponse with its own engine (moto still
serializes every answer from botocore's service model):

- CreateStack, UpdateStack (TemplateBody or UsePreviousTemplate, parameters
  with UsePreviousValue), DeleteStack (RetainResources only from
  DELETE_FAILED), DescribeStacks (a deleted stack by its id only),
  ListStacks, GetTemplate (Original/Processed, or a change set's),
  DescribeStackResources, DescribeStackResource, ListStackResources,
  DescribeStackEvents.
- CreateChangeSet (UPDATE, or CREATE for a new stack: REVIEW_IN_PROGRESS),
  DescribeChangeSet with Changes (Action Add/Modify/Remove, Replacement
  True/False/Conditional, PolicyAction Delete/Retain/ReplaceAndDelete/
  ReplaceAndRetain, Scope, Details), ExecuteChangeSet (EXECUTE_IN_PROGRESS,
  then EXECUTE_COMPLETE or EXECUTE_FAILED; the stack's other change sets are
  deleted), DeleteChangeSet, ListChangeSets. A change set without
  changes is FAILED: "The submitted information didn't contain changes…".
- DetectStackDrift, DescribeStackDriftDetectionStatus,
  DescribeStackResourceDrifts: a resource whose physical resource is gone is
  DELETED; one whose live properties differ from its template's is MODIFIED
  with its PropertyDifferences (the properties compared are listed in each
  type's `observe`, cfn_resources.py), or when a test declares it so (POST
  /cfn/drift).

As CloudFormation does: operations run in the background, the stack
*_IN_PROGRESS until they finish (poll DescribeStacks); resources are made in
dependency order and deleted in reverse; a removed resource, or a deleted
stack's, is deleted unless the stack's current template gives it
DeletionPolicy Retain; a replaced one unless UpdateReplacePolicy is Retain;
deletions happen in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS; a failed create rolls
back (ROLLBACK_COMPLETE) and a failed update too (UPDATE_ROLLBACK_COMPLETE); a
failed delete is DELETE_FAILED. An update without changes is refused ("No
updates are to be performed."), as is one of a stack not in a *_COMPLETE
state. SSM-typed parameters (the CDK's BootstrapVersion) are read from moto's
parameter store, and Rules (CheckBootstrapVersion) are checked. Resource types:
cfn_resources.py; templates and change computation: cfn_template.py.

Control port (POST, JSON; 404 when the stack or resource does not exist):
    /cfn/stack-status  {"stack": NAME_OR_ID, "status": "UPDATE_ROLLBACK_FAILED",
                        "reason": "..."}: set a stack's status outright
    /cfn/drift         {"stack": NAME_OR_ID, "resource": LOGICAL_ID,
                        "status": "MODIFIED" | "IN_SYNC"}: what drift detection
                        reports for that resource from now on
    /cfn/seed-stack    {"key": AKID, "bucket": B, "zone": ZONEID, "certificate":
                        ARN, "domain": D[, "stack": "SeedCdnStack", "region":
                        "eu-west-1", "account", "bootstrap_version": "21"]}: the
                        CDK bootstrap's SSM parameter (unless there), then
                        CreateStack of the seed template (seed_stack.py) as
                        client AKID, waiting until done; answers {"StackId",
                        "StackStatus", "StackStatusReason", "TemplateBody"}, or
                        {"error": CreateStack's ValidationError} (status 200)
Knob (POST /configure), per client: stack_seconds  each stack operation stays
*_IN_PROGRESS at least this long before it changes anything.

takeover_selftest.py checks it with the fixture's CDK template.
"""

import datetime
import threading
import time
import uuid

import cfn_resources
import cfn_template as tpl
from cfn_resources import TYPES, ResourceFailed

LOCK = threading.RLock()
STACKS = {}  # (account, region) -> [Stack], oldest first
DETECTIONS = {}  # drift detection id -> answer
EMU = None  # the emulator module: knobs and the current key


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class Resource:
    def __init__(self, logical_id, kind, decl):
        self.logical_id, self.type = logical_id, kind
        self.properties, self.physical_id = {}, None
        self.policies = {n: tpl.policy(decl, n) for n in ("DeletionPolicy", "UpdateReplacePolicy")}
        self.status, self.reason, self.timestamp = "CREATE_IN_PROGRESS", None, _now()
        self.drift, self.checked, self.declared_drift, self.differences = "NOT_CHECKED", None, None, []


class ChangeSet:
    def __init__(self, stack, name, body, template, params, values, kind, description):
        self.stack, self.name, self.body, self.template = stack, name, body, template
        self.params, self.values, self.kind, self.description = params, values, kind, description
        self.id = f"arn:aws:cloudformation:{stack.region}:{stack.account}:changeSet/{name}/{uuid.uuid4()}"
        self.created, self.changes = _now(), []
        self.status, self.execution, self.reason = "CREATE_COMPLETE", "AVAILABLE", None


class Stack:
    def __init__(self, account, region, name, owner):
        self.account, self.region, self.name, self.owner = account, region, name, owner
        self.stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"
        self.status, self.reason, self.created = "CREATE_IN_PROGRESS", None, _now()
        self.updated = self.deleted = None
        self.body, self.template, self.params, self.values = None, None, [], {}
        self.tags, self.resources, self.events, self.change_sets = [], {}, [], {}
        self.disable_rollback, self.on_failure, self.capabilities, self.change_set_id = False, "ROLLBACK", [], None
        self.drift, self.drift_checked = "NOT_CHECKED", None

    def knob(self, name, default=0):
        return EMU.KNOBS.get(self.owner, {}).get(name, default)

    def event(self, logical_id, status, reason=None, res=None):
        self.events.append({
            "StackId": self.stack_id, "EventId": str(uuid.uuid4()), "StackName": self.name,
            "LogicalResourceId": logical_id, "Timestamp": _now(), "ResourceStatus": status,
            "PhysicalResourceId": res.physical_id if res else (self.stack_id if logical_id == self.name else None),
            "ResourceType": res.type if res else "AWS::CloudFormation::Stack",
            **({"ResourceStatusReason": reason} if reason else {}),
        })

    def set_status(self, status, reason=None):
        self.status, self.reason = status, reason
        self.event(self.name, status, reason)

    def context(self, template=None, values=None):
        """Intrinsics of `template` resolved against the resources as they are."""
        resources = [r for r in self.resources.values() if r.physical_id]
        refs = {r.logical_id: r.physical_id for r in resources}
        attrs = {r.logical_id: TYPES[r.type].attributes(self, r) for r in resources}
        return tpl.Context(self, template or self.template, self.values if values is None else values, refs, attrs)

    @property
    def stack(self):
        return self  # the context cfn_resources.py's handlers are given

    @property
    def account_region(self):
        return self.account, self.region


def error(code, message):
    from moto.cloudformation.exceptions import CloudFormationError

    return CloudFormationError(code, message)


def find(account, region, name_or_id, deleted_too=False):
    with LOCK:
        stacks = STACKS.get((account, region), [])
        if name_or_id and name_or_id.startswith("arn:"):
            found = [s for s in stacks if s.stack_id == name_or_id]
        else:
            found = [s for s in stacks if s.name == name_or_id and s.status != "DELETE_COMPLETE"]
        if found and (deleted_too or found[-1].status != "DELETE_COMPLETE"):
            return found[-1]
    raise error("ValidationError", f"Stack with id {name_or_id} does not exist")


def _ready(stack, action):
    if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS" or stack.status in (
            "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED"):
        raise error("ValidationError", f"Stack:{stack.stack_id} is in {stack.status} state and can not be {action}.")


# --------------------------------------------------------------------------
# Operations (each runs in its own thread once the request has answered)
# --------------------------------------------------------------------------


def _background(stack, work):
    def run():
        EMU.CURRENT.key = stack.owner
        time.sleep(stack.knob("stack_seconds"))
        try:
            work()
        except Exception as e:  # noqa: BLE001 - never leave a stack in progress for good
            stack.set_status(stack.status.replace("IN_PROGRESS", "FAILED"), f"emulator error: {e!r}")

    threading.Thread(target=run, daemon=True).start()


def _make(stack, logical_id, decl, template, values):
    res = stack.resources.get(logical_id) or Resource(logical_id, decl["Type"], decl)
    stack.resources[logical_id] = res
    props = tpl.resolve(decl.get("Properties") or {}, stack.context(template, values))
    unknown = set(props) - TYPES[decl["Type"]].known
    res.status = "CREATE_IN_PROGRESS"
    stack.event(logical_id, "CREATE_IN_PROGRESS", res=res)
    if unknown:
        raise ResourceFailed(f"Properties not modelled by the emulator: {sorted(unknown)}")
    res.physical_id = TYPES[decl["Type"]].create(stack, logical_id, props)
    res.properties, res.status, res.timestamp = props, "CREATE_COMPLETE", _now()
    res.policies = {n: tpl.policy(decl, n) for n in res.policies}
    stack.event(logical_id, "CREATE_COMPLETE", res=res)
    return res


def _delete(stack, res, reason_prefix="DELETE"):
    """Delete a resource unless its DeletionPolicy retains it; True when gone or kept."""
    if res.policies["DeletionPolicy"] in ("Retain", "RetainExceptOnCreate") or res.physical_id is None:
        res.status = "DELETE_SKIPPED"
        stack.event(res.logical_id, "DELETE_SKIPPED", res=res)
        return True
    res.status = "DELETE_IN_PROGRESS"
    stack.event(res.logical_id, "DELETE_IN_PROGRESS", res=res)
    try:
        TYPES[res.type].delete(stack, res)
    except ResourceFailed as e:
        res.status, res.reason = "DELETE_FAILED", str(e)
        stack.event(res.logical_id, "DELETE_FAILED", str(e), res=res)
        return False
    res.status = "DELETE_COMPLETE"
    stack.event(res.logical_id, "DELETE_COMPLETE", res=res)
    return True


def create_stack(stack, template, values):
    made = []
    try:
        for logical_id in tpl.order(template):
            made.append(_make(stack, logical_id, template["Resources"][logical_id], template, values))
    except (ResourceFailed, tpl.TemplateError) as e:
        failed = [r for r in stack.resources.values() if r.status == "CREATE_IN_PROGRESS"]
        for r in failed:
            r.status, r.reason = "CREATE_FAILED", str(e)
            stack.event(r.logical_id, "CREATE_FAILED", str(e), res=r)
        reason = f"The following resource(s) failed to create: [{', '.join(r.logical_id for r in failed)}]. "
        if stack.disable_rollback or stack.on_failure == "DO_NOTHING":
            stack.set_status("CREATE_FAILED", reason)
            return
        stack.set_status("ROLLBACK_IN_PROGRESS", reason)
        for r in made:  # RetainExceptOnCreate: deleted when the stack's creation fails
            if r.policies["DeletionPolicy"] == "RetainExceptOnCreate":
                r.policies["DeletionPolicy"] = "Delete"
        ok = all([_delete(stack, r) for r in reversed(made)])
        stack.resources = {k: r for k, r in stack.resources.items() if r.status == "DELETE_FAILED"}
        stack.set_status("ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED")
        if ok and stack.on_failure == "DELETE":
            stack.set_status("DELETE_COMPLETE")
            stack.deleted = _now()
        return
    stack.set_status("CREATE_COMPLETE")


def update_stack(stack, body, template, params, values, change_set=None):
    """Apply a new template: adds and modifications in dependency order, then
    removals and replaced resources in the cleanup phase."""
    old = {k: (r.properties, dict(r.policies), r.physical_id) for k, r in stack.resources.items()}
    ctx = stack.context(template, values)
    changes = {c["LogicalResourceId"]: c for c in tpl.changes(stack, template, ctx)}
    replaced, added, modified = [], [], []
    try:
        for logical_id in tpl.order(template):
            decl, change = template["Resources"][logical_id], changes.get(logical_id)
            if change is None:
                continue
            if change["Action"] == "Add":
                added.append(_make(stack, logical_id, decl, template, values))
                continue
            res = stack.resources[logical_id]
            props = tpl.resolve(decl.get("Properties") or {}, stack.context(template, values))
            res.status = "UPDATE_IN_PROGRESS"
            stack.event(logical_id, "UPDATE_IN_PROGRESS", res=res)
            if change["Replacement"] != "False" and any(
                    props.get(n) != res.properties.get(n) for n in TYPES[res.type].replace):
                gone = Resource(logical_id, res.type, decl)
                gone.physical_id, gone.properties = res.physical_id, res.properties
                gone.policies["DeletionPolicy"] = tpl.policy(decl, "UpdateReplacePolicy")
                replaced.append(gone)
                res.physical_id = TYPES[res.type].create(stack, logical_id, props)
            elif "Properties" in change["Scope"]:
                res.physical_id = TYPES[res.type].update(stack, res, props)
            modified.append(logical_id)
            res.properties, res.status, res.timestamp = props, "UPDATE_COMPLETE", _now()
            res.policies = {n: tpl.policy(decl, n) for n in res.policies}
            stack.event(logical_id, "UPDATE_COMPLETE", res=res)
    except (ResourceFailed, tpl.TemplateError) as e:
        failing = [r for r in stack.resources.values() if r.status.endswith("_IN_PROGRESS")]
        for r in failing:
            r.status = "UPDATE_FAILED" if r.logical_id in old else "CREATE_FAILED"
            stack.event(r.logical_id, r.status, str(e), res=r)
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS",
                         f"The following resource(s) failed to update: [{', '.join(r.logical_id for r in failing)}]. ")
        for logical_id in reversed(modified):
            res = stack.resources[logical_id]
            props, policies, physical = old[logical_id]
            if physical != res.physical_id:
                TYPES[res.type].delete(stack, res)
            else:
                TYPES[res.type].update(stack, res, props)
            res.properties, res.policies, res.physical_id, res.status = props, policies, physical, "UPDATE_COMPLETE"
        for res in reversed(added + [r for r in failing if r.logical_id not in old]):
            res.policies["DeletionPolicy"] = "Delete"
            _delete(stack, res)
            stack.resources.pop(res.logical_id, None)
        stack.set_status("UPDATE_ROLLBACK_COMPLETE")
        return
    stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    removed = [stack.resources[k] for k in reversed(tpl.order(stack.template)) if k not in template["Resources"]]
    for res in removed + replaced:
        _delete(stack, res)  # a failure here is logged; the update stands
    for res in removed:
        stack.resources.pop(res.logical_id, None)
    stack.body, stack.template, stack.params, stack.values = body, template, params, values
    stack.updated = _now()
    if change_set is not None:
        stack.change_set_id = change_set.id
    stack.set_status("UPDATE_COMPLETE")


def _needed_by(template, logical_id):
    """What a resource depends on, directly or not."""
    found, todo = set(), [logical_id]
    while todo:
        for dep in tpl.dependencies(template, todo.pop()):
            if dep not in found:
                found.add(dep)
                todo.append(dep)
    return found


def delete_stack(stack, retain):
    """Dependents first; what a resource that failed to delete depends on is
    left alone, as CloudFormation does, and the stack is DELETE_FAILED."""
    failed, blocked = [], set()
    for logical_id in reversed(tpl.order(stack.template)) if stack.template else []:
        res = stack.resources.get(logical_id)
        if res is None or res.status in ("DELETE_COMPLETE", "DELETE_SKIPPED") or logical_id in blocked:
            continue
        if logical_id in retain:
            res.policies["DeletionPolicy"] = "Retain"
        if not _delete(stack, res):
            failed.append(logical_id)
            blocked |= _needed_by(stack.template, logical_id)
    if failed:
        stack.set_status("DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
        return
    stack.deleted = _now()
    stack.set_status("DELETE_COMPLETE")


# --------------------------------------------------------------------------
# The API: methods of moto's CloudFormationResponse (cfn_api.py)
# --------------------------------------------------------------------------


def prepare(stack, body, given, previous_values, use_previous=False):
    """(body, template, parameters, values) of a request, or a ValidationError."""
    if use_previous:
        body = stack.body
    try:
        template = tpl.parse(body)
        params, values = tpl.parameters(template, given, previous_values, stack.account, stack.region)
        tpl.check_rules(template, tpl.Context(stack, template, values))
        tpl.order(template)
    except tpl.TemplateError as e:
        raise error("ValidationError", str(e)) from e
    return body, template, params, values


def new_stack(account, region, name, owner):
    with LOCK:
        for s in STACKS.get((account, region), []):
            if s.name == name and s.status != "DELETE_COMPLETE":
                raise error("AlreadyExistsException", f"Stack [{name}] already exists")
        stack = Stack(account, region, name, owner)
        return stack


def register(stack):
    with LOCK:
        STACKS.setdefault(stack.account_region, []).append(stack)


def _executed(stack, change_set, succeeded):
    if change_set is not None:
        change_set.execution = "EXECUTE_COMPLETE" if stack.status == succeeded else "EXECUTE_FAILED"


def start_create(stack, body, template, params, values, change_set=None):
    stack.body, stack.template, stack.params, stack.values = body, template, params, values
    stack.set_status("CREATE_IN_PROGRESS", "User Initiated")

    def work():
        create_stack(stack, template, values)
        _executed(stack, change_set, "CREATE_COMPLETE")

    _background(stack, work)


def start_update(stack, body, template, params, values, change_set=None):
    stack.set_status("UPDATE_IN_PROGRESS", "User Initiated")

    def work():
        update_stack(stack, body, template, params, values, change_set)
        _executed(stack, change_set, "UPDATE_COMPLETE")

    _background(stack, work)


def start_delete(stack, retain):
    stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
    _background(stack, lambda: delete_stack(stack, set(retain)))


def detect_drift(stack, only=None):
    now = _now()
    drifted = 0
    for res in stack.resources.values():
        if only and res.logical_id not in only:
            continue
        res.differences = []
        if not TYPES[res.type].exists(stack, res):
            res.drift = "DELETED"
        else:
            res.differences = cfn_resources.differences(stack, res)
            res.drift = "MODIFIED" if res.differences else res.declared_drift or "IN_SYNC"
        res.checked = now
        drifted += res.drift != "IN_SYNC"
    stack.drift, stack.drift_checked = ("DRIFTED" if drifted else "IN_SYNC"), now
    detection = str(uuid.uuid4())
    DETECTIONS[detection] = {
        "StackId": stack.stack_id, "StackDriftDetectionId": detection, "StackDriftStatus": stack.drift,
        "DetectionStatus": "DETECTION_COMPLETE", "DriftedStackResourceCount": drifted, "Timestamp": now}
    return detection


# --------------------------------------------------------------------------
# Control port
# --------------------------------------------------------------------------


def _stack_anywhere(name_or_id):
    with LOCK:
        for stacks in STACKS.values():
            for s in reversed(stacks):
                if name_or_id in (s.stack_id, s.name) and (s.status != "DELETE_COMPLETE" or s.stack_id == name_or_id):
                    return s
    raise LookupError(f"stack {name_or_id}")


def control_stack_status(data):
    stack = _stack_anywhere(data["stack"])
    stack.set_status(data["status"], data.get("reason"))
    return {"StackId": stack.stack_id}


def control_drift(data):
    stack = _stack_anywhere(data["stack"])
    res = stack.resources.get(data["resource"])
    if res is None:
        raise LookupError(f"resource {data['resource']}")
    res.declared_drift = None if data.get("status", "IN_SYNC") == "IN_SYNC" else data["status"]
    return {}


def control_seed_stack(data):
    """The seed CDK stack, deployed as the client `key` would with CreateStack:
    the bootstrap's SSM parameter first (unless there), then the stack; waits
    until it is no longer in progress."""
    import seed_stack
    from moto.ssm.models import ssm_backends

    account, region = data.get("account", "123456789012"), data.get("region", "eu-west-1")
    ssm = ssm_backends[account][region]
    if ssm.get_parameter(seed_stack.BOOTSTRAP_PARAMETER) is None:
        ssm.put_parameter(seed_stack.BOOTSTRAP_PARAMETER, "", str(data.get("bootstrap_version", "21")), "String",
                          None, None, False, [], "text", None, None)
    body = seed_stack.template_body(data["bucket"], data["zone"], data["certificate"], data["domain"], account)
    try:
        stack = new_stack(account, region, data.get("stack", "SeedCdnStack"), data["key"])
        body, template, params, values = prepare(stack, body, [], {})
    except Exception as e:  # noqa: BLE001 - CreateStack's own refusal, as its answer would say
        return {"error": getattr(e, "message", str(e))}
    register(stack)
    start_create(stack, body, template, params, values)
    deadline = time.time() + float(data.get("timeout", 120))
    while stack.status.endswith("_IN_PROGRESS") and time.time() < deadline:
        time.sleep(0.05)
    return {"StackId": stack.stack_id, "StackStatus": stack.status, "StackStatusReason": stack.reason,
            "TemplateBody": body}


def reset():
    with LOCK:
        STACKS.clear()
        DETECTIONS.clear()
