"""CloudFront response headers policies, which moto 5.2.5 does not have.

moto serves no response headers policy API and stores any
ResponseHeadersPolicyId a cache behavior names. This module adds both halves,
as real CloudFront behaves (2020-05-31 REST-XML API):

- `app`: a WSGI app serving Create/Get/GetConfig/List/Update/Delete
  ResponseHeadersPolicy under /2020-05-31/response-headers-policy, with the five
  managed policies AWS publishes, per account, with ETags and If-Match.
  emulator.Harness routes to it, before moto, when `handles(environ)`.
- `patch_moto()`: CreateDistribution(WithTags) and UpdateDistribution refuse a
  cache behavior naming a policy that is neither managed nor one of the
  account's own (NoSuchResponseHeadersPolicy), and DeleteResponseHeadersPolicy
  refuses a policy a distribution uses (ResponseHeadersPolicyInUse).

XML element names, nesting and order follow the service model's shapes (SHAPES
below mirrors botocore's cloudfront 2020-05-31 service-2.json; the self-test
checks that). A policy's config is stored as parsed and written back as given.
"""

import datetime
import os
import random
import re
import string
import threading
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

API = "/2020-05-31/response-headers-policy"
NAMESPACE = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
DEFAULT_ACCOUNT = "123456789012"

LOCK = threading.RLock()  # guards POLICIES, and distribution create/update against delete
POLICIES = {}  # account id -> {policy id: {"id", "etag", "modified", "config"}}


# --------------------------------------------------------------------------
# The shapes, as in the service model (member order, required members, list
# member names, enums). Names are the model's own shape names.
# --------------------------------------------------------------------------


def _structure(members, required=()):
    return {"type": "structure", "members": members, "required": list(required)}


def _list(member_name, member_shape):
    return {"type": "list", "member_name": member_name, "member": member_shape}


def _quantity_list(list_shape, required=("Quantity", "Items")):
    return _structure([("Quantity", "integer"), ("Items", list_shape)], required)


