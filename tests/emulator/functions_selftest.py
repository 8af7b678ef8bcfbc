"""Self-test of cf_functions.py and kvs.py's control plane: CloudFront
Functions (stages, ETags, quotas, TestFunction), FunctionAssociations kept on
distributions, and Create/Describe/List/Update/DeleteKeyValueStore.

    .emulator/venv/bin/python tests/emulator/functions_selftest.py

Starts the emulator through start.py and calls it with boto3's cloudfront
client (botocore's service model parses every answer, so an element name that
is wrong shows up as a missing field). Prints "N passed, M failed" and exits
non-zero if anything failed.
"""

import json
import sys

sys.dont_write_bytecode = True

from selftest_kit import Clients, check, expect_error, expect_ok, run  # noqa: E402
from kvs_selftest import kvs_client  # noqa: E402

JS2 = "cloudfront-js-2.0"
REWRITE = b"""function handler(event) {
  var request = event.request;
  if (request.uri.endsWith('/')) { request.uri += 'index.html'; }
  console.log('uri ' + request.uri);
  return request;
}"""
REDIRECT = b"""function handler(event) {
  return { statusCode: 301, statusDescription: 'Moved Permanently',
           headers: { location: { value: 'https://example.com/' } } };
}"""


def config(comment="test", runtime=JS2, stores=()):
    block = {"Comment": comment, "Runtime": runtime}
    if stores:
        block["KeyValueStoreAssociations"] = {"Quantity": len(stores), "Items": [{"KeyValueStoreARN": a} for a in stores]}
    return block


def event(uri="/docs/", method="GET"):
    return json.dumps({"version": "1.0", "context": {"eventType": "viewer-request"}, "viewer": {"ip": "192.0.2.1"},
                       "request": {"method": method, "uri": uri, "querystring": {}, "headers": {}, "cookies": {}}}).encode()


def test_create_describe_get():
    c = Clients("AKIAFNCREATE")
    made = c.cf.create_function(Name="rewrite", FunctionConfig=config(), FunctionCode=REWRITE)
    summary = made["FunctionSummary"]
    check("CreateFunction: DEVELOPMENT stage, UNPUBLISHED, an ETag and a Location",
          summary["FunctionMetadata"]["Stage"] == "DEVELOPMENT" and summary["Status"] == "UNPUBLISHED" and made["ETag"]
          and made["Location"].endswith("/2020-05-31/function/rewrite"), made)
    check("CreateFunction: the ARN names the account and the function",
          summary["FunctionMetadata"]["FunctionARN"] == "arn:aws:cloudfront::123456789012:function/rewrite", summary)
    check("CreateFunction: FunctionConfig round-trips", summary["FunctionConfig"] == config(), summary["FunctionConfig"])
    described = c.cf.describe_function(Name="rewrite")
    check("DescribeFunction (DEVELOPMENT by default): the same ETag", described["ETag"] == made["ETag"], described)
    got = c.cf.get_function(Name="rewrite")
    check("GetFunction: the code and the ETag", got["FunctionCode"].read() == REWRITE and got["ETag"] == made["ETag"], got)
    expect_error("DescribeFunction LIVE before any publish: NoSuchFunctionExists",
                 lambda: c.cf.describe_function(Name="rewrite", Stage="LIVE"), "NoSuchFunctionExists", 404)
    expect_error("GetFunction LIVE before any publish: NoSuchFunctionExists",
                 lambda: c.cf.get_function(Name="rewrite", Stage="LIVE"), "NoSuchFunctionExists", 404)
    expect_error("the same name again: FunctionAlreadyExists",
                 lambda: c.cf.create_function(Name="rewrite", FunctionConfig=config(), FunctionCode=REWRITE), "FunctionAlreadyExists", 409)
    expect_error("a name with a dot: InvalidArgument",
                 lambda: c.cf.create_function(Name="re.write", FunctionConfig=config(), FunctionCode=REWRITE), "InvalidArgument", 400)
    expect_error("an unknown function: NoSuchFunctionExists", lambda: c.cf.describe_function(Name="nope"), "NoSuchFunctionExists", 404)


