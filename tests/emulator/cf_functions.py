"""CloudFront Functions' control plane, as CloudFront serves it (moto 5.2.5
has Create/Describe/Get/List/Delete only, one stage, ETags that never change
and IfMatch ignored, and drops FunctionAssociations from distributions).

- `app`: a WSGI app for /2020-05-31/function (2020-05-31 REST-XML API):
  CreateFunction, UpdateFunction, DescribeFunction, GetFunction,
  PublishFunction, TestFunction, ListFunctions, DeleteFunction.
  - Two stages. Create and Update write DEVELOPMENT (a new ETag each time,
    Update and Publish need If-Match = the DEVELOPMENT ETag, else
    PreconditionFailed 412; without If-Match, InvalidIfMatchVersion 400).
    PublishFunction copies DEVELOPMENT to LIVE, which is what distributions
    run. Describe/Get/List/Test take Stage (default DEVELOPMENT); a stage
    never published is NoSuchFunctionExists (404).
  - Quotas (CloudFront Developer Guide, "Quotas on CloudFront Functions"):
    code at most 10 KB (10,240 bytes) else FunctionSizeLimitExceeded (413);
    100 functions per account (TooManyFunctions); one key value store per
    function ("Quotas on key value stores"; "A function can have only one key
    value store", kvs-with-functions-associate): more is InvalidArgument, as
    is a store that does not exist or a store on cloudfront-js-1.0.
  - DeleteFunction needs If-Match (the ETag DescribeFunction gave, of either
    stage) and is refused with FunctionInUse (409) while any distribution's
    cache behavior names the function.
  - TestFunction runs the stage's code under node (function_edge.py) against
    the EventObject and answers TestResult: FunctionOutput (the returned
    request or response as JSON), FunctionExecutionLogs (console.log lines),
    FunctionErrorMessage, ComputeUtilization.
  - UpdateFunction's ETag header is `ETtag` in the service model (botocore
    and the Rust SDK read that name); both ETtag and ETag are sent.
- `patch_moto()`: cache behaviors (default and others) keep their
  FunctionAssociations through Create/UpdateDistribution and
  GetDistribution(Config); an association naming a function that does not
  exist or was never published is InvalidFunctionAssociation (400), two on one
  event type too (at most one function per event type).

Propagation (knob `function_propagation_seconds` of the key that publishes):
the edge runs a newly published LIVE code only that long after the publish;
until then it runs the previous LIVE code, or none (`live_for_edge`).
XML names follow botocore's cloudfront 2020-05-31 service model.
"""

import base64
import datetime
import json
import random
import re
import string
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from response_headers import ApiError, _body, _error, _respond, account_of, invalid

API = "/2020-05-31/function"
NAMESPACE = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
MAX_CODE = 10240  # bytes: "Maximum function size 10 KB" (Quotas on CloudFront Functions)
MAX_FUNCTIONS = 100  # "Functions per AWS account"
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
RUNTIMES = ("cloudfront-js-1.0", "cloudfront-js-2.0")
EVENT_TYPES = ("viewer-request", "viewer-response", "origin-request", "origin-response")

LOCK = threading.RLock()
FUNCTIONS = {}  # account -> {name: record}; record: name, arn, created, dev, live, published
KNOB = None  # emulator.knob, set by patch_moto


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _etag():
    return "E" + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(12))


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(elem, name):
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _text(elem, name, default=None):
    c = _child(elem, name)
    return default if c is None else (c.text or "")


def no_such_function():
    return ApiError(404, "NoSuchFunctionExists", "The function does not exist.")


def precondition_failed():
    return ApiError(412, "PreconditionFailed", "The precondition in one or more of the request fields evaluated to false.")


# --------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------


def _root(body, expected):
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ApiError(400, "MalformedXML", f"The XML you provided was not well-formed: {e}") from None
    if _local(root.tag) != expected:
        raise ApiError(400, "MalformedXML", f"The request body must be a {expected}.")
    return root