SHAPES = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "SamplingRate": {"type": "double", "min": 0.0, "max": 100.0},
    "ResponseHeadersPolicyAccessControlAllowMethodsValues": {
        "type": "string",
        "enum": ["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH", "HEAD", "ALL"],
    },
    "FrameOptionsList": {"type": "string", "enum": ["DENY", "SAMEORIGIN"]},
    "ReferrerPolicyList": {
        "type": "string",
        "enum": [
            "no-referrer",
            "no-referrer-when-downgrade",
            "origin",
            "origin-when-cross-origin",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin",
            "unsafe-url",
        ],
    },
    "ResponseHeadersPolicyConfig": _structure(
        [
            ("Comment", "string"),
            ("Name", "string"),
            ("CorsConfig", "ResponseHeadersPolicyCorsConfig"),
            ("SecurityHeadersConfig", "ResponseHeadersPolicySecurityHeadersConfig"),
            ("ServerTimingHeadersConfig", "ResponseHeadersPolicyServerTimingHeadersConfig"),
            ("CustomHeadersConfig", "ResponseHeadersPolicyCustomHeadersConfig"),
            ("RemoveHeadersConfig", "ResponseHeadersPolicyRemoveHeadersConfig"),
        ],
        ["Name"],
    ),
    "ResponseHeadersPolicyCorsConfig": _structure(
        [
            ("AccessControlAllowOrigins", "ResponseHeadersPolicyAccessControlAllowOrigins"),
            ("AccessControlAllowHeaders", "ResponseHeadersPolicyAccessControlAllowHeaders"),
            ("AccessControlAllowMethods", "ResponseHeadersPolicyAccessControlAllowMethods"),
            ("AccessControlAllowCredentials", "boolean"),
            ("AccessControlExposeHeaders", "ResponseHeadersPolicyAccessControlExposeHeaders"),
            ("AccessControlMaxAgeSec", "integer"),
            ("OriginOverride", "boolean"),
        ],
        [
            "AccessControlAllowOrigins",
            "AccessControlAllowHeaders",
            "AccessControlAllowMethods",
            "AccessControlAllowCredentials",
            "OriginOverride",
        ],
    ),
    "ResponseHeadersPolicyAccessControlAllowOrigins": _quantity_list("AccessControlAllowOriginsList"),
    "AccessControlAllowOriginsList": _list("Origin", "string"),
    "ResponseHeadersPolicyAccessControlAllowHeaders": _quantity_list("AccessControlAllowHeadersList"),
    "AccessControlAllowHeadersList": _list("Header", "string"),
    "ResponseHeadersPolicyAccessControlAllowMethods": _quantity_list("AccessControlAllowMethodsList"),
    "AccessControlAllowMethodsList": _list("Method", "ResponseHeadersPolicyAccessControlAllowMethodsValues"),
    "ResponseHeadersPolicyAccessControlExposeHeaders": _quantity_list(
        "AccessControlExposeHeadersList", ["Quantity"]
    ),
    "AccessControlExposeHeadersList": _list("Header", "string"),
    "ResponseHeadersPolicySecurityHeadersConfig": _structure(
        [
            ("XSSProtection", "ResponseHeadersPolicyXSSProtection"),
            ("FrameOptions", "ResponseHeadersPolicyFrameOptions"),
            ("ReferrerPolicy", "ResponseHeadersPolicyReferrerPolicy"),
            ("ContentSecurityPolicy", "ResponseHeadersPolicyContentSecurityPolicy"),
            ("ContentTypeOptions", "ResponseHeadersPolicyContentTypeOptions"),
            ("StrictTransportSecurity", "ResponseHeadersPolicyStrictTransportSecurity"),
        ]
    ),
    "ResponseHeadersPolicyXSSProtection": _structure(
        [("Override", "boolean"), ("Protection", "boolean"), ("ModeBlock", "boolean"), ("ReportUri", "string")],
        ["Override", "Protection"],
    ),
    "ResponseHeadersPolicyFrameOptions": _structure(
        [("Override", "boolean"), ("FrameOption", "FrameOptionsList")], ["Override", "FrameOption"]
    ),
    "ResponseHeadersPolicyReferrerPolicy": _structure(
        [("Override", "boolean"), ("ReferrerPolicy", "ReferrerPolicyList")], ["Override", "ReferrerPolicy"]
    ),
    "ResponseHeadersPolicyContentSecurityPolicy": _structure(
        [("Override", "boolean"), ("ContentSecurityPolicy", "string")], ["Override", "ContentSecurityPolicy"]
    ),
    "ResponseHeadersPolicyContentTypeOptions": _structure([("Override", "boolean")], ["Override"]),
    "ResponseHeadersPolicyStrictTransportSecurity": _structure(
        [
            ("Override", "boolean"),
            ("IncludeSubdomains", "boolean"),
            ("Preload", "boolean"),
            ("AccessControlMaxAgeSec", "integer"),
        ],
        ["Override", "AccessControlMaxAgeSec"],
    ),
    "ResponseHeadersPolicyServerTimingHeadersConfig": _structure(
        [("Enabled", "boolean"), ("SamplingRate", "SamplingRate")], ["Enabled"]
    ),
    "ResponseHeadersPolicyCustomHeadersConfig": _quantity_list("ResponseHeadersPolicyCustomHeaderList", ["Quantity"]),
    "ResponseHeadersPolicyCustomHeaderList": _list(
        "ResponseHeadersPolicyCustomHeader", "ResponseHeadersPolicyCustomHeader"
    ),
    "ResponseHeadersPolicyCustomHeader": _structure(
        [("Header", "string"), ("Value", "string"), ("Override", "boolean")], ["Header", "Value", "Override"]
    ),
    "ResponseHeadersPolicyRemoveHeadersConfig": _quantity_list("ResponseHeadersPolicyRemoveHeaderList", ["Quantity"]),
    "ResponseHeadersPolicyRemoveHeaderList": _list(
        "ResponseHeadersPolicyRemoveHeader", "ResponseHeadersPolicyRemoveHeader"
    ),
    "ResponseHeadersPolicyRemoveHeader": _structure([("Header", "string")], ["Header"]),
}


# --------------------------------------------------------------------------
# Errors, in CloudFront's XML error format
# --------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message):
    return ApiError(400, "InvalidArgument", message)


def no_such_policy():
    return ApiError(404, "NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")


