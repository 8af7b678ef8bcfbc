"""Self-test of function_edge.py: the emulator's edge runs a cache behavior's
LIVE viewer-request CloudFront Function, with its key value store, and sees
new values and newly published code only after the propagation knobs.

    .emulator/venv/bin/python tests/emulator/function_edge_selftest.py

Starts the emulator through start.py, builds a bucket with two releases, a
KeyValueStore naming the live one and a release-routing function (the design
of issue #27), then requests the distribution over HTTPS as a browser would.
Prints "N passed, M failed" and exits non-zero if anything failed.
"""

import base64
import sys
import time

sys.dont_write_bytecode = True

from edge_selftest import get, put, stack  # noqa: E402
from kvs_selftest import kvs_client  # noqa: E402
from selftest_kit import check, configure, run  # noqa: E402

ROUTER = b"""import cf from 'cloudfront';
const kvs = cf.kvs();
async function handler(event) {
  const request = event.request;
  let uri = request.uri;
  if (uri === '/old') {
    return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: '/new' } } };
  }
  if (uri.startsWith('/private')) {
    const auth = request.headers.authorization;
    if (!auth || auth.value !== 'Basic ' + Buffer.from('user:secret').toString('base64')) {
      return { statusCode: 401, statusDescription: 'Unauthorized',
               headers: { 'www-authenticate': { value: 'Basic realm="preview"' } } };
    }
  }
  if (uri === '/gone.js') {
    return { statusCode: 404, headers: { 'content-type': { value: 'text/plain' } }, body: 'not here' };
  }
  if (uri.endsWith('/')) { uri += 'index.html'; }
  else if (uri.split('/').pop().indexOf('.') < 0) { uri += '/index.html'; }
  let release = request.querystring.release ? request.querystring.release.value : null;
  if (!release) {
    try { release = await kvs.get('live'); } catch (e) { release = 'r0'; }
  }
  request.uri = '/' + release + uri;
  return request;
}"""
BROKEN = b"const fs = require('fs');\nfunction handler(event) { return event.request; }"
INVALID = b"function handler(event) { return 42; }"
THROWS = b"function handler(event) { throw new Error('boom'); }"
STRIP = b"""function handler(event) {
  const request = event.request;
  delete request.headers['accept-encoding'];
  request.uri = '/r1/big.js';
  return request;
}"""
V2 = b"""function handler(event) {
  return { statusCode: 200, headers: { 'content-type': { value: 'text/plain' } }, body: 'function v2' };
}"""


def make_function(c, name, code, store=None):
    config = {"Comment": name, "Runtime": "cloudfront-js-2.0"}
    if store:
        config["KeyValueStoreAssociations"] = {"Quantity": 1, "Items": [{"KeyValueStoreARN": store}]}
    etag = c.cf.create_function(Name=name, FunctionConfig=config, FunctionCode=code)["ETag"]
    c.cf.publish_function(Name=name, IfMatch=etag)
    return f"arn:aws:cloudfront::123456789012:function/{name}", config


def associate(c, dist_id, default_arn, patterns):
    """The default behavior runs default_arn; each (pattern, arn or None) gets a behavior of its own."""
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    default["FunctionAssociations"] = {"Quantity": 1, "Items": [{"FunctionARN": default_arn, "EventType": "viewer-request"}]}
    behaviors = []
    for pattern, arn in patterns:
        b = {k: v for k, v in default.items() if k not in ("FunctionAssociations",)}
        b["PathPattern"] = pattern
        items = [{"FunctionARN": arn, "EventType": "viewer-request"}] if arn else []
        b["FunctionAssociations"] = {"Quantity": len(items), "Items": items}
        behaviors.append(b)
    config["CacheBehaviors"] = {"Quantity": len(behaviors), "Items": behaviors}
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)


