"""Self-test of edge.py: what a visitor gets from the emulator's CloudFront edge.

    .emulator/venv/bin/python tests/emulator/edge_selftest.py

Starts the emulator through start.py (as the Rust harness does), builds
buckets, origin access controls and distributions with boto3, then requests
them over raw HTTP and HTTPS (SNI and Host set, the emulator's CA trusted) and
checks each behaviour edge.py models against what CloudFront does. Prints
"N passed, M failed" and exits non-zero if anything failed.
"""

import gzip
import http.client
import json
import shutil
import socket
import subprocess
import ssl
import sys
import time

sys.dont_write_bytecode = True

from selftest_kit import INFO, Clients, check, control, error_of, run  # noqa: E402

ACCOUNT = "123456789012"
VALIDATION = "_d930b28be6c5927595552b219965053e"
OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CORS_WITH_PREFLIGHT = "5cc3b908-e619-4b99-88e5-2cf7f45965bd"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
CORS_S3_ORIGIN = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"


class Answer:
    def __init__(self, response):
        self.status = response.status
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        self.body = response.read()

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"

    def text(self):
        return self.body.decode(errors="replace")


def get(host, path="/", scheme="https", method="GET", headers=None, sni=None):
    """A request to the edge for host, as a browser would send it."""
    address, port = INFO[f"edge_{scheme}"].split(":")
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=INFO["ca_bundle"])
        conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
        raw = socket.create_connection((address, int(port)), timeout=10)
        conn.sock = ctx.wrap_socket(raw, server_hostname=sni or host)
    else:
        conn = http.client.HTTPConnection(address, int(port), timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        return Answer(conn.getresponse())
    finally:
        conn.close()


def tls_error(host):
    try:
        get(host)
    except ssl.SSLCertVerificationError as e:
        return e.verify_message or str(e)
    return None


def peer_certificate(host):
    address, port = INFO["edge_https"].split(":")
    ctx = ssl.create_default_context(cafile=INFO["ca_bundle"])
    with socket.create_connection((address, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert()


# --------------------------------------------------------------------------
# building stacks
# --------------------------------------------------------------------------


def make_bucket(c, name):
    c.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})


def put(c, bucket, key, body, **kw):
    c.s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)


def oac(c, name):
    return c.cf.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": name,
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]


