"""CloudFront's edge, for every distribution the emulator holds.

moto has CloudFront's control plane only: a distribution is a record, and
nothing answers at its domain name. This module adds the data plane, as a
visitor sees it (AWS-FACTS.md, "What a visitor gets"), on two ports of
127.0.0.1: one HTTPS, one plain HTTP. Objects, bucket policies, distributions
and invalidations are read straight from moto's in-process backends.

What it models:
- The distribution is picked by the Host header: its dxxxx.cloudfront.net name
  or one of its aliases. An unknown or disabled one gets CloudFront's own 403
  HTML page, "The request could not be satisfied" (x-cache: Error from
  cloudfront, Server: CloudFront).
- TLS: the certificate is chosen by SNI and signed by the emulator's CA (the
  ca.pem of its CA bundle): *.cloudfront.net for CloudFront names, for any
  name no distribution holds and without SNI (as CloudFront does: the name
  then is not covered); for an alias, the names of the distribution's ACM
  certificate, expired when ACM says EXPIRED.
- The viewer protocol policy: redirect-to-https answers http with 301 and
  `x-cache: Redirect from cloudfront`; https-only answers http with 403.
- Methods outside the behavior's AllowedMethods: 403 page.
- DefaultRootObject for `/`; without one, `/` is a bucket request: 403.
- The S3 origin is read only as its bucket policy allows: with an OAC
  (SigningBehavior not "never") CloudFront is the service principal
  cloudfront.amazonaws.com with aws:SourceArn = the distribution's ARN; with
  an origin access identity it is
  arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E... (a
  grant may name it so or by its S3 canonical user, oai.py); else
  anonymous. The policy is evaluated as IAM does: an explicit Deny wins, then
  an Allow, else denied; actions, resources (wildcards) and conditions
  (String*, Arn*, Bool, IfExists, negations) are matched. A refused read is
  S3's 403 AccessDenied XML; a missing key is 403 AccessDenied, or 404
  NoSuchKey when CloudFront may also s3:ListBucket the bucket.
- Content-Type, Cache-Control, Content-Encoding, Content-Disposition,
  Content-Language, Expires, x-amz-meta-*, ETag and Last-Modified come from
  the object; If-None-Match answers 304.
- Compression (Compress true, Accept-Encoding gzip, 1,000 B to 10 MB, text
  types, no Content-Encoding on the object): gzip, and the ETag turns weak.
- An edge cache per distribution, keyed by path and compression: TTL from
  the origin's Cache-Control max-age / s-maxage clamped to the cache policy's
  MinTTL/MaxTTL (managed CachingOptimized and CachingDisabled, or the
  behavior's legacy TTLs), else its DefaultTTL; error responses (403, 404)
  cached 10 s (ErrorCachingMinTTL). x-cache: Miss / Hit / RefreshHit (expired,
  ETag unchanged) / Error from cloudfront, plus Age on hits. CreateInvalidation
  removes the matching entries at once (moto completes invalidations at once).
- Response headers policies (managed and custom, from response_headers.py) on
  every response from the origin, cached or not: CORS for requests with an
  Origin (allowed origins, credentials, expose headers, origin override),
  preflights (OPTIONS with Access-Control-Request-Method, OPTIONS allowed),
  security headers with their override flags, custom headers, removed headers.
  Without a policy, S3's own CORS answer needs the Origin forwarded (origin
  request policy CORS-S3Origin), and is cached with the first request.
- Via: 1.1 <id>.cloudfront.net (CloudFront), X-Amz-Cf-Pop, X-Amz-Cf-Id.

What it does not model: propagation (a change serves at once, InProgress or
not), custom error responses, Lambda@Edge and CloudFront Functions, signed
URLs, geo restrictions, WAF, custom (non-S3) origins (502), Range requests,
Brotli, HTTP/2 and HTTP/3, S3 CORS rules beyond origin and method, a policy
granting an OAI by CanonicalUser (moto has no OAI API), SSE-KMS objects,
query strings in the cache key.

Knobs (POST /configure on the control port), per client: the access key
that created the distribution.
    edge_error_ttl          seconds an error response stays cached (default 10,
                            as CloudFront's ErrorCachingMinTTL)
    edge_certificate_days   the alias certificate expires this many days from
                            now (default: the ACM certificate's NotAfter)

tests/emulator/edge_selftest.py checks each behaviour with boto3 and raw
HTTP(S) requests.
"""

