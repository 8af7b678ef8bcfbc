"""Self-test of kvs.py's data plane: the `cloudfront-keyvaluestore` service.

    .emulator/venv/bin/python tests/emulator/kvs_selftest.py

Starts the emulator through start.py, creates stores with boto3's cloudfront
client, then drives the data plane with botocore's cloudfront-keyvaluestore
client (its endpoint rules send to ACCOUNT.127.0.0.1:PORT, which does not
resolve: a before-send hook restores the host, as cdnctl's endpoint resolver
will) and with raw HTTPS requests carrying a SigV4A Authorization header, as
the Rust SDK sends them. botocore signs SigV4A only with awscrt, which the
venv lacks, so its client here signs SigV4 (Config(signature_version="v4")).
Prints "N passed, M failed" and exits non-zero if anything failed.
"""

import http.client
import json
import ssl
import sys
from urllib.parse import quote

sys.dont_write_bytecode = True

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from selftest_kit import INFO, Clients, check, configure, error_of, expect_error, expect_ok, run  # noqa: E402

ACCOUNT = "123456789012"


def kvs_client(key):
    """botocore's cloudfront-keyvaluestore client for access key `key`, reaching the emulator."""
    client = boto3.client(
        "cloudfront-keyvaluestore", region_name="us-east-1", endpoint_url=INFO["endpoint"], verify=INFO["ca_bundle"],
        aws_access_key_id=key, aws_secret_access_key="secret",
        config=Config(signature_version="v4", retries={"max_attempts": 1, "mode": "standard"}),
    )
    seen = []

    def restore_host(request, **_):
        seen.append(request.url)
        request.url = request.url.replace(f"https://{ACCOUNT}.127.0.0.1:", "https://127.0.0.1:", 1)

    client.meta.events.register("before-send.cloudfront-keyvaluestore", restore_host)
    client.urls_seen = seen
    return client


def new_store(c, name):
    return c.cf.create_key_value_store(Name=name, Comment="test")["KeyValueStore"]["ARN"]


def raw(method, path, key, body=None, headers=None, host=f"{ACCOUNT}.cloudfront-kvs.global.api.aws", signed=True):
    """A request as the Rust SDK sends it: SigV4A-signed (the signature is not verified), any Host."""
    address, port = INFO["endpoint"].removeprefix("https://").split(":")
    ctx = ssl.create_default_context(cafile=INFO["ca_bundle"])
    conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
    all_headers = {"Host": host, "X-Amz-Date": "20261205T000000Z", "X-Amz-Region-Set": "*",
                   "Content-Type": "application/json"}
    if signed:
        all_headers["Authorization"] = (
            f"AWS4-ECDSA-P256-SHA256 Credential={key}/20261205/cloudfront-keyvaluestore/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=3045022100ab" + "0" * 60
        )
    all_headers.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers=all_headers)
    answer = conn.getresponse()
    payload = answer.read()
    conn.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(payload or b"{}")


def arn_path(arn):
    return "/key-value-stores/" + quote(arn, safe="")