def distribution(c, ref, bucket, oac_id=None, oai=None, root="index.html", rhp=None, methods=None, aliases=None, cert=None,
                 orp=None):
    origin = {
        "Id": "s3",
        "DomainName": f"{bucket}.s3.eu-west-1.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": f"origin-access-identity/cloudfront/{oai}" if oai else ""},
    }
    if oac_id:
        origin["OriginAccessControlId"] = oac_id
    behavior = {
        "TargetOriginId": "s3",
        "ViewerProtocolPolicy": "redirect-to-https",
        "CachePolicyId": OPTIMIZED,
        "Compress": True,
    }
    if methods:
        behavior["AllowedMethods"] = {"Quantity": len(methods), "Items": methods,
                                      "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}
    if rhp:
        behavior["ResponseHeadersPolicyId"] = rhp
    if orp:
        behavior["OriginRequestPolicyId"] = orp
    config = {
        "CallerReference": ref,
        "Comment": "",
        "Enabled": True,
        "DefaultRootObject": root,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": behavior,
    }
    if aliases:
        config["Aliases"] = {"Quantity": len(aliases), "Items": aliases}
    if cert:
        config["ViewerCertificate"] = {"ACMCertificateArn": cert, "SSLSupportMethod": "sni-only",
                                       "MinimumProtocolVersion": "TLSv1.2_2021"}
    d = c.cf.create_distribution(DistributionConfig=config)["Distribution"]
    return d["Id"], d["ARN"], d["DomainName"]


def grant(c, bucket, arn=None, oai=None, list_bucket=False, extra=()):
    """The bucket policy cdnctl writes: CloudFront's grant and the TLS-only Deny."""
    statements = []
    if arn:
        statements.append({"Sid": "CloudFront", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                           "Action": ["s3:GetObject"] + (["s3:ListBucket"] if list_bucket else []),
                           "Resource": [f"arn:aws:s3:::{bucket}/*"] + ([f"arn:aws:s3:::{bucket}"] if list_bucket else []),
                           "Condition": {"StringEquals": {"AWS:SourceArn": arn}}})
    if oai:
        statements.append({"Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {oai}"},
                           "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    statements.append({"Sid": "TlsOnly", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
                       "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    statements.extend(extra)
    c.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def stack(key, label, **kw):
    """A bucket with index.html and app.css, an OAC, a distribution and the grant."""
    c = Clients(key, **kw.pop("knobs", {}))
    bucket = f"edge-{label}"
    make_bucket(c, bucket)
    put(c, bucket, "index.html", b"<h1>home</h1>", ContentType="text/html", CacheControl="no-cache")
    put(c, bucket, "app.css", b"body{}", ContentType="text/css", CacheControl="public, max-age=31536000, immutable")
    oac_id = oac(c, f"oac-{label}")
    dist_id, arn, domain = distribution(c, f"ref-{label}", bucket, oac_id=oac_id, **kw)
    grant(c, bucket, arn=arn)
    return c, bucket, dist_id, arn, domain


def is_cloudfront_page(a):
    return (a.status == 403 and "The request could not be satisfied" in a.text()
            and a.headers.get("x-cache") == "Error from cloudfront" and a.headers.get("server") == "CloudFront")


def is_s3_error(a, status, code):
    return a.status == status and f"<Code>{code}</Code>" in a.text() and a.headers.get("x-cache") == "Error from cloudfront"


# --------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------


def test_unknown_and_disabled():
    check("unknown host over https: CloudFront's 403 page", is_cloudfront_page(a := get("d111111abcdef8.cloudfront.net")), a)
    check("unknown host over http: CloudFront's 403 page", is_cloudfront_page(a := get("nobody.example.com", scheme="http")), a)
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEDISABLED", "disabled")
    check("enabled distribution serves", get(domain, "/app.css").status == 200)
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["Enabled"] = False
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    check("disabled distribution: CloudFront's 403 page", is_cloudfront_page(a := get(domain, "/app.css")), a)


def test_object_and_edge_headers():
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEOBJECT", "object")
    put(c, bucket, "data.json.gz", gzip.compress(b'{"a": 1}'), ContentType="application/json",
        ContentEncoding="gzip", CacheControl="max-age=60")
    check("the origin keeps its OriginAccessControlId",
          c.cf.get_distribution_config(Id=dist_id)["DistributionConfig"]["Origins"]["Items"][0].get("OriginAccessControlId"))
    a = get(domain, "/app.css")
    etag = c.s3.head_object(Bucket=bucket, Key="app.css")["ETag"]
    check("object: 200 and its body", a.status == 200 and a.body == b"body{}", a)
    check("object: Content-Type and Cache-Control from S3", a.headers.get("content-type") == "text/css"
          and a.headers.get("cache-control") == "public, max-age=31536000, immutable", a.headers)
    check("object: S3's ETag", a.headers.get("etag") == etag, a.headers)
    check("object: Via, X-Amz-Cf-Pop, X-Amz-Cf-Id", a.headers.get("via", "").endswith(".cloudfront.net (CloudFront)")
          and a.headers.get("x-amz-cf-pop") and len(a.headers.get("x-amz-cf-id", "")) == 56, a.headers)
    check("first request: Miss", a.headers.get("x-cache") == "Miss from cloudfront", a.headers)
    check("second request: Hit", (b := get(domain, "/app.css")).headers.get("x-cache") == "Hit from cloudfront", b.headers)
    a = get(domain, "/data.json.gz", headers={"Accept-Encoding": "gzip"})
    check("Content-Encoding from the object, not compressed again", a.headers.get("content-encoding") == "gzip"
          and gzip.decompress(a.body) == b'{"a": 1}', a)
    a = get(domain, "/app.css", headers={"If-None-Match": etag})
    check("If-None-Match: 304", a.status == 304 and a.body == b"", a)
    a = get(domain, "/app.css", method="HEAD")
    check("HEAD: headers, no body", a.status == 200 and a.body == b"" and a.headers.get("content-length") == "6", a)
    big = ("p { color: red }\n" * 200).encode()
    put(c, bucket, "big.css", big, ContentType="text/css")
    a = get(domain, "/big.css", headers={"Accept-Encoding": "gzip, deflate"})
    check("compressed: gzip, weak ETag", a.headers.get("content-encoding") == "gzip" and gzip.decompress(a.body) == big
          and a.headers.get("etag", "").startswith('W/"'), a.headers)
    check("not compressed without Accept-Encoding", get(domain, "/big.css").body == big)


def test_redirect_and_root():
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEREDIRECT", "redirect")
    a = get(domain, "/app.css?v=1", scheme="http")
    check("http: 301 to https", a.status == 301 and a.headers.get("location") == f"https://{domain}/app.css?v=1"
          and a.headers.get("x-cache") == "Redirect from cloudfront", a)
    a = get(domain, "/")
    check("DefaultRootObject served for /", a.status == 200 and a.body == b"<h1>home</h1>", a)
    c2, bucket2, _, _, domain2 = stack("AKIAEDGENOROOT", "noroot", root="")
    check("/ without DefaultRootObject: 403 AccessDenied", is_s3_error(a := get(domain2, "/"), 403, "AccessDenied"), a)


def test_bucket_policy():
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEPOLICY", "policy")
    check("missing key without ListBucket: 403", is_s3_error(a := get(domain, "/nope.txt"), 403, "AccessDenied"), a)
    grant(c, bucket, arn=arn, list_bucket=True)
    check("missing key with ListBucket: 404 NoSuchKey", is_s3_error(a := get(domain, "/nope2.txt"), 404, "NoSuchKey"), a)
    grant(c, bucket, arn=arn, extra=[{"Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"},
                                      "Action": "s3:GetObject",
                                      "Resource": [f"arn:aws:s3:::{bucket}/.cdnctl/*", f"arn:aws:s3:::{bucket}/*/.cdnctl/*"]}])
    put(c, bucket, ".cdnctl/lease", b"x")
    put(c, bucket, "static/.cdnctl/manifest", b"x")
    put(c, bucket, "static/ok.txt", b"ok", ContentType="text/plain")
    check("explicit Deny wins (.cdnctl/*)", is_s3_error(a := get(domain, "/.cdnctl/lease"), 403, "AccessDenied"), a)
    check("explicit Deny wins (*/.cdnctl/*)", is_s3_error(a := get(domain, "/static/.cdnctl/manifest"), 403, "AccessDenied"), a)
    check("the rest still served", get(domain, "/static/ok.txt").status == 200)
    # Another distribution's ARN, or no grant at all: AccessDenied.
    c.s3.put_object(Bucket=bucket, Key="other.txt", Body=b"o")
    grant(c, bucket, arn=arn.replace(dist_id, "E2OTHERDISTRIB"))
    check("grant for another distribution: 403 AccessDenied", is_s3_error(a := get(domain, "/other.txt"), 403, "AccessDenied"), a)
    c.s3.delete_bucket_policy(Bucket=bucket)
    check("no policy: 403 AccessDenied", is_s3_error(a := get(domain, "/index.html?x"), 403, "AccessDenied") or
          is_s3_error(a, 403, "AccessDenied"), a)
    # A grant limited to a prefix matches by wildcard.
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:Get*",
                             "Resource": f"arn:aws:s3:::{bucket}/static/*",
                             "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"}}}]}
    c.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    put(c, bucket, "static/two.txt", b"2")
    put(c, bucket, "top.txt", b"t")
    check("resource wildcard and ArnLike match", get(domain, "/static/two.txt").status == 200)
    check("outside the granted resource: 403", get(domain, "/top.txt").status == 403)


