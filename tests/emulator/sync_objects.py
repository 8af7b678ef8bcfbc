"""S3 object behaviours `cdnctl sync` depends on, where moto 5.2.5 differs from AWS.

`patch_moto(knob)` (called from emulator.main()) restores each one; each names the
AWS behaviour it restores:

- ListObjectsV2 with EncodingType=url: AWS encodes keys as
  application/x-www-form-urlencoded does (a space is `+`, a `+` is `%2B`; the
  AWS SDKs decode them with unquote_plus). moto writes `%20`, so a client that
  forgot the `+` would pass. Without EncodingType, moto already writes a key
  holding a control character as it is, which no XML 1.0 parser accepts: the
  AWS behaviour (the whole page is refused), left as is.
- ListObjectVersions with EncodingType=url: AWS encodes Key, KeyMarker,
  NextKeyMarker, Prefix and Delimiter the same way and says
  <EncodingType>url</EncodingType>; moto ignores the parameter.
- ETags under SSE-KMS and DSSE-KMS are not the MD5 of the body on AWS; moto
  gives the MD5 whatever the encryption. Here they are a stable digest of the
  MD5 and the key id, so a client comparing them with MD5s sees a mismatch.
- CopyObject copies at most 5 GB (5368709120 bytes) on AWS; a larger source
  answers 400 InvalidRequest ("The specified copy source is larger than the
  maximum allowable size for a copy source: 5368709120") and needs a
  multipart copy (UploadPartCopy). moto copies any size. Knob
  `copy_object_max_bytes` (default 5368709120, as AWS) lowers the limit, so a
  small object exercises the multipart path.
- CopyObject honours x-amz-copy-source-if-match on AWS (412
  PreconditionFailed when the source's ETag differs); moto ignores it.

Checked and already like AWS, so not patched (the self-test keeps checking
them): CopyObject with MetadataDirective REPLACE drops Content-Encoding,
Content-Disposition, Content-Language, Expires and x-amz-meta-*, and the
storage class falls back to STANDARD unless given again; UploadPartCopy with
CopySourceRange, and CreateMultipartUpload keeping the metadata it is given.

tests/emulator/sync_objects_selftest.py checks all of it with boto3.
"""

import hashlib
import urllib.parse

COPY_OBJECT_MAX_BYTES = 5 * 1024 * 1024 * 1024
KMS = ("aws:kms", "aws:kms:dsse")


def url_encode(value):
    """As S3 encodes a key for EncodingType=url."""
    return urllib.parse.quote_plus(value, safe="/")


def patch_moto(knob):
    """`knob(name, default)`: the setting of the client whose request is served
    (emulator.knob; passed in, as emulator.py runs as __main__)."""
    from moto.s3 import models as s3
    from moto.s3 import responses as s3r
    from moto.s3.exceptions import PreconditionFailed, S3ClientError

    # ListObjectsV2: keys form-urlencoded, as AWS writes them.
    def safe_name(self, encoding_type=None):
        return url_encode(self.name) if encoding_type == "url" else self.name

    s3.FakeKey.safe_name = safe_name

    # ListObjectVersions: EncodingType=url honoured.
    list_object_versions = s3r.S3Response.list_object_versions

    def list_object_versions_encoded(self):
        if self.querystring.get("encoding-type", [None])[0] != "url":
            return list_object_versions(self)
        serialized = self.serialized

        def encode_then_serialize(action_result):
            result = action_result.result
            for item in result.get("Versions", []) + result.get("DeleteMarkers", []):
                item["Key"] = url_encode(item["Key"])
            for field in ("KeyMarker", "NextKeyMarker", "Prefix", "Delimiter"):
                if result.get(field):
                    result[field] = url_encode(result[field])
            for p in result.get("CommonPrefixes", []):
                p["Prefix"] = url_encode(p["Prefix"])
            result["EncodingType"] = "url"
            return serialized(action_result)

        self.serialized = encode_then_serialize
        try:
            return list_object_versions(self)
        finally:
            del self.serialized

    s3r.S3Response.list_object_versions = list_object_versions_encoded

    # SSE-KMS / DSSE-KMS: the ETag is not an MD5 of the body.
    etag = s3.FakeKey.etag

    def etag_like_aws(self):
        value = etag.fget(self)
        if getattr(self, "encryption", None) not in KMS:
            return value
        plain, _, parts = value.strip('"').partition("-")
        seed = f"{self.encryption}:{self.kms_key_id or 'aws/s3'}:{plain}".encode()
        digest = hashlib.md5(seed).hexdigest()
        return f'"{digest}-{parts}"' if parts else f'"{digest}"'

    s3.FakeKey.etag = property(etag_like_aws)

    # CopyObject: at most 5 GB, and x-amz-copy-source-if-match honoured.
    copy_object = s3r.S3Response.copy_object

    def copy_object_like_aws(self):
        source = self.headers.get("x-amz-copy-source")
        if isinstance(source, bytes):
            source = source.decode("utf-8")
        parsed = urllib.parse.urlparse(source)
        src_bucket, src_key = urllib.parse.unquote(parsed.path).lstrip("/").split("/", 1)
        version = urllib.parse.parse_qs(parsed.query).get("versionId", [None])[0]
        key = self.backend.get_object(src_bucket, src_key, version_id=version)
        if key is not None:
            wanted = self.headers.get("x-amz-copy-source-if-match")
            if wanted is not None and wanted.strip('"') != key.etag.strip('"'):
                raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")
            if key.size > knob("copy_object_max_bytes", COPY_OBJECT_MAX_BYTES):
                raise S3ClientError(
                    "InvalidRequest",
                    "The specified copy source is larger than the maximum allowable size for a copy source: "
                    f"{COPY_OBJECT_MAX_BYTES}",
                )
        return copy_object(self)

    s3r.S3Response.copy_object = copy_object_like_aws