def _config(root, account):
    elem = _child(root, "FunctionConfig")
    if elem is None:
        raise invalid("The parameter FunctionConfig is required.")
    comment, runtime = _text(elem, "Comment"), _text(elem, "Runtime")
    if comment is None:
        raise invalid("The parameter FunctionConfig.Comment is required.")
    if runtime not in RUNTIMES:
        raise invalid(f"The parameter FunctionConfig.Runtime has an invalid value: {runtime}.")
    stores = []
    assoc = _child(elem, "KeyValueStoreAssociations")
    if assoc is not None:
        items = _child(assoc, "Items")
        for item in list(items) if items is not None else []:
            stores.append(_text(item, "KeyValueStoreARN", ""))
        if str(len(stores)) != (_text(assoc, "Quantity") or "").strip():
            raise invalid("The parameter KeyValueStoreAssociations.Quantity does not match the number of items.")
    if len(stores) > 1:
        raise invalid("A function can have only one key value store association.")
    if stores and runtime != "cloudfront-js-2.0":
        raise invalid("Key value store associations require the cloudfront-js-2.0 runtime.")
    import kvs

    for arn in stores:
        if kvs.store_by_arn(arn) is None:
            raise invalid(f"The key value store {arn} does not exist.")
    return {"Comment": comment, "Runtime": runtime, "KeyValueStoreARNs": stores}


def _code(root):
    text = _text(root, "FunctionCode")
    if text is None:
        raise invalid("The parameter FunctionCode is required.")
    try:
        code = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise invalid("The parameter FunctionCode must be base64-encoded.") from None
    if len(code) > MAX_CODE:
        raise ApiError(413, "FunctionSizeLimitExceeded", f"The function is too large: {len(code)} bytes, at most {MAX_CODE}.")
    if not code:
        raise invalid("The parameter FunctionCode must not be empty.")
    return code


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


def config_xml(config):
    out = [f"<FunctionConfig><Comment>{escape(config['Comment'])}</Comment><Runtime>{config['Runtime']}</Runtime>"]
    stores = config["KeyValueStoreARNs"]
    if stores:
        out.append(f"<KeyValueStoreAssociations><Quantity>{len(stores)}</Quantity><Items>")
        out += [f"<KeyValueStoreAssociation><KeyValueStoreARN>{escape(a)}</KeyValueStoreARN></KeyValueStoreAssociation>" for a in stores]
        out.append("</Items></KeyValueStoreAssociations>")
    out.append("</FunctionConfig>")
    return "".join(out)


def _status(account, record, stage):
    if stage == "DEVELOPMENT" and (record["live"] is None or record["live"]["etag_dev"] != record["dev"]["etag"]):
        return "UNPUBLISHED"
    return "DEPLOYED" if in_use(account, record["arn"]) else "UNASSOCIATED"


def summary_xml(account, record, stage, namespace=True):
    version = record["dev"] if stage == "DEVELOPMENT" else record["live"]
    head = f'<FunctionSummary xmlns="{NAMESPACE}">' if namespace else "<FunctionSummary>"
    return (
        f"{head}<Name>{record['name']}</Name><Status>{_status(account, record, stage)}</Status>"
        f"{config_xml(version['config'])}<FunctionMetadata><FunctionARN>{record['arn']}</FunctionARN>"
        f"<Stage>{stage}</Stage><CreatedTime>{record['created']}</CreatedTime>"
        f"<LastModifiedTime>{version['modified']}</LastModifiedTime></FunctionMetadata></FunctionSummary>"
    )


# --------------------------------------------------------------------------
# Lookups shared with the edge and kvs.py
# --------------------------------------------------------------------------


def _behaviors(config):
    default = getattr(config, "DefaultCacheBehavior", None)
    found = [default] if default is not None else []
    found += list((getattr(config, "CacheBehaviors", None) or {}).get("Items") or [])
    return found


def associations(behavior):
    """[(EventType, FunctionARN)] of a moto cache behavior."""
    block = getattr(behavior, "function_associations", None) or {}
    return [(a.get("EventType"), a.get("FunctionARN")) for a in block.get("Items") or []]


def in_use(account, arn):
    from moto.cloudfront.models import cloudfront_backends

    backend = cloudfront_backends[account]["aws"]
    for dist in list(backend.distributions.values()):
        for behavior in _behaviors(dist.distribution_config):
            if any(fn == arn for _, fn in associations(behavior)):
                return True
    return False


