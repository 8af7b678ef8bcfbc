"""CloudFront's cache policy API, which moto 5.2.5 lacks (CreateCachePolicy
answers 404 there), so that the edge (edge.py) reads a custom policy's TTLs
and cache key as CloudFront does ("Controlling the cache key with a cache
policy", CloudFront API reference: CreateCachePolicy, GetCachePolicy,
GetCachePolicyConfig, ListCachePolicies, UpdateCachePolicy,
DeleteCachePolicy).

Modeled: the six calls for custom policies of each account (the config kept
as sent, a new ETag on each update, IfMatch checked, NoSuchCachePolicy,
CachePolicyAlreadyExists for a name taken, CachePolicyInUse while a
distribution's behavior names it); GetCachePolicy of a managed policy
(CachingOptimized, CachingDisabled, CachingOptimizedForUncompressedObjects,
UseOriginCacheControlHeaders). Not modeled: listing managed policies, the
validation of TTL ranges and of the header/cookie/query string limits.
"""

import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET

from werkzeug.wrappers import Request, Response

NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
POLICIES = {}  # account -> {id: {"xml": bytes of CachePolicyConfig, "config": dict, "etag", "modified"}}
LOCK = threading.Lock()
PATH = re.compile(r"^/2020-05-31/cache-policy(?:/([^/]+))?(/config)?/?$")

MANAGED_NAMES = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": "Managed-CachingOptimized",
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": "Managed-CachingDisabled",
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": "Managed-CachingOptimizedForUncompressedObjects",
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": "Managed-UseOriginCacheControlHeaders",
}


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def to_dict(elem):
    """XML to a dict; `Items` become lists of their children's values."""
    children = list(elem)
    if not children:
        return (elem.text or "").strip()
    if _local(elem.tag) == "Items":
        return [to_dict(c) for c in children]
    return {_local(c.tag): to_dict(c) for c in children}


def _block(config, *names):
    for name in names:
        config = (config or {}).get(name) if isinstance(config, dict) else None
    return config


def normalized(config):
    """A CachePolicyConfig dict as edge.py uses it: TTLs, encodings, cache key."""
    params = _block(config, "ParametersInCacheKeyAndForwardedToOrigin") or {}

    def listed(block, behavior_key, items_key):
        behavior = _block(params, block, behavior_key) or "none"
        names = _block(params, block, items_key, "Items") or []
        return behavior, tuple(names)

    headers_behavior, headers = listed("HeadersConfig", "HeaderBehavior", "Headers")
    return {
        "ttls": (int(config.get("MinTTL") or 0), int(config.get("DefaultTTL") or 86400),
                 int(config.get("MaxTTL") or 31536000)),
        "gzip": params.get("EnableAcceptEncodingGzip") == "true",
        "br": params.get("EnableAcceptEncodingBrotli") == "true",
        "query": listed("QueryStringsConfig", "QueryStringBehavior", "QueryStrings"),
        "headers": tuple(h.lower() for h in headers) if headers_behavior == "whitelist" else (),
        "cookies": listed("CookiesConfig", "CookieBehavior", "Cookies"),
    }


def config(account, policy_id):
    """The config dict of a custom policy of account, or None."""
    with LOCK:
        record = POLICIES.get(account, {}).get(policy_id)
    return record["config"] if record else None


def _managed_xml(policy_id):
    import edge

    p = edge.MANAGED_CACHE_POLICIES[policy_id]
    low, default, high = p["ttls"]
    return (
        f"<CachePolicyConfig><Comment></Comment><Name>{MANAGED_NAMES[policy_id]}</Name>"
        f"<DefaultTTL>{default}</DefaultTTL><MaxTTL>{high}</MaxTTL><MinTTL>{low}</MinTTL>"
        "<ParametersInCacheKeyAndForwardedToOrigin>"
        f"<EnableAcceptEncodingGzip>{str(p['gzip']).lower()}</EnableAcceptEncodingGzip>"
        f"<EnableAcceptEncodingBrotli>{str(p['br']).lower()}</EnableAcceptEncodingBrotli>"
        "<HeadersConfig><HeaderBehavior>none</HeaderBehavior></HeadersConfig>"
        "<CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>"
        "<QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>"
        "</ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>"
    ).encode()


def _policy_xml(policy_id, config_xml, modified):
    return (f"<CachePolicy><Id>{policy_id}</Id><LastModifiedTime>{modified}</LastModifiedTime>".encode()
            + config_xml + b"</CachePolicy>")


def _respond(status, body=b"", headers=()):
    if body:
        body = b'<?xml version="1.0"?>\n' + body.replace(b"<CachePolicy>", f'<CachePolicy xmlns="{NS}">'.encode(), 1) \
            if body.startswith(b"<CachePolicy>") else b'<?xml version="1.0"?>\n' + body
    return Response(body, status=status, headers=[("Content-Type", "text/xml")] + list(headers))


