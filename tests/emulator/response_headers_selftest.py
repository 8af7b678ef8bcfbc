"""Self-test of response_headers.py against the emulator, in-process.

    .emulator/venv/bin/python tests/emulator/response_headers_selftest.py

Starts the emulator as emulator.main() does (same patches, Harness, HTTPS), with
the two hooks the lead wires into emulator.py applied from here instead:
response_headers.app served from inside Harness before moto, and
response_headers.patch_moto() after the other patches. Then drives every
operation and error with boto3, checks each raw XML answer strictly against
botocore's service model (names, nesting, list member names, required members,
value types), checks the module's SHAPES against that model, and round-trips
configs byte for byte (modulo namespace and whitespace) against what botocore
sent. Prints 'N passed, M failed'; exits non-zero on any failure.
"""

import gzip
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # leave no __pycache__ in the tree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MARKER = os.path.join(ROOT, ".emulator", "venv", ".cdnctl-requirements")

# Someone else may be creating the venv right now: wait for it, never create it.
for _ in range(600):
    if os.path.exists(MARKER):
        break
    time.sleep(1)
else:
    sys.exit(f"no emulator venv ({MARKER}); run: python3 tests/emulator/start.py /tmp/x")

sys.path.insert(0, HERE)

import boto3  # noqa: E402
import botocore  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

import emulator  # noqa: E402
import response_headers  # noqa: E402

ACCOUNT = "123456789012"
KEY = "AKIARHPSELFTEST00001"


# --------------------------------------------------------------------------
# The emulator, started as emulator.main() starts it, plus the two hooks
# --------------------------------------------------------------------------