def by_arn(arn):
    m = re.fullmatch(r"arn:aws:cloudfront::(\d{12}):function/([^/]+)", arn or "")
    if not m:
        return None
    return FUNCTIONS.get(m.group(1), {}).get(m.group(2))


def live_for_edge(arn, now=None):
    """The LIVE version (config, code) the edge runs for a function ARN at
    `now`: the newest published one already propagated, or None."""
    now = time.time() if now is None else now
    with LOCK:
        record = by_arn(arn)
        if record is None:
            return None
        visible = [v for v in record["published"] if v["visible_at"] <= now]
        return visible[-1] if visible else None


def stores_in_use(arn):
    """Whether any function (either stage) is associated with the store ARN."""
    with LOCK:
        for functions in FUNCTIONS.values():
            for record in functions.values():
                for version in (record["dev"], record["live"]):
                    if version and arn in version["config"]["KeyValueStoreARNs"]:
                        return True
    return False


# --------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------


def handles(environ):
    path = environ.get("PATH_INFO", "")
    return path == API or path.startswith(API + "/")


def app(environ, start_response):
    try:
        return _dispatch(environ, start_response)
    except ApiError as err:
        return _error(start_response, err)


def _dispatch(environ, start_response):
    method = environ["REQUEST_METHOD"]
    parts = [unquote(p) for p in environ.get("PATH_INFO", "")[len(API):].strip("/").split("/") if p]
    account = account_of(environ)
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    stage = query.get("Stage", "DEVELOPMENT")
    if stage not in ("DEVELOPMENT", "LIVE"):
        raise invalid(f"The parameter Stage has an invalid value: {stage}.")
    routes = {
        ("POST", 0, None): lambda: create(account, environ, start_response),
        ("GET", 0, None): lambda: list_functions(account, query, stage, start_response),
        ("GET", 1, None): lambda: get(account, parts[0], stage, start_response),
        ("PUT", 1, None): lambda: update(account, parts[0], environ, start_response),
        ("DELETE", 1, None): lambda: delete(account, parts[0], environ, start_response),
        ("GET", 2, "describe"): lambda: describe(account, parts[0], stage, start_response),
        ("POST", 2, "publish"): lambda: publish(account, parts[0], environ, start_response),
        ("POST", 2, "test"): lambda: test(account, parts[0], environ, start_response),
    }
    route = routes.get((method, len(parts), parts[1] if len(parts) == 2 else None))
    if route is None:
        raise ApiError(404, "NotFound", "The requested resource does not exist.")
    return route()


def _find(account, name, stage="DEVELOPMENT"):
    record = FUNCTIONS.get(account, {}).get(name)
    if record is None or (stage == "LIVE" and record["live"] is None):
        raise no_such_function()
    return record