import base64
import datetime
import gzip
import json
import os
import re
import secrets
import ssl
import tempfile
import threading
import time
from urllib.parse import unquote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-4b0e-8f6b-bd9ff7d5b5bb"
CORS_S3_ORIGIN = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
# (MinTTL, DefaultTTL, MaxTTL) of the managed cache policies.
CACHE_POLICIES = {CACHING_OPTIMIZED: (1, 86400, 31536000), CACHING_DISABLED: (0, 0, 0)}
ERROR_TTL = 10  # CloudFront's default ErrorCachingMinTTL
SERVICE = "cloudfront.amazonaws.com"
OAI_ARN = "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {}"
COMPRESSIBLE = re.compile(
    r"^(text/|application/(javascript|json|xml|x-javascript|manifest\+json|ld\+json|wasm|"
    r"vnd\.ms-fontobject|x-font-ttf|x-font-opentype|x-font-truetype|xhtml\+xml|rss\+xml|atom\+xml)|"
    r"image/(svg\+xml|x-icon|vnd\.microsoft\.icon)|font/(otf|ttf|eot|opentype))"
)
POP = "FRA56-P1"

EMU = None  # the emulator module: its KNOBS and CURRENT
LOCK = threading.Lock()
CACHE = {}  # (distribution id, path, encoding) -> entry dict


# --------------------------------------------------------------------------
# Finding the distribution, its behavior and its bucket
# --------------------------------------------------------------------------


def _backends():
    from moto.cloudfront.models import cloudfront_backends

    for account in list(cloudfront_backends.keys()):
        yield cloudfront_backends[account]["aws"]


def find_distribution(host):
    """(backend, distribution) serving host (a name, any case), or (None, None)."""
    host = (host or "").lower().rstrip(".")
    for backend in _backends():
        for dist in list(backend.distributions.values()):
            if host == dist.domain_name.lower() or host in _aliases(dist):
                return backend, dist
    return None, None


def _aliases(dist):
    items = dist.distribution_config.Aliases.get("Items") or []
    if isinstance(items, dict):
        items = items.get("CNAME") or []
    return [a.lower() for a in ([items] if isinstance(items, str) else items)]


def _true(value):
    return value in (True, "true", "True")


def _enabled(dist):
    return dist.distribution_config.Enabled not in (False, "false", "False")


def _owner_knob(dist, name, default):
    return EMU.KNOBS.get(getattr(dist, "_edge_owner", None), {}).get(name, default)


def _path_pattern(pattern):
    pattern = pattern if pattern.startswith("/") else "/" + pattern
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def behavior_for(config, path):
    items = (config.CacheBehaviors or {}).get("Items") or []
    for behavior in items:
        pattern = getattr(behavior, "path_pattern", None) or ""
        if pattern and _path_pattern(pattern).match(path):
            return behavior
    return config.DefaultCacheBehavior


def origin_of(config, behavior):
    for origin in config.Origins["Items"]:
        if origin.id == behavior.target_origin_id:
            return origin
    return None


def bucket_of(origin):
    """The bucket name of an S3 origin's domain name, or None (custom origin)."""
    m = re.fullmatch(r"([a-z0-9][a-z0-9.-]*?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?", origin.domain_name)
    return m.group(1) if m else None


def _moto_bucket(name):
    from moto.s3.models import s3_backends

    located = s3_backends.bucket_accounts.get(name)
    if located is None:
        return None
    partition, account = located
    return s3_backends[account][partition].buckets.get(name)


# --------------------------------------------------------------------------
# The bucket policy, evaluated as IAM does for the request CloudFront makes
# --------------------------------------------------------------------------


def _listify(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern, value, case=True):
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, value, 0 if case else re.IGNORECASE) is not None


def principal_matches(statement, who):
    """who: ("service", name) | ("aws", arn) | ("anonymous", None)."""

    def matches(principal):
        if principal == "*":
            return True
        if not isinstance(principal, dict):
            return False
        if "*" in _listify(principal.get("AWS")):
            return True  # {"AWS": "*"} is everyone, as "*" is
        kind, name = who
        if kind == "service":
            return name in _listify(principal.get("Service"))
        if kind == "aws":  # an OAI is named by its ARN or by its S3 canonical user (oai.py)
            from oai import canonical_user_of

            canonical = canonical_user_of(name)
            return name in _listify(principal.get("AWS")) or (
                canonical is not None and canonical in _listify(principal.get("CanonicalUser"))
            )
        return False

    if "NotPrincipal" in statement:
        return not matches(statement["NotPrincipal"])
    return matches(statement.get("Principal"))