# --------------------------------------------------------------------------
# XML <-> stored config (dicts keyed by member name, lists, scalar text)
# --------------------------------------------------------------------------


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _parse(elem, shape_name, path):
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        if (elem.text or "").strip():
            raise ApiError(400, "MalformedXML", f"Unexpected text in {path}.")
        members = dict(shape["members"])
        value = {}
        for child in elem:
            name = _local(child.tag)
            if name not in members:
                raise ApiError(400, "MalformedXML", f"Unexpected element {path}.{name}.")
            if name in value:
                raise ApiError(400, "MalformedXML", f"Element {path}.{name} given more than once.")
            value[name] = _parse(child, members[name], f"{path}.{name}")
        for name in shape["required"]:
            if name not in value:
                raise invalid(f"The parameter {path}.{name} is required.")
        return value
    if kind == "list":
        items = []
        for child in elem:
            if _local(child.tag) != shape["member_name"]:
                raise ApiError(400, "MalformedXML", f"Unexpected element {path}.{_local(child.tag)}.")
            items.append(_parse(child, shape["member"], f"{path}.{shape['member_name']}"))
        return items
    if len(elem):
        raise ApiError(400, "MalformedXML", f"Unexpected element inside {path}.")
    text = elem.text or ""
    if kind == "boolean":
        if text.strip() not in ("true", "false"):
            raise invalid(f"The parameter {path} must be true or false.")
        return text.strip()
    if kind == "integer":
        try:
            int(text.strip())
        except ValueError:
            raise invalid(f"The parameter {path} must be an integer.") from None
        return text.strip()
    if kind == "double":
        try:
            number = float(text.strip())
        except ValueError:
            raise invalid(f"The parameter {path} must be a number.") from None
        if not shape["min"] <= number <= shape["max"]:
            raise invalid(f"The parameter {path} must be between {shape['min']:g} and {shape['max']:g}.")
        return text.strip()
    if "enum" in shape and text not in shape["enum"]:
        raise invalid(f"The parameter {path} has an invalid value: {text}.")
    return text


def _write(out, name, value, shape_name):
    shape = SHAPES[shape_name]
    if shape["type"] == "structure":
        out.append(f"<{name}>")
        for member, member_shape in shape["members"]:
            if member in value:
                _write(out, member, value[member], member_shape)
        out.append(f"</{name}>")
    elif shape["type"] == "list":
        out.append(f"<{name}>")
        for item in value:
            _write(out, shape["member_name"], item, shape["member"])
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(value)}</{name}>")


def config_from_xml(body):
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ApiError(400, "MalformedXML", f"The XML you provided was not well-formed: {e}") from None
    if _local(root.tag) != "ResponseHeadersPolicyConfig":
        raise ApiError(400, "MalformedXML", "The request body must be a ResponseHeadersPolicyConfig.")
    config = _parse(root, "ResponseHeadersPolicyConfig", "ResponseHeadersPolicyConfig")
    validate(config)
    return config


def policy_xml(record, namespace=True):
    """A ResponseHeadersPolicy element: Id, LastModifiedTime, ResponseHeadersPolicyConfig."""
    out = [f'<ResponseHeadersPolicy xmlns="{NAMESPACE}">' if namespace else "<ResponseHeadersPolicy>"]
    out.append(f"<Id>{record['id']}</Id><LastModifiedTime>{record['modified']}</LastModifiedTime>")
    _write(out, "ResponseHeadersPolicyConfig", record["config"], "ResponseHeadersPolicyConfig")
    out.append("</ResponseHeadersPolicy>")
    return "".join(out)


def config_xml(config):
    out = []
    _write(out, "ResponseHeadersPolicyConfig", config, "ResponseHeadersPolicyConfig")
    out[0] = f'<ResponseHeadersPolicyConfig xmlns="{NAMESPACE}">'
    return "".join(out)


# --------------------------------------------------------------------------
# What CloudFront validates
# --------------------------------------------------------------------------

NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_CSP = 1783  # characters of ContentSecurityPolicy
MAX_CUSTOM_HEADERS = 10
MAX_REMOVE_HEADERS = 10


def _quantity_matches(block, path):
    if block is None:
        return
    items = block.get("Items")
    count = len(items) if items is not None else 0
    if int(block["Quantity"]) != count:
        raise ApiError(
            400,
            "InconsistentQuantities",
            f"The value of {path}.Quantity and the size of {path}.Items don't match.",
        )


