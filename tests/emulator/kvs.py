"""CloudFront KeyValueStore: the control plane in CloudFront's API and the data
plane, the service `cloudfront-keyvaluestore` (moto 5.2.5 has the first
without ETags, If-Match or in-use checks, and no data plane at all).

Control plane, /2020-05-31/key-value-store (REST-XML, botocore's cloudfront
model): Create, Describe (by Name), List, Update (Comment, If-Match) and
Delete (If-Match; CannotDeleteEntityWhileInUse, 409, while a function of
either stage is associated with the store). EntityAlreadyExists,
EntityNotFound, PreconditionFailed, InvalidIfMatchVersion as CloudFront
answers; 50 stores per account (EntityLimitExceeded).

Data plane, /key-value-stores/{KvsARN}[/keys[/{Key}]] (REST-JSON, botocore's
cloudfront-keyvaluestore 2022-07-26 model): DescribeKeyValueStore (ETag,
ItemCount, TotalSizeInBytes, Created, LastModified, Status), GetKey, PutKey,
DeleteKey, ListKeys (MaxResults 1-50, NextToken) and UpdateKeys (Puts and
Deletes in one write). Every write needs If-Match = the store's current data
ETag (missing: ValidationException) and answers a new one; a stale one is
ConflictException (409). A missing key is ResourceNotFoundException (404).

How a client reaches the data plane: on the emulator's HTTPS port, any Host,
by path. AWS's endpoint rules put the account id before the host
(`https://123456789012.cloudfront-kvs.global.api.aws`), and do so for a custom
endpoint too (`https://123456789012.127.0.0.1:PORT`, which does not resolve),
so a client needs its own resolver (Rust: an endpoint resolver returning
`https://127.0.0.1:PORT`; botocore: a before-send hook restoring the host, see
kvs_selftest.py). Requests are SigV4A (`AWS4-ECDSA-P256-SHA256`,
`Credential=AKID/DATE/cloudfront-keyvaluestore/aws4_request`, region set in
X-Amz-Region-Set) or SigV4; like moto, signatures are not verified, the access
key only picks the account and the knobs. An unsigned request is refused 403.

Limits ("Quotas on key value stores", CloudFront Developer Guide,
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html):
a key at most 512 bytes and a value at most 1 KB (ValidationException), at
most 50 keys or a 3 MB payload per UpdateKeys (ValidationException), a store
at most 5 MB of keys and values (ServiceQuotaExceededException, 402, the
write not applied). TotalSizeInBytes is the sum of keys' and values' UTF-8 bytes.

Propagation (knob `kvs_propagation_seconds` of the key that writes): the edge
sees a write only that long after it (`edge_view`); the API sees it at once.
"""

import base64
import datetime
import json
import random
import re
import string
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from response_headers import ApiError, _body, _error, _respond, account_of, invalid

API = "/2020-05-31/key-value-store"
DATA = "/key-value-stores/"
NAMESPACE = "http://cloudfront.amazonaws.com/doc/2020-05-31/"
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_STORES = 50  # "Maximum number of key value stores per account"
MAX_KEY = 512  # bytes, "Maximum size of a key in a key-value pair"
MAX_VALUE = 1024  # bytes, "Maximum size of the value in a key-value pair: 1 KB"
MAX_BATCH_KEYS = 50  # "50 keys or 3 MB payload, whichever is reached first"
MAX_BATCH_BYTES = 3 * 1024 * 1024
MAX_STORE = 5 * 1024 * 1024  # "Maximum size of an individual key value store: 5 MB"

LOCK = threading.RLock()
STORES = {}  # account -> {name: record}
KNOB = None


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _etag(prefix="E"):
    return prefix + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(13 - len(prefix)))


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _text(root, name):
    for c in root:
        if _local(c.tag) == name:
            return c.text or ""
    return None


def store_by_arn(arn):
    with LOCK:
        for stores in STORES.values():
            for record in stores.values():
                if record["arn"] == arn:
                    return record
    return None


def edge_view(arn, now=None):
    """(version, items) of the store as the edge sees it at `now`."""
    now = time.time() if now is None else now
    with LOCK:
        record = store_by_arn(arn)
        if record is None:
            return None
        visible = [v for v in record["history"] if v["visible_at"] <= now]
        return visible[-1] if visible else None