def test_update_publish_and_etags():
    c = Clients("AKIAFNSTAGES")
    first = c.cf.create_function(Name="staged", FunctionConfig=config(), FunctionCode=REWRITE)["ETag"]
    expect_error("UpdateFunction with a stale If-Match: PreconditionFailed",
                 lambda: c.cf.update_function(Name="staged", IfMatch="ESTALE", FunctionConfig=config(), FunctionCode=REWRITE),
                 "PreconditionFailed", 412)
    expect_error("UpdateFunction with an empty If-Match: InvalidIfMatchVersion",
                 lambda: c.cf.update_function(Name="staged", IfMatch="", FunctionConfig=config(), FunctionCode=REWRITE),
                 "InvalidIfMatchVersion", 400)
    updated = c.cf.update_function(Name="staged", IfMatch=first, FunctionConfig=config("v2"), FunctionCode=REWRITE)
    check("UpdateFunction: a new ETag (the model's ETtag header), the new config",
          updated["ETag"] and updated["ETag"] != first and updated["FunctionSummary"]["FunctionConfig"]["Comment"] == "v2", updated)
    expect_error("PublishFunction with the ETag before the update: PreconditionFailed",
                 lambda: c.cf.publish_function(Name="staged", IfMatch=first), "PreconditionFailed", 412)
    published = c.cf.publish_function(Name="staged", IfMatch=updated["ETag"])["FunctionSummary"]
    check("PublishFunction: the LIVE stage, not yet associated",
          published["FunctionMetadata"]["Stage"] == "LIVE" and published["Status"] == "UNASSOCIATED", published)
    live = c.cf.describe_function(Name="staged", Stage="LIVE")
    check("DescribeFunction LIVE: the published config, an ETag of its own",
          live["FunctionSummary"]["FunctionConfig"]["Comment"] == "v2" and live["ETag"] != updated["ETag"], live)
    dev_etag = c.cf.update_function(Name="staged", IfMatch=updated["ETag"], FunctionConfig=config("v3"),
                                    FunctionCode=REDIRECT)["ETag"]
    check("an update after publishing changes DEVELOPMENT only",
          c.cf.get_function(Name="staged", Stage="LIVE")["FunctionCode"].read() == REWRITE
          and c.cf.get_function(Name="staged")["FunctionCode"].read() == REDIRECT
          and c.cf.describe_function(Name="staged")["FunctionSummary"]["Status"] == "UNPUBLISHED", dev_etag)
    c.cf.create_function(Name="unpublished", FunctionConfig=config(), FunctionCode=REWRITE)
    listed = c.cf.list_functions()["FunctionList"]
    live_listed = c.cf.list_functions(Stage="LIVE")["FunctionList"]
    mine = {"staged", "unpublished"}  # every access key is the same account: other tests' functions are listed too
    live_mine = [f for f in live_listed["Items"] if f["Name"] in mine]
    check("ListFunctions: DEVELOPMENT lists both, LIVE only the published one",
          mine <= {f["Name"] for f in listed["Items"]} and [f["Name"] for f in live_mine] == ["staged"]
          and live_mine[0]["FunctionMetadata"]["Stage"] == "LIVE", (listed, live_listed))
    page = c.cf.list_functions(MaxItems="1")["FunctionList"]
    rest = c.cf.list_functions(MaxItems="1", Marker=page.get("NextMarker", ""))["FunctionList"]
    check("ListFunctions pages with NextMarker", page["Quantity"] == 1 and page.get("NextMarker") and rest["Quantity"] == 1
          and rest["Items"][0]["Name"] != page["Items"][0]["Name"], (page, rest))


def test_size_limit():
    c = Clients("AKIAFNSIZE")
    head = b"function handler(e){return e.request;}\n//"
    at_limit = head + b"x" * (10240 - len(head))
    check("the code at exactly 10,240 bytes", len(at_limit) == 10240)
    made = expect_ok("a 10,240-byte function is accepted",
                     lambda: c.cf.create_function(Name="big", FunctionConfig=config(), FunctionCode=at_limit))
    expect_error("CreateFunction above 10 KB: FunctionSizeLimitExceeded (413)",
                 lambda: c.cf.create_function(Name="bigger", FunctionConfig=config(), FunctionCode=at_limit + b"x"),
                 "FunctionSizeLimitExceeded", 413)
    expect_error("UpdateFunction above 10 KB: FunctionSizeLimitExceeded (413)",
                 lambda: c.cf.update_function(Name="big", IfMatch=made["ETag"], FunctionConfig=config(), FunctionCode=at_limit + b"x"),
                 "FunctionSizeLimitExceeded", 413)
    check("... and the function unchanged", c.cf.describe_function(Name="big")["ETag"] == made["ETag"])