def _condition_holds(operator, values, context):
    """One condition operator block: {key: value(s)}; all keys must hold."""
    if_exists = operator.endswith("IfExists")
    op = operator[: -len("IfExists")] if if_exists else operator
    op = op.split(":", 1)[-1]  # ForAnyValue:/ForAllValues: on single-valued keys
    negated = "Not" in op
    for key, wanted in values.items():
        actual = context.get(key.lower())
        wanted = [str(w) for w in _listify(wanted)]
        if actual is None:
            if if_exists or negated:
                continue
            return False
        if op in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
            hit = actual in wanted
        elif op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
            hit = actual.lower() in [w.lower() for w in wanted]
        elif op in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
            hit = any(_wildcard(w, actual) for w in wanted)
        elif op == "Bool":
            hit = actual.lower() in [w.lower() for w in wanted]
        else:
            return False  # an operator this edge does not know: the statement does not apply
        if hit == negated:
            return False
    return True


def statement_applies(statement, who, action, resource, context):
    if not principal_matches(statement, who):
        return False
    if "NotAction" in statement:
        if any(_wildcard(a, action, case=False) for a in _listify(statement["NotAction"])):
            return False
    elif not any(_wildcard(a, action, case=False) for a in _listify(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(_wildcard(r, resource) for r in _listify(statement["NotResource"])):
            return False
    elif not any(_wildcard(r, resource) for r in _listify(statement.get("Resource"))):
        return False
    for operator, values in (statement.get("Condition") or {}).items():
        if not isinstance(values, dict) or not _condition_holds(operator, values, context):
            return False
    return True


def policy_allows(policy, who, action, resource, context):
    """IAM's evaluation of one resource policy: explicit Deny, then Allow, else no."""
    try:
        doc = json.loads(policy) if policy else {}
    except ValueError:
        return False
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    statements = [s for s in _listify(statements) if isinstance(s, dict)]
    applicable = [s for s in statements if statement_applies(s, who, action, resource, context)]
    if any(s.get("Effect") == "Deny" for s in applicable):
        return False
    return any(s.get("Effect") == "Allow" for s in applicable)


def requester(backend, dist, origin):
    """Who CloudFront is when it reads this origin, and the request's context."""
    context = {"aws:securetransport": "true"}
    oac_id = getattr(origin, "origin_access_control_id", "") or ""
    oac = backend.origin_access_controls.get(oac_id) if oac_id else None
    if oac_id and (oac is None or oac.signing_behavior != "never"):
        context["aws:sourcearn"] = dist.arn
        context["aws:sourceaccount"] = dist.arn.split(":")[4]
        return ("service", SERVICE), context
    oai = (getattr(origin, "s3_origin_config", None) or {}).get("OriginAccessIdentity") or getattr(
        origin, "s3_access_identity", ""
    )
    if oai:
        return ("aws", OAI_ARN.format(oai.rsplit("/", 1)[-1])), context
    return ("anonymous", None), context


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


def _cf_id():
    return base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()


def _edge_headers(headers, cache):
    headers = [(k, v) for k, v in headers if k.lower() not in ("via", "x-cache", "x-amz-cf-pop", "x-amz-cf-id")]
    headers += [
        ("X-Cache", f"{cache} from cloudfront"),
        ("Via", f"1.1 {secrets.token_hex(16)}.cloudfront.net (CloudFront)"),
        ("X-Amz-Cf-Pop", POP),
        ("X-Amz-Cf-Id", _cf_id()),
    ]
    return headers


CF_PAGE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>{status} ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
{reason}
<BR clear="all">
If you provide content to customers through CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing the CloudFront documentation.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
Request ID: {cf_id}
</PRE>
<ADDRESS>
</ADDRESS>
</BODY></HTML>"""

BAD_REQUEST = (
    "Bad request.\nWe can't connect to the server for this app or website at this time. There might be too "
    "much traffic or a configuration error. Try again later, or contact the app or website owner."
)
BAD_METHOD = "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests."
HTTPS_ONLY = "Bad request.\nThis distribution requires HTTPS; the request came over HTTP."


def cloudfront_error(status, reason):
    headers = _edge_headers([("Server", "CloudFront"), ("Content-Type", "text/html")], "Error")
    body = CF_PAGE.format(status=status, reason=reason, cf_id=dict(headers)["X-Amz-Cf-Id"])
    return Response(body, status=status, headers=headers)


def s3_error(status, code, message, **extra):
    request_id = secrets.token_hex(8).upper()
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{fields}"
        f"<RequestId>{request_id}</RequestId><HostId>{base64.b64encode(secrets.token_bytes(48)).decode()}</HostId></Error>"
    )
    headers = [("Content-Type", "application/xml"), ("Server", "AmazonS3"), ("x-amz-request-id", request_id)]
    return {"status": status, "headers": headers, "body": body.encode()}


OBJECT_HEADERS = ("Content-Type", "Cache-Control", "Content-Encoding", "Content-Disposition", "Content-Language", "Expires")


def read_origin(backend, dist, origin, key, method, viewer_origin, forward_origin, encoding):
    """What S3 answers CloudFront for key: {"status", "headers", "body", "etag"}."""
    name = bucket_of(origin)
    if name is None:
        return {"status": 502, "headers": [], "body": b"", "custom": True}
    bucket = _moto_bucket(name)
    if bucket is None:
        return s3_error(404, "NoSuchBucket", "The specified bucket does not exist", BucketName=name)
    who, context = requester(backend, dist, origin)
    policy = bucket.policy.decode() if bucket.policy else ""
    if key == "":  # a bucket request: ListObjects
        if policy_allows(policy, who, "s3:ListBucket", f"arn:aws:s3:::{name}", context):
            return _listing(bucket)
        return s3_error(403, "AccessDenied", "Access Denied")
    if not policy_allows(policy, who, "s3:GetObject", f"arn:aws:s3:::{name}/{key}", context):
        return s3_error(403, "AccessDenied", "Access Denied")
    obj = bucket.keys.get(key) if key in bucket.keys else None
    if obj is None or type(obj).__name__ != "FakeKey":
        if policy_allows(policy, who, "s3:ListBucket", f"arn:aws:s3:::{name}", context):
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return s3_error(403, "AccessDenied", "Access Denied")
    headers = [("Server", "AmazonS3"), ("ETag", obj.etag), ("Last-Modified", obj.last_modified_RFC1123)]
    headers.append(("Accept-Ranges", "bytes"))
    for name_ in OBJECT_HEADERS:
        if obj.metadata.get(name_):
            headers.append((name_, obj.metadata[name_]))
    for k, v in obj.metadata.items():
        if k.lower().startswith("x-amz-meta-"):
            headers.append((k, v))
    if obj.encryption:
        headers.append(("x-amz-server-side-encryption", obj.encryption))
    body = obj.value
    if forward_origin and viewer_origin:
        headers += _s3_cors(bucket, viewer_origin, method)
    result = {"status": 200, "headers": headers, "body": body, "etag": obj.etag}
    if encoding == "gzip" and not obj.metadata.get("Content-Encoding"):
        ctype = (obj.metadata.get("Content-Type") or "").split(";")[0].strip().lower()
        if 1000 <= len(body) <= 10_000_000 and COMPRESSIBLE.match(ctype):
            result["body"] = gzip.compress(body, mtime=0)
            result["headers"] = [(k, v) for k, v in headers if k != "ETag"]
            result["headers"] += [("ETag", "W/" + obj.etag), ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    return result


def _listing(bucket):
    from xml.sax.saxutils import escape

    keys = sorted(k for k in bucket.keys.keys())[:1000]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{bucket.name}</Name><Prefix></Prefix><Marker></Marker><MaxKeys>1000</MaxKeys>"
        f"<IsTruncated>{'true' if len(bucket.keys) > 1000 else 'false'}</IsTruncated>"
        + "".join(f"<Contents><Key>{escape(k)}</Key></Contents>" for k in keys)
        + "</ListBucketResult>"
    )
    return {"status": 200, "headers": [("Content-Type", "application/xml"), ("Server", "AmazonS3")], "body": body.encode()}


def _s3_cors(bucket, origin, method):
    for rule in getattr(bucket, "cors", None) or []:
        if any(_wildcard(o, origin) for o in rule.allowed_origins) and method in rule.allowed_methods:
            allow = "*" if "*" in rule.allowed_origins else origin
            headers = [("Access-Control-Allow-Origin", allow), ("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods))]
            headers.append(("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"))
            return headers
    return []


# --------------------------------------------------------------------------
# Response headers policies
# --------------------------------------------------------------------------


def response_policy(account, policy_id):
    import response_headers as rh

    if not policy_id:
        return None
    record = rh.MANAGED.get(policy_id) or rh.POLICIES.get(account, {}).get(policy_id)
    return record["config"] if record else None


def _items(block):
    return (block or {}).get("Items") or []


def _origin_allowed(cors, origin):
    allowed = _items(cors.get("AccessControlAllowOrigins"))
    return "*" in allowed or origin in allowed or any("*" in a and _wildcard(a, origin) for a in allowed)


def _allow_origin_value(cors, origin):
    allowed = _items(cors.get("AccessControlAllowOrigins"))
    if "*" in allowed and cors.get("AccessControlAllowCredentials") != "true":
        return "*"
    return origin


def _set(headers, name, value, override):
    present = any(k.lower() == name.lower() for k, _ in headers)
    if present and not override:
        return headers
    return [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]


def apply_policy(config, headers, viewer_origin):
    """The response headers a policy adds to one response (cached or not)."""
    if config is None:
        return headers
    cors = config.get("CorsConfig")
    if cors and viewer_origin and _origin_allowed(cors, viewer_origin):
        override = cors.get("OriginOverride") == "true"
        headers = _set(headers, "Access-Control-Allow-Origin", _allow_origin_value(cors, viewer_origin), override)
        if cors.get("AccessControlAllowCredentials") == "true":
            headers = _set(headers, "Access-Control-Allow-Credentials", "true", override)
        expose = _items(cors.get("AccessControlExposeHeaders"))
        if expose:
            headers = _set(headers, "Access-Control-Expose-Headers", ", ".join(expose), override)
    security = config.get("SecurityHeadersConfig") or {}
    values = {
        "XSSProtection": lambda c: (
            "X-XSS-Protection",
            ("1" if c["Protection"] == "true" else "0")
            + ("; mode=block" if c.get("ModeBlock") == "true" else "")
            + (f"; report={c['ReportUri']}" if c.get("ReportUri") else ""),
        ),
        "FrameOptions": lambda c: ("X-Frame-Options", c["FrameOption"]),
        "ReferrerPolicy": lambda c: ("Referrer-Policy", c["ReferrerPolicy"]),
        "ContentSecurityPolicy": lambda c: ("Content-Security-Policy", c["ContentSecurityPolicy"]),
        "ContentTypeOptions": lambda c: ("X-Content-Type-Options", "nosniff"),
        "StrictTransportSecurity": lambda c: (
            "Strict-Transport-Security",
            f"max-age={c['AccessControlMaxAgeSec']}"
            + ("; includeSubDomains" if c.get("IncludeSubdomains") == "true" else "")
            + ("; preload" if c.get("Preload") == "true" else ""),
        ),
    }
    for section, make in values.items():
        if section in security:
            name, value = make(security[section])
            headers = _set(headers, name, value, security[section].get("Override") == "true")
    for custom in _items(config.get("CustomHeadersConfig")):
        headers = _set(headers, custom["Header"], custom["Value"], custom.get("Override") == "true")
    removed = {r["Header"].lower() for r in _items(config.get("RemoveHeadersConfig"))}
    return [(k, v) for k, v in headers if k.lower() not in removed]


def preflight(config, behavior, environ):
    """CloudFront's own answer to a CORS preflight, or None to forward it."""
    cors = (config or {}).get("CorsConfig")
    origin = environ.get("HTTP_ORIGIN")
    method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "")
    if not cors or not origin or not _origin_allowed(cors, origin):
        return None
    methods = _items(cors.get("AccessControlAllowMethods"))
    if "ALL" not in methods and method not in methods:
        return None
    wanted = [h.strip() for h in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",") if h.strip()]
    allowed = [h.lower() for h in _items(cors.get("AccessControlAllowHeaders"))]
    if "*" not in allowed and any(h.lower() not in allowed for h in wanted):
        return None
    headers = [("Access-Control-Allow-Origin", _allow_origin_value(cors, origin))]
    headers.append(("Access-Control-Allow-Methods", ", ".join(methods if "ALL" not in methods else ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"])))
    if wanted:
        headers.append(("Access-Control-Allow-Headers", ", ".join(wanted)))
    if cors.get("AccessControlMaxAgeSec"):
        headers.append(("Access-Control-Max-Age", cors["AccessControlMaxAgeSec"]))
    if cors.get("AccessControlAllowCredentials") == "true":
        headers.append(("Access-Control-Allow-Credentials", "true"))
    headers.append(("Content-Length", "0"))
    return headers


# --------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------


def _ttls(behavior):
    policy = getattr(behavior, "cache_policy_id", "") or ""
    if policy in CACHE_POLICIES:
        return CACHE_POLICIES[policy]
    if policy:
        return CACHE_POLICIES[CACHING_OPTIMIZED]  # a custom policy: not modeled, taken as CachingOptimized
    return (int(behavior.min_ttl or 0), int(behavior.default_ttl or 86400), int(behavior.max_ttl or 31536000))


def ttl_of(behavior, headers):
    low, default, high = _ttls(behavior)
    control = next((v for k, v in headers if k.lower() == "cache-control"), "")
    directives = {}
    for part in control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip('"')
    if any(d in directives for d in ("no-cache", "no-store", "private")):
        return low
    for name in ("s-maxage", "max-age"):
        if name in directives and directives[name].isdigit():
            return max(low, min(high, int(directives[name])))
    return max(low, min(high, default))


def invalidate(dist_id, paths):
    patterns = [unquote(p) for p in paths]
    with LOCK:
        for key in list(CACHE):
            if key[0] != dist_id:
                continue
            path = unquote(key[1])
            if any(path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns):
                del CACHE[key]


# --------------------------------------------------------------------------
# The WSGI app
# --------------------------------------------------------------------------


def edge_app(scheme):
    def app(environ, start_response):
        return handle(environ, scheme)(environ, start_response)

    return app


def handle(environ, scheme):
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0] if not environ.get("HTTP_HOST", "").startswith("[") else ""
    backend, dist = find_distribution(host)
    if dist is None or not _enabled(dist):
        return cloudfront_error(403, BAD_REQUEST)
    config = dist.distribution_config
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = raw.split("?", 1)[0] or "/"
    behavior = behavior_for(config, unquote(path))
    policy = behavior.viewer_protocol_policy
    if scheme == "http" and policy == "redirect-to-https":
        location = f"https://{host}{raw}"
        headers = _edge_headers([("Server", "CloudFront"), ("Location", location), ("Content-Type", "text/html")], "Redirect")
        body = "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>CloudFront</center>\r\n</body>\r\n</html>\r\n"
        return Response(body, status=301, headers=headers)
    if scheme == "http" and policy == "https-only":
        return cloudfront_error(403, HTTPS_ONLY)
    method = environ["REQUEST_METHOD"]
    allowed = behavior.allowed_methods.items if behavior.allowed_methods else ["GET", "HEAD"]
    if method not in allowed:
        return cloudfront_error(403, BAD_METHOD)
    import function_edge  # the behavior's viewer-request CloudFront Function, if any (its own file)

    answer, environ = function_edge.viewer_request(dist, behavior, environ, host)
    if answer is not None:
        return answer
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = raw.split("?", 1)[0] or "/"
    account = dist.arn.split(":")[4]
    rhp = response_policy(account, getattr(behavior, "response_headers_policy_id", None))
    viewer_origin = environ.get("HTTP_ORIGIN")
    if method == "OPTIONS":
        answer = preflight(rhp, behavior, environ) if environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD") else None
        if answer is not None:
            return Response(b"", status=200, headers=_edge_headers([("Server", "CloudFront")] + answer, "Miss"))
        result = s3_error(403, "AccessForbidden", "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
        return _send(result, "Error", rhp, viewer_origin, method)
    if method not in ("GET", "HEAD"):
        result = s3_error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
        return _send(result, "Error", rhp, viewer_origin, method)
    decoded = unquote(path)
    if decoded == "/" and config.DefaultRootObject:
        key = config.DefaultRootObject.lstrip("/")
    else:
        key = decoded[1:]
    origin = origin_of(config, behavior)
    if origin is None:
        return cloudfront_error(502, BAD_REQUEST)
    if origin.origin_path:
        key = origin.origin_path.strip("/") + "/" + key
    accept = environ.get("HTTP_ACCEPT_ENCODING", "")
    compress = _true(behavior.compress) and "gzip" in [a.split(";")[0].strip() for a in accept.split(",")]
    encoding = "gzip" if compress else ""
    forward_origin = getattr(behavior, "origin_request_policy_id", "") in (CORS_S3_ORIGIN, ALL_VIEWER)
    cache_key = (dist.distribution_id, path, encoding)
    now = time.time()
    with LOCK:
        entry = CACHE.get(cache_key)
    state = "Miss"
    if entry is not None and now < entry["expires"]:
        state = "Error" if entry["status"] >= 400 else "Hit"
        result = entry
    else:
        result = read_origin(backend, dist, origin, key, "GET", viewer_origin, forward_origin, encoding)
        if result.get("custom"):
            return cloudfront_error(502, "This edge models S3 origins only.")
        if result["status"] >= 400:
            ttl = _owner_knob(dist, "edge_error_ttl", ERROR_TTL)
            state = "Error"
        else:
            ttl = ttl_of(behavior, result["headers"])
            if entry is not None and entry.get("etag") == result.get("etag") and entry["status"] == 200:
                state = "RefreshHit"
        result = dict(result, stored=now, expires=now + ttl)
        if ttl > 0:
            with LOCK:
                CACHE[cache_key] = result
    age = int(now - result["stored"]) if state in ("Hit", "Error") and result is entry else None
    return _send(result, state, rhp, viewer_origin, method, age=age, environ=environ)


def _send(result, state, rhp, viewer_origin, method, age=None, environ=None):
    headers = list(result["headers"])
    body = result["body"]
    status = result["status"]
    if status == 200 and environ is not None:
        etag = next((v for k, v in headers if k == "ETag"), None)
        if etag and environ.get("HTTP_IF_NONE_MATCH") in (etag, etag.removeprefix("W/"), "*"):
            status, body = 304, b""
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type", "content-encoding")]
    if age is not None:
        headers.append(("Age", str(age)))
    headers = apply_policy(rhp, headers, viewer_origin)
    headers = _edge_headers(headers, state)
    response = Response(body if method != "HEAD" else b"", status=status, headers=headers)
    if method == "HEAD":
        response.headers["Content-Length"] = str(len(body))
        response.automatically_set_content_length = False
    return response


# --------------------------------------------------------------------------
# TLS: a certificate per name, signed by the emulator's CA
# --------------------------------------------------------------------------


class Certificates:
    def __init__(self, ca_cert_path, ca_key_path):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        with open(ca_cert_path, "rb") as f:
            self.ca = x509.load_pem_x509_certificate(f.read())
        with open(ca_key_path, "rb") as f:
            self.ca_key = serialization.load_pem_private_key(f.read(), None)
        self.directory = tempfile.mkdtemp(prefix="edge-certs-", dir=os.path.dirname(ca_cert_path))
        self.contexts = {}
        self.lock = threading.Lock()

    def context(self, names, not_after):
        """An SSLContext serving a certificate for names, valid until not_after."""
        key = (tuple(names), int(not_after.timestamp()) // 3600)
        with self.lock:
            if key not in self.contexts:
                self.contexts[key] = self._mint(names, not_after)
            return self.contexts[key]

    def _mint(self, names, not_after):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        private = ec.generate_private_key(ec.SECP256R1())
        start = min(now - datetime.timedelta(days=1), not_after - datetime.timedelta(days=2))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.ca.subject)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        stem = os.path.join(self.directory, secrets.token_hex(8))
        with open(stem + ".pem", "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            f.write(self.ca.public_bytes(serialization.Encoding.PEM))
        with open(stem + ".key", "wb") as f:
            f.write(
                private.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.load_cert_chain(stem + ".pem", stem + ".key")
        return ctx

    def default(self):
        return self.context(["*.cloudfront.net", "cloudfront.net"], _in_days(365))

    def for_name(self, name):
        """The context CloudFront would answer SNI `name` with."""
        _, dist = find_distribution(name or "")
        if dist is None:
            return self.default()
        if name.lower() not in _aliases(dist):
            return self.default()
        arn = dist.distribution_config.ViewerCertificate.acm_certificate_arn
        cert = _acm_certificate(arn) if arn else None
        if cert is None:
            return self.default()  # an alias without a certificate of its own
        names = list(dict.fromkeys(([cert.common_name] if cert.common_name else []) + list(cert.sans)))
        days = _owner_knob(dist, "edge_certificate_days", None)
        if cert.status == "EXPIRED":
            not_after = _in_days(-1)
        elif days is not None:
            not_after = _in_days(days)
        else:
            not_after = cert._not_valid_after(cert._cert)
            if not_after.tzinfo is None:
                not_after = not_after.replace(tzinfo=datetime.timezone.utc)
        return self.context(names, not_after)


def _in_days(days):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


def _acm_certificate(arn):
    from moto.acm.models import acm_backends

    parts = arn.split(":")
    if len(parts) != 6 or not parts[4].isdigit():
        return None
    return acm_backends[parts[4]][parts[3]]._certificates.get(arn)


# --------------------------------------------------------------------------
# Wiring
# --------------------------------------------------------------------------


def patch_moto(emulator):
    """Remember who created each distribution (its edge knobs), and empty the
    edge cache for the paths of each new invalidation."""
    import functools

    from moto.cloudfront import models as cf

    global EMU
    EMU = emulator

    create = cf.CloudFrontBackend.create_distribution_with_tags

    @functools.wraps(create)
    def create_remembering_owner(self, *args, **kwargs):
        result = create(self, *args, **kwargs)
        result[0]._edge_owner = getattr(EMU.CURRENT, "key", None)
        return result

    cf.CloudFrontBackend.create_distribution_with_tags = create_remembering_owner

    create_invalidation = cf.CloudFrontBackend.create_invalidation

    @functools.wraps(create_invalidation)
    def create_invalidation_clearing_edge(self, dist_id, paths, caller_ref):
        result = create_invalidation(self, dist_id, paths, caller_ref)
        invalidate(dist_id, paths)
        return result

    cf.CloudFrontBackend.create_invalidation = create_invalidation_clearing_edge

    from moto.moto_api._internal import models as moto_api

    moto_reset = moto_api.MotoAPIBackend.reset

    @functools.wraps(moto_reset)
    def reset_with_cache(self, *args, **kwargs):
        with LOCK:
            CACHE.clear()
        return moto_reset(self, *args, **kwargs)

    moto_api.MotoAPIBackend.reset = reset_with_cache


def _tls_server(app, certificates):
    """An HTTPS server whose handshakes run in each connection's thread, the
    certificate picked by SNI."""
    base = certificates.default()

    def pick(sslobj, name, _ctx):
        try:
            sslobj.context = certificates.for_name(name) if name else base
        except Exception:  # noqa: BLE001 - never fail a handshake on a lookup
            sslobj.context = base

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.set_alpn_protocols(["http/1.1"])
    server_ctx.load_cert_chain(*_context_files(certificates))
    server_ctx.sni_callback = pick
    server = make_server("127.0.0.1", 0, app, threaded=True)

    finish = server.finish_request

    def finish_over_tls(request, client_address):
        try:
            request = server_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused the certificate, or left
        finish(request, client_address)

    server.finish_request = finish_over_tls
    server.handle_error = lambda request, client_address: None
    return server


def _context_files(certificates):
    certificates.default()
    pems = sorted(f for f in os.listdir(certificates.directory) if f.endswith(".pem"))
    stem = os.path.join(certificates.directory, pems[0][:-4])
    return stem + ".pem", stem + ".key"


def start(emulator, paths):
    """Start the two servers; returns {"edge_https": "127.0.0.1:P", "edge_http": ...}."""
    patch_moto(emulator)
    certificates = Certificates(paths["ca.pem"], paths["ca-key.pem"])
    https = _tls_server(edge_app("https"), certificates)
    http = make_server("127.0.0.1", 0, edge_app("http"), threaded=True)
    for server in (https, http):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return {"edge_https": f"127.0.0.1:{https.server_port}", "edge_http": f"127.0.0.1:{http.server_port}"}