def validate(config):
    name = config.get("Name", "")
    if not NAME.match(name):
        raise invalid(
            "The parameter Name is invalid: use 1 to 128 letters, digits, hyphens (-) and underscores (_)."
        )
    if len(config.get("Comment", "")) > 128:
        raise invalid("The parameter Comment is too long (at most 128 characters).")
    cors = config.get("CorsConfig")
    if cors is not None:
        for member in ("AccessControlAllowOrigins", "AccessControlAllowHeaders", "AccessControlAllowMethods"):
            _quantity_matches(cors[member], f"CorsConfig.{member}")
            if not cors[member].get("Items"):
                raise invalid(f"The parameter CorsConfig.{member} must contain at least one item.")
        _quantity_matches(cors.get("AccessControlExposeHeaders"), "CorsConfig.AccessControlExposeHeaders")
        if int(cors.get("AccessControlMaxAgeSec", "0")) < 0:
            raise invalid("The parameter CorsConfig.AccessControlMaxAgeSec cannot be negative.")
    security = config.get("SecurityHeadersConfig")
    if security is not None:
        xss = security.get("XSSProtection")
        if xss is not None:
            if xss.get("ModeBlock") == "true" and xss.get("ReportUri"):
                raise invalid("The parameters ModeBlock and ReportUri of XSSProtection cannot both be set.")
            if xss["Protection"] == "false" and (xss.get("ModeBlock") == "true" or xss.get("ReportUri")):
                raise invalid("XSSProtection ModeBlock and ReportUri need Protection true.")
        csp = security.get("ContentSecurityPolicy")
        if csp is not None and len(csp["ContentSecurityPolicy"]) > MAX_CSP:
            raise ApiError(
                400,
                "TooLongCSPInResponseHeadersPolicy",
                f"The Content-Security-Policy header value in the response headers policy is longer than {MAX_CSP} characters.",
            )
        hsts = security.get("StrictTransportSecurity")
        if hsts is not None and int(hsts["AccessControlMaxAgeSec"]) < 0:
            raise invalid("The parameter StrictTransportSecurity.AccessControlMaxAgeSec cannot be negative.")
    custom = config.get("CustomHeadersConfig")
    if custom is not None:
        _quantity_matches(custom, "CustomHeadersConfig")
        if len(custom.get("Items") or []) > MAX_CUSTOM_HEADERS:
            raise ApiError(
                400,
                "TooManyCustomHeadersInResponseHeadersPolicy",
                f"The number of custom headers in the response headers policy exceeds the maximum ({MAX_CUSTOM_HEADERS}).",
            )
    remove = config.get("RemoveHeadersConfig")
    if remove is not None:
        _quantity_matches(remove, "RemoveHeadersConfig")
        if len(remove.get("Items") or []) > MAX_REMOVE_HEADERS:
            raise ApiError(
                400,
                "TooManyRemoveHeadersInResponseHeadersPolicy",
                f"The number of headers in RemoveHeadersConfig exceeds the maximum ({MAX_REMOVE_HEADERS}).",
            )


# --------------------------------------------------------------------------
# The managed policies (CloudFront Developer Guide, "Use managed response
# headers policies"): present in every account, read-only.
# --------------------------------------------------------------------------

SIMPLE_CORS = "60669652-455b-4ae9-85a4-c4c02393f86c"
CORS_WITH_PREFLIGHT = "5cc3b908-e619-4b99-88e5-2cf7f45965bd"
CORS_AND_SECURITY = "e61eb60c-9c35-4d20-a928-2b84e02af89c"
CORS_PREFLIGHT_AND_SECURITY = "eaab4381-ed33-4a86-88ca-d9558dc6cd63"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"


def _items(values):
    return {"Quantity": str(len(values)), "Items": list(values)}  # Items required, even empty


def _cors(methods, expose):
    # Access-Control-Allow-Origin: * (not overriding the origin's); with
    # preflight also Allow-Methods and Expose-Headers: *.
    cors = {
        "AccessControlAllowOrigins": _items(["*"]),
        "AccessControlAllowHeaders": _items([]),
        "AccessControlAllowMethods": _items(methods),
        "AccessControlAllowCredentials": "false",
    }
    if expose:
        cors["AccessControlExposeHeaders"] = _items(expose)
    cors["OriginOverride"] = "false"
    return cors


