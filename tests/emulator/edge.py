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
- A `+` in the path is a space in the key, as S3 reads it; `%2B` is the `+`.
- Range GETs of one range: 206 with Content-Range (416 past the end), cut
  from the uncompressed object ("Use range GETs").
- Compression ("Serving compressed files"): with Compress true and the cache
  policy enabling it, Brotli when the viewer accepts it, else gzip; only the
  documented content types, 1,000 to 10,000,000 bytes, objects without a
  Content-Encoding; the ETag turns weak.
- An edge cache per distribution, keyed by path, the encoding (identity, gzip
  and br are three entries) and the query strings and headers the cache
  policy names. Cache policies: the managed ones (CachingOptimized,
  CachingDisabled 4135ea2d-..., CachingOptimizedForUncompressedObjects,
  UseOriginCacheControlHeaders) and custom ones read from the cache policy
  API (cache_policies.py), for the default behavior and every path
  behavior; without a policy, the behavior's legacy TTLs (gzip only). TTL:
  the origin's Cache-Control max-age / s-maxage clamped to MinTTL/MaxTTL,
  else DefaultTTL. Errors ("How CloudFront processes HTTP 4xx and 5xx status
  codes from your origin"): 404, 405, 414 and 5xx cached for the error
  caching minimum TTL (a CustomErrorResponse's, else 10 s); 400, 403, 412 and
  415 only with max-age / s-maxage; the rest not. x-cache: Miss / Hit /
  RefreshHit (expired, ETag unchanged) / Error from cloudfront, plus Age on
  hits.
- Propagation: copies cached before an invalidation are served until it
  completes (InProgress for the knob invalidation_seconds, sync_state.py);
  after UpdateDistribution the edges serve the previous configuration until
  the distribution is Deployed (the knob deploy_seconds, emulator.py).
- Geo restriction (whitelist/blacklist) against the viewer's country (knob
  edge_viewer_country), and a web ACL (WebACLId set) modeled as blocking the
  user agents named by the knob edge_waf_blocks: CloudFront's 403 page, "block
  access from your country" or "Request blocked".
- Response headers policies (managed and custom, from response_headers.py) on
  every response from the origin, cached or not: CORS for requests with an
  Origin (allowed origins, credentials, expose headers, origin override),
  preflights (OPTIONS with Access-Control-Request-Method, OPTIONS allowed),
  security headers with their override flags, custom headers, removed headers.
  Without a policy, S3's own CORS answer needs the Origin forwarded (origin
  request policy CORS-S3Origin), and is cached with the first request.
- Custom error responses (error_pages.py): the entry's ResponsePagePath
  fetched from the origin through the cache, without the function, served
  with its ResponseCode and cached for its ErrorCachingMinTTL.
- Via: 1.1 <id>.cloudfront.net (CloudFront), X-Amz-Cf-Pop, X-Amz-Cf-Id.

What it does not model: more than one POP (an invalidation or a deployment
completes everywhere at once), Lambda@Edge (CloudFront Functions run: function_edge.py),
signed URLs, WAF
rules themselves, custom (non-S3) origins (502), multipart ranges, cookies
in the cache key, HTTP/2 and HTTP/3 (ALPN offers h2 where the distribution
allows it, and a client that then speaks HTTP/2 is told HTTP_1_1_REQUIRED),
TLS versions below 1.2 (whatever MinimumProtocolVersion says), S3 CORS rules
beyond origin and method, SSE-KMS objects. (An OAI is honoured by its IAM
ARN or its canonical user: oai.py.)

