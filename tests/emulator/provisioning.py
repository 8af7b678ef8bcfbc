"""Patches for what `cdnctl up` and `down` provision, where moto is more
lenient than AWS. Each names the AWS behaviour it restores. Called from
emulator.py's main() after its own patches, so these wrap them.

- S3: PutBucketPolicy with a public statement on a bucket whose public access
  block has BlockPublicPolicy answers AccessDenied (moto accepts it).
- S3: a policy statement whose principal is a service (cloudfront.amazonaws.com)
  applies to that service's requests only, not to callers signing with access
  keys (moto ignores principals and applies it to everyone).
- ACM: RequestCertificate honours KeyAlgorithm (moto makes every certificate
  RSA_2048); ListCertificates returns only RSA_2048 certificates unless
  Includes.keyTypes names others, and its summaries carry the primary name in
  DomainName and every name only in SubjectAlternativeNameSummaries (moto
  returns every key type, and whole descriptions).
- ACM: for a while after RequestCertificate, DescribeCertificate answers
  ResourceNotFoundException: knob {"describe_lag_seconds": S} of the
  requesting key (off by default).
- Route53: a DELETE must repeat the record set's current values exactly
  (TTL, values, alias target), else InvalidChangeBatch for the whole batch
  (moto deletes by name and type).
- CloudFront: Create/UpdateDistribution answer InvalidViewerCertificate when
  the ACM certificate does not cover every alias, or has a key type CloudFront
  refuses (only RSA 1024-4096 and ECDSA P-256 are accepted; moto takes any).
"""

import json
import threading
import time

# The key algorithms CloudFront accepts for a viewer certificate (ACM user
# guide, "Prerequisites for importing ACM certificates": CloudFront supports
# only 1024-, 2048-, 3072- and 4096-bit RSA and Elliptic Prime Curve 256-bit).
CLOUDFRONT_KEY_TYPES = {"RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1"}
# What ACM issues (RequestCertificate's KeyAlgorithm).
REQUESTABLE_KEY_TYPES = {"RSA_2048", "EC_prime256v1", "EC_secp384r1"}

REQUEST = threading.local()  # the KeyAlgorithm of the RequestCertificate being served
KNOB = [lambda name, default=0: default]  # emulator.knob, given by patch()


def knob(name, default=0):
    return KNOB[0](name, default)


def patch(knob_of_client):
    """Apply every patch; `knob_of_client` is emulator.py's knob()."""
    KNOB[0] = knob_of_client
    patch_public_policy()
    patch_acm()
    patch_route53_exact_delete()
    patch_viewer_certificate()


# --------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------

# Condition keys that make a statement non-public (S3's "The meaning of
# public"): fixed values of these restrict it to known accounts or networks.
NON_PUBLIC_KEYS = {
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount", "aws:sourceowner",
    "aws:principalorgid", "aws:principalaccount", "aws:userid", "aws:sourceip", "s3:x-amz-server-side-encryption-aws-kms-key-id",
}


def is_public_statement(statement):
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    wildcard = principal == "*" or (
        isinstance(principal, dict) and (principal.get("AWS") == "*" or principal.get("AWS") == ["*"])
    )
    if not wildcard:
        return False
    keys = {k.lower() for op in (statement.get("Condition") or {}).values() if isinstance(op, dict) for k in op}
    return not (keys & NON_PUBLIC_KEYS)


def patch_public_policy():
    from moto.s3 import models as s3
    from moto.s3.exceptions import S3ClientError

    # AWS: with BlockPublicPolicy on, PutBucketPolicy of a public policy is
    # refused (AccessDenied); moto accepts any policy.
    put_policy = s3.S3Backend.put_bucket_policy

    def put_policy_blocking_public(self, bucket_name, policy):
        bucket = self.get_bucket(bucket_name)
        block = bucket.public_access_block
        if block is not None and block.block_public_policy:
            try:
                doc = json.loads(policy)
            except (ValueError, TypeError):
                doc = {}
            statements = doc.get("Statement") or []
            if isinstance(statements, dict):
                statements = [statements]
            if any(is_public_statement(s) for s in statements if isinstance(s, dict)):
                raise S3ClientError("AccessDenied", "Access Denied")
        return put_policy(self, bucket_name, policy)

    s3.S3Backend.put_bucket_policy = put_policy_blocking_public

    # AWS: a statement for a service principal (CloudFront's OAC grant, the
    # deny of the reserved .cdnctl/ prefix to CloudFront) concerns requests
    # that service makes; the S3 API's callers here are access keys, never a
    # service. moto evaluates statements whatever their principal.
    get_permission = s3.FakeBucket.get_permission

    def permission_without_service_statements(self, action, resource):
        if self.policy is None:
            return get_permission(self, action, resource)
        try:
            policy = json.loads(self.policy.decode())
        except (ValueError, TypeError):
            return get_permission(self, action, resource)
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if not _for_a_service(s)]
        if len(kept) == len(statements):
            return get_permission(self, action, resource)
        original = self.policy
        self.policy = json.dumps({**policy, "Statement": kept}).encode()
        try:
            return get_permission(self, action, resource)
        finally:
            self.policy = original

    s3.FakeBucket.get_permission = permission_without_service_statements


