"""Custom error responses at the edge (CloudFront Developer Guide, "Generate
custom error responses", "Control how long CloudFront caches errors").

moto keeps a distribution's CustomErrorResponses but nothing serves them:
the edge (edge.py) returned the origin's error and only read the entries'
ErrorCachingMinTTL. What CloudFront does, and this module restores:

- When the origin answers a status that an entry names (ErrorCode) and the
  entry has a ResponsePagePath, CloudFront gets that page from the origin
  of the cache behavior matching the page's path, as a request of its own:
  through the edge cache, keyed by the page's path (so an invalidation of
  the page's path reaches it), and without running the behavior's
  CloudFront Function ("Functions do not run on CloudFront's custom error
  responses": the path is read as written).
- The viewer gets the page's body and headers with the entry's
  ResponseCode (else the origin's status), and CloudFront keeps that answer
  for the requested URL for the entry's ErrorCachingMinTTL.
- "If the custom error page isn't available, CloudFront returns to the
  viewer the status code that CloudFront received from the origin that
  contains the custom error pages": the page's own error (S3's 403
  AccessDenied for a missing key without s3:ListBucket).
"""

import time


def entries(config):
    """The distribution's CustomErrorResponses as dicts, however moto holds
    them (a list, or xmltodict's {"CustomErrorResponse": item or list})."""
    items = (config.CustomErrorResponses or {}).get("Items") or []
    if isinstance(items, dict):
        items = items.get("CustomErrorResponse") or []
    if isinstance(items, dict):
        items = [items]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(item.get("CustomErrorResponse", item))
    return out


def entry_for(config, status):
    for e in entries(config):
        if str(e.get("ErrorCode")) == str(status):
            return e
    return None


def min_ttl(config, status):
    """The entry's ErrorCachingMinTTL for status, or None."""
    e = entry_for(config, status)
    if e is not None and e.get("ErrorCachingMinTTL") not in (None, ""):
        return int(e["ErrorCachingMinTTL"])
    return None


def respond(edge, backend, dist, config, account, status, encoding):
    """The answer for an origin error `status`, or None when no entry gives
    it a page: {"status", "headers", "body", "ttl"}."""
    e = entry_for(config, status)
    page = (e or {}).get("ResponsePagePath")
    if not page:
        return None
    behavior = edge.behavior_for(config, page)
    origin = edge.origin_of(config, behavior)
    cache = edge.cache_policy(account, behavior)
    if origin is None or cache is None:
        return None
    key = page[1:]
    if origin.origin_path:
        key = origin.origin_path.strip("/") + "/" + key
    encoding = encoding if edge._true(behavior.compress) else ""
    cache_key = (dist.distribution_id, page, edge.cache_key_extra(cache, "", {}), encoding)
    now = time.time()
    with edge.LOCK:
        edge._apply_invalidations(dist.distribution_id)
        cached = edge.CACHE.get(cache_key)
    if cached is not None and now < cached["expires"]:
        fetched = cached
    else:
        fetched = edge.read_origin(backend, dist, origin, key, "GET", None, False, encoding)
        ttl = edge.ttl_of(cache, fetched["headers"]) if fetched["status"] == 200 else 0
        if ttl > 0:
            with edge.LOCK:
                edge.CACHE[cache_key] = dict(fetched, stored=now, expires=now + ttl)
    ttl = min_ttl(config, status)
    if ttl is None:
        ttl = edge.ERROR_TTL
    if fetched["status"] != 200:
        return {"status": fetched["status"], "headers": fetched["headers"], "body": fetched["body"], "ttl": ttl}
    code = int(e.get("ResponseCode") or status)
    headers = [(k, v) for k, v in fetched["headers"] if k.lower() not in ("accept-ranges",)]
    return {"status": code, "headers": headers, "body": fetched["body"], "ttl": ttl}