def start_emulator():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    directory = tempfile.mkdtemp(prefix="rhp-selftest-")
    paths = emulator.make_certificates(directory)
    emulator.patch_moto_like_aws()
    emulator.patch_acm_like_aws()
    response_headers.patch_moto()  # hook 2: after the other patches

    moto_app = DomainDispatcherApplication(create_backend_app)

    def before_moto(environ, start_response):
        # hook 1, as in Harness.__call__ before moto is called
        _key, service, _op, _write = emulator.classify(environ)
        if service == "cloudfront" and response_headers.handles(environ):
            return response_headers.app(environ, start_response)
        return moto_app(environ, start_response)

    server = make_server(
        "127.0.0.1",
        0,
        emulator.Harness(before_moto),
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=(paths["cert.pem"], paths["key.pem"]),
    )
    os.environ["MOTO_PORT"] = str(server.server_port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"https://127.0.0.1:{server.server_port}", paths["ca.pem"]


ENDPOINT, CA = start_emulator()

RAW = []  # (operation name, status, headers, body) of every answer, for the model check
SENT = []  # (operation name, body) of every request


def client(key=KEY, validate=True, account=None):
    c = boto3.client(
        "cloudfront",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key="secret",
        verify=CA,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )

    def keep_answer(http_response, model, **kwargs):
        RAW.append((model.name, http_response.status_code, dict(http_response.headers), http_response.content))

    def keep_request(request, event_name, **kwargs):
        SENT.append((event_name.rsplit(".", 1)[-1], request.body))

    def add_account(request, **kwargs):
        request.headers["x-moto-account-id"] = account

    c.meta.events.register("after-call.cloudfront", keep_answer)
    c.meta.events.register("before-send.cloudfront", keep_request)
    if account:
        c.meta.events.register("before-sign.cloudfront", add_account)
    return c


cf = client()
loose = client(validate=False)  # sends what the client-side validation would stop
s3 = boto3.client(
    "s3",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id=KEY,
    aws_secret_access_key="secret",
    verify=CA,
)


# --------------------------------------------------------------------------
# The service model, and a strict reader of XML against it
# --------------------------------------------------------------------------

MODEL_PATH = os.path.join(os.path.dirname(botocore.__file__), "data", "cloudfront", "2020-05-31", "service-2.json.gz")
with gzip.open(MODEL_PATH) as f:
    MODEL = json.load(f)
MODEL_SHAPES = MODEL["shapes"]


def local(tag):
    return tag.rsplit("}", 1)[-1]


def check_xml(elem, shape_name, path, problems):
    """Every element named and nested as the model says, required members present,
    list members under their locationName, scalars of the right type."""
    shape = MODEL_SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = shape["members"]
        by_xml_name = {m.get("locationName", name): (name, m) for name, m in members.items()}
        seen = set()
        for child in elem:
            name = local(child.tag)
            if name not in by_xml_name:
                problems.append(f"{path}: unexpected element <{name}>")
                continue
            if name in seen:
                problems.append(f"{path}: <{name}> twice")
            seen.add(name)
            member_name, member = by_xml_name[name]
            if member.get("location") in ("header", "uri", "querystring"):
                problems.append(f"{path}: <{name}> belongs in the {member['location']}")
            check_xml(child, member["shape"], f"{path}.{name}", problems)
        for req in shape.get("required", []):
            if members[req].get("location"):
                continue
            if members[req].get("locationName", req) not in seen:
                problems.append(f"{path}: required <{req}> missing")
        return
    if kind == "list":
        member_name = shape["member"].get("locationName", "member")
        for child in elem:
            if local(child.tag) != member_name:
                problems.append(f"{path}: list item <{local(child.tag)}>, model says <{member_name}>")
            check_xml(child, shape["member"]["shape"], f"{path}.{member_name}", problems)
        return
    if len(elem):
        problems.append(f"{path}: scalar with child elements")
        return
    text = elem.text or ""
    if kind == "boolean" and text not in ("true", "false"):
        problems.append(f"{path}: boolean {text!r}")
    elif kind in ("integer", "long"):
        try:
            int(text)
        except ValueError:
            problems.append(f"{path}: integer {text!r}")
    elif kind == "double":
        try:
            float(text)
        except ValueError:
            problems.append(f"{path}: double {text!r}")
    elif kind == "timestamp":
        import datetime

        try:
            datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            problems.append(f"{path}: timestamp {text!r} (want RFC 3339, e.g. 2021-11-02T00:00:00.000Z)")
    elif "enum" in shape and text not in shape["enum"]:
        problems.append(f"{path}: {text!r} not in {shape['enum']}")


def check_answer(operation, status, headers, body):
    """One raw answer against the operation's model: status, payload, header members."""
    op = MODEL["operations"][operation]
    problems = []
    if status >= 300:
        root = ET.fromstring(body)
        if local(root.tag) != "ErrorResponse" or root.tag != "{http://cloudfront.amazonaws.com/doc/2020-05-31/}ErrorResponse":
            problems.append(f"error root {root.tag}")
        error = root.find("{http://cloudfront.amazonaws.com/doc/2020-05-31/}Error")
        names = [local(c.tag) for c in error] if error is not None else []
        if names[:3] != ["Type", "Code", "Message"]:
            problems.append(f"error elements {names}")
        code = error.find("{http://cloudfront.amazonaws.com/doc/2020-05-31/}Code").text
        known = [e["shape"] for e in op.get("errors", [])] + ["InvalidArgument", "MalformedXML"]
        if code in MODEL_SHAPES:
            want = MODEL_SHAPES[code].get("error", {}).get("httpStatusCode")
            if want and want != status:
                problems.append(f"{code}: status {status}, model says {want}")
        if code not in known:
            problems.append(f"{code} is not among {operation}'s errors")
        return problems
    want_status = op["http"].get("responseCode", 200)
    if status != want_status:
        problems.append(f"status {status}, model says {want_status}")
    if "output" not in op:
        if body:
            problems.append("a body where the model has no output")
        return problems
    output = MODEL_SHAPES[op["output"]["shape"]]
    for name, member in output["members"].items():
        if member.get("location") == "header" and member["locationName"] not in headers:
            problems.append(f"header {member['locationName']} missing")
    payload = output["members"][output["payload"]]
    root = ET.fromstring(body)
    if root.tag != "{http://cloudfront.amazonaws.com/doc/2020-05-31/}" + payload.get("locationName", output["payload"]):
        problems.append(f"root {root.tag}")
    check_xml(root, payload["shape"], local(root.tag), problems)
    return problems


def compare_shapes():
    """The module's SHAPES against the model's: names, order, required, list members, enums, types."""
    problems = []
    for name, mine in response_headers.SHAPES.items():
        theirs = MODEL_SHAPES.get(name)
        if theirs is None:
            problems.append(f"{name}: not in the model")
            continue
        kind = mine["type"]
        if kind != theirs["type"]:
            problems.append(f"{name}: type {kind} vs {theirs['type']}")
        if kind == "structure":
            model_members = [(m, spec["shape"]) for m, spec in theirs["members"].items()]
            if mine["members"] != model_members:
                problems.append(f"{name}: members {mine['members']} vs {model_members}")
            if sorted(mine["required"]) != sorted(theirs.get("required", [])):
                problems.append(f"{name}: required {mine['required']} vs {theirs.get('required')}")
            for m, spec in theirs["members"].items():
                if "locationName" in spec and spec["locationName"] != m:
                    problems.append(f"{name}.{m}: model renames it {spec['locationName']}")
        elif kind == "list":
            if mine["member_name"] != theirs["member"].get("locationName"):
                problems.append(f"{name}: member {mine['member_name']} vs {theirs['member'].get('locationName')}")
            if mine["member"] != theirs["member"]["shape"]:
                problems.append(f"{name}: member shape {mine['member']} vs {theirs['member']['shape']}")
        else:
            if mine.get("enum") != theirs.get("enum"):
                problems.append(f"{name}: enum {mine.get('enum')} vs {theirs.get('enum')}")
            for bound in ("min", "max"):
                if bound in theirs and mine.get(bound) != theirs[bound]:
                    problems.append(f"{name}: {bound} {mine.get(bound)} vs {theirs[bound]}")

    # every shape reachable from ResponseHeadersPolicyConfig is covered
    def reach(name, seen):
        if name in seen:
            return
        seen.add(name)
        shape = MODEL_SHAPES[name]
        for spec in shape.get("members", {}).values():
            reach(spec["shape"], seen)
        if "member" in shape:
            reach(shape["member"]["shape"], seen)

    reachable = set()
    reach("ResponseHeadersPolicyConfig", reachable)
    for name in sorted(reachable - set(response_headers.SHAPES)):
        problems.append(f"{name}: in the model, missing from SHAPES")
    return problems


def canonical(body):
    """An XML document as (tag without namespace, text, children), whitespace ignored."""

    def walk(e):
        kids = [walk(c) for c in e]
        return (local(e.tag), (e.text or "").strip() if not kids else "", kids)

    return walk(ET.fromstring(body))


# --------------------------------------------------------------------------
# A tiny test runner
# --------------------------------------------------------------------------

PASSED, FAILED = [], []


def test(fn):
    name = fn.__name__
    try:
        fn()
    except Exception:
        FAILED.append(name)
        print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    else:
        PASSED.append(name)
        print(f"ok   {name}", flush=True)
    return fn


def error_of(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Message")
    raise AssertionError(f"{call.__name__} succeeded; an error was expected")


def expect_error(code, status, call, *args, **kwargs):
    got = error_of(call, *args, **kwargs)
    assert got[:2] == (code, status), f"expected {code} {status}, got {got}"
    return got


def full_config(name):
    return {
        "Comment": "every section <&> \"quoted\"",
        "Name": name,
        "CorsConfig": {
            "AccessControlAllowOrigins": {"Quantity": 2, "Items": ["https://a.example", "https://b.example:8443"]},
            "AccessControlAllowHeaders": {"Quantity": 2, "Items": ["Content-Type", "X-Requested-With"]},
            "AccessControlAllowMethods": {"Quantity": 3, "Items": ["GET", "HEAD", "OPTIONS"]},
            "AccessControlAllowCredentials": True,
            "AccessControlExposeHeaders": {"Quantity": 1, "Items": ["ETag"]},
            "AccessControlMaxAgeSec": 600,
            "OriginOverride": True,
        },
        "SecurityHeadersConfig": {
            "XSSProtection": {"Override": True, "Protection": True, "ReportUri": "https://r.example/x"},
            "FrameOptions": {"Override": True, "FrameOption": "DENY"},
            "ReferrerPolicy": {"Override": False, "ReferrerPolicy": "same-origin"},
            "ContentSecurityPolicy": {"Override": True, "ContentSecurityPolicy": "default-src 'self'"},
            "ContentTypeOptions": {"Override": True},
            "StrictTransportSecurity": {
                "Override": True,
                "IncludeSubdomains": True,
                "Preload": False,
                "AccessControlMaxAgeSec": 63072000,
            },
        },
        "ServerTimingHeadersConfig": {"Enabled": True, "SamplingRate": 12.5},
        "CustomHeadersConfig": {
            "Quantity": 2,
            "Items": [
                {"Header": "X-One", "Value": "1", "Override": True},
                {"Header": "Cache-Control", "Value": "public, max-age=60", "Override": False},
            ],
        },
        "RemoveHeadersConfig": {"Quantity": 1, "Items": [{"Header": "Server"}]},
    }


def cors_config(name, origins=("https://app.example",)):
    return {
        "Name": name,
        "CorsConfig": {
            "AccessControlAllowOrigins": {"Quantity": len(origins), "Items": list(origins)},
            "AccessControlAllowHeaders": {"Quantity": 1, "Items": ["*"]},
            "AccessControlAllowMethods": {"Quantity": 3, "Items": ["GET", "HEAD", "OPTIONS"]},
            "AccessControlAllowCredentials": False,
            "OriginOverride": True,
        },
    }


MANAGED = {
    "60669652-455b-4ae9-85a4-c4c02393f86c": "Managed-SimpleCORS",
    "5cc3b908-e619-4b99-88e5-2cf7f45965bd": "Managed-CORS-With-Preflight",
    "e61eb60c-9c35-4d20-a928-2b84e02af89c": "Managed-CORS-and-SecurityHeadersPolicy",
    "eaab4381-ed33-4a86-88ca-d9558dc6cd63": "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
    "67f7725c-6f97-4210-82d7-5512b31e9d03": "Managed-SecurityHeadersPolicy",
}
SIMPLE_CORS = "60669652-455b-4ae9-85a4-c4c02393f86c"

_bucket = []


def distribution_config(ref, default_policy=None, path_policy=None):
    if not _bucket:
        s3.create_bucket(Bucket="rhp-selftest")
        _bucket.append("rhp-selftest")
    behavior = {
        "TargetOriginId": "s3",
        "ViewerProtocolPolicy": "redirect-to-https",
        "Compress": True,
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    }
    config = {
        "CallerReference": ref,
        "Comment": "rhp selftest",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3",
                    "DomainName": "rhp-selftest.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": dict(behavior, **({"ResponseHeadersPolicyId": default_policy} if default_policy else {})),
    }
    if path_policy:
        config["CacheBehaviors"] = {
            "Quantity": 1,
            "Items": [dict(behavior, PathPattern="/api/*", ResponseHeadersPolicyId=path_policy)],
        }
    return config


def strip_meta(response):
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


@test
def shapes_match_the_service_model():
    problems = compare_shapes()
    assert not problems, "\n".join(problems)


@test
def hook_routes_only_the_policy_api():
    env = {"PATH_INFO": "/2020-05-31/response-headers-policy"}
    assert response_headers.handles(env)
    assert response_headers.handles({"PATH_INFO": "/2020-05-31/response-headers-policy/abc/config"})
    assert not response_headers.handles({"PATH_INFO": "/2020-05-31/distribution"})
    assert not response_headers.handles({"PATH_INFO": "/2020-05-31/response-headers-policyX"})
    # and the request went through Harness (logged under the client's key)
    cf.list_response_headers_policies()
    ops = [e["op"] for e in emulator.LOG.get(KEY, [])]
    assert any(op.startswith("GET /2020-05-31/response-headers-policy") for op in ops), ops


@test
def wrap_routes_like_the_hook():
    auth = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"
    routed = response_headers.wrap(lambda environ, start_response: ["moto"])
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": "/2020-05-31/response-headers-policy", "QUERY_STRING": ""}
    started = []
    answer = routed(dict(base, HTTP_AUTHORIZATION=auth.format("cloudfront")), lambda status, headers: started.append(status))
    assert started == ["200 OK"] and b"<ResponseHeadersPolicyList" in answer[0], (started, answer)
    assert routed(dict(base, HTTP_AUTHORIZATION=auth.format("s3")), None) == ["moto"]
    assert routed(dict(base, PATH_INFO="/2020-05-31/distribution", HTTP_AUTHORIZATION=auth.format("cloudfront")), None) == ["moto"]


@test
def managed_policies_are_listed_and_readable():
    listed = cf.list_response_headers_policies(Type="managed")["ResponseHeadersPolicyList"]
    assert listed["Quantity"] == 5, listed
    got = {i["ResponseHeadersPolicy"]["Id"]: i for i in listed["Items"]}
    assert set(got) == set(MANAGED), got.keys()
    for policy_id, name in MANAGED.items():
        assert got[policy_id]["Type"] == "managed"
        assert got[policy_id]["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"] == name
        one = cf.get_response_headers_policy(Id=policy_id)
        assert one["ETag"], one
        assert one["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"] == name
        config = cf.get_response_headers_policy_config(Id=policy_id)
        assert config["ETag"] == one["ETag"]
        assert config["ResponseHeadersPolicyConfig"] == one["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]
    simple = cf.get_response_headers_policy(Id=SIMPLE_CORS)["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]
    assert simple["CorsConfig"]["AccessControlAllowOrigins"]["Items"] == ["*"], simple
    assert simple["CorsConfig"]["OriginOverride"] is False
    preflight = cf.get_response_headers_policy(Id="5cc3b908-e619-4b99-88e5-2cf7f45965bd")
    methods = preflight["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["CorsConfig"]["AccessControlAllowMethods"]
    assert "OPTIONS" in methods["Items"], methods
    security = cf.get_response_headers_policy(Id="67f7725c-6f97-4210-82d7-5512b31e9d03")
    sec = security["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert sec["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 31536000, sec
    assert sec["ContentTypeOptions"]["Override"] is True


@test
def create_returns_201_etag_location_and_round_trips_exactly():
    config = full_config("selftest-full")
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=config)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    policy = created["ResponseHeadersPolicy"]
    assert created["ETag"] and created["Location"].endswith("/2020-05-31/response-headers-policy/" + policy["Id"]), created
    assert policy["ResponseHeadersPolicyConfig"] == config, policy["ResponseHeadersPolicyConfig"]
    sent = [body for op, body in SENT if op == "CreateResponseHeadersPolicy"][-1]
    got = cf.get_response_headers_policy_config(Id=policy["Id"])
    assert got["ResponseHeadersPolicyConfig"] == config
    assert got["ETag"] == created["ETag"]
    raw = RAW[-1][3]
    assert canonical(raw) == canonical(sent), f"sent {sent!r}\ngot  {raw!r}"
    again = cf.get_response_headers_policy(Id=policy["Id"])
    assert again["ResponseHeadersPolicy"] == policy
    assert again["ETag"] == created["ETag"]


@test
def create_minimal_and_empty_lists_round_trip():
    config = {"Name": "selftest_min-1", "RemoveHeadersConfig": {"Quantity": 0, "Items": []}}
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=config)
    got = cf.get_response_headers_policy_config(Id=created["ResponseHeadersPolicy"]["Id"])
    assert got["ResponseHeadersPolicyConfig"] in (config, {"Name": "selftest_min-1", "RemoveHeadersConfig": {"Quantity": 0}}), got
    sent = [body for op, body in SENT if op == "CreateResponseHeadersPolicy"][-1]
    assert canonical(RAW[-1][3]) == canonical(sent)


@test
def names_are_unique_per_account():
    cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-dup"))
    expect_error(
        "ResponseHeadersPolicyAlreadyExists",
        409,
        cf.create_response_headers_policy,
        ResponseHeadersPolicyConfig=cors_config("selftest-dup"),
    )
    # another account may use the name, and sees none of this account's policies
    other = client(key="AKIARHPSELFTEST00002", account="111111111111")
    created = other.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-dup"))
    theirs = other.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]
    assert [i["ResponseHeadersPolicy"]["Id"] for i in theirs["Items"]] == [created["ResponseHeadersPolicy"]["Id"]]
    mine = [i["ResponseHeadersPolicy"]["Id"] for i in cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]["Items"]]
    assert created["ResponseHeadersPolicy"]["Id"] not in mine
    expect_error("NoSuchResponseHeadersPolicy", 404, cf.get_response_headers_policy, Id=created["ResponseHeadersPolicy"]["Id"])


@test
def invalid_configs_are_refused():
    bad_names = ["has space", "a" * 129, "dot.ted", ""]
    for name in bad_names:
        code, status, _ = error_of(loose.create_response_headers_policy, ResponseHeadersPolicyConfig=cors_config(name))
        assert (code, status) == ("InvalidArgument", 400), (name, code, status)
    cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("a" * 128))
    no_name = cors_config("x")
    del no_name["Name"]
    expect_error("InvalidArgument", 400, loose.create_response_headers_policy, ResponseHeadersPolicyConfig=no_name)
    for member in ("AccessControlAllowOrigins", "AccessControlAllowHeaders", "AccessControlAllowMethods", "OriginOverride"):
        config = cors_config("selftest-missing")
        del config["CorsConfig"][member]
        expect_error("InvalidArgument", 400, loose.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
        config["CorsConfig"][member] = {"Quantity": 0, "Items": []} if member != "OriginOverride" else True
        if member != "OriginOverride":  # present but empty
            expect_error("InvalidArgument", 400, loose.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
    config = cors_config("selftest-trace")
    config["CorsConfig"]["AccessControlAllowMethods"] = {"Quantity": 2, "Items": ["GET", "TRACE"]}
    expect_error("InvalidArgument", 400, loose.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
    for method in ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE", "ALL"]:
        config = cors_config(f"selftest-method-{method}")
        config["CorsConfig"]["AccessControlAllowMethods"] = {"Quantity": 1, "Items": [method]}
        cf.create_response_headers_policy(ResponseHeadersPolicyConfig=config)
    config = cors_config("selftest-quantity")
    config["CorsConfig"]["AccessControlAllowOrigins"]["Quantity"] = 3
    expect_error("InconsistentQuantities", 400, loose.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
    config = {"Name": "selftest-csp", "SecurityHeadersConfig": {"ContentSecurityPolicy": {"Override": True, "ContentSecurityPolicy": "x" * 1784}}}
    expect_error("TooLongCSPInResponseHeadersPolicy", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
    headers = [{"Header": f"X-H{i}", "Value": "v", "Override": True} for i in range(11)]
    config = {"Name": "selftest-many", "CustomHeadersConfig": {"Quantity": 11, "Items": headers}}
    expect_error("TooManyCustomHeadersInResponseHeadersPolicy", 400, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=config)
    names = [i["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"] for i in cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"].get("Items", [])]
    for refused in ("selftest-missing", "selftest-trace", "selftest-quantity", "selftest-csp", "selftest-many"):
        assert refused not in names, names


@test
def malformed_xml_is_refused():
    request = urllib.request.Request(
        ENDPOINT + "/2020-05-31/response-headers-policy",
        data=b"<ResponseHeadersPolicyConfig><Name>x</Name><Bogus/></ResponseHeadersPolicyConfig>",
        method="POST",
        headers={
            "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20250101/us-east-1/cloudfront/aws4_request, SignedHeaders=host, Signature=0",
            "Content-Type": "application/xml",
        },
    )
    import ssl

    try:
        urllib.request.urlopen(request, context=ssl.create_default_context(cafile=CA))
    except urllib.error.HTTPError as e:
        body = e.read()
        assert e.code == 400, e.code
        assert b"<Code>MalformedXML</Code>" in body, body
    else:
        raise AssertionError("accepted an unknown element")


@test
def unknown_ids_are_404():
    for call in (cf.get_response_headers_policy, cf.get_response_headers_policy_config):
        expect_error("NoSuchResponseHeadersPolicy", 404, call, Id="00000000-0000-0000-0000-000000000000")
    expect_error(
        "NoSuchResponseHeadersPolicy",
        404,
        cf.update_response_headers_policy,
        Id="00000000-0000-0000-0000-000000000000",
        IfMatch="E1",
        ResponseHeadersPolicyConfig=cors_config("selftest-nothing"),
    )
    expect_error("NoSuchResponseHeadersPolicy", 404, cf.delete_response_headers_policy, Id="00000000-0000-0000-0000-000000000000", IfMatch="E1")


@test
def list_filters_and_pages():
    everything = cf.list_response_headers_policies()["ResponseHeadersPolicyList"]
    custom = cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]
    managed = cf.list_response_headers_policies(Type="managed")["ResponseHeadersPolicyList"]
    assert everything["Quantity"] == custom["Quantity"] + 5 == len(everything["Items"]), everything["Quantity"]
    assert {i["Type"] for i in custom["Items"]} == {"custom"}
    assert {i["Type"] for i in managed["Items"]} == {"managed"}
    assert "NextMarker" not in everything
    seen, marker = [], None
    while True:
        kwargs = {"Type": "custom", "MaxItems": "2"}
        if marker:
            kwargs["Marker"] = marker
        page = cf.list_response_headers_policies(**kwargs)["ResponseHeadersPolicyList"]
        assert page["MaxItems"] == 2 and page["Quantity"] == len(page.get("Items", [])) <= 2, page
        seen += [i["ResponseHeadersPolicy"]["Id"] for i in page.get("Items", [])]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == [i["ResponseHeadersPolicy"]["Id"] for i in custom["Items"]], seen
    expect_error("InvalidArgument", 400, loose.list_response_headers_policies, Type="bogus")


@test
def update_needs_the_current_etag_and_gives_a_new_one():
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-upd"))
    policy_id, etag = created["ResponseHeadersPolicy"]["Id"], created["ETag"]
    changed = full_config("selftest-upd")
    expect_error("InvalidIfMatchVersion", 400, cf.update_response_headers_policy, Id=policy_id, ResponseHeadersPolicyConfig=changed)
    expect_error("PreconditionFailed", 412, cf.update_response_headers_policy, Id=policy_id, IfMatch="EWRONG", ResponseHeadersPolicyConfig=changed)
    updated = cf.update_response_headers_policy(Id=policy_id, IfMatch=etag, ResponseHeadersPolicyConfig=changed)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["ETag"] and updated["ETag"] != etag, (updated["ETag"], etag)
    assert updated["ResponseHeadersPolicy"]["Id"] == policy_id
    assert updated["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == changed
    got = cf.get_response_headers_policy(Id=policy_id)
    assert got["ETag"] == updated["ETag"] and got["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == changed
    expect_error("PreconditionFailed", 412, cf.update_response_headers_policy, Id=policy_id, IfMatch=etag, ResponseHeadersPolicyConfig=changed)
    # renaming onto another policy's name, or an invalid config, is refused and changes nothing
    cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-upd-other"))
    expect_error(
        "ResponseHeadersPolicyAlreadyExists",
        409,
        cf.update_response_headers_policy,
        Id=policy_id,
        IfMatch=updated["ETag"],
        ResponseHeadersPolicyConfig=cors_config("selftest-upd-other"),
    )
    bad = cors_config("selftest-upd")
    bad["CorsConfig"]["AccessControlAllowMethods"] = {"Quantity": 1, "Items": ["TRACE"]}
    expect_error("InvalidArgument", 400, loose.update_response_headers_policy, Id=policy_id, IfMatch=updated["ETag"], ResponseHeadersPolicyConfig=bad)
    assert cf.get_response_headers_policy(Id=policy_id)["ETag"] == updated["ETag"]
    # renaming to a free name works
    renamed = cors_config("selftest-upd-renamed")
    again = cf.update_response_headers_policy(Id=policy_id, IfMatch=updated["ETag"], ResponseHeadersPolicyConfig=renamed)
    assert again["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"] == renamed


@test
def managed_policies_cannot_be_changed():
    etag = cf.get_response_headers_policy(Id=SIMPLE_CORS)["ETag"]
    expect_error("IllegalUpdate", 400, cf.update_response_headers_policy, Id=SIMPLE_CORS, IfMatch=etag, ResponseHeadersPolicyConfig=cors_config("Managed-SimpleCORS"))
    expect_error("IllegalDelete", 400, cf.delete_response_headers_policy, Id=SIMPLE_CORS, IfMatch=etag)
    assert cf.get_response_headers_policy(Id=SIMPLE_CORS)["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"] == "Managed-SimpleCORS"
    expect_error("ResponseHeadersPolicyAlreadyExists", 409, cf.create_response_headers_policy, ResponseHeadersPolicyConfig=cors_config("Managed-SimpleCORS"))


@test
def delete_needs_the_current_etag():
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-del"))
    policy_id = created["ResponseHeadersPolicy"]["Id"]
    expect_error("InvalidIfMatchVersion", 400, cf.delete_response_headers_policy, Id=policy_id)
    expect_error("PreconditionFailed", 412, cf.delete_response_headers_policy, Id=policy_id, IfMatch="EWRONG")
    deleted = cf.delete_response_headers_policy(Id=policy_id, IfMatch=created["ETag"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NoSuchResponseHeadersPolicy", 404, cf.get_response_headers_policy, Id=policy_id)
    # the name is free again
    cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-del"))


@test
def distribution_with_managed_simple_cors_is_created():
    dist = cf.create_distribution(DistributionConfig=distribution_config("rhp-managed", SIMPLE_CORS))["Distribution"]
    got = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
    assert got["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == SIMPLE_CORS, got["DefaultCacheBehavior"]
    tagged = cf.create_distribution_with_tags(
        DistributionConfigWithTags={
            "DistributionConfig": distribution_config("rhp-managed-tags", "67f7725c-6f97-4210-82d7-5512b31e9d03"),
            "Tags": {"Items": [{"Key": "k", "Value": "v"}]},
        }
    )
    assert tagged["Distribution"]["Id"]


@test
def distribution_with_unknown_policy_is_refused():
    unknown = "11111111-2222-3333-4444-555555555555"
    before = cf.list_distributions()["DistributionList"]["Quantity"]
    code, status, message = expect_error(
        "NoSuchResponseHeadersPolicy", 404, cf.create_distribution, DistributionConfig=distribution_config("rhp-unknown", unknown)
    )
    assert message == "The response headers policy does not exist.", message
    expect_error(
        "NoSuchResponseHeadersPolicy",
        404,
        cf.create_distribution_with_tags,
        DistributionConfigWithTags={"DistributionConfig": distribution_config("rhp-unknown-t", unknown), "Tags": {"Items": []}},
    )
    expect_error(
        "NoSuchResponseHeadersPolicy",
        404,
        cf.create_distribution,
        DistributionConfig=distribution_config("rhp-unknown-path", SIMPLE_CORS, path_policy=unknown),
    )
    assert cf.list_distributions()["DistributionList"]["Quantity"] == before
    # a policy of another account is unknown here too
    other = client(key="AKIARHPSELFTEST00003", account="222222222222")
    theirs = other.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-theirs"))
    expect_error(
        "NoSuchResponseHeadersPolicy",
        404,
        cf.create_distribution,
        DistributionConfig=distribution_config("rhp-theirs", theirs["ResponseHeadersPolicy"]["Id"]),
    )
    # the error body is CloudFront's XML error format
    status, body = RAW[-1][1], RAW[-1][3]
    assert status == 404 and b"<ErrorResponse" in body and b"<Code>NoSuchResponseHeadersPolicy</Code>" in body, body


@test
def custom_policy_in_use_cannot_be_deleted():
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-used"))
    policy_id, etag = created["ResponseHeadersPolicy"]["Id"], created["ETag"]
    made = cf.create_distribution(DistributionConfig=distribution_config("rhp-custom", policy_id))
    dist_id = made["Distribution"]["Id"]
    got = cf.get_distribution_config(Id=dist_id)
    assert got["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == policy_id
    expect_error("ResponseHeadersPolicyInUse", 409, cf.delete_response_headers_policy, Id=policy_id, IfMatch=etag)
    # used only by a path behavior: still in use
    config = got["DistributionConfig"]
    config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = SIMPLE_CORS
    config["CacheBehaviors"] = distribution_config("x", path_policy=policy_id)["CacheBehaviors"]
    updated = cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    expect_error("ResponseHeadersPolicyInUse", 409, cf.delete_response_headers_policy, Id=policy_id, IfMatch=etag)
    # an update naming an unknown policy is refused and changes nothing
    got = cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] = "99999999-9999-9999-9999-999999999999"
    expect_error("NoSuchResponseHeadersPolicy", 404, cf.update_distribution, Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    assert cf.get_distribution_config(Id=dist_id)["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == SIMPLE_CORS
    # no longer used: deletable
    got = cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["CacheBehaviors"] = {"Quantity": 0}
    cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    cf.delete_response_headers_policy(Id=policy_id, IfMatch=etag)
    expect_error("NoSuchResponseHeadersPolicy", 404, cf.get_response_headers_policy, Id=policy_id)
    assert updated


@test
def deleting_the_distribution_frees_the_policy():
    created = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-freed"))
    policy_id, etag = created["ResponseHeadersPolicy"]["Id"], created["ETag"]
    made = cf.create_distribution(DistributionConfig=distribution_config("rhp-freed", policy_id))
    dist_id = made["Distribution"]["Id"]
    expect_error("ResponseHeadersPolicyInUse", 409, cf.delete_response_headers_policy, Id=policy_id, IfMatch=etag)
    got = cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["Enabled"] = False
    done = cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    cf.delete_distribution(Id=dist_id, IfMatch=done["ETag"])
    cf.delete_response_headers_policy(Id=policy_id, IfMatch=etag)


@test
def concurrent_creates_of_one_name_make_one_policy():
    results = []

    def make():
        try:
            client().create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-race"))
            results.append("ok")
        except ClientError as e:
            results.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ResponseHeadersPolicyAlreadyExists"] * 7 + ["ok"], results


@test
def the_model_checks_catch_mistakes():
    # the strict reader and the SHAPES comparison would notice a wrong name
    good = (
        '<ResponseHeadersPolicyConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Name>n</Name>'
        "<CorsConfig><AccessControlAllowOrigins><Quantity>1</Quantity><Items><Origin>*</Origin></Items>"
        "</AccessControlAllowOrigins><AccessControlAllowHeaders><Quantity>0</Quantity><Items/></AccessControlAllowHeaders>"
        "<AccessControlAllowMethods><Quantity>1</Quantity><Items><Method>GET</Method></Items></AccessControlAllowMethods>"
        "<AccessControlAllowCredentials>false</AccessControlAllowCredentials><OriginOverride>true</OriginOverride>"
        "</CorsConfig></ResponseHeadersPolicyConfig>"
    )
    problems = []
    check_xml(ET.fromstring(good), "ResponseHeadersPolicyConfig", "C", problems)
    assert not problems, problems
    for wrong in (
        good.replace("<Origin>*</Origin>", "<Item>*</Item>"),
        good.replace("<Method>GET</Method>", "<Method>TRACE</Method>"),
        good.replace("<OriginOverride>true</OriginOverride>", ""),
        good.replace("<OriginOverride>true", "<OriginOverride>True"),
        good.replace("<Name>n</Name>", "<Name>n</Name><Extra/>"),
    ):
        problems = []
        check_xml(ET.fromstring(wrong), "ResponseHeadersPolicyConfig", "C", problems)
        assert problems, wrong
    shapes = response_headers.SHAPES
    saved = shapes["AccessControlAllowOriginsList"]
    try:
        shapes["AccessControlAllowOriginsList"] = dict(saved, member_name="Item")
        assert compare_shapes(), "a wrong list member name went unnoticed"
    finally:
        shapes["AccessControlAllowOriginsList"] = saved
    assert not compare_shapes()


def raw_request(method, path, body=b"", headers=None):
    import ssl

    request = urllib.request.Request(
        ENDPOINT + path,
        data=body if method in ("POST", "PUT") else None,
        method=method,
        headers={
            "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20250101/us-east-1/cloudfront/aws4_request, SignedHeaders=host, Signature=0",
            "Content-Type": "application/xml",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=CA)) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@test
def a_body_as_the_rust_sdk_writes_it_round_trips():
    # aws-sdk-cloudfront writes required lists even when empty (<Items></Items>),
    # no XML declaration, doubles without a fraction, members in model order.
    body = (
        '<ResponseHeadersPolicyConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">'
        "<Comment>cdnctl</Comment><Name>selftest-rust</Name>"
        "<CorsConfig><AccessControlAllowOrigins><Quantity>1</Quantity><Items><Origin>https://app.example</Origin></Items>"
        "</AccessControlAllowOrigins><AccessControlAllowHeaders><Quantity>1</Quantity><Items><Header>*</Header></Items>"
        "</AccessControlAllowHeaders><AccessControlAllowMethods><Quantity>3</Quantity><Items><Method>GET</Method>"
        "<Method>HEAD</Method><Method>OPTIONS</Method></Items></AccessControlAllowMethods>"
        "<AccessControlAllowCredentials>false</AccessControlAllowCredentials>"
        "<AccessControlExposeHeaders><Quantity>0</Quantity><Items></Items></AccessControlExposeHeaders>"
        "<AccessControlMaxAgeSec>3000</AccessControlMaxAgeSec><OriginOverride>true</OriginOverride></CorsConfig>"
        "<ServerTimingHeadersConfig><Enabled>false</Enabled><SamplingRate>10</SamplingRate></ServerTimingHeadersConfig>"
        "</ResponseHeadersPolicyConfig>"
    ).encode()
    status, headers, answer = raw_request("POST", "/2020-05-31/response-headers-policy", body)
    assert status == 201, (status, answer)
    RAW.append(("CreateResponseHeadersPolicy", status, headers, answer))
    assert headers["Content-Type"] == "text/xml" and headers.get("x-amz-request-id"), headers
    policy_id = ET.fromstring(answer).find("{http://cloudfront.amazonaws.com/doc/2020-05-31/}Id").text
    status, headers, config = raw_request("GET", f"/2020-05-31/response-headers-policy/{policy_id}/config")
    assert status == 200 and headers["ETag"], (status, headers)
    RAW.append(("GetResponseHeadersPolicyConfig", status, headers, config))
    assert canonical(config) == canonical(body), config
    # the brief's PUT .../{Id}/config is served too (the SDKs use PUT .../{Id})
    status, headers, updated = raw_request(
        "PUT", f"/2020-05-31/response-headers-policy/{policy_id}/config", body, {"If-Match": headers["ETag"]}
    )
    assert status == 200, (status, updated)


@test
def every_answer_matches_the_service_model():
    problems = []
    for operation, status, headers, body in list(RAW):
        if "ResponseHeadersPolic" not in operation:
            continue
        for p in check_answer(operation, status, headers, body):
            problems.append(f"{operation} {status}: {p}")
    seen = {op for op, *_ in RAW}
    for op in (
        "CreateResponseHeadersPolicy",
        "GetResponseHeadersPolicy",
        "GetResponseHeadersPolicyConfig",
        "ListResponseHeadersPolicies",
        "UpdateResponseHeadersPolicy",
        "DeleteResponseHeadersPolicy",
    ):
        if op not in seen:
            problems.append(f"{op} never exercised")
    assert not problems, "\n".join(sorted(set(problems)))


@test
def moto_reset_forgets_custom_policies():
    cf.create_response_headers_policy(ResponseHeadersPolicyConfig=cors_config("selftest-reset"))
    urllib.request.urlopen(
        urllib.request.Request(ENDPOINT + "/moto-api/reset", method="POST", data=b""),
        context=__import__("ssl").create_default_context(cafile=CA),
    )
    listed = cf.list_response_headers_policies()["ResponseHeadersPolicyList"]
    assert listed["Quantity"] == 5, listed["Quantity"]


print(f"{len(PASSED)} passed, {len(FAILED)} failed", flush=True)
sys.exit(1 if FAILED else 0)