def _for_a_service(statement):
    principal = statement.get("Principal") if isinstance(statement, dict) else None
    return isinstance(principal, dict) and set(principal) == {"Service"}


# --------------------------------------------------------------------------
# ACM
# --------------------------------------------------------------------------


def patch_acm():
    from moto.acm import models as acm
    from moto.acm import responses as acmr
    from moto.acm.exceptions import CertificateNotFound

    respond_request = acmr.AWSCertificateManagerResponse.request_certificate

    def request_with_key_algorithm(self):
        REQUEST.key_algorithm = self._get_param("KeyAlgorithm") or "RSA_2048"
        try:
            return respond_request(self)
        finally:
            REQUEST.key_algorithm = None

    acmr.AWSCertificateManagerResponse.request_certificate = request_with_key_algorithm

    request = acm.AWSCertificateManagerBackend.request_certificate

    def request_remembering(self, *args, **kwargs):
        before = set(self._certificates)
        arn = request(self, *args, **kwargs)
        if arn not in before and arn in self._certificates:  # new, not an idempotent answer
            cert = self._certificates[arn]
            cert._key_algorithm = getattr(REQUEST, "key_algorithm", None) or "RSA_2048"
            cert._visible_at = time.time() + knob("describe_lag_seconds")
        return arn

    acm.AWSCertificateManagerBackend.request_certificate = request_remembering

    describe = acm.CertBundle.describe

    def describe_with_key_algorithm(self):
        out = describe(self)
        if getattr(self, "_key_algorithm", None):
            out["Certificate"]["KeyAlgorithm"] = self._key_algorithm
        return out

    acm.CertBundle.describe = describe_with_key_algorithm

    # AWS: "a delay of several seconds" after RequestCertificate before
    # DescribeCertificate knows the certificate (ResourceNotFoundException).
    describe_certificate = acm.AWSCertificateManagerBackend.describe_certificate

    def describe_after_lag(self, arn):
        cert = self._certificates.get(arn)
        if cert is not None and time.time() < getattr(cert, "_visible_at", 0):
            raise CertificateNotFound(arn=arn, account_id=self.account_id)
        return describe_certificate(self, arn)

    acm.AWSCertificateManagerBackend.describe_certificate = describe_after_lag

    # AWS: ListCertificates returns RSA_2048 certificates only, unless
    # Includes.keyTypes names others; a summary's DomainName is the primary
    # name, the others are in SubjectAlternativeNameSummaries.
    def list_like_aws(self):
        from moto.core.responses import ActionResult

        statuses = self._get_param("CertificateStatuses") or []
        includes = self._get_param("Includes") or {}
        key_types = includes.get("keyTypes") or ["RSA_2048"]
        summaries = []
        for arn in list(self.acm_backend._certificates):
            cert = self.acm_backend.get_certificate(arn)
            if statuses and cert.status not in statuses:
                continue
            full = cert.describe()["Certificate"]
            if full["KeyAlgorithm"] not in key_types:
                continue
            summaries.append(
                {
                    "CertificateArn": full["CertificateArn"],
                    "DomainName": full["DomainName"],
                    "SubjectAlternativeNameSummaries": sorted(full.get("SubjectAlternativeNames") or []),
                    "HasAdditionalSubjectAlternativeNames": False,
                    "Status": full["Status"],
                    "Type": full["Type"],
                    "KeyAlgorithm": full["KeyAlgorithm"],
                    "InUse": bool(full.get("InUseBy")),
                }
            )
        return ActionResult(result={"CertificateSummaryList": summaries})

    acmr.AWSCertificateManagerResponse.list_certificates = list_like_aws


# --------------------------------------------------------------------------
# Route53
# --------------------------------------------------------------------------


