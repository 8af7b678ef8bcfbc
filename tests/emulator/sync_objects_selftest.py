"""Self-test of sync_objects.py (S3 object behaviours sync relies on), with boto3.

    .emulator/venv/bin/python tests/emulator/sync_objects_selftest.py

Starts the emulator through start.py, as the Rust harness does, checks each
behaviour against what AWS does, prints "N passed, M failed" and exits
non-zero if anything failed. Each test uses its own access key and bucket.
"""

import hashlib
import os
import sys
import xml.etree.ElementTree as ET

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.dont_write_bytecode = True

from selftest_kit import INFO, Clients, check, configure, error_of, run  # noqa: E402

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def bucket(key, name):
    s3 = Clients(key).s3
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return s3


def raw_get(key, path_and_query):
    """The raw body of a signed GET (botocore would decode EncodingType=url itself)."""
    url = INFO["endpoint"] + path_and_query
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key, "secret"), "s3", "eu-west-1").add_auth(request)
    return requests.get(url, headers=dict(request.headers), verify=INFO["ca_bundle"]).content


def test_replace_drops_what_it_is_not_given():
    s3 = bucket("AKIASOREPLACE", "so-replace")
    s3.put_object(
        Bucket="so-replace", Key="a.css", Body=b"a", ContentType="text/css", CacheControl="no-cache",
        ContentEncoding="gzip", ContentDisposition="inline", ContentLanguage="fr",
        Expires="2030-01-01T00:00:00Z", Metadata={"owner": "web"}, StorageClass="STANDARD_IA",
    )
    s3.copy_object(
        Bucket="so-replace", Key="a.css", CopySource="so-replace/a.css", MetadataDirective="REPLACE",
        ContentType="text/css", CacheControl="max-age=60",
    )
    h = s3.head_object(Bucket="so-replace", Key="a.css")
    check("REPLACE sets what it is given", h.get("CacheControl") == "max-age=60", h)
    for field in ("ContentEncoding", "ContentDisposition", "ContentLanguage", "Expires"):
        check(f"REPLACE drops {field}", h.get(field) is None, h.get(field))
    check("REPLACE drops x-amz-meta-*", h.get("Metadata") == {}, h.get("Metadata"))
    check("REPLACE falls back to STANDARD", h.get("StorageClass") in (None, "STANDARD"), h.get("StorageClass"))


