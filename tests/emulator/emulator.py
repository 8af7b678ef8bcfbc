"""The local AWS emulator for cdnctl's tests, demo and benchmark.

Runs moto's server in-process over HTTPS on an ephemeral port of 127.0.0.1, with
a certificate made for this run, plus a plain-HTTP control port for the test
harness, and CloudFront's edge (edge.py: every distribution over HTTPS and
HTTP, "edge_https" and "edge_http"). It prints one JSON line (ports and the CA
bundle's path) and then serves until its standard input closes, so it never outlives whoever started it.

Two things are added around moto, both in this file:
- `patch_moto_like_aws()`, `patch_acm_like_aws()`, `patch_s3_like_aws()`,
  `patch_denied_actions()`, `patch_tags_like_aws()`, `patch_route53_like_aws()`:
  small patches that make moto behave like real AWS where cdnctl depends on
  it; each names the AWS behaviour it restores. CloudFront's response
  headers policy API, which moto lacks, is in response_headers.py; what a
  visitor gets from a distribution, in edge.py (its knobs: edge_error_ttl,
  edge_certificate_days, edge_viewer_country, edge_waf_blocks), which reads
  custom cache policies from cache_policies.py (CloudFront's cache policy
  API, which moto lacks). CloudFront Functions (two stages, ETags,
  FunctionAssociations kept on distributions) are in cf_functions.py, the
  KeyValueStore's control and data plane (`cloudfront-keyvaluestore`, served
  by path /key-value-stores/... on this HTTPS port, any Host) in kvs.py, and
  the edge runs a behavior's LIVE viewer-request function under node
  (function_edge.py, function_runtime.js). CloudFront origin access
  identities are in oai.py (knob check_oai); CloudFormation, the subset the
  CDK stack's takeover needs, in cfn.py (knob stack_seconds; control POSTs
  /cfn/stack-status, /cfn/drift, /cfn/seed-stack, documented there).
- a request log and per-client knobs (latency, faults, slow deployments), keyed
  by the access key id each test signs with, so parallel tests never see each
  other's traffic.

Control port (JSON):
  GET  /requests?key=AKID     requests signed with AKID, in arrival order
  POST /configure             {"key": AKID, <knob>: value, ...}; the knobs of
                              AKID's requests, all off / 0 unless set:
      delay_ms                  added latency per request
      fault_rate, seed          throttling / 5xx / reset / lost answers, seeded
      lose_answer_of            ["PUT /bucket/?policy", ...], see below
      stall_after_writes        N (and stall_seconds), see below
      deploy_seconds            distributions stay InProgress this long
      remember_deleted_references  a deleted distribution's CallerReference
                                stays taken (DistributionAlreadyExists)
      not_disabled_seconds      DeleteDistribution answers DistributionNotDisabled
                                (409) this long after a disabled one turned Deployed
      cert_in_use_seconds       DeleteCertificate answers ResourceInUseException
                                this long after DeleteDistribution of a distribution
                                that used it (knob of the key deleting the distribution)
      oac_in_use_seconds        DeleteOriginAccessControl answers
                                OriginAccessControlInUse (409) this long after the
                                last distribution using it was deleted (same key)
      fresh_certificate_seconds Create/UpdateDistribution answers
                                InvalidViewerCertificate (400) for an ACM
                                certificate ISSUED less than this long ago
      new_bucket_seconds        after CreateBucket (creating key's knob), calls on
                                ?tagging ?policy ?encryption ?ownershipControls
                                ?publicAccessBlock ?cors ?versioning answer
                                NoSuchBucket (404) this long
      check_principals          true: PutBucketPolicy naming an IAM user/role ARN
                                of the account that moto's IAM lacks answers
                                MalformedPolicy "Invalid principal in policy"
      iam_propagation_seconds   the same for users/roles created less than this
                                long ago (even without check_principals)
      ignore_create_bucket_tags true: CreateBucket ignores CreateBucketConfiguration tags
      invalidation_seconds      invalidations stay InProgress this long (sync_state.py)
      kvs_propagation_seconds   the edge sees a KeyValueStore write (PutKey, DeleteKey,
                                UpdateKeys) only this long after it; the API at once (kvs.py)
      function_propagation_seconds  the edge runs a newly published function only
                                this long after PublishFunction; the previous LIVE
                                code until then (cf_functions.py)
      deny                      ["s3:TagResource", "s3:PutBucketPolicy",
                                "cloudfront:CreateDistribution", "acm:...", ...]:
                                AccessDenied (403; ACM: AccessDeniedException) for
                                those actions; s3:TagResource = CreateBucket with tags.
                                S3 actions use moto's names (ACTION_MAP), others
                                the API operation name.
  POST /seed-bucket-tags      {"bucket": B, "tags": {"k": "v"}}: set a bucket's
                              tags outright, aws: system tags included
  POST /certificate-status    {"arn": ARN, "status": "FAILED"} (or
                              VALIDATION_TIMED_OUT, EXPIRED, INACTIVE, REVOKED,
                              ISSUED): set an ACM certificate's status for good
  POST /delete-zone           {"id": ZONEID}: remove a hosted zone and its records
                              outright (as if deleted under the stack)
  The three POSTs answer 404 {"error": ...} when the bucket, certificate or
  zone does not exist.

Always on (AWS behaviour, see each patch): S3 system tags (aws:*) cannot be
dropped, changed or added (InvalidTag); CloudFront and ACM refuse aws: tag keys
(InvalidArgument / InvalidTagException); Route53 refuses a CNAME next to other
records and CREATE of an existing record (InvalidChangeBatch); CloudFront
refuses an ACM certificate that is missing, outside us-east-1 or not ISSUED
(InvalidViewerCertificate); an ACM IdempotencyToken returns the earlier
certificate for an hour, even a deleted one.

lose_answer_of: the first request whose operation contains each pattern is
applied, then its connection dropped: the answer is lost.

stall_after_writes: the client's writes after the first N hang (logged with
"stalled": true) and are never applied, so a test can kill the client at
exactly that point, as if it died between two writes.

tests/emulator/selftest.py exercises the knobs and endpoints (run it with the
venv's python).
"""