Knobs (POST /configure on the control port), per client: the access key
that created the distribution.
    edge_error_ttl          the error caching minimum TTL in seconds for the
                            codes CloudFront caches by default (default 10)
    edge_certificate_days   the alias certificate expires this many days from
                            now (default: the ACM certificate's NotAfter)
    edge_viewer_country     the viewers' country for geo restrictions (DE)
    edge_waf_blocks         ["curl", ...]: with a web ACL attached, user agents
                            containing one of these get the WAF's block page

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
import sys
import tempfile
import threading
import time
from urllib.parse import unquote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED_UNCOMPRESSED = "b2884449-e4de-46a7-ac36-70bc7f1ddd6d"
USE_ORIGIN_CACHE_CONTROL = "83da9c7e-98b4-4e11-a168-04f0df8e2c65"
CORS_S3_ORIGIN = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"


def _cache_policy(low, default, high, gzip_=False, br=False, query=("none", ()), headers=(), cookies=("none", ())):
    return {"ttls": (low, default, high), "gzip": gzip_, "br": br, "query": query,
            "headers": tuple(h.lower() for h in headers), "cookies": cookies}


# The managed cache policies ("Use managed cache policies", CloudFront
# Developer Guide): TTLs, the encodings and what else is in the cache key.
MANAGED_CACHE_POLICIES = {
    CACHING_OPTIMIZED: _cache_policy(1, 86400, 31536000, gzip_=True, br=True),
    CACHING_DISABLED: _cache_policy(0, 0, 0),
    CACHING_OPTIMIZED_UNCOMPRESSED: _cache_policy(1, 86400, 31536000),
    USE_ORIGIN_CACHE_CONTROL: _cache_policy(
        0, 0, 31536000, gzip_=True, br=True,
        headers=("host", "origin", "x-http-method-override", "x-http-method", "x-method-override"),
        cookies=("all", ())),
}
ERROR_TTL = 10  # CloudFront's default ErrorCachingMinTTL
# "How CloudFront processes HTTP 4xx and 5xx status codes from your origin":
# cached for the error caching minimum TTL, or only with max-age / s-maxage.
CACHED_ERRORS = {404, 405, 414, 500, 501, 502, 503, 504}
CACHED_ERRORS_WITH_MAX_AGE = {400, 403, 412, 415}
SERVICE = "cloudfront.amazonaws.com"
OAI_ARN = "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {}"
# "Serving compressed files", file types that CloudFront compresses.
COMPRESSIBLE = frozenset("""
application/dash+xml application/eot application/font application/font-sfnt application/javascript
application/json application/opentype application/otf application/pdf application/pkcs7-mime
application/protobuf application/rss+xml application/truetype application/ttf
application/vnd.apple.mpegurl application/vnd.mapbox-vector-tile application/vnd.ms-fontobject
application/wasm application/xhtml+xml application/xml application/x-font-opentype
application/x-font-truetype application/x-font-ttf application/x-httpd-cgi application/x-javascript
application/x-mpegurl application/x-opentype application/x-otf application/x-perl application/x-ttf
font/eot font/opentype font/otf font/ttf image/svg+xml text/css text/csv text/html text/javascript
text/js text/plain text/richtext text/tab-separated-values text/xml text/x-component
text/x-java-source text/x-script vnd.apple.mpegurl
""".split())
COMPRESS_MIN, COMPRESS_MAX = 1_000, 10_000_000
POP = "FRA56-P1"

EMU = None  # the emulator module: its KNOBS and CURRENT
LOCK = threading.Lock()
CACHE = {}  # (distribution id, path, rest of the cache key, encoding) -> entry dict
INVALIDATIONS = []  # [distribution id, decoded paths, moto's Invalidation, created at], until applied


# --------------------------------------------------------------------------
# Finding the distribution, its behavior and its bucket
# --------------------------------------------------------------------------


def _backends():
    from moto.cloudfront.models import cloudfront_backends

    for account in list(cloudfront_backends.keys()):
        yield cloudfront_backends[account]["aws"]


def find_distribution(host):
    """(backend, distribution) serving host (a name, any case), or (None, None).
    An exact name wins; else a wildcard alias `*.example.com` serves any name
    ending in `.example.com` ("Using wildcards in alternate domain names":
    www.example.com, a.b.example.com; the certificate still must cover it)."""
    host = (host or "").lower().rstrip(".")
    found = [(backend, dist) for backend in _backends() for dist in list(backend.distributions.values())]
    for backend, dist in found:
        if host == dist.domain_name.lower() or host in _aliases(dist):
            return backend, dist
    for backend, dist in found:
        if _wildcard_match(host, _aliases(dist)):
            return backend, dist
    return None, None


def _wildcard_match(host, aliases):
    return any(a.startswith("*.") and host.endswith(a[1:]) and len(host) > len(a) - 1 for a in aliases)


def live_config(dist):
    """The configuration the edges serve: after UpdateDistribution, the one
    before it until the distribution is Deployed ("UpdateDistribution returns
    at once; edges serve the new config only after it propagates")."""
    previous = getattr(dist, "_edge_previous", None)
    if previous is not None and time.time() < getattr(dist, "_deployed_at", 0):
        return previous
    return dist.distribution_config


def _aliases(dist):
    items = live_config(dist).Aliases.get("Items") or []
    if isinstance(items, dict):
        items = items.get("CNAME") or []
    return [a.lower() for a in ([items] if isinstance(items, str) else items)]


def _true(value):
    return value in (True, "true", "True")


def _enabled(config):
    return config.Enabled not in (False, "false", "False")


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
    ctype = (obj.metadata.get("Content-Type") or "").split(";")[0].strip().lower()
    if encoding and not obj.metadata.get("Content-Encoding") and compressible(ctype, len(body)):
        result["body"] = _compress(encoding, body)
        result["headers"] = [(k, v) for k, v in headers if k != "ETag"]
        result["headers"] += [("ETag", "W/" + obj.etag), ("Content-Encoding", encoding), ("Vary", "Accept-Encoding")]
    return result


def compressible(content_type, size):
    """"Serving compressed files": a type on the documented list, 1,000 to
    10,000,000 bytes (S3 always sends the Content-Length)."""
    return content_type in COMPRESSIBLE and COMPRESS_MIN <= size <= COMPRESS_MAX


def _compress(encoding, body):
    if encoding == "br":
        import brotli

        return brotli.compress(body)
    return gzip.compress(body, mtime=0)


def viewer_encoding(accept, policy, compress):
    """The encoding the cache key holds for this Accept-Encoding: br when the
    viewer accepts both (and the policy enables both), else gzip, else none."""
    if not compress:
        return ""
    offered = set()
    for part in (accept or "").split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip()
        if q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        offered.add(name.strip().lower())
    if policy["br"] and "br" in offered:
        return "br"
    if policy["gzip"] and "gzip" in offered:
        return "gzip"
    return ""


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


def cache_policy(account, behavior):
    """The behavior's cache policy, normalized: a managed one, a custom one
    read from the cache policy API (cache_policies.py), or the legacy TTLs
    (gzip only: "Brotli doesn't support legacy cache settings")."""
    policy_id = getattr(behavior, "cache_policy_id", "") or ""
    if policy_id in MANAGED_CACHE_POLICIES:
        return MANAGED_CACHE_POLICIES[policy_id]
    if policy_id:
        import cache_policies

        config = cache_policies.config(account, policy_id)
        if config is None:
            return None  # a policy that does not exist: CloudFront would have refused the config
        return cache_policies.normalized(config)
    return _cache_policy(int(behavior.min_ttl or 0), int(behavior.default_ttl or 86400),
                         int(behavior.max_ttl or 31536000), gzip_=True)


def _directives(headers):
    control = next((v for k, v in headers if k.lower() == "cache-control"), "")
    directives = {}
    for part in control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip('"')
    return directives


def ttl_of(policy, headers):
    low, default, high = policy["ttls"]
    directives = _directives(headers)
    if any(d in directives for d in ("no-cache", "no-store", "private")):
        return low
    for name in ("s-maxage", "max-age"):
        if name in directives and directives[name].isdigit():
            return max(low, min(high, int(directives[name])))
    return max(low, min(high, default))


def error_ttl(dist, config, status, headers):
    """How long an error from the origin stays cached ("How CloudFront
    processes HTTP 4xx and 5xx status codes from your origin")."""
    import error_pages

    configured = error_pages.min_ttl(config, status)
    if configured is not None:  # "the minimum amount of time ... to cache the HTTP status code specified in ErrorCode"
        return configured
    if status in CACHED_ERRORS_WITH_MAX_AGE:
        directives = _directives(headers)
        for name in ("s-maxage", "max-age"):
            if directives.get(name, "").isdigit():
                return int(directives[name])
        return 0  # a 400, 403, 412 or 415 without max-age is not cached
    if status not in CACHED_ERRORS:
        return 0
    return _owner_knob(dist, "edge_error_ttl", ERROR_TTL)


def cache_key_extra(policy, query, environ):
    """The query strings and headers the cache policy puts in the cache key."""
    from urllib.parse import parse_qsl

    behavior, names = policy["query"]
    pairs = parse_qsl(query, keep_blank_values=True)
    if behavior == "none":
        pairs = []
    elif behavior == "whitelist":
        pairs = [p for p in pairs if p[0] in names]
    elif behavior == "allExcept":
        pairs = [p for p in pairs if p[0] not in names]
    headers = tuple(environ.get("HTTP_" + h.upper().replace("-", "_"), "") for h in policy["headers"])
    return (tuple(sorted(pairs)), headers)


def _path_matches(path, patterns):
    return any(path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns)


def invalidate(dist_id, paths, invalidation):
    """Remember an invalidation: the copies cached before it are served
    until it completes (Status InProgress, the knob invalidation_seconds),
    then dropped ("Invalidating files": an edge may serve the old copy until
    the invalidation completes)."""
    with LOCK:
        INVALIDATIONS.append([dist_id, [unquote(p) for p in paths], invalidation, time.time()])
        _apply_invalidations(dist_id)


def _apply_invalidations(dist_id):
    """Under LOCK: drop what the completed invalidations of dist_id cover."""
    for record in [r for r in INVALIDATIONS if r[0] == dist_id]:
        _, patterns, invalidation, created = record
        if str(getattr(invalidation, "status", "Completed")).lower() == "inprogress":
            continue
        for key in list(CACHE):
            if key[0] == dist_id and CACHE[key]["stored"] <= created and _path_matches(unquote(key[1]), patterns):
                del CACHE[key]
        INVALIDATIONS.remove(record)


def byte_range(header, size):
    """(start, end) of a single `bytes=` range, "unsatisfiable", or None to
    serve the whole object (no range, several, or one that cannot be read)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        length = int(m.group(2))
        if length == 0:
            return "unsatisfiable"
        return (max(0, size - length), size - 1)
    start = int(m.group(1))
    if start >= size:
        return "unsatisfiable"
    end = int(m.group(2)) if m.group(2) else size - 1
    if end < start:
        return None
    return (start, min(end, size - 1))


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
    if dist is None:
        return cloudfront_error(403, BAD_REQUEST)
    config = live_config(dist)
    if not _enabled(config):
        return cloudfront_error(403, BAD_REQUEST)
    refused = _restricted(dist, config, environ)
    if refused is not None:
        return refused
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path, _, query = raw.partition("?")
    path = path or "/"
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
    # S3 reads a `+` in the path as a space; `%2B` is the `+` ("CloudFront
    # forwards a path's `+` to S3, which reads it as a space").
    decoded = unquote(path.replace("+", "%20"))
    if decoded == "/" and config.DefaultRootObject:
        key = config.DefaultRootObject.lstrip("/")
    else:
        key = decoded[1:]
    origin = origin_of(config, behavior)
    if origin is None:
        return cloudfront_error(502, BAD_REQUEST)
    if origin.origin_path:
        key = origin.origin_path.strip("/") + "/" + key
    cache = cache_policy(account, behavior)
    if cache is None:
        return cloudfront_error(502, BAD_REQUEST)
    ranged = environ.get("HTTP_RANGE")
    # A range is cut from the uncompressed object (this edge's reading of
    # "Serving compressed files"; a browser asks ranges of media, not text).
    encoding = "" if ranged else viewer_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""), cache, _true(behavior.compress))
    forward_origin = getattr(behavior, "origin_request_policy_id", "") in (CORS_S3_ORIGIN, ALL_VIEWER)
    cache_key = (dist.distribution_id, path, cache_key_extra(cache, query, environ), encoding)
    now = time.time()
    with LOCK:
        _apply_invalidations(dist.distribution_id)
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
            ttl = error_ttl(dist, config, result["status"], result["headers"])
            state = "Error"
            import error_pages  # the entry's page instead of the origin's error (its own file)

            page = error_pages.respond(sys.modules[__name__], backend, dist, config, account, result["status"], encoding)
            if page is not None:
                result, ttl = page, page.pop("ttl")
        else:
            ttl = ttl_of(cache, result["headers"])
            if entry is not None and entry.get("etag") == result.get("etag") and entry["status"] == 200:
                state = "RefreshHit"
        result = dict(result, stored=now, expires=now + ttl)
        if ttl > 0:
            with LOCK:
                CACHE[cache_key] = result
    age = int(now - result["stored"]) if state in ("Hit", "Error") and result is entry else None
    return _send(result, state, rhp, viewer_origin, method, age=age, environ=environ)


GEO_BLOCKED = "The Amazon CloudFront distribution is configured to block access from your country."
WAF_BLOCKED = (
    "Request blocked.\nWe can't connect to the server for this app or website at this time. There might be too "
    "much traffic or a configuration error. Try again later, or contact the app or website owner."
)


def _restricted(dist, config, environ):
    """CloudFront's 403 page for a viewer that a geo restriction or the web
    ACL refuses, else None. The viewer's country is the knob
    edge_viewer_country (default DE, this edge's POP being in Frankfurt); the
    web ACL is modeled as blocking user agents that contain one of the
    strings of the knob edge_waf_blocks."""
    geo = (config.Restrictions or {}).get("GeoRestriction")
    if isinstance(geo, dict):
        kind, items = geo.get("RestrictionType"), geo.get("Items")
    else:
        kind, items = getattr(geo, "restriction_type", None), getattr(geo, "items", None)
    if isinstance(items, dict):
        items = items.get("Location") or []
    countries = [items] if isinstance(items, str) else list(items or [])
    country = _owner_knob(dist, "edge_viewer_country", "DE")
    if (kind == "whitelist" and country not in countries) or (kind == "blacklist" and country in countries):
        return cloudfront_error(403, GEO_BLOCKED)
    if config.WebACLId:
        agent = environ.get("HTTP_USER_AGENT", "")
        if any(blocked and blocked in agent for blocked in _owner_knob(dist, "edge_waf_blocks", [])):
            return cloudfront_error(403, WAF_BLOCKED)
    return None


def _send(result, state, rhp, viewer_origin, method, age=None, environ=None):
    headers = list(result["headers"])
    body = result["body"]
    status = result["status"]
    if status == 200 and environ is not None:
        etag = next((v for k, v in headers if k == "ETag"), None)
        if etag and environ.get("HTTP_IF_NONE_MATCH") in (etag, etag.removeprefix("W/"), "*"):
            status, body = 304, b""
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type", "content-encoding")]
        elif environ.get("HTTP_RANGE"):
            # "Use range GETs": 206 and Content-Range, from the cached object.
            span = byte_range(environ["HTTP_RANGE"], len(body))
            if span == "unsatisfiable":
                status, headers = 416, [(k, v) for k, v in headers if k.lower() not in ("etag", "last-modified")]
                headers.append(("Content-Range", f"bytes */{len(body)}"))
                body = b""
            elif span is not None:
                status = 206
                headers.append(("Content-Range", f"bytes {span[0]}-{span[1]}/{len(body)}"))
                body = body[span[0]: span[1] + 1]
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

    def context(self, names, not_after, h2=True):
        """An SSLContext serving a certificate for names, valid until not_after,
        offering h2 in ALPN when h2 (the distribution's HttpVersion allows it)."""
        key = (tuple(names), int(not_after.timestamp()) // 3600, h2)
        with self.lock:
            if key not in self.contexts:
                self.contexts[key] = self._mint(names, not_after, h2)
            return self.contexts[key]

    def _mint(self, names, not_after, h2=True):
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
        ctx.set_alpn_protocols(["h2", "http/1.1"] if h2 else ["http/1.1"])
        ctx.load_cert_chain(stem + ".pem", stem + ".key")
        return ctx

    def default(self, h2=True):
        return self.context(["*.cloudfront.net", "cloudfront.net"], _in_days(365), h2)

    def for_name(self, name):
        """The context CloudFront would answer SNI `name` with."""
        _, dist = find_distribution(name or "")
        if dist is None:
            return self.default()
        # HttpVersion http2 / http2and3 offer h2 in ALPN; http1.1 / http3 do not.
        h2 = "http2" in str(live_config(dist).HttpVersion or "http2")
        aliases = _aliases(dist)
        if name.lower() not in aliases and not _wildcard_match(name.lower(), aliases):
            return self.default(h2)
        arn = live_config(dist).ViewerCertificate.acm_certificate_arn
        cert = _acm_certificate(arn) if arn else None
        if cert is None:
            return self.default(h2)  # an alias without a certificate of its own
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
        return self.context(names, not_after, h2)


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
        invalidate(dist_id, paths, result)
        return result

    cf.CloudFrontBackend.create_invalidation = create_invalidation_clearing_edge

    update = cf.CloudFrontBackend.update_distribution

    @functools.wraps(update)
    def update_propagating(self, dist_config, _id, if_match):
        dist = self.distributions.get(_id)
        serving = live_config(dist) if dist is not None else None
        result = update(self, dist_config, _id, if_match)
        if dist is not None:
            dist._edge_previous = serving  # served until Deployed (live_config)
        return result

    cf.CloudFrontBackend.update_distribution = update_propagating

    from moto.moto_api._internal import models as moto_api

    moto_reset = moto_api.MotoAPIBackend.reset

    @functools.wraps(moto_reset)
    def reset_with_cache(self, *args, **kwargs):
        with LOCK:
            CACHE.clear()
            INVALIDATIONS.clear()
        import cache_policies

        cache_policies.reset()
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
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    server_ctx.load_cert_chain(*_context_files(certificates))
    server_ctx.sni_callback = pick
    server = make_server("127.0.0.1", 0, app, threaded=True)

    finish = server.finish_request

    def finish_over_tls(request, client_address):
        try:
            request = server_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused the certificate, or left
        if request.selected_alpn_protocol() == "h2":
            _http_1_1_required(request)
            return
        finish(request, client_address)

    server.finish_request = finish_over_tls
    server.handle_error = lambda request, client_address: None
    return server


def _http_1_1_required(tls):
    """This edge speaks HTTP/1.1 only: to a client that chose h2 in ALPN, its
    first stream is reset and the connection closed with HTTP_1_1_REQUIRED
    (RFC 9113, 0xd), on which browsers and curl retry over HTTP/1.1."""

    def frame(kind, flags, stream, payload=b""):
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    required = (0x0D).to_bytes(4, "big")
    try:
        tls.settimeout(2)
        data = b""
        while len(data) < 24:
            chunk = tls.recv(4096)
            if not chunk:
                return
            data += chunk
        tls.sendall(frame(4, 0, 0))  # our SETTINGS
        data, stream = data[24:], 0
        while not stream:
            while len(data) < 9:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                data += chunk
            length, kind, flags = int.from_bytes(data[:3], "big"), data[3], data[4]
            while len(data) < 9 + length:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                data += chunk
            if kind == 4 and not flags & 1:
                tls.sendall(frame(4, 1, 0))  # SETTINGS ACK
            if kind == 1:  # HEADERS: the first request
                stream = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
            data = data[9 + length:]
        tls.sendall(frame(3, 0, stream, required))
        try:  # the client leaves to retry over HTTP/1.1; then the GOAWAY
            while tls.recv(4096):
                pass
        except (ssl.SSLError, OSError):
            pass
        tls.sendall(frame(7, 0, 0, stream.to_bytes(4, "big") + required))
    except (ssl.SSLError, OSError):
        pass
    finally:
        try:
            tls.close()
        except OSError:
            pass


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