def test_copy_object_limit_and_multipart_copy():
    key = "AKIASOCOPYLIMIT"
    s3 = bucket(key, "so-copy")
    body = os.urandom(6 * 1024 * 1024 + 10)
    s3.put_object(Bucket="so-copy", Key="big", Body=body)
    s3.copy_object(Bucket="so-copy", Key="big", CopySource="so-copy/big", MetadataDirective="REPLACE", CacheControl="a")
    check("CopyObject under 5 GB by default", s3.head_object(Bucket="so-copy", Key="big")["CacheControl"] == "a")
    configure(key, copy_object_max_bytes=1024 * 1024)
    got = error_of(lambda: s3.copy_object(Bucket="so-copy", Key="big", CopySource="so-copy/big", MetadataDirective="REPLACE"))
    check(
        "CopyObject over the limit: InvalidRequest 400",
        got is not None and (got.code, got.status) == ("InvalidRequest", 400) and "5368709120" in got.message,
        got,
    )
    check("nothing changed", s3.head_object(Bucket="so-copy", Key="big")["CacheControl"] == "a")
    s3.put_object(Bucket="so-copy", Key="small", Body=b"s")
    s3.copy_object(Bucket="so-copy", Key="small", CopySource="so-copy/small", MetadataDirective="REPLACE", CacheControl="b")
    check("a source under the knob still copies", s3.head_object(Bucket="so-copy", Key="small")["CacheControl"] == "b")
    # The multipart copy still works, and keeps what CreateMultipartUpload was given.
    up = s3.create_multipart_upload(
        Bucket="so-copy", Key="big", ContentType="application/octet-stream", CacheControl="c",
        ContentEncoding="gzip", Metadata={"owner": "web"}, StorageClass="STANDARD_IA",
    )
    part = 5 * 1024 * 1024
    etags = []
    for n, (start, end) in enumerate([(0, part - 1), (part, len(body) - 1)], 1):
        out = s3.upload_part_copy(
            Bucket="so-copy", Key="big", UploadId=up["UploadId"], PartNumber=n,
            CopySource="so-copy/big", CopySourceRange=f"bytes={start}-{end}",
        )
        etags.append(out["CopyPartResult"]["ETag"])
    done = s3.complete_multipart_upload(
        Bucket="so-copy", Key="big", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    expected = hashlib.md5(hashlib.md5(body[:part]).digest() + hashlib.md5(body[part:]).digest()).hexdigest() + "-2"
    check("multipart copy ETag", done["ETag"].strip('"') == expected, done["ETag"])
    h = s3.head_object(Bucket="so-copy", Key="big")
    check(
        "multipart copy keeps the metadata given",
        (h.get("CacheControl"), h.get("ContentEncoding"), h.get("Metadata"), h.get("StorageClass"))
        == ("c", "gzip", {"owner": "web"}, "STANDARD_IA"),
        h,
    )
    got = s3.get_object(Bucket="so-copy", Key="big")["Body"].read()
    check("multipart copy keeps the body", got == body)


def test_copy_source_if_match():
    s3 = bucket("AKIASOIFMATCH", "so-ifmatch")
    etag = s3.put_object(Bucket="so-ifmatch", Key="a", Body=b"a")["ETag"]
    got = error_of(lambda: s3.copy_object(
        Bucket="so-ifmatch", Key="a", CopySource="so-ifmatch/a", CopySourceIfMatch='"0000"',
        MetadataDirective="REPLACE", CacheControl="x",
    ))
    check("copy-source-if-match mismatch: 412", got is not None and (got.code, got.status) == ("PreconditionFailed", 412), got)
    s3.copy_object(
        Bucket="so-ifmatch", Key="a", CopySource="so-ifmatch/a", CopySourceIfMatch=etag,
        MetadataDirective="REPLACE", CacheControl="y",
    )
    check("copy-source-if-match match: copied", s3.head_object(Bucket="so-ifmatch", Key="a")["CacheControl"] == "y")


def test_kms_etags_are_not_md5():
    s3 = bucket("AKIASOKMS", "so-kms")
    md5 = hashlib.md5(b"hello").hexdigest()
    plain = s3.put_object(Bucket="so-kms", Key="s3", Body=b"hello")["ETag"].strip('"')
    check("SSE-S3 ETag is the MD5", plain == md5, plain)
    kms = s3.put_object(Bucket="so-kms", Key="kms", Body=b"hello", ServerSideEncryption="aws:kms")["ETag"].strip('"')
    check("SSE-KMS ETag is not the MD5", kms != md5 and len(kms) == 32, kms)
    dsse = s3.put_object(Bucket="so-kms", Key="dsse", Body=b"hello", ServerSideEncryption="aws:kms:dsse")["ETag"]
    check("DSSE-KMS ETag is not the MD5", dsse.strip('"') != md5, dsse)
    head = s3.head_object(Bucket="so-kms", Key="kms")["ETag"].strip('"')
    listed = {o["Key"]: o["ETag"].strip('"') for o in s3.list_objects_v2(Bucket="so-kms")["Contents"]}
    check("the KMS ETag is stable", head == kms == listed["kms"], (head, kms, listed))
    s3.put_bucket_encryption(
        Bucket="so-kms",
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
    )
    default = s3.put_object(Bucket="so-kms", Key="default", Body=b"hello")
    check(
        "default SSE-KMS: ETag is not the MD5",
        default["ETag"].strip('"') != md5 and default.get("ServerSideEncryption") == "aws:kms",
        default,
    )


def test_listing_with_control_characters():
    key = "AKIASOLIST"
    s3 = bucket(key, "so-list")
    names = ["bell\x07.txt", "a b+c.txt", "ü/x&y.txt"]
    for n in names:
        s3.put_object(Bucket="so-list", Key=n, Body=b"x")
    raw = raw_get(key, "/so-list?list-type=2")
    try:
        ET.fromstring(raw)
        parsed = True
    except ET.ParseError:
        parsed = False
    check("without EncodingType, a control character makes the page unparseable", not parsed, raw[:300])
    raw = raw_get(key, "/so-list?list-type=2&encoding-type=url")
    root = ET.fromstring(raw)
    keys = sorted(k.text for k in root.iter(NS + "Key"))
    check("ListObjectsV2 encodes keys like a form", keys == ["%C3%BC/x%26y.txt", "a+b%2Bc.txt", "bell%07.txt"], keys)
    check("ListObjectsV2 says EncodingType url", root.findtext(NS + "EncodingType") == "url")
    decoded = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="so-list")["Contents"])
    check("botocore decodes them back", decoded == sorted(names), decoded)

    raw = raw_get(key, "/so-list?versions")
    try:
        ET.fromstring(raw)
        parsed = True
    except ET.ParseError:
        parsed = False
    check("ListObjectVersions without EncodingType: unparseable", not parsed)
    raw = raw_get(key, "/so-list?versions&encoding-type=url&max-keys=2")
    root = ET.fromstring(raw)
    keys = [k.text for k in root.iter(NS + "Key")]
    check("ListObjectVersions encodes keys", keys == ["a+b%2Bc.txt", "bell%07.txt"], keys)
    check("ListObjectVersions says EncodingType url", root.findtext(NS + "EncodingType") == "url", raw[:400])
    check("NextKeyMarker encoded", root.findtext(NS + "NextKeyMarker") == "bell%07.txt", root.findtext(NS + "NextKeyMarker"))
    versions = s3.list_object_versions(Bucket="so-list", EncodingType="url")["Versions"]
    check("boto3 reads the encoded versions", len(versions) == 3, versions)


if __name__ == "__main__":
    run("cdnctl-sync-objects-selftest-", globals())