SIMPLE = _cors([], [])
PREFLIGHT = _cors(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"], ["*"])
SECURITY = {
    # X-XSS-Protection: 1; mode=block, X-Frame-Options: SAMEORIGIN,
    # Referrer-Policy: strict-origin-when-cross-origin,
    # Strict-Transport-Security: max-age=31536000, and X-Content-Type-Options:
    # nosniff, the only one that overrides the origin's.
    "XSSProtection": {"Override": "false", "Protection": "true", "ModeBlock": "true"},
    "FrameOptions": {"Override": "false", "FrameOption": "SAMEORIGIN"},
    "ReferrerPolicy": {"Override": "false", "ReferrerPolicy": "strict-origin-when-cross-origin"},
    "ContentTypeOptions": {"Override": "true"},
    "StrictTransportSecurity": {"Override": "false", "AccessControlMaxAgeSec": "31536000"},
}


def _managed(policy_id, name, comment, **sections):
    return policy_id, {
        "id": policy_id,
        "etag": "E23ZP02F085DFQ",
        "modified": "2021-11-02T00:00:00.000Z",
        "config": {"Comment": comment, "Name": name, **sections},
    }


MANAGED = dict(
    [
        _managed(
            CORS_AND_SECURITY,
            "Managed-CORS-and-SecurityHeadersPolicy",
            "Allows all origins for simple CORS requests and adds security headers",
            CorsConfig=SIMPLE,
            SecurityHeadersConfig=SECURITY,
        ),
        _managed(
            CORS_WITH_PREFLIGHT,
            "Managed-CORS-With-Preflight",
            "Allows all origins for CORS requests, including preflight requests",
            CorsConfig=PREFLIGHT,
        ),
        _managed(
            CORS_PREFLIGHT_AND_SECURITY,
            "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
            "Allows all origins for CORS requests, including preflight requests, and adds security headers",
            CorsConfig=PREFLIGHT,
            SecurityHeadersConfig=SECURITY,
        ),
        _managed(
            SECURITY_HEADERS,
            "Managed-SecurityHeadersPolicy",
            "Adds a set of security headers to every response",
            SecurityHeadersConfig=SECURITY,
        ),
        _managed(
            SIMPLE_CORS,
            "Managed-SimpleCORS",
            "Allows all origins for simple CORS requests",
            CorsConfig=SIMPLE,
        ),
    ]
)


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _etag():
    return "E" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))


def exists(account, policy_id):
    """True for a managed policy or one of the account's own."""
    with LOCK:
        return policy_id in MANAGED or policy_id in POLICIES.get(account, {})


def _find(account, policy_id):
    record = MANAGED.get(policy_id) or POLICIES.get(account, {}).get(policy_id)
    if record is None:
        raise no_such_policy()
    return record


def _name_taken(account, name, own_id=None):
    for record in list(MANAGED.values()) + list(POLICIES.get(account, {}).values()):
        if record["config"]["Name"] == name and record["id"] != own_id:
            return True
    return False


def _behaviors(config):
    """The cache behaviors of a distribution config: moto's objects or a request's dicts."""

    def get(obj, key, attr):
        if obj is None:
            return None
        if isinstance(obj, dict):
            return obj.get(key)
        return getattr(obj, attr, None)

    default = get(config, "DefaultCacheBehavior", "DefaultCacheBehavior")
    found = [default] if default is not None else []
    others = get(config, "CacheBehaviors", "CacheBehaviors") or {}
    items = others.get("Items") if isinstance(others, dict) else None
    if isinstance(items, dict):  # {"CacheBehavior": [...]} as some parsers give it
        items = items.get("CacheBehavior")
    if isinstance(items, dict):
        items = [items]
    found.extend(items or [])
    return [get(b, "ResponseHeadersPolicyId", "response_headers_policy_id") for b in found]


def policies_named(config):
    """The ResponseHeadersPolicyIds a distribution config's behaviors name."""
    return [p for p in _behaviors(config) if p]


def _in_use(account, policy_id):
    try:
        from moto.cloudfront.models import cloudfront_backends
    except ImportError:
        return False
    backend = cloudfront_backends[account]["aws"]
    for dist in list(backend.distributions.values()):
        if policy_id in policies_named(dist.distribution_config):
            return True
    return False


# --------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------


def handles(environ):
    path = environ.get("PATH_INFO", "")
    return path == API or path.startswith(API + "/")