def test_origin_access_identity():
    c = Clients("AKIAEDGEOAI")
    bucket = "edge-oai"
    make_bucket(c, bucket)
    put(c, bucket, "a.txt", b"a", ContentType="text/plain")
    put(c, bucket, "b.txt", b"b", ContentType="text/plain")
    _, arn, domain = distribution(c, "ref-oai", bucket, oai="E2QWRUHAPOMQZL")
    check("OAI without a grant: 403", get(domain, "/a.txt").status == 403)
    grant(c, bucket, oai="E2QWRUHAPOMQZL")
    check("OAI granted: 200", (a := get(domain, "/b.txt")).status == 200 and a.body == b"b", a)
    grant(c, bucket, arn=arn)  # an OAC grant does not cover an OAI origin
    put(c, bucket, "c.txt", b"c")
    check("OAI origin, OAC grant only: 403", get(domain, "/c.txt").status == 403)


def test_cache_and_invalidation():
    c, bucket, dist_id, arn, domain = stack("AKIAEDGECACHE", "cache")
    put(c, bucket, "page.html", b"v1", ContentType="text/html", CacheControl="max-age=3600")
    check("fill", get(domain, "/page.html").body == b"v1")
    put(c, bucket, "page.html", b"v2", ContentType="text/html", CacheControl="max-age=3600")
    a = get(domain, "/page.html")
    check("stale copy while max-age lasts", a.body == b"v1" and a.headers["x-cache"] == "Hit from cloudfront", a)
    c.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/page*"]}, "CallerReference": "inv-1"})
    a = get(domain, "/page.html")
    check("after a completed invalidation: Miss, new copy", a.body == b"v2" and a.headers["x-cache"] == "Miss from cloudfront", a)
    put(c, bucket, "short.txt", b"s", ContentType="text/plain", CacheControl="max-age=1")
    get(domain, "/short.txt")
    time.sleep(1.3)
    check("expired, unchanged: RefreshHit", get(domain, "/short.txt").headers["x-cache"] == "RefreshHit from cloudfront")


def test_invalidation_in_progress():
    """CloudFront Developer Guide, "Invalidate files to remove content": until
    an invalidation completes, an edge may still serve the copy it holds."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEINVAL", "inval", knobs={"invalidation_seconds": 1})
    put(c, bucket, "page.html", b"v1", ContentType="text/html", CacheControl="max-age=3600")
    get(domain, "/page.html")
    put(c, bucket, "page.html", b"v2", ContentType="text/html", CacheControl="max-age=3600")
    inv = c.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/page.html"]}, "CallerReference": "inv-slow"})["Invalidation"]
    a = get(domain, "/page.html")
    check("invalidation InProgress: the old copy is still served", inv["Status"] == "InProgress" and a.body == b"v1"
          and a.headers["x-cache"] == "Hit from cloudfront", (inv["Status"], a))
    time.sleep(1.2)
    status = c.cf.get_invalidation(DistributionId=dist_id, Id=inv["Id"])["Invalidation"]["Status"]
    a = get(domain, "/page.html")
    check("invalidation Completed: the new copy", status == "Completed" and a.body == b"v2", (status, a))


def test_config_served_until_deployed():
    """CloudFront API Reference, "UpdateDistribution": the call returns at
    once and the distribution is InProgress until the change has propagated
    to the edges; until then they serve the previous configuration."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEDEPLOY", "deploy", knobs={"deploy_seconds": 1})
    time.sleep(1.1)  # the creation deployed
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["DefaultRootObject"] = "app.css"
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    status = c.cf.get_distribution(Id=dist_id)["Distribution"]["Status"]
    a = get(domain, "/", headers={"Cache-Control": "no-cache"})
    check("InProgress: the previous DefaultRootObject", status == "InProgress" and a.body == b"<h1>home</h1>", (status, a))
    time.sleep(1.2)
    status = c.cf.get_distribution(Id=dist_id)["Distribution"]["Status"]
    a = get(domain, "/")
    check("Deployed: the new one", status == "Deployed" and a.body == b"body{}", (status, a))


