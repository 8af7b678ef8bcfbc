"""Templates for cfn.py: parsing, parameters (SSM-typed ones resolved from
moto's parameter store), Rules, intrinsic functions, dependency order, and the
changes between a stack and a new template, as CloudFormation computes them
for a change set (Action, Replacement, PolicyAction, Scope, Details).
"""

import json

from cfn_resources import TYPES

PSEUDO = ("AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::URLSuffix",
          "AWS::NoValue", "AWS::NotificationARNs")


class TemplateError(Exception):
    """A ValidationError of CreateStack / UpdateStack / CreateChangeSet."""


class Unknown:
    """A value known only once a resource is created or replaced."""

    def __init__(self, what):
        self.what = what

    def __eq__(self, other):
        return False

    def __repr__(self):
        return f"{{{{unknown {self.what}}}}}"


def parse(body):
    if not body:
        raise TemplateError("Either Template URL or Template Body must be specified.")
    try:
        template = json.loads(body)
    except ValueError:
        import yaml

        try:
            template = yaml.safe_load(body)
        except yaml.YAMLError as e:
            raise TemplateError(f"Template format error: {e}") from e
    if not isinstance(template, dict):
        raise TemplateError("Template format error: JSON not well-formed.")
    if not template.get("Resources"):
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    for logical_id, decl in template["Resources"].items():
        kind = decl.get("Type") if isinstance(decl, dict) else None
        if kind not in TYPES:
            raise TemplateError(
                f"Template format error: Unrecognized resource types: [{kind}] (not modelled by the emulator)")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if decl.get(policy, "Delete") not in ("Delete", "Retain", "RetainExceptOnCreate", "Snapshot"):
                raise TemplateError(f"Template format error: Unrecognized {policy} {decl[policy]} for {logical_id}")
    return template


# --------------------------------------------------------------------------
# Parameters and rules
# --------------------------------------------------------------------------


def parameters(template, given, previous, account, region):
    """[{ParameterKey, ParameterValue[, ResolvedValue]}] and {name: value} (resolved)."""
    from moto.ssm.models import ssm_backends

    declared = template.get("Parameters") or {}
    given = {p["ParameterKey"]: p for p in given or []}
    extra = sorted(set(given) - set(declared))
    if extra:
        raise TemplateError(f"Parameters: {extra} do not exist in the template")
    listed, values, missing = [], {}, []
    for name, decl in declared.items():
        p = given.get(name)
        if p and p.get("UsePreviousValue") and name in previous:
            value = previous[name]
        elif p and "ParameterValue" in p:
            value = p["ParameterValue"]
        elif "Default" in decl:
            value = decl["Default"]
        else:
            missing.append(name)
            continue
        entry = {"ParameterKey": name, "ParameterValue": value}
        kind = decl.get("Type", "String")
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            found = ssm_backends[account][region].get_parameter(value)
            if found is None:
                raise TemplateError(f"Unable to fetch parameters [{value}] from parameter store for this account.")
            entry["ResolvedValue"] = found.value
            values[name] = found.value
        else:
            values[name] = value
        listed.append(entry)
    if missing:
        raise TemplateError(f"Parameters: {missing} must have values")
    return listed, values


def check_rules(template, ctx):
    """Rules: every Assertion must hold, else the AssertDescription is the error."""
    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not resolve(rule["RuleCondition"], ctx):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolve(assertion["Assert"], ctx):
                raise TemplateError(assertion.get("AssertDescription") or f"Template error: rule {name} failed")


# --------------------------------------------------------------------------
# Intrinsic functions
# --------------------------------------------------------------------------