def test_key_value_store_associations():
    c = Clients("AKIAFNKVSASSOC")
    one = c.cf.create_key_value_store(Name="assoc-one")["KeyValueStore"]["ARN"]
    two = c.cf.create_key_value_store(Name="assoc-two")["KeyValueStore"]["ARN"]
    made = c.cf.create_function(Name="withstore", FunctionConfig=config(stores=[one]), FunctionCode=REWRITE)
    check("KeyValueStoreAssociations round-trip",
          made["FunctionSummary"]["FunctionConfig"]["KeyValueStoreAssociations"] == {"Quantity": 1, "Items": [{"KeyValueStoreARN": one}]},
          made["FunctionSummary"]["FunctionConfig"])
    expect_error("two stores on one function: InvalidArgument (one key value store per function)",
                 lambda: c.cf.create_function(Name="twostores", FunctionConfig=config(stores=[one, two]), FunctionCode=REWRITE),
                 "InvalidArgument", 400)
    missing = one.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    expect_error("a store that does not exist: InvalidArgument",
                 lambda: c.cf.create_function(Name="nostore", FunctionConfig=config(stores=[missing]), FunctionCode=REWRITE),
                 "InvalidArgument", 400)
    expect_error("a store on cloudfront-js-1.0: InvalidArgument",
                 lambda: c.cf.create_function(Name="oldruntime", FunctionConfig=config(runtime="cloudfront-js-1.0", stores=[one]),
                                              FunctionCode=REWRITE), "InvalidArgument", 400)


def test_test_function():
    c = Clients("AKIAFNTEST")
    store = c.cf.create_key_value_store(Name="testfn")["KeyValueStore"]["ARN"]
    k = kvs_client(c.key)
    k.put_key(KvsARN=store, Key="live", Value="r7", IfMatch=k.describe_key_value_store(KvsARN=store)["ETag"])
    etag = c.cf.create_function(Name="tested", FunctionConfig=config(), FunctionCode=REWRITE)["ETag"]
    result = c.cf.test_function(Name="tested", IfMatch=etag, EventObject=event("/docs/"))["TestResult"]
    output = json.loads(result.get("FunctionOutput", "{}"))
    check("TestFunction: the returned request, with the rewritten uri",
          output.get("request", {}).get("uri") == "/docs/index.html", result)
    check("TestFunction: console.log lines, a ComputeUtilization, the stage's summary",
          result["FunctionExecutionLogs"] == ["uri /docs/index.html"] and result["ComputeUtilization"].isdigit()
          and result["FunctionSummary"]["FunctionMetadata"]["Stage"] == "DEVELOPMENT", result)
    expect_error("TestFunction with a stale If-Match: PreconditionFailed",
                 lambda: c.cf.test_function(Name="tested", IfMatch="ESTALE", EventObject=event()), "PreconditionFailed", 412)
    etag = c.cf.update_function(Name="tested", IfMatch=etag, FunctionConfig=config(), FunctionCode=REDIRECT)["ETag"]
    result = c.cf.test_function(Name="tested", IfMatch=etag, EventObject=event())["TestResult"]
    response = json.loads(result["FunctionOutput"]).get("response", {})
    check("TestFunction: a returned response, with cookies {} as CloudFront reports it",
          response.get("statusCode") == 301 and response.get("cookies") == {} and result["FunctionErrorMessage"] == "", result)
    fs = b"const fs = require('fs');\nfunction handler(event) { return event.request; }"
    etag = c.cf.update_function(Name="tested", IfMatch=etag, FunctionConfig=config(), FunctionCode=fs)["ETag"]
    result = c.cf.test_function(Name="tested", IfMatch=etag, EventObject=event())["TestResult"]
    check("require('fs') is refused, as cloudfront-js-2.0 refuses it",
          "Cannot find module 'fs'" in result.get("FunctionErrorMessage", "") and not result.get("FunctionOutput"), result)
    kvs_code = b"""import cf from 'cloudfront';
const kvs = cf.kvs();
async function handler(event) {
  const request = event.request;
  const release = await kvs.get('live');
  const missing = await kvs.exists('nope');
  const meta = await kvs.meta();
  request.uri = '/' + release + request.uri;
  request.headers['x-meta'] = { value: String(meta.keyCount) + ' ' + missing };
  return request;
}"""
    etag = c.cf.update_function(Name="tested", IfMatch=etag, FunctionConfig=config(stores=[store]), FunctionCode=kvs_code)["ETag"]
    result = c.cf.test_function(Name="tested", IfMatch=etag, EventObject=event("/app.js"))["TestResult"]
    request = json.loads(result.get("FunctionOutput", "{}")).get("request", {})
    check("import cf from 'cloudfront': kvs().get/exists/meta read the associated store",
          request.get("uri") == "/r7/app.js" and request.get("headers", {}).get("x-meta") == {"value": "1 false"}, result)
    live_etag = c.cf.publish_function(Name="tested", IfMatch=etag)
    live_etag = c.cf.describe_function(Name="tested", Stage="LIVE")["ETag"]
    result = c.cf.test_function(Name="tested", IfMatch=live_etag, Stage="LIVE", EventObject=event("/x"))["TestResult"]
    check("TestFunction on LIVE with the LIVE ETag", result["FunctionSummary"]["FunctionMetadata"]["Stage"] == "LIVE"
          and json.loads(result["FunctionOutput"])["request"]["uri"] == "/r7/x", result)