def test_plus_in_path():
    """CloudFront Developer Guide, "Request and response behavior for Amazon
    S3 origins": the path goes to S3 as the viewer sent it, and S3 reads a
    `+` in it as a space (S3 User Guide, "Naming Amazon S3 objects")."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEPLUS", "plus")
    put(c, bucket, "a+b.css", b"plus", ContentType="text/css")
    put(c, bucket, "c d.css", b"space", ContentType="text/css")
    check("/a+b.css is the key `a b.css`: 403", is_s3_error(a := get(domain, "/a+b.css"), 403, "AccessDenied"), a)
    check("/a%2Bb.css is the key `a+b.css`", (a := get(domain, "/a%2Bb.css")).status == 200 and a.body == b"plus", a)
    check("/c+d.css is the key `c d.css`", (a := get(domain, "/c+d.css")).status == 200 and a.body == b"space", a)


def test_compression():
    """CloudFront Developer Guide, "Serve compressed files": Brotli preferred,
    the documented file types, 1,000 to 10,000,000 bytes, a weak ETag;
    identity, gzip and br are three cache entries under CachingOptimized."""
    import brotli

    c, bucket, dist_id, arn, domain = stack("AKIAEDGEBROTLI", "brotli")
    big = ("p { color: red }\n" * 200).encode()
    put(c, bucket, "big.css", big, ContentType="text/css", CacheControl="max-age=600")
    a = get(domain, "/big.css", headers={"Accept-Encoding": "gzip, deflate, br"})
    check("br preferred, weak ETag", a.headers.get("content-encoding") == "br" and brotli.decompress(a.body) == big
          and a.headers.get("etag", "").startswith('W/"') and a.headers["x-cache"] == "Miss from cloudfront", a.headers)
    a = get(domain, "/big.css", headers={"Accept-Encoding": "gzip"})
    check("gzip: its own entry (Miss)", a.headers.get("content-encoding") == "gzip" and gzip.decompress(a.body) == big
          and a.headers["x-cache"] == "Miss from cloudfront", a.headers)
    a = get(domain, "/big.css")
    check("identity: its own entry, strong ETag", a.body == big and "content-encoding" not in a.headers
          and a.headers["x-cache"] == "Miss from cloudfront" and not a.headers["etag"].startswith("W/"), a.headers)
    a = get(domain, "/big.css", headers={"Accept-Encoding": "br;q=0, gzip"})
    check("br;q=0: gzip, a Hit", a.headers.get("content-encoding") == "gzip" and a.headers["x-cache"] == "Hit from cloudfront", a.headers)
    put(c, bucket, "notes.md", b"# x\n" * 500, ContentType="text/markdown")
    check("text/markdown is not on the list", "content-encoding" not in get(domain, "/notes.md", headers={"Accept-Encoding": "br"}).headers)
    put(c, bucket, "small.css", b"a{}" * 333, ContentType="text/css")
    check("999 bytes: not compressed", "content-encoding" not in get(domain, "/small.css", headers={"Accept-Encoding": "br"}).headers)
    put(c, bucket, "data.json", b'{"k": 1}' * 200, ContentType="application/json")
    check("application/json: compressed", get(domain, "/data.json", headers={"Accept-Encoding": "br"}).headers.get("content-encoding") == "br")


def test_error_caching():
    """CloudFront Developer Guide, "How CloudFront processes HTTP 4xx and 5xx
    status codes from your origin": a 404 is cached for the error caching
    minimum TTL; a 403 without max-age or s-maxage is not cached."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEERRORS", "errors")
    check("403 first", get(domain, "/later.txt").status == 403)
    put(c, bucket, "later.txt", b"now", ContentType="text/plain")
    check("a 403 without max-age is not cached", (a := get(domain, "/later.txt")).status == 200, a)
    grant(c, bucket, arn=arn, list_bucket=True)
    check("404 first", get(domain, "/gone.txt").status == 404)
    put(c, bucket, "gone.txt", b"here", ContentType="text/plain")
    a = get(domain, "/gone.txt")
    check("a 404 is cached (ErrorCachingMinTTL 10 s)", a.status == 404 and a.headers["x-cache"] == "Error from cloudfront", a)
    control("/configure", {"key": "AKIAEDGEERRORS", "edge_error_ttl": 1})
    check("404 again", get(domain, "/gone2.txt").status == 404)
    put(c, bucket, "gone2.txt", b"here", ContentType="text/plain")
    time.sleep(1.2)
    check("the 404 expires after edge_error_ttl", get(domain, "/gone2.txt").status == 200)