import datetime
import ipaddress
import json
import os
import random
import re
import sys
import threading
import time

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


# --------------------------------------------------------------------------
# TLS material for this run
# --------------------------------------------------------------------------


def make_certificates(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=7)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cdnctl emulator CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    os.makedirs(directory, exist_ok=True)
    paths = {name: os.path.join(directory, name) for name in ("ca.pem", "ca-key.pem", "cert.pem", "key.pem")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["ca-key.pem"], "wb") as f:  # edge.py signs each name's certificate with it
        f.write(
            ca_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(paths["cert.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["key.pem"], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return paths


# --------------------------------------------------------------------------
# Per-client knobs and the request log
# --------------------------------------------------------------------------

LOCK = threading.Lock()
LOG = {}  # access key id -> [request records]
KNOBS = {}  # access key id -> settings from /configure
RNGS = {}  # access key id -> random.Random(seed) for fault injection
WRITES = {}  # access key id -> writes seen, for stall_after_writes
DELETED_REFERENCES = {}  # CallerReference -> id of the deleted distribution that used it
CURRENT = threading.local()  # the access key id of the request this thread serves
CERT_RELEASED = {}  # ACM certificate ARN -> time until which it stays in use (cert_in_use_seconds)
OAC_RELEASED = {}  # OAC id -> time until which it stays in use (oac_in_use_seconds)
NEW_BUCKETS = {}  # bucket name -> time until which its subresources are NoSuchBucket (new_bucket_seconds)
CONTROL_ACTIONS = {}  # control port path -> handler(json body) registered by the patches


def knob(name, default=0):
    """The setting `name` of the client whose request this thread serves."""
    return KNOBS.get(getattr(CURRENT, "key", None), {}).get(name, default)

# SigV4: AKID/DATE/REGION/SERVICE/aws4_request; SigV4A (cloudfront-keyvaluestore):
# AKID/DATE/SERVICE/aws4_request, the region in X-Amz-Region-Set.
AKID = re.compile(r"Credential=([^/,\s]+)/[^/]+/(?:([^/,\s]+)/)?([^/,\s]+)/aws4_request")
READ_PREFIXES = ("Describe", "List", "Get")


def classify(environ):
    """(access key, service, operation, is_write) of a signed request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = AKID.search(auth)
    if not m:
        return None, None, None, False
    key, _region, service = m.groups()
    method = environ["REQUEST_METHOD"]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # JSON protocol (ACM): the operation is named in a header
        op = target.rsplit(".", 1)[-1]
        return key, service, op, not op.startswith(READ_PREFIXES)
    from cfn_api import query_action  # query protocol (CloudFormation): the Action is in the form body

    action = query_action(environ)
    if action:
        return key, service, action, not action.startswith(READ_PREFIXES + ("Detect", "Validate"))
    query = environ.get("QUERY_STRING", "")
    op = f"{method} {environ.get('PATH_INFO', '')}" + (f"?{query}" if query else "")
    return key, service, op, method not in ("GET", "HEAD")


FAULTS = {
    # What each service really answers when it throttles, plus plain 5xx.
    "s3": [
        (503, "SlowDown", "Please reduce your request rate."),
        (500, "InternalError", "We encountered an internal error. Please try again."),
    ],
    "cloudfront": [
        (400, "Throttling", "Rate exceeded"),
        (503, "ServiceUnavailable", "Service Unavailable"),
    ],
    "route53": [
        (400, "Throttling", "Rate exceeded"),
        (500, "InternalFailure", "Internal failure"),
    ],
    "cloudformation": [
        (400, "Throttling", "Rate exceeded"),
        (500, "InternalFailure", "Internal failure"),
    ],
}


def fault_response(service, choice):
    if service == "cloudfront-keyvaluestore":  # REST-JSON: the code in x-amzn-ErrorType
        status, code = [(429, "ThrottlingException"), (500, "InternalServerException")][choice % 2]
        body = json.dumps({"Message": "injected by the emulator"})
        return Response(body, status=status, content_type="application/json", headers={"x-amzn-ErrorType": code})
    if service == "acm":
        status, code = [(400, "ThrottlingException"), (500, "InternalFailure")][choice % 2]
        body = json.dumps({"__type": code, "message": "injected by the emulator"})
        return Response(body, status=status, content_type="application/x-amz-json-1.1")
    status, code, message = FAULTS.get(service, FAULTS["s3"])[choice % 2]
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    else:
        body = (
            '<ErrorResponse xmlns="https://cloudfront.amazonaws.com/doc/2020-05-31/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "</ErrorResponse>"
        )
    return Response(body, status=status, content_type="application/xml")


class Harness:
    """WSGI middleware around moto: logs, delays and faults, per access key."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.time()
        key, service, op, write = classify(environ)
        CURRENT.key = key
        knobs = KNOBS.get(key, {}) if key else {}
        if knobs.get("delay_ms"):
            time.sleep(knobs["delay_ms"] / 1000.0)
        fault = None
        lose = knobs.get("lose_answer_of") or []
        if key and lose:
            with LOCK:
                hit = next((pattern for pattern in lose if pattern in op), None)
                if hit is not None:
                    lose.remove(hit)
                    fault = "lost"
        if key and fault is None and knobs.get("fault_rate"):
            with LOCK:
                rng = RNGS.setdefault(key, random.Random(knobs.get("seed", 0)))
                if rng.random() < knobs["fault_rate"]:
                    fault = rng.choice(FAULT_KINDS)
        stall = False
        if key:
            with LOCK:
                if write:
                    WRITES[key] = WRITES.get(key, 0) + 1
                    limit = knobs.get("stall_after_writes")
                    stall = limit is not None and WRITES[key] > limit
                entry = {"service": service, "op": op, "write": write, "fault": fault, "stalled": stall, "start": started,
                         # A CopyObject is a PUT naming its source: counted apart from uploads.
                         "copy": bool(environ.get("HTTP_X_AMZ_COPY_SOURCE"))}
                LOG.setdefault(key, []).append(entry)
        if stall:
            time.sleep(knobs.get("stall_seconds", 30))
            return fault_response(service, 1)(environ, start_response)
        if fault == "lost":
            # Applied, but the answer never arrives (as when a connection drops
            # after AWS did the work): the client's retry must be harmless.
            for _ in self.app(environ, lambda *a, **k: None):
                pass
            drop_connection(environ)
            return []
        if fault == "reset":
            drop_connection(environ)
            return []
        if fault is not None:
            return fault_response(service, 0 if fault == "throttle" else 1)(environ, start_response)
        body = list(self.app(environ, start_response))
        if key:
            entry["end"] = time.time()
        return body


FAULT_KINDS = ["throttle", "error", "reset", "lost"]


def drop_connection(environ):
    """Close the client's connection without an answer."""
    import socket

    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def control_app(environ, start_response):
    request = Request(environ)
    if request.path == "/requests":
        with LOCK:
            body = json.dumps(LOG.get(request.args.get("key", ""), []))
        return Response(body, content_type="application/json")(environ, start_response)
    if request.path == "/configure" and request.method == "POST":
        data = json.loads(request.get_data() or b"{}")
        key = data.pop("key")
        with LOCK:
            KNOBS.setdefault(key, {}).update(data)
            RNGS.pop(key, None)
            if "stall_after_writes" in data:
                WRITES[key] = 0
        return Response("{}", content_type="application/json")(environ, start_response)
    if request.path in CONTROL_ACTIONS and request.method == "POST":
        try:
            result = CONTROL_ACTIONS[request.path](json.loads(request.get_data() or b"{}"))
        except LookupError as e:
            body = json.dumps({"error": f"not found: {e}"})
            return Response(body, status=404, content_type="application/json")(environ, start_response)
        return Response(json.dumps(result or {}), content_type="application/json")(environ, start_response)
    return Response("not found", status=404)(environ, start_response)


# --------------------------------------------------------------------------
# moto, made to behave like AWS where cdnctl depends on it
# --------------------------------------------------------------------------


def patch_moto_like_aws():
    from moto.cloudfront import exceptions as cfx
    from moto.cloudfront import models as cf
    from moto.s3 import models as s3

    class DistributionNotDisabled(cfx.CloudFrontException):
        def __init__(self):
            super().__init__(
                "DistributionNotDisabled",
                "The distribution you are trying to delete has not been disabled.",
            )

    class PreconditionFailed(cfx.CloudFrontException):
        code = 412

        def __init__(self):
            super().__init__(
                "PreconditionFailed",
                "The precondition given in one or more of the request-header fields evaluated to false.",
            )

    class CNAMEAlreadyExists(cfx.CloudFrontException):
        code = 409

        def __init__(self):
            super().__init__(
                "CNAMEAlreadyExists",
                "One or more of the CNAMEs you provided are already associated with a different resource.",
            )

    # AWS keeps an origin's OriginAccessControlId and S3OriginConfig; moto drops them.
    origin_init = cf.Origin.__init__

    def origin_with_oac(self, origin):
        origin_init(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
        if "S3OriginConfig" in origin:
            self.s3_origin_config = {"OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity") or ""}

    cf.Origin.__init__ = origin_with_oac

    # AWS: a distribution is InProgress for a while after each create or update.
    # The time is set per client with /configure {"deploy_seconds": S}; 0 is
    # moto's immediate deployment.
    def status(self):
        if time.time() < getattr(self, "_deployed_at", 0):
            return "InProgress"
        return "Deployed"

    def set_status(self, value):
        pass

    cf.Distribution.status = property(status, set_status)

    def start_deployment(dist):
        seconds = KNOBS.get(getattr(CURRENT, "key", None), {}).get("deploy_seconds", 0)
        dist._deployed_at = time.time() + seconds
        dist.etag = cf.random_id()  # AWS: every change gives a new ETag

    def check_aliases(backend, config, own_id=None):
        # AWS: an alias may be on one distribution only (CNAMEAlreadyExists).
        wanted = set((config.get("Aliases") or {}).get("Items") or [])
        for other in backend.distributions.values():
            if other.distribution_id == own_id:
                continue
            theirs = set(other.distribution_config.Aliases.get("Items") or [])
            if wanted & theirs:
                raise CNAMEAlreadyExists()

    class InvalidViewerCertificate(cfx.CloudFrontException):
        def __init__(self):
            super().__init__(
                "InvalidViewerCertificate",
                "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, "
                "or doesn't include a valid certificate chain.",
            )

    def check_viewer_certificate(config):
        # AWS: ACMCertificateArn must name an ISSUED certificate of us-east-1;
        # moto takes any ARN. CloudFront can also refuse a certificate issued
        # moments ago ({"fresh_certificate_seconds": S}). The config is the
        # request's dict, but take a parsed ViewerCertificate object too.
        from moto.acm.models import acm_backends

        viewer = config.get("ViewerCertificate") or {}
        if isinstance(viewer, dict):
            arn = viewer.get("ACMCertificateArn") or ""
        else:
            arn = getattr(viewer, "acm_certificate_arn", "") or ""
        if not arn:
            return
        parts = arn.split(":")
        cert = None
        if len(parts) == 6 and parts[2] == "acm" and parts[3] == "us-east-1" and parts[4].isdigit():
            cert = acm_backends[parts[4]]["us-east-1"]._certificates.get(arn)
        if cert is not None:
            cert.check()
        if cert is None or cert.status != "ISSUED":
            raise InvalidViewerCertificate()
        if time.time() - getattr(cert, "_issued_at", 0) < knob("fresh_certificate_seconds"):
            raise InvalidViewerCertificate()

    create = cf.CloudFrontBackend.create_distribution_with_tags

    def create_with_checks(self, distribution_config, tags):
        # AWS answers DistributionAlreadyExists for any CallerReference used
        # before, a retry included (moto does too, for existing distributions).
        # Whether a deleted distribution's reference stays taken is not
        # documented; {"remember_deleted_references": true} makes it so.
        ref = distribution_config.get("CallerReference")
        if ref in DELETED_REFERENCES:
            raise cfx.DistributionAlreadyExists(DELETED_REFERENCES[ref])
        for dist in self.distributions.values():
            if dist.distribution_config.caller_reference == ref:
                raise cfx.DistributionAlreadyExists(dist.distribution_id)
        check_aliases(self, distribution_config)
        check_viewer_certificate(distribution_config)
        dist, location, _ = create(self, distribution_config, tags)
        start_deployment(dist)
        return dist, location, dist.etag

    cf.CloudFrontBackend.create_distribution_with_tags = create_with_checks

    def update_with_checks(self, dist_config, _id, if_match):
        # AWS: IfMatch must be the current ETag (PreconditionFailed otherwise).
        dist = self.distributions.get(_id)
        if dist is not None and if_match and if_match != dist.etag:
            raise PreconditionFailed()
        if dist_config:
            check_aliases(self, dist_config, own_id=_id)
            check_viewer_certificate(dist_config)
        dist, location, _ = update(self, dist_config, _id, if_match)
        start_deployment(dist)
        return dist, location, dist.etag

    update = cf.CloudFrontBackend.update_distribution
    cf.CloudFrontBackend.update_distribution = update_with_checks

    delete = cf.CloudFrontBackend.delete_distribution

    def delete_with_checks(self, distribution_id, if_match):
        # AWS: only a disabled, Deployed distribution can be deleted, with the
        # current ETag.
        dist = self.distributions.get(distribution_id)
        if dist is not None and if_match:
            if if_match != dist.etag:
                raise PreconditionFailed()
            if dist.distribution_config.Enabled not in (False, "false") or dist.status != "Deployed":
                raise DistributionNotDisabled()
            # AWS: DistributionNotDisabled can still come for a while after a
            # disabled distribution turned Deployed ({"not_disabled_seconds": S}).
            if time.time() < getattr(dist, "_deployed_at", 0) + knob("not_disabled_seconds"):
                raise DistributionNotDisabled()
        if dist is not None and KNOBS.get(getattr(CURRENT, "key", None), {}).get("remember_deleted_references"):
            DELETED_REFERENCES[dist.distribution_config.caller_reference] = distribution_id
        result = delete(self, distribution_id, if_match)
        if dist is not None:
            # AWS keeps the distribution's certificate (ResourceInUseException)
            # and OAC (OriginAccessControlInUse) in use for minutes after it is
            # deleted: {"cert_in_use_seconds": S, "oac_in_use_seconds": S} of
            # the key that deleted it.
            now = time.time()
            cert = dist.distribution_config.ViewerCertificate.acm_certificate_arn
            if cert:
                CERT_RELEASED[cert] = max(CERT_RELEASED.get(cert, 0), now + knob("cert_in_use_seconds"))
            for origin in dist.distribution_config.Origins["Items"]:
                oac = getattr(origin, "origin_access_control_id", "")
                if oac:
                    OAC_RELEASED[oac] = max(OAC_RELEASED.get(oac, 0), now + knob("oac_in_use_seconds"))
        return result

    cf.CloudFrontBackend.delete_distribution = delete_with_checks

    class InvalidationBatchAlreadyExists(cfx.CloudFrontException):
        code = 409

        def __init__(self):
            super().__init__(
                "InvalidationBatchAlreadyExists",
                "The CallerReference you attempted to create the invalidation batch with is already in use.",
            )

    # AWS: an invalidation's CallerReference reused with the same paths returns
    # the earlier invalidation (no second one); with other paths it is
    # InvalidationBatchAlreadyExists. moto creates a new one every time.
    create_invalidation = cf.CloudFrontBackend.create_invalidation

    def create_invalidation_once(self, dist_id, paths, caller_ref):
        for earlier in self.invalidations.get(dist_id) or []:
            if earlier.caller_ref == caller_ref:
                if sorted(earlier.paths) != sorted(paths):
                    raise InvalidationBatchAlreadyExists()
                return earlier
        return create_invalidation(self, dist_id, paths, caller_ref)

    cf.CloudFrontBackend.create_invalidation = create_invalidation_once

    class OriginAccessControlAlreadyExists(cfx.CloudFrontException):
        code = 409

        def __init__(self):
            super().__init__("OriginAccessControlAlreadyExists", "An origin access control with this name already exists.")

    # AWS: OAC names are unique per account.
    create_oac = cf.CloudFrontBackend.create_origin_access_control

    def create_oac_unique(self, config_dict):
        if any(o.name == config_dict.get("Name") for o in self.origin_access_controls.values()):
            raise OriginAccessControlAlreadyExists()
        return create_oac(self, config_dict)

    cf.CloudFrontBackend.create_origin_access_control = create_oac_unique

    class OriginAccessControlInUse(cfx.CloudFrontException):
        code = 409

        def __init__(self):
            super().__init__("OriginAccessControlInUse", "The origin access control is in use.")

    # AWS: deleting a missing OAC is NoSuchOriginAccessControl (moto: a 500),
    # and one still used by a distribution cannot be deleted.
    def delete_oac_checked(self, control_id):
        if control_id not in self.origin_access_controls:
            raise cfx.NoSuchOriginAccessControl()
        for dist in self.distributions.values():
            for origin in dist.distribution_config.Origins["Items"]:
                if getattr(origin, "origin_access_control_id", "") == control_id:
                    raise OriginAccessControlInUse()
        if time.time() < OAC_RELEASED.get(control_id, 0):
            raise OriginAccessControlInUse()
        self.origin_access_controls.pop(control_id)

    cf.CloudFrontBackend.delete_origin_access_control = delete_oac_checked

    # AWS: deleting a record that does not exist fails with InvalidChangeBatch;
    # moto accepts it when the record was ever written.
    from moto.route53 import models as r53
    from moto.route53.exceptions import Route53ClientError

    change_records = r53.Route53Backend.change_resource_record_sets

    def change_records_strictly(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        for change in change_list:
            if change["Action"] != "DELETE":
                continue
            rr = change["ResourceRecordSet"]
            name = rr["Name"] if rr["Name"].endswith(".") else rr["Name"] + "."
            if not any(r.name == name and r.type == rr["Type"] for r in zone.rrsets):
                raise Route53ClientError(
                    "InvalidChangeBatch",
                    f"[Tried to delete resource record set [name='{name}', type='{rr['Type']}'] but it was not found]",
                )
        return change_records(self, zoneid, change_list)

    r53.Route53Backend.change_resource_record_sets = change_records_strictly

    # AWS evaluates policy conditions; moto ignores them, so the TLS-only Deny
    # (aws:SecureTransport = false) denied every request. This emulator only
    # serves HTTPS, so that condition is false and the statement never applies.
    get_permission = s3.FakeBucket.get_permission

    def permission_over_tls(self, action, resource):
        if self.policy is None:
            return get_permission(self, action, resource)
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if not _denies_plain_http(s)]
        original = self.policy
        self.policy = json.dumps({**policy, "Statement": kept}).encode()
        try:
            return get_permission(self, action, resource)
        finally:
            self.policy = original

    s3.FakeBucket.get_permission = permission_over_tls

    # AWS applies tags given in CreateBucketConfiguration; moto ignores them.
    # {"ignore_create_bucket_tags": true} ignores them again, as some
    # S3-compatible endpoints do.
    from moto.s3 import responses as s3r

    bucket_put = s3r.S3Response._bucket_response_put

    def bucket_put_with_tags(self, request, bucket_name, querystring):
        result = bucket_put(self, request, bucket_name, querystring)
        if not querystring and self.body and b"<Tags>" in self.body and not knob("ignore_create_bucket_tags"):
            import xmltodict

            config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
            tags = (config.get("Tags") or {}).get("Tag") or []
            if isinstance(tags, dict):
                tags = [tags]
            self.backend.put_bucket_tagging(bucket_name, {t["Key"]: t.get("Value") or "" for t in tags})
        return result

    s3r.S3Response._bucket_response_put = bucket_put_with_tags


def patch_acm_like_aws():
    from moto import settings as moto_settings
    from moto.acm import models as acm
    from moto.cloudfront.models import cloudfront_backends
    from moto.core.exceptions import JsonRESTError
    from moto.route53.models import route53_backends

    # AWS issues a DNS-validated certificate only once its validation CNAME is
    # in DNS; moto issues it after a timer whatever DNS holds. Here the record
    # must exist in one of the account's hosted zones, then the timer runs.
    check = acm.CertBundle.check

    def check_after_dns_validation(self):
        if getattr(self, "_status_forced", False):
            return  # set by POST /certificate-status: stays as set
        if self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION":
            account = self.arn.split(":")[4]
            names = set(self.sans + ([self.common_name] if self.common_name else []))
            wanted = {f"_d930b28be6c5927595552b219965053e.{n[2:] if n.startswith('*.') else n}." for n in names}
            zones = route53_backends[account]["aws"].zones.values()
            present = {r.name for z in zones for r in z.rrsets if r.type == "CNAME"}
            if not wanted <= present:
                self._dns_seen_at = None
                return
            if getattr(self, "_dns_seen_at", None) is None:
                self._dns_seen_at = time.time()
            if time.time() - self._dns_seen_at >= moto_settings.ACM_VALIDATION_WAIT:
                self.status = "ISSUED"
                self._issued_at = time.time()  # for fresh_certificate_seconds
            return
        return check(self)

    acm.CertBundle.check = check_after_dns_validation

    class ResourceInUse(JsonRESTError):
        code = 400

        def __init__(self, arn):
            super().__init__("ResourceInUseException", f"Certificate {arn} is in use by CloudFront.")

    # AWS: a certificate a distribution uses cannot be deleted, nor for minutes
    # after that distribution was deleted ({"cert_in_use_seconds": S} of the key
    # that deleted the distribution).
    delete = acm.AWSCertificateManagerBackend.delete_certificate

    def delete_unless_in_use(self, arn):
        for dist in cloudfront_backends[self.account_id]["aws"].distributions.values():
            if dist.distribution_config.ViewerCertificate.acm_certificate_arn == arn:
                raise ResourceInUse(arn)
        if time.time() < CERT_RELEASED.get(arn, 0):
            raise ResourceInUse(arn)
        return delete(self, arn)

    acm.AWSCertificateManagerBackend.delete_certificate = delete_unless_in_use

    class InvalidTag(JsonRESTError):
        code = 400

        def __init__(self):
            super().__init__(
                "InvalidTagException",
                "One or both of the values that make up the key-value pair is not valid. "
                "For example, you cannot specify a tag value that begins with aws:.",
            )

    def check_tags(tags):
        # AWS: keys starting with aws: are reserved (InvalidTagException);
        # moto answers ValidationException, and RequestCertificate has by then
        # created the certificate.
        if any((t.get("Key") or "").startswith("aws:") for t in tags or []):
            raise InvalidTag()

    add_tags = acm.AWSCertificateManagerBackend.add_tags_to_certificate

    def add_tags_checked(self, arn, tags):
        check_tags(tags)
        return add_tags(self, arn, tags)

    acm.AWSCertificateManagerBackend.add_tags_to_certificate = add_tags_checked

    # AWS: the same IdempotencyToken within an hour returns the earlier
    # certificate, even one deleted since (moto: a 500, KeyError), and whatever
    # the tags (moto: a new certificate when they differ).
    request = acm.AWSCertificateManagerBackend.request_certificate

    def request_idempotent(self, domain_name, idempotency_token, subject_alt_names, tags, *args, **kwargs):
        check_tags(tags)
        if idempotency_token is not None:
            arn = self._get_arn_from_idempotency_token(idempotency_token)
            if arn:
                return arn
        return request(self, domain_name, idempotency_token, subject_alt_names, tags, *args, **kwargs)

    acm.AWSCertificateManagerBackend.request_certificate = request_idempotent

    # Control: POST /certificate-status {"arn": ARN, "status": "FAILED"} sets a
    # certificate's status (FAILED, VALIDATION_TIMED_OUT, EXPIRED, INACTIVE,
    # REVOKED, ...) for good: the checks above no longer change it.
    def set_certificate_status(data):
        arn, status = data["arn"], data["status"]
        parts = arn.split(":")
        if len(parts) != 6 or not parts[4].isdigit():
            raise LookupError(arn)
        cert = acm.acm_backends[parts[4]][parts[3]]._certificates[arn]
        cert.status = status
        cert._status_forced = True
        if status == "ISSUED":
            cert._issued_at = time.time()

    CONTROL_ACTIONS["/certificate-status"] = set_certificate_status


def patch_s3_like_aws():
    import xmltodict
    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends
    from moto.s3 import models as s3
    from moto.s3 import responses as s3r
    from moto.s3.exceptions import DuplicateTagKeys, InvalidTagError, MissingBucket, S3ClientError

    # AWS: system tags (aws:*, as CloudFormation sets) cannot be removed,
    # changed or added by PutBucketTagging, but a set may repeat them as they
    # are; moto refuses any aws: key, even an unchanged one.
    def tagging_from_body(self):
        parsed = xmltodict.parse(self.body, force_list={"Tag": True})
        tags = {}
        for tag in (parsed["Tagging"].get("TagSet") or {}).get("Tag") or []:
            if tag["Key"] in tags:
                raise DuplicateTagKeys()
            tags[tag["Key"]] = tag.get("Value") or ""
        return tags

    s3r.S3Response._bucket_tagging_from_body = tagging_from_body

    def current_tags(backend, bucket_name):
        return {t["Key"]: t["Value"] for t in backend.get_bucket_tagging(bucket_name)["Tags"]}

    put_tags = s3.S3Backend.put_bucket_tagging

    def put_tags_keeping_system_tags(self, bucket_name, tags):
        old = current_tags(self, bucket_name)
        if any(k.startswith("aws:") and tags.get(k) != v for k, v in old.items()):
            raise InvalidTagError("System tags cannot be removed by requester")
        if any(k.startswith("aws:") and k not in old for k in tags):
            raise InvalidTagError("Your TagKey cannot be prefixed with aws:")
        return put_tags(self, bucket_name, tags)

    s3.S3Backend.put_bucket_tagging = put_tags_keeping_system_tags

    delete_tags = s3.S3Backend.delete_bucket_tagging

    def delete_tags_keeping_system_tags(self, bucket_name):
        if any(k.startswith("aws:") for k in current_tags(self, bucket_name)):
            raise InvalidTagError("System tags cannot be removed by requester")
        return delete_tags(self, bucket_name)

    s3.S3Backend.delete_bucket_tagging = delete_tags_keeping_system_tags

    # Control: POST /seed-bucket-tags {"bucket": B, "tags": {"k": "v"}} sets a
    # bucket's tags outright, system tags included (as CloudFormation does).
    def seed_bucket_tags(data):
        partition, account = s3.s3_backends.bucket_accounts[data["bucket"]]
        put_tags(s3.s3_backends[account][partition], data["bucket"], data["tags"])

    CONTROL_ACTIONS["/seed-bucket-tags"] = seed_bucket_tags

    # CreateBucket: AWS needs s3:TagResource for tags in CreateBucketConfiguration
    # ({"deny": ["s3:TagResource"]} refuses it, nothing created) and refuses
    # aws: keys there; a new bucket's subresources can answer NoSuchBucket for
    # a few seconds ({"new_bucket_seconds": S} of the creating key).
    bucket_put = s3r.S3Response._bucket_response_put

    def create_bucket_checked(self, request, bucket_name, querystring):
        if querystring:
            return bucket_put(self, request, bucket_name, querystring)
        tags = []
        if self.body and b"<Tags>" in self.body:
            config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
            tags = (config.get("Tags") or {}).get("Tag") or []
            tags = [tags] if isinstance(tags, dict) else tags
        if tags and "s3:TagResource" in knob("deny", []):
            raise access_denied_s3("s3:TagResource", f"arn:aws:s3:::{bucket_name}")
        if any(t["Key"].startswith("aws:") for t in tags):
            raise InvalidTagError("Your TagKey cannot be prefixed with aws:")
        existed = bucket_name in s3.s3_backends.bucket_accounts
        result = bucket_put(self, request, bucket_name, querystring)
        if not existed and bucket_name in s3.s3_backends.bucket_accounts:
            NEW_BUCKETS[bucket_name] = time.time() + knob("new_bucket_seconds")
        return result

    s3r.S3Response._bucket_response_put = create_bucket_checked

    settling = ("tagging", "policy", "encryption", "ownershipControls", "publicAccessBlock", "cors", "versioning")
    bucket_response = s3r.S3Response._bucket_response

    def bucket_response_settling(self, request, full_url):
        name = self.parse_bucket_name_from_url(request, full_url)
        if name and time.time() < NEW_BUCKETS.get(name, 0):
            if any(q in settling for q in self._get_querystring(request, full_url)):
                raise MissingBucket(bucket=name)
        return bucket_response(self, request, full_url)

    s3r.S3Response._bucket_response = bucket_response_settling

    # {"deny": ["s3:PutBucketPolicy", ...]}: AccessDenied for those actions
    # (moto's names for them), as an identity policy without them would.
    authorize = s3r.S3Response._authenticate_and_authorize_s3_action

    def authorize_unless_denied(self, bucket_name=None, key_name=None):
        action = "s3:" + str(self.data.get("Action", ""))
        if action in knob("deny", []):
            raise access_denied_s3(action, f"arn:aws:s3:::{bucket_name}" + (f"/{key_name}" if key_name else ""))
        return authorize(self, bucket_name=bucket_name, key_name=key_name)

    s3r.S3Response._authenticate_and_authorize_s3_action = authorize_unless_denied

    def access_denied_s3(action, resource):
        return S3ClientError("AccessDenied", access_denied_message(action, resource))

    # AWS refuses a bucket policy naming an IAM user or role of the account
    # that does not exist ({"check_principals": true}), and one created moments
    # ago until IAM propagates ({"iam_propagation_seconds": S}). moto takes any.
    put_policy = s3.S3Backend.put_bucket_policy

    def put_policy_checking_principals(self, bucket_name, policy):
        check, settle = knob("check_principals", False), knob("iam_propagation_seconds")
        if check or settle:
            iam = iam_backends[self.account_id]["aws"]
            entities = {e.arn: e for e in list(iam.users.values()) + list(iam.roles.values())}
            for arn in _aws_principals(policy):
                m = re.fullmatch(r"arn:aws:iam::(\d{12}):(user|role)/.+", arn)
                if not m or m.group(1) != self.account_id:
                    continue
                entity = entities.get(arn)
                if entity is None and check:
                    raise S3ClientError("MalformedPolicy", "Invalid principal in policy")
                if entity is not None and (utcnow() - entity.create_date).total_seconds() < settle:
                    raise S3ClientError("MalformedPolicy", "Invalid principal in policy")
        return put_policy(self, bucket_name, policy)

    s3.S3Backend.put_bucket_policy = put_policy_checking_principals


def _aws_principals(policy):
    """The Principal.AWS entries of a bucket policy (bytes or str)."""
    try:
        doc = json.loads(policy)
    except (ValueError, TypeError):
        return []
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    found = []
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict):
            aws = principal.get("AWS", [])
            found += [aws] if isinstance(aws, str) else list(aws)
    return found


def access_denied_message(action, resource):
    return (
        f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: {action} "
        f'on resource: "{resource}" because no identity-based policy allows the {action} action'
    )


def patch_denied_actions():
    # {"deny": ["cloudfront:CreateDistribution", "acm:DeleteCertificate", ...]}:
    # AccessDenied for those actions of the JSON/REST services, as when the
    # caller's identity policy lacks them (S3 is in patch_s3_like_aws).
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, BaseResponse

    class Denied(ServiceException):
        pass  # defined outside moto's packages: serialized with the service's own model

    call_action = BaseResponse.call_action

    def call_action_unless_denied(self):
        deny = knob("deny", [])
        action = f"{self.service_name}:{self._get_action()}" if deny else None
        if action in deny:
            code = "AccessDeniedException" if self.service_name == "acm" else "AccessDenied"
            error = Denied(code, access_denied_message(action, "*"))
            status, headers, body = self.serialized(ActionResult(error))
            return status, headers, body
        return call_action(self)

    BaseResponse.call_action = call_action_unless_denied


def patch_tags_like_aws():
    # AWS: tag keys starting with aws: are reserved; CloudFront refuses them
    # (InvalidArgument), moto stores them.
    from moto.cloudfront import exceptions as cfx
    from moto.cloudfront import models as cf

    def check(keys):
        if any(str(k).startswith("aws:") for k in keys):
            raise cfx.CloudFrontException("InvalidArgument", "The tag key prefix aws: is reserved for AWS use.")

    tag_resource = cf.CloudFrontBackend.tag_resource

    def tag_resource_checked(self, arn, tags):
        check(tags)
        return tag_resource(self, arn, tags)

    cf.CloudFrontBackend.tag_resource = tag_resource_checked

    create = cf.CloudFrontBackend.create_distribution_with_tags

    def create_checked(self, distribution_config, tags):
        check(t.get("Key") for t in tags or [])
        return create(self, distribution_config, tags)

    cf.CloudFrontBackend.create_distribution_with_tags = create_checked


def patch_route53_like_aws():
    from moto.route53 import models as r53
    from moto.route53.exceptions import Route53ClientError

    # AWS hosted zone ids always start with Z (Z1RWWTK7Y8UDDQ); moto draws
    # every character at random, so a third of its ids look like no AWS id.
    generate_zone_id = r53.HostedZoneIdentifier.generate

    def zone_id_like_aws(self, *args, **kwargs):
        return "Z" + generate_zone_id(self, *args, **kwargs)[1:]

    r53.HostedZoneIdentifier.generate = zone_id_like_aws

    # AWS: a CNAME cannot share its name with any other record (outside the
    # apex), and CREATE of a record that exists fails; moto accepts both (CREATE
    # adds a duplicate). The batch is checked in order, as AWS applies it.
    change_records = r53.Route53Backend.change_resource_record_sets

    def change_records_without_conflicts(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        zone_name = zone.name.rstrip(".") + "."
        present = {(r.name.rstrip(".").lower(), r.type, r.set_identifier) for r in zone.rrsets}
        for change in change_list:
            rr = change["ResourceRecordSet"]
            name, kind = rr["Name"].rstrip(".").lower(), rr["Type"]
            key = (name, kind, rr.get("SetIdentifier"))
            if change["Action"] == "DELETE":
                present.discard(key)
                continue
            if change["Action"] == "CREATE" and key in present:
                raise Route53ClientError(
                    "InvalidChangeBatch",
                    f"[Tried to create resource record set [name='{name}.', type='{kind}'] but it already exists]",
                )
            if name != zone_name.rstrip(".").lower():
                others = {t for n, t, _ in present if n == name}
                conflict = sorted(others - {"CNAME"}) if kind == "CNAME" else sorted(others & {"CNAME"})
                if conflict:
                    raise Route53ClientError(
                        "InvalidChangeBatch",
                        f"[RRSet of type {kind} with DNS name {name}. is not permitted because a conflicting "
                        f"RRSet of type {conflict[0]} with the same DNS name already exists in zone {zone_name}]",
                    )
            present.add(key)
        return change_records(self, zoneid, change_list)

    r53.Route53Backend.change_resource_record_sets = change_records_without_conflicts

    # Control: POST /delete-zone {"id": ZONEID} removes a hosted zone and its
    # records outright, as if deleted under the stack.
    def delete_zone(data):
        zone_id = data["id"].replace("/hostedzone/", "")
        for account in list(r53.route53_backends.keys()):
            zones = r53.route53_backends[account]["aws"].zones
            if zone_id in zones:
                del zones[zone_id]
                return
        raise LookupError(zone_id)

    CONTROL_ACTIONS["/delete-zone"] = delete_zone


def _denies_plain_http(statement):
    cond = statement.get("Condition", {}).get("Bool", {})
    return statement.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false"


# --------------------------------------------------------------------------


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else ".emulator/run"
    paths = make_certificates(directory)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    patch_moto_like_aws()
    patch_acm_like_aws()
    patch_s3_like_aws()
    patch_denied_actions()
    patch_tags_like_aws()
    patch_route53_like_aws()
    # CloudFront's response headers policy API, which moto lacks (its own file).
    import response_headers

    response_headers.patch_moto()
    import oai  # CloudFront origin access identities, which moto lacks (its own file)

    oai.patch(knob)
    import cfn_api  # the CloudFormation subset of the CDK stack's takeover (cfn.py)

    cfn_api.patch(sys.modules[__name__])
    import sync_state  # conditional writes and invalidations in progress (its own file)

    sync_state.patch_moto(knob)
    # S3 object behaviours sync depends on (its own file).
    import sync_objects

    sync_objects.patch_moto(knob)
    # What `up` and `down` provision, where moto is more lenient (its own file).
    import provisioning

    provisioning.patch(knob)
    import paging  # list pages past the first, as AWS serves them (its own file)

    paging.patch()
    # CloudFront Functions and KeyValueStore (control and data plane), which
    # moto lacks or keeps partly (their own files; the edge runs functions).
    import cf_functions
    import kvs

    cf_functions.patch_moto(knob)
    kvs.patch_moto(knob)
    # CloudFront's edge: every distribution served over HTTPS and HTTP (its own file).
    import edge

    edges = edge.start(sys.modules[__name__], paths)
    import cache_policies  # the cache policy API the edge reads (its own file)

    app = Harness(
        cf_functions.wrap(
            cache_policies.wrap(
                response_headers.wrap(DomainDispatcherApplication(create_backend_app)), response_headers.account_of
            )
        )
    )
    server = make_server(
        "127.0.0.1",
        0,
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=(paths["cert.pem"], paths["key.pem"]),
    )
    control = make_server("127.0.0.1", 0, control_app, threaded=True)
    os.environ["MOTO_PORT"] = str(server.server_port)
    for s in (server, control):
        threading.Thread(target=s.serve_forever, daemon=True).start()

    print(
        json.dumps(
            {
                "endpoint": f"https://127.0.0.1:{server.server_port}",
                "control": f"http://127.0.0.1:{control.server_port}",
                "ca_bundle": os.path.abspath(paths["ca.pem"]),
                **edges,
            }
        ),
        flush=True,
    )
    # Serve until whoever started us closes our standard input (or dies).
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()
