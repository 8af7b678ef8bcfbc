"""Self-test of error_pages.py: the edge answers an origin error with the
distribution's custom error response as CloudFront does ("Generate custom
error responses"): the page fetched from the origin at ResponsePagePath
through the cache and without the function, the entry's ResponseCode, the
answer kept for ErrorCachingMinTTL, and the page's own error when the page
is missing.

    .emulator/venv/bin/python tests/emulator/error_pages_selftest.py

Prints "N passed, M failed" and exits non-zero if anything failed.
"""

import sys
import time

sys.dont_write_bytecode = True

from edge_selftest import get, put, stack  # noqa: E402
from function_edge_selftest import associate, make_function  # noqa: E402
from selftest_kit import check, run  # noqa: E402

PAGE = b"<h1>not here</h1>"


def error_responses(c, dist_id, page, ttl=3, codes=(403, 404), response="404"):
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    items = [{"ErrorCode": code, "ResponsePagePath": page, "ResponseCode": response, "ErrorCachingMinTTL": ttl}
             for code in codes]
    config["CustomErrorResponses"] = {"Quantity": len(items), "Items": items}
    c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)


def test_moto_keeps_the_entries():
    c, bucket, dist_id, _arn, _domain = stack("AKIAERRKEEP", "errkeep")
    error_responses(c, dist_id, "/404.html", ttl=7)
    items = c.cf.get_distribution_config(Id=dist_id)["DistributionConfig"]["CustomErrorResponses"]
    got = sorted((i["ErrorCode"], i.get("ResponsePagePath"), i.get("ResponseCode"), i.get("ErrorCachingMinTTL"))
                 for i in items.get("Items", []))
    check("GetDistributionConfig returns the entries as written", items["Quantity"] == 2
          and got == [(403, "/404.html", "404", 7), (404, "/404.html", "404", 7)], items)
    error_responses(c, dist_id, "/404.html", codes=())
    items = c.cf.get_distribution_config(Id=dist_id)["DistributionConfig"]["CustomErrorResponses"]
    check("... and none once removed", items["Quantity"] == 0 and not items.get("Items"), items)


def test_a_missing_key_gets_the_page_with_the_response_code():
    c, bucket, dist_id, _arn, domain = stack("AKIAERRPAGE", "errpage")
    put(c, bucket, "404.html", PAGE, ContentType="text/html", CacheControl="public, max-age=60, must-revalidate")
    before = get(domain, "/nothing.html")
    check("without an entry: S3's 403 AccessDenied", before.status == 403 and b"AccessDenied" in before.body, before)
    error_responses(c, dist_id, "/404.html", ttl=2)
    a = get(domain, "/missing.html")
    check("S3's 403 becomes the page with status 404", a.status == 404 and a.body == PAGE
          and a.headers.get("content-type") == "text/html" and a.headers.get("x-cache") == "Error from cloudfront", a)
    js = get(domain, "/app-missing.js")
    check("a missing .js too: 404, never 200", js.status == 404 and js.body == PAGE, js)
    check("the page itself is served as a file: 200", (p := get(domain, "/404.html")).status == 200 and p.body == PAGE, p)
    put(c, bucket, "missing.html", b"now here", ContentType="text/html")
    check("the 404 is kept for ErrorCachingMinTTL", (a := get(domain, "/missing.html")).status == 404, a)
    time.sleep(2.2)
    check("... then S3 is asked again", (a := get(domain, "/missing.html")).status == 200 and a.body == b"now here", a)


def test_the_page_goes_through_the_cache_and_an_invalidation():
    c, bucket, dist_id, _arn, domain = stack("AKIAERRCACHE", "errcache")
    put(c, bucket, "404.html", PAGE, ContentType="text/html", CacheControl="public, max-age=600")
    error_responses(c, dist_id, "/404.html", ttl=0)
    check("first: the page", get(domain, "/a.html").body == PAGE)
    put(c, bucket, "404.html", b"<h1>new page</h1>", ContentType="text/html", CacheControl="public, max-age=600")
    check("a new page in S3: the cached copy is still served (cached under its own path)",
          (a := get(domain, "/b.html")).body == PAGE and a.status == 404, a)
    c.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/404.html"]}, "CallerReference": "page"})
    check("an invalidation of the page's path: the new page", (a := get(domain, "/c.html")).body == b"<h1>new page</h1>"
          and a.status == 404, a)


def test_a_missing_page_gives_the_page_error():
    c, bucket, dist_id, _arn, domain = stack("AKIAERRGONE", "errgone")
    error_responses(c, dist_id, "/404.html", ttl=0)
    a = get(domain, "/x.html")
    check("the page is missing: the status CloudFront got for the page (S3's 403)", a.status == 403
          and b"AccessDenied" in a.body, a)


def test_the_function_does_not_run_for_the_page():
    c, bucket, dist_id, _arn, domain = stack("AKIAERRFN", "errfn")
    put(c, bucket, "r1/index.html", b"r1 home", ContentType="text/html")
    put(c, bucket, "r1/_cdnctl/404.html", b"rewritten", ContentType="text/html")
    put(c, bucket, "_cdnctl/404.html", PAGE, ContentType="text/html")
    prefix, _ = make_function(c, "prefix-errfn", b"""function handler(event) {
  event.request.uri = '/r1' + event.request.uri;
  return event.request;
}""")
    associate(c, dist_id, prefix, [])
    error_responses(c, dist_id, "/_cdnctl/404.html", ttl=0)
    check("the function runs for the request", (a := get(domain, "/index.html")).body == b"r1 home", a)
    a = get(domain, "/nothing.js")
    check("the page is read at ResponsePagePath as written, not rewritten", a.status == 404 and a.body == PAGE, a)


if __name__ == "__main__":
    run("cdnctl-error-pages-selftest-", globals())