def site(c, bucket):
    for release in ("r1", "r2"):
        put(c, bucket, f"{release}/index.html", f"<h1>{release} home</h1>".encode(), ContentType="text/html")
        put(c, bucket, f"{release}/docs/index.html", f"{release} docs".encode(), ContentType="text/html")
        put(c, bucket, f"{release}/app.js", f"{release} js".encode(), ContentType="text/javascript",
            CacheControl="public, max-age=31536000, immutable")
        put(c, bucket, f"{release}/private/index.html", f"{release} private".encode(), ContentType="text/html")
    put(c, bucket, "plain/x.txt", b"plain", ContentType="text/plain")
    put(c, bucket, "r1/big.js", b"var x = 1;\n" * 200, ContentType="text/javascript")


def setup_release_stack(key, label):
    c, bucket, dist_id, _arn, domain = stack(key, label)
    site(c, bucket)
    store = c.cf.create_key_value_store(Name=f"releases-{label}")["KeyValueStore"]["ARN"]
    k = kvs_client(key)
    k.put_key(KvsARN=store, Key="live", Value="r1", IfMatch=k.describe_key_value_store(KvsARN=store)["ETag"])
    router, config = make_function(c, f"router-{label}", ROUTER, store)
    return c, k, store, dist_id, domain, router, config


def test_release_routing():
    c, k, store, dist_id, domain, router, _ = setup_release_stack("AKIAFNEDGEROUTE", "route")
    broken, _ = make_function(c, "broken-route", BROKEN)
    invalid, _ = make_function(c, "invalid-route", INVALID)
    throws, _ = make_function(c, "throws-route", THROWS)
    strip, _ = make_function(c, "strip-route", STRIP)
    associate(c, dist_id, router, [("/broken/*", broken), ("/invalid/*", invalid), ("/throws/*", throws), ("/plain/*", None),
                                   ("/strip/*", strip)])
    first = get(domain, "/app.js")
    again = get(domain, "/app.js")
    check("the function's uri is the S3 key: /app.js serves r1/app.js", first.status == 200 and first.body == b"r1 js", first)
    check("... and the cache key: a second request is a Hit", first.headers.get("x-cache") == "Miss from cloudfront"
          and again.headers.get("x-cache") == "Hit from cloudfront" and again.body == b"r1 js", (first, again))
    check("directory index: /docs/ serves r1/docs/index.html", (a := get(domain, "/docs/")).status == 200 and a.body == b"r1 docs", a)
    check("directory index: /docs serves it too", (a := get(domain, "/docs")).body == b"r1 docs", a)
    check("/ is the function's, not DefaultRootObject's", (a := get(domain, "/")).body == b"<h1>r1 home</h1>", a)
    check("the querystring reaches the function: ?release=r2", (a := get(domain, "/docs/?release=r2")).body == b"r2 docs", a)
    a = get(domain, "/old")
    check("a returned redirect: 301 with its Location, FunctionGeneratedResponse",
          a.status == 301 and a.headers.get("location") == "/new"
          and a.headers.get("x-cache") == "FunctionGeneratedResponse from cloudfront" and a.headers.get("server") == "CloudFront", a)
    a = get(domain, "/private/")
    check("basic auth in the function: 401 with WWW-Authenticate", a.status == 401
          and a.headers.get("www-authenticate") == 'Basic realm="preview"', a)
    auth = "Basic " + base64.b64encode(b"user:secret").decode()
    check("... the right credentials reach the page", (a := get(domain, "/private/", headers={"Authorization": auth})).status == 200
          and a.body == b"r1 private", a)
    a = get(domain, "/gone.js")
    check("a returned 404 with its body", a.status == 404 and a.body == b"not here" and a.headers.get("content-type") == "text/plain", a)
    a = get(domain, "/broken/x")
    check("require('fs') at the edge: 503 FunctionExecutionError", a.status == 503
          and a.headers.get("x-cache") == "FunctionExecutionError from cloudfront", a)
    check("a function that throws: 503 FunctionExecutionError", (a := get(domain, "/throws/x")).status == 503, a)
    a = get(domain, "/invalid/x")
    check("a function returning neither request nor response: 502 FunctionValidationError", a.status == 502
          and a.headers.get("x-cache") == "FunctionValidationError from cloudfront", a)
    gz = get(domain, "/big.js", headers={"Accept-Encoding": "gzip"})
    plain = get(domain, "/strip/big.js", headers={"Accept-Encoding": "gzip"})
    check("the request's headers are the function's: Accept-Encoding kept by the router, removed by another",
          gz.headers.get("content-encoding") == "gzip" and plain.status == 200 and "content-encoding" not in plain.headers
          and plain.body == b"var x = 1;\n" * 200, (gz, plain))
    check("a behavior without a function serves the key as is", (a := get(domain, "/plain/x.txt")).body == b"plain", a)
    check("the redirect to https comes before the function", get(domain, "/old", scheme="http").status == 301
          and "https://" in get(domain, "/old", scheme="http").headers.get("location", ""))
    etag = k.describe_key_value_store(KvsARN=store)["ETag"]
    k.put_key(KvsARN=store, Key="live", Value="r2", IfMatch=etag)
    a = get(domain, "/app.js")
    check("one KVS write switches the release, no invalidation: r2's js, a new cache key (Miss)",
          a.body == b"r2 js" and a.headers.get("x-cache") == "Miss from cloudfront", a)
    check("... every page of it", get(domain, "/docs/").body == b"r2 docs" and get(domain, "/").body == b"<h1>r2 home</h1>")
    started = time.time()
    for _ in range(40):
        get(domain, "/app.js")
    with_fn = (time.time() - started) / 40
    started = time.time()
    for _ in range(40):
        get(domain, "/plain/x.txt")
    without = (time.time() - started) / 40
    print(f"edge request with a function: {with_fn * 1000:.1f} ms, without: {without * 1000:.1f} ms", flush=True)
    check("the node worker keeps a function's cost small (< 50 ms a request)", with_fn - without < 0.05, (with_fn, without))