def test_describe_put_get_delete():
    c = Clients("AKIAKVSBASIC")
    k = kvs_client(c.key)
    arn = new_store(c, "basic")
    d = k.describe_key_value_store(KvsARN=arn)
    check("describe: empty store, an ETag, READY", d["ItemCount"] == 0 and d["TotalSizeInBytes"] == 0 and d["ETag"]
          and d["KvsARN"] == arn and d["Status"] == "READY", d)
    check("the SDK's endpoint rules put the account before the host",
          k.urls_seen and k.urls_seen[0].startswith(f"https://{ACCOUNT}.127.0.0.1:"), k.urls_seen)
    check("a read does not change the ETag", k.describe_key_value_store(KvsARN=arn)["ETag"] == d["ETag"])
    expect_error("PutKey with a stale ETag: ConflictException", lambda: k.put_key(KvsARN=arn, Key="x", Value="y", IfMatch="KVSTALE"),
                 "ConflictException", 409)
    put = k.put_key(KvsARN=arn, Key="releases/live", Value="r1", IfMatch=d["ETag"])
    check("PutKey: a new ETag, ItemCount, TotalSizeInBytes (key and value bytes)",
          put["ETag"] != d["ETag"] and put["ItemCount"] == 1 and put["TotalSizeInBytes"] == len("releases/live") + 2, put)
    got = k.get_key(KvsARN=arn, Key="releases/live")
    check("GetKey: a key with a slash round-trips", got["Key"] == "releases/live" and got["Value"] == "r1" and got["ItemCount"] == 1, got)
    expect_error("PutKey with the ETag before the last write: ConflictException",
                 lambda: k.put_key(KvsARN=arn, Key="releases/live", Value="r2", IfMatch=d["ETag"]), "ConflictException", 409)
    check("the refused write was not applied", k.get_key(KvsARN=arn, Key="releases/live")["Value"] == "r1")
    expect_error("GetKey of a missing key: ResourceNotFoundException", lambda: k.get_key(KvsARN=arn, Key="nope"),
                 "ResourceNotFoundException", 404)
    expect_error("DeleteKey of a missing key: ResourceNotFoundException",
                 lambda: k.delete_key(KvsARN=arn, Key="nope", IfMatch=put["ETag"]), "ResourceNotFoundException", 404)
    expect_error("DeleteKey with a stale ETag: ConflictException",
                 lambda: k.delete_key(KvsARN=arn, Key="releases/live", IfMatch=d["ETag"]), "ConflictException", 409)
    gone = k.delete_key(KvsARN=arn, Key="releases/live", IfMatch=put["ETag"])
    check("DeleteKey: a new ETag, the store empty", gone["ItemCount"] == 0 and gone["ETag"] != put["ETag"], gone)
    expect_error("a store that does not exist: ResourceNotFoundException",
                 lambda: k.describe_key_value_store(KvsARN=arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"),
                 "ResourceNotFoundException", 404)


def test_update_keys_and_list_pages():
    c = Clients("AKIAKVSBATCH")
    k = kvs_client(c.key)
    arn = new_store(c, "batch")
    etag = k.describe_key_value_store(KvsARN=arn)["ETag"]
    for start in (0, 50, 100):
        etag = k.update_keys(KvsARN=arn, IfMatch=etag,
                             Puts=[{"Key": f"k{i:03d}", "Value": f"v{i}"} for i in range(start, min(start + 50, 120))])["ETag"]
    pages = list(k.get_paginator("list_keys").paginate(KvsARN=arn, PaginationConfig={"PageSize": 50}))
    keys = [item["Key"] for page in pages for item in page["Items"]]
    check("ListKeys: 120 keys in pages of at most 50, sorted, each once",
          len(pages) == 3 and keys == sorted(f"k{i:03d}" for i in range(120)), (len(pages), keys[:3]))
    check("ListKeys: a page past the first has a NextToken before it", "NextToken" in pages[0] and "NextToken" not in pages[-1])
    both = k.update_keys(KvsARN=arn, IfMatch=etag, Puts=[{"Key": "k000", "Value": "new"}], Deletes=[{"Key": "k001"}])
    check("UpdateKeys: Puts and Deletes in one write", both["ItemCount"] == 119 and k.get_key(KvsARN=arn, Key="k000")["Value"] == "new", both)
    expect_error("UpdateKeys with a stale ETag: ConflictException",
                 lambda: k.update_keys(KvsARN=arn, IfMatch=etag, Puts=[{"Key": "a", "Value": "b"}]), "ConflictException", 409)
    etag = both["ETag"]
    expect_error("UpdateKeys naming a key twice: ValidationException",
                 lambda: k.update_keys(KvsARN=arn, IfMatch=etag, Puts=[{"Key": "a", "Value": "b"}], Deletes=[{"Key": "a"}]),
                 "ValidationException", 400)
    expect_error("UpdateKeys with 51 keys: ValidationException (50 keys per request)",
                 lambda: k.update_keys(KvsARN=arn, IfMatch=etag, Puts=[{"Key": f"n{i}", "Value": "x"} for i in range(51)]),
                 "ValidationException", 400)
    check("the refused batches were not applied", k.describe_key_value_store(KvsARN=arn)["ETag"] == etag)
    status, _, body = raw("GET", arn_path(arn) + "/keys?MaxResults=51", c.key)
    check("ListKeys MaxResults above 50: ValidationException", status == 400, (status, body))


def test_size_limits():
    c = Clients("AKIAKVSLIMITS")
    k = kvs_client(c.key)
    arn = new_store(c, "limits")
    etag = k.describe_key_value_store(KvsARN=arn)["ETag"]
    etag = expect_ok("a 512-byte key and a 1,024-byte value are accepted",
                     lambda: k.put_key(KvsARN=arn, Key="k" * 512, Value="v" * 1024, IfMatch=etag))["ETag"]
    expect_error("a 513-byte key: ValidationException", lambda: k.put_key(KvsARN=arn, Key="k" * 513, Value="v", IfMatch=etag),
                 "ValidationException", 400)
    expect_error("a 1,025-byte value: ValidationException", lambda: k.put_key(KvsARN=arn, Key="a", Value="v" * 1025, IfMatch=etag),
                 "ValidationException", 400)
    expect_error("sizes are bytes: 513 two-byte characters are 1,026 bytes",
                 lambda: k.put_key(KvsARN=arn, Key="a", Value="é" * 513, IfMatch=etag), "ValidationException", 400)
    expect_error("UpdateKeys with an oversized value: ValidationException",
                 lambda: k.update_keys(KvsARN=arn, IfMatch=etag, Puts=[{"Key": "a", "Value": "v" * 1025}]), "ValidationException", 400)
    # Fill the store to just under 5 MB (5,242,880 bytes) with 1,536-byte items.
    before, err, i = None, None, 0
    while err is None and i < 5000:
        batch = [{"Key": f"{n:08d}".ljust(512, "k"), "Value": "v" * 1024} for n in range(i, i + 50)]
        answer = {}
        err = error_of(lambda: answer.update(k.update_keys(KvsARN=arn, IfMatch=etag, Puts=batch)))
        if err is None:
            etag, before, i = answer["ETag"], answer, i + 50
    check("a write taking the store past 5 MB: ServiceQuotaExceededException (402)",
          err is not None and err.code == "ServiceQuotaExceededException" and err.status == 402, err)
    check("... refused only past 5 MB", before["TotalSizeInBytes"] <= 5 * 1024 * 1024 < before["TotalSizeInBytes"] + 50 * 1536, before)
    after = k.describe_key_value_store(KvsARN=arn)
    check("... and not applied", after["ETag"] == etag and after["ItemCount"] == before["ItemCount"], after)
    smaller = k.put_key(KvsARN=arn, Key="small", Value="v", IfMatch=etag)
    check("a write that fits is still accepted", smaller["ItemCount"] == before["ItemCount"] + 1, smaller)


def test_sigv4a_requests_any_host():
    c = Clients("AKIAKVSSIGV4A")
    arn = new_store(c, "sigv4a")
    status, headers, body = raw("GET", arn_path(arn), c.key)
    check("SigV4A (AWS4-ECDSA-P256-SHA256) with the account-prefixed AWS host: DescribeKeyValueStore",
          status == 200 and body["ItemCount"] == 0 and headers.get("etag"), (status, body))
    status, headers, put = raw("PUT", arn_path(arn) + "/keys/" + quote("a/b", safe=""), c.key, {"Value": "1"},
                               {"If-Match": headers["etag"]}, host=f"{ACCOUNT}.127.0.0.1")
    check("SigV4A PutKey: the key's %2F is a slash in the key", status == 200 and put["ItemCount"] == 1, (status, put))
    status, _, got = raw("GET", arn_path(arn) + "/keys/a%2Fb", c.key)
    check("SigV4A GetKey", status == 200 and got["Key"] == "a/b" and got["Value"] == "1", got)
    status, headers, err = raw("PUT", arn_path(arn) + "/keys/x", c.key, {"Value": "1"}, {"If-Match": "stale"})
    check("a stale If-Match: 409 with x-amzn-ErrorType ConflictException",
          status == 409 and headers.get("x-amzn-errortype") == "ConflictException" and err.get("Message"), (status, headers, err))
    status, _, err = raw("PUT", arn_path(arn) + "/keys/x", c.key, {"Value": "1"})
    check("a write without If-Match: ValidationException", status == 400, (status, err))
    status, _, _ = raw("GET", arn_path(arn), c.key, signed=False)
    check("an unsigned request: 403", status == 403)
    log = json.loads(__import__("urllib.request").request.urlopen(f"{INFO['control']}/requests?key={c.key}").read())
    ops = [(e["service"], e["op"].split(" ")[0], e["write"]) for e in log if e["service"] == "cloudfront-keyvaluestore"]
    check("SigV4A requests are logged under their access key (so its knobs apply)",
          ("cloudfront-keyvaluestore", "PUT", True) in ops and ("cloudfront-keyvaluestore", "GET", False) in ops, ops)


def test_injected_faults_are_json_errors():
    c = Clients("AKIAKVSFAULTS")
    arn = new_store(c, "faults")
    configure(c.key, fault_rate=1.0, seed=7)
    answered = []
    for _ in range(8):
        try:
            answered.append(raw("GET", arn_path(arn), c.key))
        except (OSError, http.client.HTTPException, ValueError):
            pass  # a dropped connection (reset or lost answer)
    configure(c.key, fault_rate=0)
    check("fault_rate on the data plane: 429 ThrottlingException / 500 InternalServerException in x-amzn-ErrorType",
          answered and all((status, h.get("x-amzn-errortype")) in ((429, "ThrottlingException"), (500, "InternalServerException"))
                           and body.get("Message") for status, h, body in answered), answered)


def test_deleted_store():
    c = Clients("AKIAKVSDELETED")
    k = kvs_client(c.key)
    arn = new_store(c, "deleted")
    etag = c.cf.describe_key_value_store(Name="deleted")["ETag"]
    c.cf.delete_key_value_store(Name="deleted", IfMatch=etag)
    expect_error("the data plane of a deleted store: ResourceNotFoundException", lambda: k.describe_key_value_store(KvsARN=arn),
                 "ResourceNotFoundException", 404)


if __name__ == "__main__":
    run("cdnctl-kvs-selftest-", globals())
