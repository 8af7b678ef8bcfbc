"""The local AWS emulator for cdnctl's tests, demo and benchmark.

Runs moto's server in-process over HTTPS on an ephemeral port of 127.0.0.1, with
a certificate made for this run, plus a plain-HTTP control port for the test
harness. It prints one JSON line (ports and the CA bundle's path) and then
serves until its standard input closes, so it never outlives whoever started it.

Two things are added around moto, both in this file:
- `patch_moto_like_aws()`: small patches that make moto behave like real AWS
  where cdnctl depends on it; each names the AWS behaviour it restores.
- a request log and per-client knobs (latency, faults, slow deployments), keyed
  by the access key id each test signs with, so parallel tests never see each
  other's traffic.

Control port (JSON):
  GET  /requests?key=AKID     requests signed with AKID, in arrival order
  POST /configure             {"key": AKID, "delay_ms": 50, "deploy_seconds": 3,
                               "fault_rate": 0.2, "seed": 7, "stall_after_writes": N,
                               "lose_answer_of": ["PUT /bucket/?policy", ...]}

lose_answer_of: the first request whose operation contains each pattern is
applied, then its connection dropped: the answer is lost.

stall_after_writes: the client's writes after the first N hang (logged with
"stalled": true) and are never applied, so a test can kill the client at
exactly that point, as if it died between two writes.
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
    paths = {name: os.path.join(directory, name) for name in ("ca.pem", "cert.pem", "key.pem")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
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

AKID = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")
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
}


def fault_response(service, choice):
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
                entry = {"service": service, "op": op, "write": write, "fault": fault, "stalled": stall, "start": started}
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
        if dist is not None and KNOBS.get(getattr(CURRENT, "key", None), {}).get("remember_deleted_references"):
            DELETED_REFERENCES[dist.distribution_config.caller_reference] = distribution_id
        return delete(self, distribution_id, if_match)

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
    from moto.s3 import responses as s3r

    bucket_put = s3r.S3Response._bucket_response_put

    def bucket_put_with_tags(self, request, bucket_name, querystring):
        result = bucket_put(self, request, bucket_name, querystring)
        if not querystring and self.body and b"<Tags>" in self.body:
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
            return
        return check(self)

    acm.CertBundle.check = check_after_dns_validation

    class ResourceInUse(JsonRESTError):
        code = 400

        def __init__(self, arn):
            super().__init__("ResourceInUseException", f"Certificate {arn} is in use by CloudFront.")

    # AWS: a certificate a distribution uses cannot be deleted.
    delete = acm.AWSCertificateManagerBackend.delete_certificate

    def delete_unless_in_use(self, arn):
        for dist in cloudfront_backends[self.account_id]["aws"].distributions.values():
            if dist.distribution_config.ViewerCertificate.acm_certificate_arn == arn:
                raise ResourceInUse(arn)
        return delete(self, arn)

    acm.AWSCertificateManagerBackend.delete_certificate = delete_unless_in_use


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
    app = Harness(DomainDispatcherApplication(create_backend_app))
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