def test_range_requests():
    """CloudFront Developer Guide, "How CloudFront processes partial requests
    for an object (range GETs)": 206 with Content-Range."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGERANGE", "range")
    put(c, bucket, "video.mp4", b"0123456789", ContentType="video/mp4")
    a = get(domain, "/video.mp4", headers={"Range": "bytes=0-3"})
    check("206 and Content-Range", a.status == 206 and a.body == b"0123"
          and a.headers.get("content-range") == "bytes 0-3/10", a)
    a = get(domain, "/video.mp4", headers={"Range": "bytes=-2"})
    check("a suffix range", a.status == 206 and a.body == b"89" and a.headers.get("content-range") == "bytes 8-9/10", a)
    a = get(domain, "/video.mp4", headers={"Range": "bytes=0-0"}, method="HEAD")
    check("HEAD with a range", a.status == 206 and a.headers.get("content-length") == "1", a)
    a = get(domain, "/video.mp4", headers={"Range": "bytes=20-"})
    check("unsatisfiable: 416", a.status == 416 and a.headers.get("content-range") == "bytes */10", a)


def test_cache_policies():
    """CloudFront Developer Guide, "Use managed cache policies" and
    "Understand cache policies": CachingDisabled
    (4135ea2d-6df8-44a3-9df3-4b5a84be39ad) caches nothing; a custom policy's
    TTLs, encodings and query strings come from the cache policy API."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEPOLICIES", "policies")
    policy = c.cf.create_cache_policy(CachePolicyConfig={
        "Name": "edge-selftest", "MinTTL": 0, "DefaultTTL": 60, "MaxTTL": 120,
        "ParametersInCacheKeyAndForwardedToOrigin": {
            "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": False,
            "HeadersConfig": {"HeaderBehavior": "none"},
            "CookiesConfig": {"CookieBehavior": "none"},
            "QueryStringsConfig": {"QueryStringBehavior": "whitelist", "QueryStrings": {"Quantity": 1, "Items": ["v"]}},
        }})["CachePolicy"]
    got = c.cf.get_cache_policy(Id=policy["Id"])["CachePolicy"]
    check("GetCachePolicy reads it back", got["CachePolicyConfig"]["DefaultTTL"] == 60, got)
    listed = c.cf.list_cache_policies(Type="custom")["CachePolicyList"]
    check("ListCachePolicies lists it", [i["CachePolicy"]["Id"] for i in listed.get("Items", [])] == [policy["Id"]], listed)
    managed = c.cf.get_cache_policy(Id="4135ea2d-6df8-44a3-9df3-4b5a84be39ad")["CachePolicy"]["CachePolicyConfig"]
    check("the managed CachingDisabled", managed["Name"] == "Managed-CachingDisabled" and managed["MaxTTL"] == 0, managed)
    check("an unknown policy: NoSuchCachePolicy", error_of(lambda: c.cf.get_cache_policy(Id="nope")).code == "NoSuchCachePolicy")
    config = c.cf.get_cache_policy_config(Id=policy["Id"])
    check("UpdateCachePolicy with a stale ETag: PreconditionFailed", error_of(lambda: c.cf.update_cache_policy(
        Id=policy["Id"], IfMatch="STALE", CachePolicyConfig=config["CachePolicyConfig"])).code == "PreconditionFailed")
    check("a name taken: CachePolicyAlreadyExists", error_of(lambda: c.cf.create_cache_policy(
        CachePolicyConfig=config["CachePolicyConfig"])).code == "CachePolicyAlreadyExists")
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    behavior = lambda pattern, pid: {"PathPattern": pattern, "TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",  # noqa: E731
                                     "CachePolicyId": pid, "Compress": True}
    config["CacheBehaviors"] = {"Quantity": 2, "Items": [behavior("/live/*", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
                                                         behavior("/custom/*", policy["Id"])]}
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    put(c, bucket, "live/now.json", b"1", ContentType="application/json", CacheControl="max-age=3600")
    get(domain, "/live/now.json")
    check("CachingDisabled: a Miss every time", get(domain, "/live/now.json").headers["x-cache"] == "Miss from cloudfront")
    big = ("x" * 2000).encode()
    put(c, bucket, "custom/a.css", big, ContentType="text/css")
    a = get(domain, "/custom/a.css?v=1", headers={"Accept-Encoding": "br, gzip"})
    check("custom policy without Brotli: gzip", a.headers.get("content-encoding") == "gzip", a.headers)
    a = get(domain, "/custom/a.css?v=1&utm=x", headers={"Accept-Encoding": "gzip"})
    check("a query string outside the whitelist: same entry", a.headers["x-cache"] == "Hit from cloudfront", a.headers)
    a = get(domain, "/custom/a.css?v=2", headers={"Accept-Encoding": "gzip"})
    check("a whitelisted query string: its own entry", a.headers["x-cache"] == "Miss from cloudfront", a.headers)
    check("a policy in use cannot be deleted", error_of(lambda: c.cf.delete_cache_policy(
        Id=policy["Id"], IfMatch=c.cf.get_cache_policy(Id=policy["Id"])["ETag"])).code == "CachePolicyInUse")


def test_geo_restriction_and_waf():
    """CloudFront Developer Guide, "Restrict the geographic distribution of
    your content" and "Use AWS WAF protections": both answer CloudFront's
    403 page."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEGEO", "geo")
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["Restrictions"] = {"GeoRestriction": {"RestrictionType": "whitelist", "Quantity": 1, "Items": ["US"]}}
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    a = get(domain, "/app.css")
    check("geo restriction: 403 page, block access from your country", is_cloudfront_page(a)
          and "block access from your country" in a.text(), a)
    control("/configure", {"key": "AKIAEDGEGEO", "edge_viewer_country": "US"})
    check("from an allowed country: served", get(domain, "/app.css").status == 200)
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["WebACLId"] = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/edge/0d4e4b3e-0000-4000-8000-000000000000"
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    control("/configure", {"key": "AKIAEDGEGEO", "edge_waf_blocks": ["selftest-bot"]})
    a = get(domain, "/app.css", headers={"User-Agent": "selftest-bot/1"})
    check("web ACL block: 403 page, Request blocked", is_cloudfront_page(a) and "Request blocked" in a.text(), a)
    check("another user agent: served", get(domain, "/app.css", headers={"User-Agent": "Mozilla/5.0"}).status == 200)


def test_response_headers_policies():
    c, bucket, dist_id, arn, domain = stack("AKIAEDGECORS", "cors", rhp=CORS_WITH_PREFLIGHT,
                                            methods=["GET", "HEAD", "OPTIONS"])
    put(c, bucket, "font.woff2", b"wOF2", ContentType="font/woff2", CacheControl="max-age=60")
    a = get(domain, "/font.woff2")
    check("no Origin: no CORS header", "access-control-allow-origin" not in a.headers, a.headers)
    a = get(domain, "/font.woff2", headers={"Origin": "https://app.example"})
    check("Origin: Access-Control-Allow-Origin *, from the cached copy",
          a.headers.get("access-control-allow-origin") == "*" and a.headers["x-cache"] == "Hit from cloudfront", a.headers)
    a = get(domain, "/font.woff2", method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    check("preflight answered", a.status == 200 and a.headers.get("access-control-allow-origin") == "*"
          and "GET" in a.headers.get("access-control-allow-methods", ""), a)
    a = get(domain, "/font.woff2", method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-requested-with"})
    check("preflight for a header the policy does not allow: refused", a.status == 403, a)
    c2, bucket2, _, _, domain2 = stack("AKIAEDGENOOPTIONS", "nooptions", rhp=CORS_WITH_PREFLIGHT)
    a = get(domain2, "/app.css", method="OPTIONS", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    check("preflight without OPTIONS allowed: 403", is_cloudfront_page(a), a)
    # A custom policy: exact origins, origin override, security headers.
    policy = c.cf.create_response_headers_policy(ResponseHeadersPolicyConfig={
        "Name": "edge-selftest",
        "CorsConfig": {
            "AccessControlAllowOrigins": {"Quantity": 1, "Items": ["https://app.example"]},
            "AccessControlAllowHeaders": {"Quantity": 1, "Items": ["*"]},
            "AccessControlAllowMethods": {"Quantity": 3, "Items": ["GET", "HEAD", "OPTIONS"]},
            "AccessControlAllowCredentials": False,
            "AccessControlMaxAgeSec": 600,
            "OriginOverride": True,
        },
        "SecurityHeadersConfig": {
            "StrictTransportSecurity": {"Override": True, "AccessControlMaxAgeSec": 63072000, "IncludeSubdomains": True},
            "ContentTypeOptions": {"Override": True},
        },
        "CustomHeadersConfig": {"Quantity": 1, "Items": [{"Header": "X-Served-By", "Value": "edge", "Override": True}]},
    })["ResponseHeadersPolicy"]["Id"]
    c3, bucket3, _, _, domain3 = stack("AKIAEDGECUSTOM", "custom", rhp=policy, methods=["GET", "HEAD", "OPTIONS"])
    a = get(domain3, "/app.css", headers={"Origin": "https://app.example"})
    check("custom policy: the listed origin echoed", a.headers.get("access-control-allow-origin") == "https://app.example", a.headers)
    check("custom policy: security and custom headers",
          a.headers.get("strict-transport-security") == "max-age=63072000; includeSubDomains"
          and a.headers.get("x-content-type-options") == "nosniff" and a.headers.get("x-served-by") == "edge", a.headers)
    a = get(domain3, "/app.css", headers={"Origin": "https://evil.example"})
    check("custom policy: another origin gets nothing", "access-control-allow-origin" not in a.headers, a.headers)
    a = get(domain3, "/app.css", method="OPTIONS", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    check("custom policy: preflight with Max-Age", a.status == 200 and a.headers.get("access-control-max-age") == "600", a)
    a = get(domain3, "/nope", headers={"Origin": "https://app.example"})
    check("policy headers on errors too", a.status == 403 and a.headers.get("x-served-by") == "edge", a)
    c4, bucket4, _, _, domain4 = stack("AKIAEDGESECURITY", "security", rhp=SECURITY_HEADERS)
    a = get(domain4, "/app.css", headers={"Origin": "https://app.example"})
    check("SecurityHeadersPolicy: headers, no CORS", a.headers.get("x-frame-options") == "SAMEORIGIN"
          and a.headers.get("strict-transport-security") == "max-age=31536000"
          and "access-control-allow-origin" not in a.headers, a.headers)


def test_s3_cors_answer_cached_for_every_origin():
    """With the Origin forwarded (CORS-S3Origin), S3's CORS answer for the
    request that filled the cache is served to every later viewer: CloudFront
    ignores `Vary: Origin`, and a response headers policy sets the CORS
    headers only for the origins it allows. Only an invalidation removes it."""
    a_origin, b_origin = "https://a.example", "https://b.example"
    c = Clients("AKIAEDGES3CORS")
    policy = c.cf.create_response_headers_policy(ResponseHeadersPolicyConfig={
        "Name": "edge-selftest-s3cors",
        "CorsConfig": {
            "AccessControlAllowOrigins": {"Quantity": 1, "Items": [a_origin]},
            "AccessControlAllowHeaders": {"Quantity": 1, "Items": ["*"]},
            "AccessControlAllowMethods": {"Quantity": 3, "Items": ["GET", "HEAD", "OPTIONS"]},
            "AccessControlAllowCredentials": False,
            "OriginOverride": True,
        },
    })["ResponseHeadersPolicy"]["Id"]
    c, bucket, dist_id, _, domain = stack("AKIAEDGES3CORS", "s3cors", rhp=policy, orp=CORS_S3_ORIGIN,
                                          methods=["GET", "HEAD", "OPTIONS"])
    rule = {"AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 3600}
    c.s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [dict(rule, AllowedOrigins=[a_origin, b_origin])]})
    acao = lambda a: a.headers.get("access-control-allow-origin")  # noqa: E731
    a = get(domain, "/app.css", headers={"Origin": b_origin})
    check("S3 answers the forwarded Origin B (the policy does not list B)",
          acao(a) == b_origin and a.headers["x-cache"] == "Miss from cloudfront" and "Origin" in a.headers.get("vary", ""), a)
    a = get(domain, "/app.css", headers={"Origin": a_origin})
    check("an allowed origin gets the policy's header over the cached one", acao(a) == a_origin
          and a.headers["x-cache"] == "Hit from cloudfront", a)
    c.s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [dict(rule, AllowedOrigins=[a_origin])]})
    a = get(domain, "/app.css", headers={"Origin": b_origin})
    check("B, no longer allowed by the bucket nor the policy, still gets the cached S3 header",
          acao(a) == b_origin and a.headers["x-cache"] == "Hit from cloudfront", a)
    a = get(domain, "/app.css")
    check("so does a request without Origin", acao(a) == b_origin, a)
    c.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "s3cors-1"})
    a = get(domain, "/app.css", headers={"Origin": b_origin})
    check("after invalidating /*: S3 refuses B, nothing cached for B", acao(a) is None
          and a.headers["x-cache"] == "Miss from cloudfront", a)
    a = get(domain, "/app.css", headers={"Origin": a_origin})
    check("and A is still allowed", acao(a) == a_origin, a)


def test_tls():
    c = Clients("AKIAEDGETLS")
    zone = c.r53.create_hosted_zone(Name="edge-tls.example", CallerReference=f"edge-{time.time()}")["HostedZone"]["Id"]
    domain = "static.edge-tls.example"
    cert = c.acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"{VALIDATION}.{domain}.", "Type": "CNAME", "TTL": 300,
        "ResourceRecords": [{"Value": "_x.acm-validations.aws."}]}}]})
    deadline = time.time() + 15
    while c.acm.describe_certificate(CertificateArn=cert)["Certificate"]["Status"] != "ISSUED" and time.time() < deadline:
        time.sleep(0.2)
    bucket = "edge-tls"
    make_bucket(c, bucket)
    put(c, bucket, "a.txt", b"a", ContentType="text/plain")
    dist_id, arn, cf_domain = distribution(c, "ref-tls", bucket, oac_id=oac(c, "oac-tls"), aliases=[domain], cert=cert)
    grant(c, bucket, arn=arn)
    check("TLS for dxxxx.cloudfront.net", tls_error(cf_domain) is None, tls_error(cf_domain))
    check("TLS for the alias, from the ACM certificate", tls_error(domain) is None, tls_error(domain))
    check("the alias serves", (a := get(domain, "/a.txt")).status == 200 and a.body == b"a", a)
    names = [v for k, v in peer_certificate(domain)["subjectAltName"]]
    check("alias certificate names the ACM certificate's names", names == [domain], names)
    error = tls_error("www.edge-tls.example")
    check("a name no distribution holds: *.cloudfront.net, not valid for it", error is not None and "mismatch" in error.lower(), error)
    control("/configure", {"key": "AKIAEDGETLS", "edge_certificate_days": 5})
    not_after = ssl.cert_time_to_seconds(peer_certificate(domain)["notAfter"])
    check("edge_certificate_days", abs(not_after - (time.time() + 5 * 86400)) < 2 * 3600, not_after)
    control("/certificate-status", {"arn": cert, "status": "EXPIRED"})
    error = tls_error(domain)
    check("an EXPIRED ACM certificate: expired at the edge", error is not None and "expired" in error.lower(), error)


def test_wildcard_alias():
    """A distribution holding `*.DOMAIN` (previews) serves any NAME.DOMAIN with
    the certificate's wildcard SAN; the exact alias still wins; ACM takes the
    SAN and Route53 the wildcard alias record."""
    c = Clients("AKIAEDGEWILD")
    zone = c.r53.create_hosted_zone(Name="edge-wild.example", CallerReference=f"wild-{time.time()}")["HostedZone"]["Id"]
    domain = "static.edge-wild.example"
    cert = c.acm.request_certificate(DomainName=domain, SubjectAlternativeNames=[domain, f"*.{domain}"],
                                     ValidationMethod="DNS")["CertificateArn"]
    described = c.acm.describe_certificate(CertificateArn=cert)["Certificate"]
    check("ACM keeps the wildcard SAN", f"*.{domain}" in described["SubjectAlternativeNames"], described)
    c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"{VALIDATION}.{domain}.", "Type": "CNAME", "TTL": 300,
        "ResourceRecords": [{"Value": "_x.acm-validations.aws."}]}}]})
    deadline = time.time() + 15
    while c.acm.describe_certificate(CertificateArn=cert)["Certificate"]["Status"] != "ISSUED" and time.time() < deadline:
        time.sleep(0.2)
    bucket = "edge-wild"
    make_bucket(c, bucket)
    put(c, bucket, "a.txt", b"a", ContentType="text/plain")
    dist_id, arn, cf_domain = distribution(c, "ref-wild", bucket, oac_id=oac(c, "oac-wild"),
                                           aliases=[domain, f"*.{domain}"], cert=cert)
    grant(c, bucket, arn=arn)
    c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"*.{domain}.", "Type": "A",
        "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": f"{cf_domain}.", "EvaluateTargetHealth": False}}}]})
    listed = c.r53.list_resource_record_sets(HostedZoneId=zone, StartRecordName=f"*.{domain}.")["ResourceRecordSets"]
    names = [r["Name"] for r in listed if r["Type"] == "A"]
    check("Route53 keeps the wildcard alias record (listed as \\052 or *)",
          any(n.replace("\\052", "*") == f"*.{domain}." for n in names), names)
    check("TLS for NAME.DOMAIN from the wildcard SAN", tls_error(f"pr-1.{domain}") is None, tls_error(f"pr-1.{domain}"))
    check("NAME.DOMAIN serves through the wildcard alias", (a := get(f"pr-1.{domain}", "/a.txt")).status == 200 and a.body == b"a", a)
    check("the exact alias still serves", (a := get(domain, "/a.txt")).status == 200, a)
    error = tls_error(f"a.b.{domain}")
    check("two labels down: the wildcard certificate does not cover it", error is not None and "mismatch" in error.lower(), error)


def alpn(host, offered=("h2", "http/1.1")):
    address, port = INFO["edge_https"].split(":")
    ctx = ssl.create_default_context(cafile=INFO["ca_bundle"])
    ctx.set_alpn_protocols(list(offered))
    with socket.create_connection((address, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            return tls.selected_alpn_protocol()


def test_http2_in_alpn():
    """CloudFront Developer Guide, "All distribution settings reference",
    Supported HTTP versions: HTTP/2 is offered (ALPN h2) unless HttpVersion
    is http1.1. This edge then answers HTTP/2 with HTTP_1_1_REQUIRED."""
    c, bucket, dist_id, arn, domain = stack("AKIAEDGEALPN", "alpn")
    check("h2 offered by default", alpn(domain) == "h2")
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["HttpVersion"] = "http1.1"
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)
    check("HttpVersion http1.1: http/1.1", alpn(domain) == "http/1.1", alpn(domain))
    address, port = INFO["edge_https"].split(":")
    ctx = ssl.create_default_context(cafile=INFO["ca_bundle"])
    ctx.set_alpn_protocols(["h2"])
    config["HttpVersion"] = "http2and3"
    c.cf.update_distribution(Id=dist_id, IfMatch=c.cf.get_distribution_config(Id=dist_id)["ETag"], DistributionConfig=config)
    headers = b"\x00\x00\x00\x01\x05\x00\x00\x00\x01"  # an empty HEADERS frame on stream 1
    with socket.create_connection((address, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=domain) as tls:
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + headers)
            frames = b""
            while True:
                chunk = tls.recv(256)
                if not chunk:
                    break
                frames += chunk
    check("an HTTP/2 client: stream 1 reset, then GOAWAY, both HTTP_1_1_REQUIRED",
          b"\x00\x00\x04\x03\x00\x00\x00\x00\x01\x00\x00\x00\x0d" in frames
          and frames.endswith(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x0d"), frames)
    if shutil.which("curl"):  # a real HTTP/2 client falls back to HTTP/1.1
        put(c, bucket, "h2.txt", b"over http/1.1", ContentType="text/plain")
        out = subprocess.run(["curl", "-sS", "--http2", "--cacert", INFO["ca_bundle"], "--connect-to",
                              f"::{INFO['edge_https']}", "-w", " %{http_version}", f"https://{domain}/h2.txt"],
                             capture_output=True, text=True, timeout=30)
        check("curl --http2: retried over HTTP/1.1", out.stdout == "over http/1.1 1.1", (out.stdout, out.stderr))


# --------------------------------------------------------------------------


def check_info():
    check("info names edge_https and edge_http", INFO.get("edge_https", "").startswith("127.0.0.1:")
          and INFO.get("edge_http", "").startswith("127.0.0.1:"), INFO)


if __name__ == "__main__":
    run("cdnctl-edge-selftest-", globals(), check_info)