# --------------------------------------------------------------------------
# Control plane (CloudFront's REST-XML API)
# --------------------------------------------------------------------------


def store_xml(record, namespace=True):
    head = f'<KeyValueStore xmlns="{NAMESPACE}">' if namespace else "<KeyValueStore>"
    return (
        f"{head}<Name>{record['name']}</Name><Id>{record['id']}</Id><Comment>{escape(record['comment'])}</Comment>"
        f"<ARN>{record['arn']}</ARN><Status>{record['status']}</Status>"
        f"<LastModifiedTime>{_iso(record['modified'])}</LastModifiedTime></KeyValueStore>"
    )


def _find(account, name):
    record = STORES.get(account, {}).get(name)
    if record is None:
        raise ApiError(404, "EntityNotFound", "The key value store entity was not found.")
    return record


def _if_match(environ, etag):
    given = environ.get("HTTP_IF_MATCH")
    if not given:
        raise ApiError(400, "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if given != etag:
        raise ApiError(412, "PreconditionFailed", "The precondition in one or more of the request fields evaluated to false.")


def control_app(environ, start_response):
    try:
        return _control(environ, start_response)
    except ApiError as err:
        return _error(start_response, err)


def _control(environ, start_response):
    method = environ["REQUEST_METHOD"]
    parts = [unquote(p) for p in environ.get("PATH_INFO", "")[len(API):].strip("/").split("/") if p]
    account = account_of(environ)
    if not parts and method == "POST":
        try:
            root = ET.fromstring(_body(environ))
        except ET.ParseError as e:
            raise ApiError(400, "MalformedXML", f"The XML you provided was not well-formed: {e}") from None
        name, comment = _text(root, "Name") or "", _text(root, "Comment") or ""
        if not NAME.match(name):
            raise invalid("The parameter Name must be 1 to 64 letters, digits, hyphens or underscores.")
        if len(comment) > 128:
            raise invalid("The parameter Comment must be at most 128 characters.")
        if any(_local(c.tag) == "ImportSource" for c in root):
            raise ApiError(400, "UnsupportedOperation", "The emulator does not import key value stores from S3.")
        with LOCK:
            stores = STORES.setdefault(account, {})
            if name in stores:
                raise ApiError(409, "EntityAlreadyExists", "The key value store entity already exists.")
            if len(stores) >= MAX_STORES:
                raise ApiError(400, "EntityLimitExceeded", "The key value store entity limit has been exceeded.")
            store_id = str(uuid.uuid4())
            now = time.time()
            record = stores[name] = {
                "name": name, "id": store_id, "comment": comment, "status": "READY", "created": now, "modified": now,
                "arn": f"arn:aws:cloudfront::{account}:key-value-store/{store_id}", "etag": _etag(),
                "items": {}, "data_etag": _etag("KV"), "data_modified": now,
                "history": [{"visible_at": now, "version": 0, "items": {}, "modified": now}],
            }
            body = store_xml(record)
        location = f"https://cloudfront.amazonaws.com{API}/{store_id}"
        return _respond(start_response, 201, body, [("ETag", record["etag"]), ("Location", location)])
    if not parts and method == "GET":
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        max_items = int(query.get("MaxItems") or 100)
        with LOCK:
            records = [r for r in STORES.get(account, {}).values() if query.get("Status") in (None, r["status"])]
            names = [r["name"] for r in records]
            start = names.index(query["Marker"]) if query.get("Marker") in names else 0
            page = records[start : start + max_items]
            out = [f'<KeyValueStoreList xmlns="{NAMESPACE}">']
            if start + max_items < len(records):
                out.append(f"<NextMarker>{records[start + max_items]['name']}</NextMarker>")
            out.append(f"<MaxItems>{max_items}</MaxItems><Quantity>{len(page)}</Quantity>")
            if page:
                out.append("<Items>" + "".join(store_xml(r, namespace=False) for r in page) + "</Items>")
            out.append("</KeyValueStoreList>")
        return _respond(start_response, 200, "".join(out))
    if len(parts) != 1:
        raise ApiError(404, "NotFound", "The requested resource does not exist.")
    with LOCK:
        record = _find(account, parts[0])
        if method == "GET":
            return _respond(start_response, 200, store_xml(record), [("ETag", record["etag"])])
        if method == "PUT":
            body = _body(environ)
            _if_match(environ, record["etag"])
            comment = _text(ET.fromstring(body), "Comment")
            if comment is None or len(comment) > 128:
                raise invalid("The parameter Comment is required, at most 128 characters.")
            record.update(comment=comment, etag=_etag(), modified=time.time())
            return _respond(start_response, 200, store_xml(record), [("ETag", record["etag"])])
        if method == "DELETE":
            _if_match(environ, record["etag"])
            import cf_functions

            if cf_functions.stores_in_use(record["arn"]):
                raise ApiError(409, "CannotDeleteEntityWhileInUse", "The key value store is associated with a function.")
            del STORES[account][parts[0]]
            return _respond(start_response, 204)
    raise ApiError(405, "MethodNotAllowed", f"The method {method} is not allowed for this resource.")


# --------------------------------------------------------------------------
# Data plane (cloudfront-keyvaluestore, REST-JSON)
# --------------------------------------------------------------------------


class DataError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(start_response, status, doc, etag=None):
    body = json.dumps(doc).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if etag:
        headers.append(("ETag", etag))
    reasons = {200: "OK", 400: "Bad Request", 402: "Payment Required", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    start_response(f"{status} {reasons.get(status, '')}".strip(), headers)
    return [body]


def data_app(environ, start_response):
    try:
        return _data(environ, start_response)
    except DataError as err:
        body = json.dumps({"Message": err.message}).encode()
        start_response(
            f"{err.status} {err.code}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("x-amzn-ErrorType", err.code),
             ("x-amzn-RequestId", str(uuid.uuid4()))],
        )
        return [body]


def _size(items):
    return sum(len(k.encode()) + len(v.encode()) for k, v in items.items())


def _stats(record):
    return {"ItemCount": len(record["items"]), "TotalSizeInBytes": _size(record["items"])}


def _validate_pair(key, value=None):
    if not isinstance(key, str) or not key:
        raise DataError(400, "ValidationException", "Key must be a non-empty string.")
    if len(key.encode()) > MAX_KEY:
        raise DataError(400, "ValidationException", f"Key exceeds the maximum size of {MAX_KEY} bytes.")
    if value is not None:
        if not isinstance(value, str):
            raise DataError(400, "ValidationException", "Value must be a string.")
        if len(value.encode()) > MAX_VALUE:
            raise DataError(400, "ValidationException", f"Value exceeds the maximum size of {MAX_VALUE} bytes.")


def _write(record, environ, puts, deletes, missing_is_error):
    """Apply one write under LOCK: If-Match, limits, a new ETag, history."""
    given = environ.get("HTTP_IF_MATCH")
    if not given:
        raise DataError(400, "ValidationException", "If-Match is required.")
    if given != record["data_etag"]:
        raise DataError(409, "ConflictException", "The ETag given does not match the key value store's current ETag.")
    items = dict(record["items"])
    for key in deletes:
        if key not in items and missing_is_error:
            raise DataError(404, "ResourceNotFoundException", f"Key {key} not found.")
        items.pop(key, None)
    items.update(puts)
    if _size(items) > MAX_STORE:
        raise DataError(402, "ServiceQuotaExceededException", f"The key value store would exceed its maximum size of {MAX_STORE} bytes.")
    now = time.time()
    record.update(items=items, data_etag=_etag("KV"), data_modified=now)
    delay = float(KNOB("kvs_propagation_seconds", 0) or 0) if KNOB else 0.0
    history = record["history"]
    history.append({"visible_at": now + delay, "version": history[-1]["version"] + 1, "items": items, "modified": now})
    visible = [v for v in history if v["visible_at"] <= now]
    record["history"] = visible[-1:] + [v for v in history if v["visible_at"] > now]


def _data(environ, start_response):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if not re.match(r"AWS4-(HMAC-SHA256|ECDSA-P256-SHA256) ", auth):
        raise DataError(403, "AccessDeniedException", "Missing or invalid Authorization (SigV4A or SigV4).")
    # The ARN and the key are percent-encoded path segments (their "/" is %2F).
    raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
    parts = [unquote(p) for p in raw[len(DATA):].split("/")]
    method = environ["REQUEST_METHOD"]
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    account = account_of(environ)
    with LOCK:
        record = store_by_arn(parts[0])
        if record is None or not record["arn"].split(":")[4] == account:
            raise DataError(404, "ResourceNotFoundException", "Key value store not found.")
        if len(parts) == 1 and method == "GET":
            doc = dict(_stats(record), KvsARN=record["arn"], Created=record["created"],
                       LastModified=record["data_modified"], Status="READY")
            return _json(start_response, 200, doc, record["data_etag"])
        if len(parts) == 2 and parts[1] == "keys" and method == "GET":
            try:
                limit = int(query.get("MaxResults", 50))
            except ValueError:
                raise DataError(400, "ValidationException", "MaxResults must be an integer.") from None
            if not 1 <= limit <= 50:
                raise DataError(400, "ValidationException", "MaxResults must be between 1 and 50.")
            keys = sorted(record["items"])
            start = 0
            if query.get("NextToken"):
                try:
                    after = base64.urlsafe_b64decode(query["NextToken"].encode()).decode()
                except ValueError:
                    raise DataError(400, "ValidationException", "Invalid NextToken.") from None
                start = next((i for i, k in enumerate(keys) if k > after), len(keys))
            page = keys[start : start + limit]
            doc = {"Items": [{"Key": k, "Value": record["items"][k]} for k in page]}
            if start + limit < len(keys):
                doc["NextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
            return _json(start_response, 200, doc)
        if len(parts) == 2 and parts[1] == "keys" and method == "POST":
            body = _body(environ)
            if len(body) > MAX_BATCH_BYTES:
                raise DataError(400, "ValidationException", f"The request payload exceeds {MAX_BATCH_BYTES} bytes.")
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                raise DataError(400, "ValidationException", "The request body is not JSON.") from None
            puts, deletes = doc.get("Puts") or [], doc.get("Deletes") or []
            if len(puts) + len(deletes) > MAX_BATCH_KEYS:
                raise DataError(400, "ValidationException", f"At most {MAX_BATCH_KEYS} keys can be updated in one request.")
            named = [p.get("Key") for p in puts] + [d.get("Key") for d in deletes]
            if len(set(named)) != len(named):
                raise DataError(400, "ValidationException", "A key can appear only once in Puts and Deletes.")
            for p in puts:
                _validate_pair(p.get("Key"), p.get("Value"))
            for d in deletes:
                _validate_pair(d.get("Key"))
            _write(record, environ, {p["Key"]: p["Value"] for p in puts}, [d["Key"] for d in deletes], False)
            return _json(start_response, 200, _stats(record), record["data_etag"])
        if len(parts) == 3 and parts[1] == "keys":
            key = parts[2]
            if method == "GET":
                _validate_pair(key)
                if key not in record["items"]:
                    raise DataError(404, "ResourceNotFoundException", f"Key {key} not found.")
                return _json(start_response, 200, dict(_stats(record), Key=key, Value=record["items"][key]))
            if method == "PUT":
                try:
                    value = json.loads(_body(environ) or b"{}").get("Value")
                except ValueError:
                    raise DataError(400, "ValidationException", "The request body is not JSON.") from None
                if value is None:
                    raise DataError(400, "ValidationException", "Value is required.")
                _validate_pair(key, value)
                _write(record, environ, {key: value}, [], False)
                return _json(start_response, 200, _stats(record), record["data_etag"])
            if method == "DELETE":
                _validate_pair(key)
                _write(record, environ, {}, [key], True)
                return _json(start_response, 200, _stats(record), record["data_etag"])
    raise DataError(404, "ResourceNotFoundException", "No such operation.")


# --------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------


def handles_control(environ):
    path = environ.get("PATH_INFO", "")
    return path == API or path.startswith(API + "/")


def handles_data(environ):
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    return raw.startswith(DATA)


def reset():
    with LOCK:
        STORES.clear()


def patch_moto(knob):
    import functools

    global KNOB
    KNOB = knob
    from moto.moto_api._internal import models as moto_api

    moto_reset = moto_api.MotoAPIBackend.reset

    @functools.wraps(moto_reset)
    def reset_with_stores(self, *args, **kwargs):
        reset()
        return moto_reset(self, *args, **kwargs)

    moto_api.MotoAPIBackend.reset = reset_with_stores