def wrap(moto_app):
    """moto_app with this API in front of it, for Harness(wrap(moto_app)): an
    alternative to the hook in Harness.__call__ that also covers the paths
    where Harness calls self.app itself (a "lost" answer is applied first)."""

    def routed(environ, start_response):
        m = re.search(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if m and m.group(1) == "cloudfront" and handles(environ):
            return app(environ, start_response)
        return moto_app(environ, start_response)

    return routed


def account_of(environ):
    """The account moto would use for this request (MOTO_ACCOUNT_ID, header, access key)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    m = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        try:
            from moto.iam.models import get_account_id_from

            return get_account_id_from(m.group(1))
        except Exception:  # moto not importable: the default account
            pass
    return DEFAULT_ACCOUNT


def _body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length:
        return stream.read(length)
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _respond(start_response, status, body=b"", headers=()):
    reasons = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
               404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
               500: "Internal Server Error"}
    if isinstance(body, str):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
    out = [("x-amz-request-id", str(uuid.uuid4())), ("Content-Length", str(len(body)))]
    if body:
        out.append(("Content-Type", "text/xml"))
    out.extend(headers)
    start_response(f"{status} {reasons.get(status, '')}".strip(), out)
    return [body]


def _error(start_response, err):
    body = (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
        f"<Code>{err.code}</Code><Message>{escape(err.message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return _respond(start_response, err.status, body)


def app(environ, start_response):
    try:
        return _dispatch(environ, start_response)
    except ApiError as err:
        return _error(start_response, err)


def _dispatch(environ, start_response):
    method = environ["REQUEST_METHOD"]
    rest = environ.get("PATH_INFO", "")[len(API):].strip("/")
    parts = rest.split("/") if rest else []
    account = account_of(environ)
    if not parts:
        if method == "POST":
            return create(account, environ, start_response)
        if method == "GET":
            return list_policies(account, environ, start_response)
    elif len(parts) == 1:
        if method == "GET":
            return get(account, parts[0], start_response, config_only=False)
        if method == "PUT":
            return update(account, parts[0], environ, start_response)
        if method == "DELETE":
            return delete(account, parts[0], environ, start_response)
    elif len(parts) == 2 and parts[1] == "config":
        if method == "GET":
            return get(account, parts[0], start_response, config_only=True)
        if method == "PUT":  # the model's path is /{Id}; tolerate /{Id}/config too
            return update(account, parts[0], environ, start_response)
    else:
        raise ApiError(404, "NotFound", "The requested resource does not exist.")
    raise ApiError(405, "MethodNotAllowed", f"The method {method} is not allowed for this resource.")


def create(account, environ, start_response):
    config = config_from_xml(_body(environ))
    with LOCK:
        if _name_taken(account, config["Name"]):
            raise ApiError(
                409,
                "ResponseHeadersPolicyAlreadyExists",
                "A response headers policy with this name already exists. You must provide a unique name. "
                "To modify an existing response headers policy, use UpdateResponseHeadersPolicy.",
            )
        record = {"id": str(uuid.uuid4()), "etag": _etag(), "modified": _now(), "config": config}
        POLICIES.setdefault(account, {})[record["id"]] = record
        body = policy_xml(record)
    location = f"https://cloudfront.amazonaws.com{API}/{record['id']}"
    return _respond(start_response, 201, body, [("ETag", record["etag"]), ("Location", location)])


def get(account, policy_id, start_response, config_only):
    with LOCK:
        record = _find(account, policy_id)
        body = config_xml(record["config"]) if config_only else policy_xml(record)
        etag = record["etag"]
    return _respond(start_response, 200, body, [("ETag", etag)])


def list_policies(account, environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    kind = (query.get("Type") or [""])[0]
    marker = (query.get("Marker") or [""])[0]
    max_items = (query.get("MaxItems") or ["100"])[0] or "100"
    if kind not in ("", "managed", "custom"):
        raise invalid("The parameter Type must be managed or custom.")
    try:
        max_items = int(max_items)
    except ValueError:
        raise invalid("The parameter MaxItems must be an integer.") from None
    if not 1 <= max_items <= 1000:
        raise invalid("The parameter MaxItems must be between 1 and 1000.")
    with LOCK:
        entries = []
        if kind in ("", "managed"):
            entries += [("managed", r) for r in MANAGED.values()]
        if kind in ("", "custom"):
            entries += [("custom", r) for r in POLICIES.get(account, {}).values()]
        start = 0
        if marker:
            ids = [r["id"] for _, r in entries]
            if marker not in ids:
                raise invalid("The parameter Marker is invalid.")
            start = ids.index(marker)
        page = entries[start : start + max_items]
        more = start + max_items < len(entries)
        out = [f'<ResponseHeadersPolicyList xmlns="{NAMESPACE}">']
        if more:
            out.append(f"<NextMarker>{entries[start + max_items][1]['id']}</NextMarker>")
        out.append(f"<MaxItems>{max_items}</MaxItems><Quantity>{len(page)}</Quantity>")
        if page:
            out.append("<Items>")
            for policy_type, record in page:
                out.append(f"<ResponseHeadersPolicySummary><Type>{policy_type}</Type>")
                out.append(policy_xml(record, namespace=False))
                out.append("</ResponseHeadersPolicySummary>")
            out.append("</Items>")
        out.append("</ResponseHeadersPolicyList>")
    return _respond(start_response, 200, "".join(out))


def _check_if_match(environ, record, managed_error):
    if_match = environ.get("HTTP_IF_MATCH")
    if not if_match:
        raise ApiError(400, "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if record["id"] in MANAGED:
        raise managed_error
    if if_match != record["etag"]:
        raise ApiError(
            412,
            "PreconditionFailed",
            "The precondition given in one or more of the request-header fields evaluated to false.",
        )


def update(account, policy_id, environ, start_response):
    body = _body(environ)
    with LOCK:
        record = _find(account, policy_id)
        _check_if_match(
            environ,
            record,
            ApiError(400, "IllegalUpdate", "Managed response headers policies cannot be updated."),
        )
        config = config_from_xml(body)
        if _name_taken(account, config["Name"], own_id=policy_id):
            raise ApiError(
                409,
                "ResponseHeadersPolicyAlreadyExists",
                "A response headers policy with this name already exists. You must provide a unique name.",
            )
        record.update(config=config, etag=_etag(), modified=_now())
        body, etag = policy_xml(record), record["etag"]
    return _respond(start_response, 200, body, [("ETag", etag)])


def delete(account, policy_id, environ, start_response):
    with LOCK:
        record = _find(account, policy_id)
        _check_if_match(
            environ,
            record,
            ApiError(400, "IllegalDelete", "Managed response headers policies cannot be deleted."),
        )
        if _in_use(account, policy_id):
            raise ApiError(
                409,
                "ResponseHeadersPolicyInUse",
                "Cannot delete the response headers policy because it is attached to one or more cache behaviors in a CloudFront distribution.",
            )
        del POLICIES[account][policy_id]
    return _respond(start_response, 204)


def reset():
    """Forget every custom policy (as moto's /moto-api/reset does for its state)."""
    with LOCK:
        POLICIES.clear()


# --------------------------------------------------------------------------
# Distributions: refuse unknown policies (moto stores any id given)
# --------------------------------------------------------------------------


def patch_moto():
    """Wrap the backend's current create_distribution_with_tags (which
    create_distribution, and so both CreateDistribution requests, go through)
    and update_distribution: a cache behavior naming a response headers policy
    that is neither managed nor the account's own is refused, as AWS does."""
    import functools

    from moto.cloudfront import exceptions as cfx
    from moto.cloudfront import models as cf

    class NoSuchResponseHeadersPolicy(cfx.CloudFrontException):
        # moto renders it with the model's status for this error: 404.
        def __init__(self):
            super().__init__("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")

    def check(backend, config):
        for policy_id in policies_named(config or {}):
            if not exists(backend.account_id, policy_id):
                raise NoSuchResponseHeadersPolicy()

    create = cf.CloudFrontBackend.create_distribution_with_tags

    @functools.wraps(create)
    def create_checked(self, *args, **kwargs):
        config = kwargs["distribution_config"] if "distribution_config" in kwargs else args[0]
        with LOCK:  # no policy deleted between this check and the distribution's creation
            check(self, config)
            return create(self, *args, **kwargs)

    cf.CloudFrontBackend.create_distribution_with_tags = create_checked

    update = cf.CloudFrontBackend.update_distribution

    @functools.wraps(update)
    def update_checked(self, *args, **kwargs):
        config = kwargs["dist_config"] if "dist_config" in kwargs else (args[0] if args else None)
        with LOCK:
            check(self, config)
            return update(self, *args, **kwargs)

    cf.CloudFrontBackend.update_distribution = update_checked

    # POST /moto-api/reset clears all of moto's state; the policies go with it.
    from moto.moto_api._internal import models as moto_api

    moto_reset = moto_api.MotoAPIBackend.reset

    @functools.wraps(moto_reset)
    def reset_with_policies(self, *args, **kwargs):
        reset()
        return moto_reset(self, *args, **kwargs)

    moto_api.MotoAPIBackend.reset = reset_with_policies