class Context:
    """What a template's references resolve to: parameters, pseudo parameters,
    mappings, and the Ref / GetAtt values of resources (Unknown until made)."""

    def __init__(self, stack, template, values, refs=None, attrs=None):
        self.stack, self.template, self.values = stack, template, values
        self.refs = refs if refs is not None else {}
        self.attrs = attrs if attrs is not None else {}

    def ref(self, name):
        pseudo = {"AWS::Partition": "aws", "AWS::Region": self.stack.region, "AWS::AccountId": self.stack.account,
                  "AWS::StackName": self.stack.name, "AWS::StackId": self.stack.stack_id,
                  "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [], "AWS::NoValue": "AWS::NoValue"}
        if name in pseudo:
            return pseudo[name]
        if name in self.values:
            return self.values[name]
        if name in (self.template.get("Resources") or {}):
            return self.refs.get(name, Unknown(f"Ref {name}"))
        raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}] in the Resources block")

    def get_att(self, name, attribute):
        if name not in (self.template.get("Resources") or {}):
            raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {name}")
        return self.attrs.get(name, {}).get(attribute, Unknown(f"{name}.{attribute}"))


def resolve(value, ctx):
    if isinstance(value, list):
        return [v for v in (resolve(v, ctx) for v in value) if not _no_value(v)]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref":
            return ctx.ref(arg)
        if fn == "Fn::GetAtt":
            name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return ctx.get_att(name, attribute)
        if fn == "Fn::Join":
            sep, parts = arg
            parts = resolve(parts, ctx)
            if any(isinstance(p, Unknown) for p in parts):
                return Unknown("Fn::Join")
            return sep.join(str(p) for p in parts)
        if fn == "Fn::FindInMap":
            m, k1, k2 = (resolve(a, ctx) for a in arg)
            try:
                return ctx.template["Mappings"][m][k1][k2]
            except KeyError as e:
                raise TemplateError(f"Template error: Unable to get mapping for {m}::{k1}::{k2}") from e
        if fn == "Fn::Select":
            index, items = resolve(arg[0], ctx), resolve(arg[1], ctx)
            return items[int(index)]
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))
            return _sub(text, names, ctx)
        if fn == "Fn::Not":
            return not resolve(arg[0], ctx)
        if fn == "Fn::Equals":
            a, b = (resolve(x, ctx) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::And":
            return all(resolve(x, ctx) for x in arg)
        if fn == "Fn::Or":
            return any(resolve(x, ctx) for x in arg)
        if fn == "Fn::Contains":
            items, item = resolve(arg[0], ctx), resolve(arg[1], ctx)
            return str(item) in [str(i) for i in items]
        if fn.startswith("Fn::"):
            raise TemplateError(f"Template error: {fn} is not modelled by the emulator")
    return {k: v for k, v in ((k, resolve(v, ctx)) for k, v in value.items()) if not _no_value(v)}


def _no_value(v):
    return isinstance(v, str) and v == "AWS::NoValue"


def _sub(text, names, ctx):
    import re

    def one(m):
        name = m.group(1)
        if name in names:
            v = names[name]
        elif "." in name:
            v = ctx.get_att(*name.split(".", 1))
        else:
            v = ctx.ref(name)
        if isinstance(v, Unknown):
            raise _UnknownSub()
        return str(v)

    try:
        return re.sub(r"\$\{([^!}][^}]*)\}", one, text)
    except _UnknownSub:
        return Unknown("Fn::Sub")


class _UnknownSub(Exception):
    pass


# --------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------


def dependencies(template, logical_id):
    """The resources a resource needs first: Ref, Fn::GetAtt, Fn::Sub and DependsOn."""
    resources = template["Resources"]
    decl = resources[logical_id]
    found = set()

    def walk(v):
        if isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                if k == "Ref" and isinstance(x, str) and x in resources:
                    found.add(x)
                elif k == "Fn::GetAtt":
                    name = x.split(".", 1)[0] if isinstance(x, str) else x[0]
                    if name in resources:
                        found.add(name)
                elif k == "Fn::Sub":
                    import re

                    text = x if isinstance(x, str) else x[0]
                    for ref in re.findall(r"\$\{([^!}.][^}.]*)", text):
                        if ref in resources:
                            found.add(ref)
                    walk(x if isinstance(x, list) else [])
                else:
                    walk(x)

    walk(decl.get("Properties") or {})
    depends = decl.get("DependsOn") or []
    found |= set([depends] if isinstance(depends, str) else depends)
    return found


def order(template):
    """Logical ids, each after what it depends on (template order otherwise)."""
    resources = list(template["Resources"])
    done, out = set(), []

    def visit(name, path):
        if name in done:
            return
        if name in path:
            raise TemplateError(f"Template format error: Circular dependency between resources: {sorted(path)}")
        for dep in sorted(dependencies(template, name), key=resources.index):
            visit(dep, path | {name})
        done.add(name)
        out.append(name)

    for name in resources:
        visit(name, set())
    return out


# --------------------------------------------------------------------------
# Changes (a change set's, and what an update does)
# --------------------------------------------------------------------------


def policy(decl, name):
    return decl.get(name, "Delete")


def changes(stack, template, ctx):
    """The ResourceChange entries between a stack's resources and a template.
    ctx resolves the new template with the stack's current physical ids."""
    new = template["Resources"]
    out = []
    for logical_id in order(template):
        decl = new[logical_id]
        current = stack.resources.get(logical_id)
        if current is None:
            out.append({"Action": "Add", "LogicalResourceId": logical_id, "ResourceType": decl["Type"],
                        "Scope": [], "Details": []})
            continue
        if current.type != decl["Type"]:
            raise TemplateError(f"Update of resource type is not permitted for {logical_id}")
        props = resolve(decl.get("Properties") or {}, ctx)
        kind = TYPES[decl["Type"]]
        details, scope, replacement = [], [], "False"
        for name in sorted(set(props) | set(current.properties)):
            before, after = current.properties.get(name), props.get(name)
            if before == after and not isinstance(after, Unknown) and not _has_unknown(after):
                continue
            dynamic = isinstance(after, Unknown) or _has_unknown(after)
            if name in kind.replace:
                recreation = "Conditionally" if dynamic else "Always"
                replacement = "True" if recreation == "Always" or replacement == "True" else "Conditional"
            else:
                recreation = "Never"
            if "Properties" not in scope:
                scope.append("Properties")
            details.append({"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
                            "Evaluation": "Dynamic" if dynamic else "Static",
                            "ChangeSource": "ResourceReference" if dynamic else "DirectModification"})
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
            if policy(decl, attribute) != current.policies[attribute]:
                scope.append(attribute)
                details.append({"Target": {"Attribute": attribute, "RequiresRecreation": "Never"},
                                "Evaluation": "Static", "ChangeSource": "DirectModification"})
        if not details:
            continue
        change = {"Action": "Modify", "LogicalResourceId": logical_id, "PhysicalResourceId": current.physical_id,
                  "ResourceType": decl["Type"], "Replacement": replacement, "Scope": scope, "Details": details}
        if replacement != "False":
            retain = policy(decl, "UpdateReplacePolicy") == "Retain"
            change["PolicyAction"] = "ReplaceAndRetain" if retain else "ReplaceAndDelete"
            # What refers to it gets a new physical id or attribute: Dynamic.
            ctx.refs.pop(logical_id, None)
            ctx.attrs.pop(logical_id, None)
        out.append(change)
    for logical_id, current in stack.resources.items():
        if logical_id not in new:
            deletion = current.policies["DeletionPolicy"]
            out.append({"Action": "Remove", "LogicalResourceId": logical_id, "PhysicalResourceId": current.physical_id,
                        "ResourceType": current.type, "Scope": [], "Details": [],
                        "PolicyAction": "Retain" if deletion in ("Retain", "RetainExceptOnCreate") else
                        "Snapshot" if deletion == "Snapshot" else "Delete"})
    return out


def _has_unknown(value):
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False