def _distribution(c, ref, default_fns=(), other_fns=()):
    def behavior(fns, pattern=None):
        b = {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
             "FunctionAssociations": {"Quantity": len(fns), "Items": [{"FunctionARN": a, "EventType": e} for e, a in fns]}}
        if pattern:
            b["PathPattern"] = pattern
        return b

    cfg = {"CallerReference": ref, "Comment": "", "Enabled": True,
           "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "fns.s3.eu-west-1.amazonaws.com",
                                                 "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
           "DefaultCacheBehavior": behavior(default_fns)}
    if other_fns:
        cfg["CacheBehaviors"] = {"Quantity": 1, "Items": [behavior(other_fns, "/api/*")]}
    return cfg


def test_distribution_keeps_function_associations():
    c = Clients("AKIAFNDIST")
    etag = c.cf.create_function(Name="edgefn", FunctionConfig=config(), FunctionCode=REWRITE)["ETag"]
    arn = "arn:aws:cloudfront::123456789012:function/edgefn"
    expect_error("associating a function never published: InvalidFunctionAssociation",
                 lambda: c.cf.create_distribution(DistributionConfig=_distribution(c, "fn-unpub", [("viewer-request", arn)])),
                 "InvalidFunctionAssociation", 400)
    c.cf.publish_function(Name="edgefn", IfMatch=etag)
    expect_error("two functions on one event type: InvalidFunctionAssociation",
                 lambda: c.cf.create_distribution(DistributionConfig=_distribution(
                     c, "fn-two", [("viewer-request", arn), ("viewer-request", arn)])), "InvalidFunctionAssociation", 400)
    made = c.cf.create_distribution(DistributionConfig=_distribution(c, "fn-ok", [("viewer-request", arn)], [("viewer-request", arn)]))
    dist = made["Distribution"]
    want = {"Quantity": 1, "Items": [{"FunctionARN": arn, "EventType": "viewer-request"}]}
    check("CreateDistribution echoes FunctionAssociations",
          dist["DistributionConfig"]["DefaultCacheBehavior"]["FunctionAssociations"] == want, dist["DistributionConfig"]["DefaultCacheBehavior"])
    got = c.cf.get_distribution_config(Id=dist["Id"])
    cfg = got["DistributionConfig"]
    check("GetDistributionConfig keeps them on the default and the other cache behaviors",
          cfg["DefaultCacheBehavior"]["FunctionAssociations"] == want
          and cfg["CacheBehaviors"]["Items"][0]["FunctionAssociations"] == want, cfg)
    check("an associated function's LIVE status is DEPLOYED",
          c.cf.describe_function(Name="edgefn", Stage="LIVE")["FunctionSummary"]["Status"] == "DEPLOYED")
    live = c.cf.describe_function(Name="edgefn", Stage="LIVE")["ETag"]
    expect_error("DeleteFunction while a distribution uses it: FunctionInUse (409)",
                 lambda: c.cf.delete_function(Name="edgefn", IfMatch=live), "FunctionInUse", 409)
    cfg["CacheBehaviors"]["Items"][0]["FunctionAssociations"] = {"Quantity": 0}
    c.cf.update_distribution(Id=dist["Id"], IfMatch=got["ETag"], DistributionConfig=cfg)
    after = c.cf.get_distribution_config(Id=dist["Id"])
    cfg = after["DistributionConfig"]
    check("UpdateDistribution removes one association and keeps the other",
          cfg["CacheBehaviors"]["Items"][0]["FunctionAssociations"]["Quantity"] == 0
          and cfg["DefaultCacheBehavior"]["FunctionAssociations"] == want, cfg)
    expect_error("still in use from the default behavior: FunctionInUse",
                 lambda: c.cf.delete_function(Name="edgefn", IfMatch=live), "FunctionInUse", 409)
    cfg["DefaultCacheBehavior"]["FunctionAssociations"] = {"Quantity": 0}
    c.cf.update_distribution(Id=dist["Id"], IfMatch=after["ETag"], DistributionConfig=cfg)
    expect_error("DeleteFunction with a stale If-Match: PreconditionFailed",
                 lambda: c.cf.delete_function(Name="edgefn", IfMatch="ESTALE"), "PreconditionFailed", 412)
    expect_ok("DeleteFunction once no distribution uses it", lambda: c.cf.delete_function(Name="edgefn", IfMatch=live))
    expect_error("... and it is gone", lambda: c.cf.describe_function(Name="edgefn"), "NoSuchFunctionExists", 404)