def _norm_name(name):
    return (name or "").rstrip(".").lower()


def _values(rr):
    out = []
    for r in rr.get("ResourceRecords") or []:
        out.append(r["Value"] if isinstance(r, dict) else r)
    return sorted(out)


def _alias(alias):
    if not alias:
        return None
    return (
        alias.get("HostedZoneId"),
        _norm_name(alias.get("DNSName")),
        str(alias.get("EvaluateTargetHealth", "false")).lower(),
    )


def patch_route53_exact_delete():
    from moto.route53 import models as r53
    from moto.route53.exceptions import Route53ClientError

    # AWS: "To delete a resource record set, you must specify all the same
    # values that you specified when you created it": the TTL, every value, the
    # alias target; otherwise the whole batch fails with InvalidChangeBatch.
    # moto deletes whatever has the name and type.
    change_records = r53.Route53Backend.change_resource_record_sets

    def change_records_exact(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        touched = set()
        for change in change_list:
            rr = change["ResourceRecordSet"]
            key = (_norm_name(rr["Name"]), rr["Type"], rr.get("SetIdentifier"))
            if change["Action"] == "DELETE" and key not in touched:
                current = next(
                    (r for r in zone.rrsets if (_norm_name(r.name), r.type, r.set_identifier) == key),
                    None,
                )
                if current is not None:
                    same = (
                        _alias(current.alias_target) == _alias(rr.get("AliasTarget"))
                        and (current.alias_target or str(current.ttl) == str(rr.get("TTL")))
                        and sorted(current.records or []) == _values(rr)
                    )
                    if not same:
                        raise Route53ClientError(
                            "InvalidChangeBatch",
                            f"[Tried to delete resource record set [name='{key[0]}.', type='{key[1]}'] "
                            "but the values provided do not match the current values]",
                        )
            touched.add(key)
        return change_records(self, zoneid, change_list)

    r53.Route53Backend.change_resource_record_sets = change_records_exact


# --------------------------------------------------------------------------
# CloudFront
# --------------------------------------------------------------------------


def covers(name, alias):
    name, alias = name.lower(), alias.lower()
    if name == alias:
        return True
    return name.startswith("*.") and "." in alias and alias.split(".", 1)[1] == name[2:]


def patch_viewer_certificate():
    from moto.acm.models import acm_backends
    from moto.cloudfront import exceptions as cfx
    from moto.cloudfront import models as cf

    class InvalidViewerCertificate(cfx.CloudFrontException):
        def __init__(self, message):
            super().__init__("InvalidViewerCertificate", message)

    def check(config):
        # AWS: the certificate must cover every alias, and have a key type
        # CloudFront supports.
        viewer = config.get("ViewerCertificate") or {}
        arn = viewer.get("ACMCertificateArn") if isinstance(viewer, dict) else getattr(viewer, "acm_certificate_arn", "")
        if not arn:
            return
        parts = arn.split(":")
        if len(parts) != 6 or not parts[4].isdigit():
            return  # the emulator's own check refuses it
        cert = acm_backends[parts[4]][parts[3]]._certificates.get(arn)
        if cert is None:
            return
        full = cert.describe()["Certificate"]
        if full["KeyAlgorithm"] not in CLOUDFRONT_KEY_TYPES:
            raise InvalidViewerCertificate(
                f"The specified SSL certificate has a key algorithm ({full['KeyAlgorithm']}) that CloudFront does not support."
            )
        names = set(full.get("SubjectAlternativeNames") or []) | {full["DomainName"]}
        aliases = (config.get("Aliases") or {}).get("Items") or []
        if isinstance(aliases, dict):
            aliases = aliases.get("CNAME") or []
        if isinstance(aliases, str):
            aliases = [aliases]
        for alias in aliases:
            if not any(covers(n, alias) for n in names):
                raise InvalidViewerCertificate(
                    "The certificate that is attached to your distribution doesn't cover the alternate domain "
                    "name (CNAME) that you're trying to add."
                )

    create = cf.CloudFrontBackend.create_distribution_with_tags

    def create_checked(self, distribution_config, tags):
        check(distribution_config)
        return create(self, distribution_config, tags)

    cf.CloudFrontBackend.create_distribution_with_tags = create_checked

    update = cf.CloudFrontBackend.update_distribution

    def update_checked(self, dist_config, _id, if_match):
        if dist_config:
            check(dist_config)
        return update(self, dist_config, _id, if_match)

    cf.CloudFrontBackend.update_distribution = update_checked