def test_kvs_propagation():
    c, k, store, dist_id, domain, router, _ = setup_release_stack("AKIAFNEDGEKVS", "kvsprop")
    associate(c, dist_id, router, [])
    check("before: r1", get(domain, "/app.js").body == b"r1 js")
    configure(c.key, kvs_propagation_seconds=3)
    etag = k.describe_key_value_store(KvsARN=store)["ETag"]
    written = time.time()
    k.put_key(KvsARN=store, Key="live", Value="r2", IfMatch=etag)
    check("the API sees the write at once", k.get_key(KvsARN=store, Key="live")["Value"] == "r2")
    early = get(domain, "/app.js")
    if time.time() - written < 2.5:
        check("the edge serves the old value until the write propagates", early.body == b"r1 js", early)
    time.sleep(max(0, written + 3.3 - time.time()))
    check("after kvs_propagation_seconds, the edge serves the new value", (a := get(domain, "/app.js")).body == b"r2 js", a)
    configure(c.key, kvs_propagation_seconds=0)
    etag = k.describe_key_value_store(KvsARN=store)["ETag"]
    k.put_key(KvsARN=store, Key="live", Value="r1", IfMatch=etag)
    check("with the knob off, at once", get(domain, "/app.js").body == b"r1 js")


def test_function_propagation():
    c, k, store, dist_id, domain, router, config = setup_release_stack("AKIAFNEDGEFN", "fnprop")
    associate(c, dist_id, router, [])
    check("before: the router", get(domain, "/app.js").body == b"r1 js")
    name = router.rsplit("/", 1)[1]
    etag = c.cf.update_function(Name=name, IfMatch=c.cf.describe_function(Name=name)["ETag"], FunctionConfig=config,
                                FunctionCode=V2)["ETag"]
    check("an updated but unpublished function does not run", get(domain, "/app.js").body == b"r1 js")
    configure(c.key, function_propagation_seconds=3)
    published = time.time()
    c.cf.publish_function(Name=name, IfMatch=etag)
    check("the API shows the new LIVE code at once", c.cf.get_function(Name=name, Stage="LIVE")["FunctionCode"].read() == V2)
    early = get(domain, "/app.js")
    if time.time() - published < 2.5:
        check("the edge runs the previous LIVE code until the publish propagates", early.body == b"r1 js", early)
    time.sleep(max(0, published + 3.3 - time.time()))
    check("after function_propagation_seconds, the edge runs the new code", (a := get(domain, "/app.js")).body == b"function v2", a)


if __name__ == "__main__":
    run("cdnctl-function-edge-selftest-", globals())