def _if_match(environ, *etags):
    given = environ.get("HTTP_IF_MATCH")
    if not given:
        raise ApiError(400, "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if given not in etags:
        raise precondition_failed()


def create(account, environ, start_response):
    root = _root(_body(environ), "CreateFunctionRequest")
    name = _text(root, "Name") or ""
    if not NAME.match(name):
        raise invalid("The parameter Name must be 1 to 64 letters, digits, hyphens or underscores.")
    config, code = _config(root, account), _code(root)
    with LOCK:
        functions = FUNCTIONS.setdefault(account, {})
        if name in functions:
            raise ApiError(409, "FunctionAlreadyExists", f"A function with the name {name} already exists.")
        if len(functions) >= MAX_FUNCTIONS:
            raise ApiError(400, "TooManyFunctions", "You have reached the maximum number of CloudFront functions.")
        now = _now()
        record = {
            "name": name,
            "arn": f"arn:aws:cloudfront::{account}:function/{name}",
            "created": now,
            "dev": {"config": config, "code": code, "etag": _etag(), "modified": now},
            "live": None,
            "published": [],
        }
        functions[name] = record
        body = summary_xml(account, record, "DEVELOPMENT")
    location = f"https://cloudfront.amazonaws.com{API}/{name}"
    return _respond(start_response, 201, body, [("ETag", record["dev"]["etag"]), ("Location", location)])


def update(account, name, environ, start_response):
    root = _root(_body(environ), "UpdateFunctionRequest")
    with LOCK:
        record = _find(account, name)
        _if_match(environ, record["dev"]["etag"])
        config, code = _config(root, account), _code(root)
        record["dev"] = {"config": config, "code": code, "etag": _etag(), "modified": _now()}
        body, etag = summary_xml(account, record, "DEVELOPMENT"), record["dev"]["etag"]
    return _respond(start_response, 200, body, [("ETtag", etag), ("ETag", etag)])


def describe(account, name, stage, start_response):
    with LOCK:
        record = _find(account, name, stage)
        body = summary_xml(account, record, stage)
        etag = record["dev" if stage == "DEVELOPMENT" else "live"]["etag"]
    return _respond(start_response, 200, body, [("ETag", etag)])


def get(account, name, stage, start_response):
    with LOCK:
        record = _find(account, name, stage)
        version = record["dev" if stage == "DEVELOPMENT" else "live"]
        code, etag = version["code"], version["etag"]
    start_response("200 OK", [("ETag", etag), ("Content-Type", "application/octet-stream"), ("Content-Length", str(len(code)))])
    return [code]


def publish(account, name, environ, start_response):
    with LOCK:
        record = _find(account, name)
        _if_match(environ, record["dev"]["etag"])
        dev = record["dev"]
        live = {"config": dev["config"], "code": dev["code"], "etag": _etag(), "etag_dev": dev["etag"], "modified": _now()}
        record["live"] = live
        delay = float(KNOB("function_propagation_seconds", 0) or 0) if KNOB else 0.0
        record["published"].append(dict(live, visible_at=time.time() + delay))
        now = time.time()
        visible = [v for v in record["published"] if v["visible_at"] <= now]
        record["published"] = visible[-1:] + [v for v in record["published"] if v["visible_at"] > now]
        body = summary_xml(account, record, "LIVE")
    return _respond(start_response, 200, body, [("ETag", live["etag"])])


def test(account, name, environ, start_response):
    root = _root(_body(environ), "TestFunctionRequest")
    stage = _text(root, "Stage") or "DEVELOPMENT"
    if stage not in ("DEVELOPMENT", "LIVE"):
        raise invalid(f"The parameter Stage has an invalid value: {stage}.")
    try:
        event = json.loads(base64.b64decode((_text(root, "EventObject") or "").strip()))
    except ValueError:
        raise invalid("The parameter EventObject must be a base64-encoded JSON event.") from None
    with LOCK:
        record = _find(account, name, stage)
        version = record["dev" if stage == "DEVELOPMENT" else "live"]
        _if_match(environ, version["etag"])
        summary = summary_xml(account, record, stage, namespace=False)
    import function_edge

    outcome = function_edge.run(version, event, for_test=True)
    out = [f'<TestResult xmlns="{NAMESPACE}">{summary}<ComputeUtilization>{outcome.get("utilization", 1)}</ComputeUtilization>']
    out.append("<FunctionExecutionLogs>" + "".join(f"<member>{escape(line)}</member>" for line in outcome.get("logs", [])) + "</FunctionExecutionLogs>")
    # Both members, one empty, as CloudFront answers; the output is wrapped as {"request": ...} or {"response": ...}.
    output = ""
    if not outcome.get("error"):
        key = "response" if "statusCode" in outcome["output"] else "request"
        output = json.dumps({key: outcome["output"]}, separators=(",", ":"))
    out.append(f"<FunctionErrorMessage>{escape(outcome.get('error') or '')}</FunctionErrorMessage>")
    out.append(f"<FunctionOutput>{escape(output)}</FunctionOutput>")
    out.append("</TestResult>")
    return _respond(start_response, 200, "".join(out))


def list_functions(account, query, stage, start_response):
    try:
        max_items = int(query.get("MaxItems") or 100)
    except ValueError:
        raise invalid("The parameter MaxItems must be an integer.") from None
    with LOCK:
        records = [r for r in FUNCTIONS.get(account, {}).values() if stage == "DEVELOPMENT" or r["live"]]
        names = [r["name"] for r in records]
        start = names.index(query["Marker"]) if query.get("Marker") in names else 0
        page = records[start : start + max_items]
        out = [f'<FunctionList xmlns="{NAMESPACE}">']
        if start + max_items < len(records):
            out.append(f"<NextMarker>{records[start + max_items]['name']}</NextMarker>")
        out.append(f"<MaxItems>{max_items}</MaxItems><Quantity>{len(page)}</Quantity>")
        if page:
            out.append("<Items>" + "".join(summary_xml(account, r, stage, namespace=False) for r in page) + "</Items>")
        out.append("</FunctionList>")
    return _respond(start_response, 200, "".join(out))


def delete(account, name, environ, start_response):
    with LOCK:
        record = _find(account, name)
        _if_match(environ, record["dev"]["etag"], *([record["live"]["etag"]] if record["live"] else []))
        if in_use(account, record["arn"]):
            raise ApiError(409, "FunctionInUse", "Cannot delete function, it's in use by one or more distributions.")
        del FUNCTIONS[account][name]
    return _respond(start_response, 204)


def reset():
    with LOCK:
        FUNCTIONS.clear()


# --------------------------------------------------------------------------
# Distributions keep FunctionAssociations
# --------------------------------------------------------------------------


def _normalize(block):
    """A request's FunctionAssociations as {"Quantity": n, "Items": [...]}; checked."""
    if not block:
        return {"Quantity": 0}
    items = block.get("Items") or []
    if isinstance(items, dict):
        items = items.get("FunctionAssociation") or []
    if isinstance(items, dict):
        items = [items]
    items = [{"FunctionARN": i.get("FunctionARN"), "EventType": i.get("EventType")} for i in items]
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


def _check_associations(block):
    from moto.cloudfront.exceptions import CloudFrontException

    class InvalidFunctionAssociation(CloudFrontException):
        code = 400

        def __init__(self, message):
            super().__init__("InvalidFunctionAssociation", message)

    seen = set()
    for item in block.get("Items") or []:
        if item["EventType"] not in EVENT_TYPES:
            raise InvalidFunctionAssociation(f"Invalid EventType: {item['EventType']}.")
        if item["EventType"] in seen:
            raise InvalidFunctionAssociation("Only one function can be associated with each event type.")
        seen.add(item["EventType"])
        with LOCK:
            record = by_arn(item["FunctionARN"])
            if record is None or record["live"] is None:
                raise InvalidFunctionAssociation(
                    f"The function ARN {item['FunctionARN']} is invalid: the function does not exist or is not published."
                )


def patch_moto(knob):
    """Cache behaviors keep FunctionAssociations (moto sets Quantity 0), checked
    as CloudFront checks them; moto's reset forgets the functions too."""
    import functools

    from moto.cloudfront import models as cf

    global KNOB
    KNOB = knob
    init = cf.DefaultCacheBehaviour.__init__

    @functools.wraps(init)
    def init_keeping_functions(self, config):
        init(self, config)
        block = _normalize(config.get("FunctionAssociations"))
        _check_associations(block)
        self.function_associations = block

    cf.DefaultCacheBehaviour.__init__ = init_keeping_functions

    from moto.moto_api._internal import models as moto_api

    moto_reset = moto_api.MotoAPIBackend.reset

    @functools.wraps(moto_reset)
    def reset_with_functions(self, *args, **kwargs):
        reset()
        return moto_reset(self, *args, **kwargs)

    moto_api.MotoAPIBackend.reset = reset_with_functions


def wrap(moto_app):
    """moto_app with this API, kvs.py's control plane (both for requests
    signed for cloudfront) and kvs.py's data plane (by path, any Host) in
    front of it."""
    import kvs

    def routed(environ, start_response):
        m = re.search(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if m and m.group(1) == "cloudfront":
            if handles(environ):
                return app(environ, start_response)
            if kvs.handles_control(environ):
                return kvs.control_app(environ, start_response)
        if kvs.handles_data(environ):
            return kvs.data_app(environ, start_response)
        return moto_app(environ, start_response)

    return routed