def _error(status, code, message):
    body = (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{secrets.token_hex(8)}</RequestId></ErrorResponse>")
    return Response(body, status=status, headers=[("Content-Type", "text/xml")])


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _strip(body):
    """The CachePolicyConfig element of a request body, namespace dropped."""
    text = body.decode()
    text = re.sub(r"<\?xml[^>]*\?>", "", text).strip()
    text = re.sub(r'\sxmlns="[^"]*"', "", text, count=1)
    return text.encode()


def _in_use(account, policy_id):
    from moto.cloudfront.models import cloudfront_backends

    for dist in list(cloudfront_backends[account]["aws"].distributions.values()):
        config = dist.distribution_config
        behaviors = [config.DefaultCacheBehavior] + list((config.CacheBehaviors or {}).get("Items") or [])
        if any(getattr(b, "cache_policy_id", "") == policy_id for b in behaviors):
            return True
    return False


def handles(environ):
    return PATH.match(environ.get("PATH_INFO", "")) is not None


def wrap(moto_app, account_of):
    """moto_app with this API in front of it; account_of(environ) names the account."""

    def routed(environ, start_response):
        m = re.search(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        if m and m.group(1) == "cloudfront" and handles(environ):
            return dispatch(account_of(environ), Request(environ))(environ, start_response)
        return moto_app(environ, start_response)

    return routed


def dispatch(account, request):
    m = PATH.match(request.path)
    policy_id, config_only = m.group(1), bool(m.group(2))
    method = request.method
    with LOCK:
        mine = POLICIES.setdefault(account, {})
        if policy_id is None and method == "POST":
            xml = _strip(request.get_data())
            parsed = to_dict(ET.fromstring(xml))
            if any(r["config"].get("Name") == parsed.get("Name") for r in mine.values()):
                return _error(409, "CachePolicyAlreadyExists", "A cache policy with this name already exists.")
            new_id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
            record = {"xml": xml, "config": parsed, "etag": secrets.token_hex(7).upper(), "modified": _now()}
            mine[new_id] = record
            return _respond(201, _policy_xml(new_id, xml, record["modified"]),
                            [("ETag", record["etag"]), ("Location", f"https://cloudfront.amazonaws.com/2020-05-31/cache-policy/{new_id}")])
        if policy_id is None and method == "GET":
            items = b"".join(b"<CachePolicySummary><Type>custom</Type>" + _policy_xml(i, r["xml"], r["modified"])
                             + b"</CachePolicySummary>" for i, r in mine.items())
            wanted = request.args.get("Type")
            if wanted == "managed":
                items, count = b"", 0
            else:
                count = len(mine)
            return _respond(200, f'<CachePolicyList xmlns="{NS}"><MaxItems>100</MaxItems><Quantity>{count}</Quantity><Items>'.encode()
                            + items + b"</Items></CachePolicyList>")
        record = mine.get(policy_id)
        if method == "GET" and record is None and policy_id in MANAGED_NAMES:
            xml = _managed_xml(policy_id)
            body = xml if config_only else _policy_xml(policy_id, xml, "2020-10-01T00:00:00.000Z")
            if config_only:
                body = body.replace(b"<CachePolicyConfig>", f'<CachePolicyConfig xmlns="{NS}">'.encode(), 1)
            return _respond(200, body, [("ETag", "E23ZP02F085DFQ")])
        if record is None:
            return _error(404, "NoSuchCachePolicy", "The cache policy does not exist.")
        if method == "GET":
            body = record["xml"] if config_only else _policy_xml(policy_id, record["xml"], record["modified"])
            if config_only:
                body = body.replace(b"<CachePolicyConfig>", f'<CachePolicyConfig xmlns="{NS}">'.encode(), 1)
            return _respond(200, body, [("ETag", record["etag"])])
        if request.headers.get("If-Match") != record["etag"]:
            return _error(412, "PreconditionFailed", "The If-Match version is missing or not valid.")
        if method == "PUT":
            xml = _strip(request.get_data())
            record.update(xml=xml, config=to_dict(ET.fromstring(xml)), etag=secrets.token_hex(7).upper(), modified=_now())
            return _respond(200, _policy_xml(policy_id, xml, record["modified"]), [("ETag", record["etag"])])
        if method == "DELETE":
            if _in_use(account, policy_id):
                return _error(409, "CachePolicyInUse", "Cannot delete the cache policy because it is attached to one or more cache behaviors.")
            del mine[policy_id]
            return Response(b"", status=204)
    return _error(400, "InvalidArgument", f"{method} {request.path}")


def reset():
    with LOCK:
        POLICIES.clear()