def test_key_value_store_control_plane():
    c = Clients("AKIAFNKVSCTL")
    made = c.cf.create_key_value_store(Name="ctl", Comment="first")
    store = made["KeyValueStore"]
    check("CreateKeyValueStore: Id, ARN, READY, an ETag and a Location",
          store["ARN"] == f"arn:aws:cloudfront::123456789012:key-value-store/{store['Id']}" and store["Status"] == "READY"
          and made["ETag"] and made["Location"].endswith(store["Id"]), made)
    expect_error("the same name again: EntityAlreadyExists", lambda: c.cf.create_key_value_store(Name="ctl"), "EntityAlreadyExists", 409)
    described = c.cf.describe_key_value_store(Name="ctl")
    check("DescribeKeyValueStore by name, the same ETag", described["ETag"] == made["ETag"] and described["KeyValueStore"]["Comment"] == "first")
    expect_error("UpdateKeyValueStore with a stale If-Match: PreconditionFailed",
                 lambda: c.cf.update_key_value_store(Name="ctl", Comment="x", IfMatch="ESTALE"), "PreconditionFailed", 412)
    updated = c.cf.update_key_value_store(Name="ctl", Comment="second", IfMatch=made["ETag"])
    check("UpdateKeyValueStore: the comment and a new ETag",
          updated["KeyValueStore"]["Comment"] == "second" and updated["ETag"] != made["ETag"], updated)
    check("ListKeyValueStores lists it",
          "ctl" in [s["Name"] for s in c.cf.list_key_value_stores()["KeyValueStoreList"]["Items"]])
    c.cf.create_function(Name="usesctl", FunctionConfig=config(stores=[store["ARN"]]), FunctionCode=REWRITE)
    expect_error("DeleteKeyValueStore while a function uses it: CannotDeleteEntityWhileInUse (409)",
                 lambda: c.cf.delete_key_value_store(Name="ctl", IfMatch=updated["ETag"]), "CannotDeleteEntityWhileInUse", 409)
    c.cf.delete_function(Name="usesctl", IfMatch=c.cf.describe_function(Name="usesctl")["ETag"])
    expect_error("DeleteKeyValueStore with a stale If-Match: PreconditionFailed",
                 lambda: c.cf.delete_key_value_store(Name="ctl", IfMatch=made["ETag"]), "PreconditionFailed", 412)
    expect_ok("DeleteKeyValueStore once unused", lambda: c.cf.delete_key_value_store(Name="ctl", IfMatch=updated["ETag"]))
    expect_error("... and it is gone: EntityNotFound", lambda: c.cf.describe_key_value_store(Name="ctl"), "EntityNotFound", 404)


if __name__ == "__main__":
    run("cdnctl-functions-selftest-", globals())
