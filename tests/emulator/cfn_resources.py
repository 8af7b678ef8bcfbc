"""The resource types of cfn.py's CloudFormation subset, made as real moto
resources (the bucket in S3, the distribution in CloudFront, the records in
Route 53, the OAI in oai.py), so the edge serves what a stack deploys.

Each type has: the properties it knows (any other property fails the
resource, never silently ignored), the properties whose change requires
replacement (CloudFormation's resource reference, "Update requires:
Replacement"), create / update / delete against moto's backends (through the
emulator's patches, so AWS's refusals apply), its Ref and Fn::GetAtt values,
and whether the physical resource still exists (drift: DELETED).

As CloudFormation does: a bucket that is not empty cannot be deleted
(DELETE_FAILED); a distribution is disabled, waited for until Deployed, then
deleted; an OAI that an origin still uses cannot be deleted (DELETE_FAILED);
a record is deleted with the values the stack gave it (DELETE_FAILED when
changed outside the stack); deleting what is already gone succeeds. Taggable resources (bucket,
distribution) get the aws:cloudformation:stack-name, stack-id and logical-id
system tags and the stack's tags; the system tags stay when a resource is
retained.
"""

import json
import time
import uuid

import oai


class ResourceFailed(Exception):
    """A resource operation failed; the message is the ResourceStatusReason."""


def _error_text(e):
    message = getattr(e, "message", None) or getattr(e, "description", None) or str(e)
    code = getattr(e, "code", None) or getattr(e, "error_type", None) or type(e).__name__
    return f"{message} (Error Code: {code})"


def _s3(account):
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


def _cf(account):
    from moto.cloudfront.models import cloudfront_backends

    return cloudfront_backends[account]["aws"]


def _r53(account):
    from moto.route53.models import route53_backends

    return route53_backends[account]["aws"]


def system_tags(ctx, logical_id):
    return [
        {"Key": "aws:cloudformation:stack-name", "Value": ctx.stack.name},
        {"Key": "aws:cloudformation:stack-id", "Value": ctx.stack.stack_id},
        {"Key": "aws:cloudformation:logical-id", "Value": logical_id},
    ] + [{"Key": t["Key"], "Value": t["Value"]} for t in ctx.stack.tags]


# --------------------------------------------------------------------------
# AWS::S3::Bucket
# --------------------------------------------------------------------------


class Bucket:
    known = {"BucketName", "AccessControl", "CorsConfiguration", "PublicAccessBlockConfiguration", "OwnershipControls", "Tags"}
    replace = {"BucketName"}

    @staticmethod
    def _configure(backend, name, props):
        rules = (props.get("CorsConfiguration") or {}).get("CorsRules") or []
        if rules:
            backend.put_bucket_cors(name, [{
                "AllowedMethod": r.get("AllowedMethods", []), "AllowedOrigin": r.get("AllowedOrigins", []),
                "AllowedHeader": r.get("AllowedHeaders", []), "ExposeHeader": r.get("ExposedHeaders", []),
                **({"MaxAgeSeconds": str(r["MaxAge"])} if "MaxAge" in r else {}),
                **({"ID": r["Id"]} if "Id" in r else {}),
            } for r in rules])
        else:
            backend.delete_bucket_cors(name)
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(name, {k: str(bool(v) if not isinstance(v, str) else v).lower()
                                                   for k, v in block.items()})
        else:
            backend.delete_public_access_block(name)
        ownership = props.get("OwnershipControls")
        if ownership:
            backend.put_bucket_ownership_controls(name, ownership["Rules"][0]["ObjectOwnership"])
        if props.get("AccessControl", "Private") != "Private":
            raise ResourceFailed("AccessControl other than Private is not modelled by the emulator")

    @staticmethod
    def create(ctx, logical_id, props):
        name = props.get("BucketName") or f"{ctx.stack.name}-{logical_id}-{uuid.uuid4().hex[:12]}".lower()
        backend = _s3(ctx.account)
        try:
            backend.create_bucket(name, ctx.region)
            Bucket._configure(backend, name, props)
        except ResourceFailed:
            raise
        except Exception as e:  # noqa: BLE001 - S3's refusal is the resource's failure
            raise ResourceFailed(f"{name} {_error_text(e)}") from e
        bucket = backend.get_bucket(name)
        backend.tagger.tag_resource(bucket.arn, system_tags(ctx, logical_id) + list(props.get("Tags") or []))
        return name

    @staticmethod
    def update(ctx, res, props):
        try:
            Bucket._configure(_s3(ctx.account), res.physical_id, props)
        except ResourceFailed:
            raise
        except Exception as e:  # noqa: BLE001
            raise ResourceFailed(_error_text(e)) from e
        return res.physical_id

    @staticmethod
    def delete(ctx, res):
        backend = _s3(ctx.account)
        if res.physical_id not in backend.buckets:
            return
        if backend.delete_bucket(res.physical_id) is None:
            raise ResourceFailed(
                "The bucket you tried to delete is not empty (Service: S3, Status Code: 409, Error Code: BucketNotEmpty)")

    @staticmethod
    def attributes(ctx, res):
        name = res.physical_id
        return {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com"}

    @staticmethod
    def exists(ctx, res):
        return res.physical_id in _s3(ctx.account).buckets

    @staticmethod
    def observe(ctx, res):
        bucket = _s3(ctx.account).buckets[res.physical_id]
        block = bucket.public_access_block
        want = res.properties.get("PublicAccessBlockConfiguration") or {}
        names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        got = dict(zip(names, (block.block_public_acls, block.ignore_public_acls, block.block_public_policy,
                               block.restrict_public_buckets))) if block else {}
        expected = {f"/PublicAccessBlockConfiguration/{n}": _flag(want.get(n, False)) for n in names}
        actual = {f"/PublicAccessBlockConfiguration/{n}": _flag(got.get(n, False)) for n in names}
        rules = (res.properties.get("CorsConfiguration") or {}).get("CorsRules") or []
        expected["/CorsConfiguration/CorsRules"] = sorted(
            [sorted(r.get("AllowedMethods", [])), sorted(r.get("AllowedOrigins", []))] for r in rules)
        actual["/CorsConfiguration/CorsRules"] = sorted(
            [sorted(r.allowed_methods or []), sorted(r.allowed_origins or [])] for r in bucket.cors or [])
        return expected, actual


def _flag(value):
    return str(value).lower() == "true"


# --------------------------------------------------------------------------
# AWS::S3::BucketPolicy
# --------------------------------------------------------------------------


class BucketPolicy:
    known = {"Bucket", "PolicyDocument"}
    replace = {"Bucket"}

    @staticmethod
    def create(ctx, logical_id, props):
        try:
            _s3(ctx.account).put_bucket_policy(props["Bucket"], json.dumps(props["PolicyDocument"]).encode())
        except Exception as e:  # noqa: BLE001
            raise ResourceFailed(_error_text(e)) from e
        return props["Bucket"]

    @staticmethod
    def update(ctx, res, props):
        return BucketPolicy.create(ctx, res.logical_id, props)

    @staticmethod
    def delete(ctx, res):
        backend = _s3(ctx.account)
        if res.physical_id in backend.buckets:
            backend.delete_bucket_policy(res.physical_id)

    @staticmethod
    def attributes(ctx, res):
        return {}

    @staticmethod
    def exists(ctx, res):
        bucket = _s3(ctx.account).buckets.get(res.physical_id)
        return bucket is not None and bucket.policy is not None

    @staticmethod
    def observe(ctx, res):
        # As drift detection compares: the document as S3 keeps it (an OAI's
        # canonical user shown as its ARN), one-item lists as their item.
        expected = json.loads(oai._rewrite_policy(json.dumps(res.properties["PolicyDocument"])))
        actual = json.loads(_s3(ctx.account).buckets[res.physical_id].policy)
        return {"/PolicyDocument": _normal(expected)}, {"/PolicyDocument": _normal(actual)}


def _normal(value):
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        return items[0] if len(items) == 1 else items
    return value


# --------------------------------------------------------------------------
# AWS::CloudFront::CloudFrontOriginAccessIdentity
# --------------------------------------------------------------------------


class OriginAccessIdentity:
    known = {"CloudFrontOriginAccessIdentityConfig"}
    replace = set()

    @staticmethod
    def create(ctx, logical_id, props):
        comment = (props.get("CloudFrontOriginAccessIdentityConfig") or {}).get("Comment", "")
        identity = oai.create(_cf(ctx.account), {"CallerReference": str(uuid.uuid4()), "Comment": comment})
        return identity.id

    @staticmethod
    def update(ctx, res, props):
        backend = _cf(ctx.account)
        identity = oai.identities(backend).get(res.physical_id)
        if identity is None:
            raise ResourceFailed("The specified origin access identity does not exist.")
        comment = (props.get("CloudFrontOriginAccessIdentityConfig") or {}).get("Comment", "")
        oai.update(backend, identity.id, {"CallerReference": identity.caller_reference, "Comment": comment}, identity.etag)
        return identity.id

    @staticmethod
    def delete(ctx, res):
        backend = _cf(ctx.account)
        identity = oai.identities(backend).get(res.physical_id)
        if identity is None:
            return
        try:
            oai.delete(backend, identity.id, identity.etag)
        except Exception as e:  # noqa: BLE001 - CloudFrontOriginAccessIdentityInUse
            raise ResourceFailed(_error_text(e)) from e

    @staticmethod
    def attributes(ctx, res):
        identity = oai.identities(_cf(ctx.account)).get(res.physical_id)
        return {"Id": res.physical_id, "S3CanonicalUserId": identity.canonical if identity else ""}

    @staticmethod
    def exists(ctx, res):
        return res.physical_id in oai.identities(_cf(ctx.account))

    @staticmethod
    def observe(ctx, res):
        path = "/CloudFrontOriginAccessIdentityConfig/Comment"
        expected = (res.properties.get("CloudFrontOriginAccessIdentityConfig") or {}).get("Comment", "")
        return {path: expected}, {path: oai.identities(_cf(ctx.account))[res.physical_id].comment}


# --------------------------------------------------------------------------
# AWS::CloudFront::Distribution
# --------------------------------------------------------------------------

RENAMES = {"AcmCertificateArn": "ACMCertificateArn", "SslSupportMethod": "SSLSupportMethod",
           "IamCertificateId": "IAMCertificateId", "IPV6Enabled": "IsIPV6Enabled",
           "OriginSSLProtocols": "OriginSslProtocols"}
NOT_MODELLED = {"Logging", "WebACLId", "OriginGroups", "ContinuousDeploymentPolicyId", "Staging", "CNAMEs",
                "CustomOrigin", "S3Origin", "DistributionConfig.Restrictions"}


def _api(value):
    """A CloudFormation DistributionConfig value in the API's shape: lists as
    {Quantity, Items}, the few names that differ renamed."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "AllowedMethods":
                cached = value.get("CachedMethods") or ["GET", "HEAD"]
                out[key] = {"Quantity": len(item), "Items": item,
                            "CachedMethods": {"Quantity": len(cached), "Items": cached}}
            elif key == "CachedMethods":
                continue
            else:
                out[RENAMES.get(key, key)] = _api(item)
        return out
    if isinstance(value, list):
        return {"Quantity": len(value), "Items": [_api(v) for v in value]}
    return value


def api_config(props, caller_reference):
    cfn = dict(props.get("DistributionConfig") or {})
    unknown = set(cfn) & NOT_MODELLED
    if unknown:
        raise ResourceFailed(f"DistributionConfig properties not modelled by the emulator: {sorted(unknown)}")
    config = _api(cfn)
    config["CallerReference"] = caller_reference
    config.setdefault("Comment", "")
    for origin in config["Origins"]["Items"]:
        if "S3OriginConfig" in origin:
            origin["S3OriginConfig"].setdefault("OriginAccessIdentity", "")
    return config


class Distribution:
    known = {"DistributionConfig", "Tags"}
    replace = set()

    @staticmethod
    def create(ctx, logical_id, props):
        backend = _cf(ctx.account)
        ref = str(uuid.uuid4())
        try:
            dist = backend.create_distribution_with_tags(api_config(props, ref), [])[0]
        except ResourceFailed:
            raise
        except Exception as e:  # noqa: BLE001 - CNAMEAlreadyExists, InvalidViewerCertificate, ...
            raise ResourceFailed(_error_text(e)) from e
        backend.tagger.tag_resource(dist.arn, system_tags(ctx, logical_id) + list(props.get("Tags") or []))
        dist._cfn_caller_reference = ref
        return dist.distribution_id

    @staticmethod
    def update(ctx, res, props):
        backend = _cf(ctx.account)
        dist = backend.distributions.get(res.physical_id)
        if dist is None:
            raise ResourceFailed(f"Distribution {res.physical_id} not found (Error Code: NoSuchDistribution)")
        try:
            backend.update_distribution(dist_config=api_config(props, dist.distribution_config.caller_reference),
                                        _id=dist.distribution_id, if_match=dist.etag)
        except ResourceFailed:
            raise
        except Exception as e:  # noqa: BLE001
            raise ResourceFailed(_error_text(e)) from e
        return res.physical_id

    @staticmethod
    def delete(ctx, res):
        # CloudFormation disables the distribution, waits until it is
        # Deployed, then deletes it with its current ETag.
        from moto.cloudfront.models import random_id

        backend = _cf(ctx.account)
        dist = backend.distributions.get(res.physical_id)
        if dist is None:
            return
        if dist.distribution_config.Enabled not in (False, "false", "False"):
            dist.distribution_config.Enabled = False
            dist.etag = random_id()
            dist._deployed_at = time.time() + ctx.knob("deploy_seconds")
        deadline = time.time() + ctx.knob("deploy_seconds") + ctx.knob("not_disabled_seconds") + 60
        while True:
            try:
                if dist.status == "Deployed":
                    backend.delete_distribution(dist.distribution_id, dist.etag)
                    return
            except Exception as e:  # noqa: BLE001 - DistributionNotDisabled for a while: retried
                if time.time() > deadline:
                    raise ResourceFailed(_error_text(e)) from e
            if time.time() > deadline:
                raise ResourceFailed("Distribution did not stabilize (still InProgress)")
            time.sleep(0.2)

    @staticmethod
    def attributes(ctx, res):
        dist = _cf(ctx.account).distributions.get(res.physical_id)
        return {"Id": res.physical_id, "DomainName": dist.domain_name if dist else ""}

    @staticmethod
    def exists(ctx, res):
        return res.physical_id in _cf(ctx.account).distributions

    @staticmethod
    def observe(ctx, res):
        config = _cf(ctx.account).distributions[res.physical_id].distribution_config
        want = res.properties.get("DistributionConfig") or {}
        behavior, want_behavior = config.DefaultCacheBehavior, want.get("DefaultCacheBehavior") or {}
        base = "/DistributionConfig"
        expected = {
            f"{base}/Aliases": sorted(want.get("Aliases") or []),
            f"{base}/Enabled": _flag(want.get("Enabled")),
            f"{base}/ViewerCertificate/AcmCertificateArn": (want.get("ViewerCertificate") or {}).get("AcmCertificateArn"),
        }
        actual = {
            f"{base}/Aliases": sorted(config.Aliases.get("Items") or []),
            f"{base}/Enabled": _flag(config.Enabled),
            f"{base}/ViewerCertificate/AcmCertificateArn": config.ViewerCertificate.acm_certificate_arn or None,
        }
        if "HttpVersion" in want:
            expected[f"{base}/HttpVersion"], actual[f"{base}/HttpVersion"] = want["HttpVersion"], config.HttpVersion
        for name, attribute in (("ViewerProtocolPolicy", "viewer_protocol_policy"), ("TargetOriginId", "target_origin_id"),
                                ("CachePolicyId", "cache_policy_id"),
                                ("ResponseHeadersPolicyId", "response_headers_policy_id")):
            expected[f"{base}/DefaultCacheBehavior/{name}"] = want_behavior.get(name) or None
            actual[f"{base}/DefaultCacheBehavior/{name}"] = getattr(behavior, attribute, None) or None
        origins = {o.id: o for o in config.Origins["Items"]}
        for i, origin in enumerate(want.get("Origins") or []):
            path, got = f"{base}/Origins/{i}", origins.get(origin.get("Id"))
            expected[f"{path}/DomainName"] = origin.get("DomainName")
            expected[f"{path}/S3OriginConfig/OriginAccessIdentity"] = (
                origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity") or None
            expected[f"{path}/OriginAccessControlId"] = origin.get("OriginAccessControlId") or None
            actual[f"{path}/DomainName"] = got.domain_name if got else None
            actual[f"{path}/S3OriginConfig/OriginAccessIdentity"] = (
                (getattr(got, "s3_origin_config", None) or {}).get("OriginAccessIdentity") or None) if got else None
            actual[f"{path}/OriginAccessControlId"] = (getattr(got, "origin_access_control_id", "") or None) if got else None
        return expected, actual


# --------------------------------------------------------------------------
# AWS::Route53::RecordSet
# --------------------------------------------------------------------------


class RecordSet:
    known = {"Name", "Type", "HostedZoneId", "HostedZoneName", "AliasTarget", "TTL", "ResourceRecords", "Comment"}
    replace = {"Name", "Type", "HostedZoneId", "HostedZoneName"}

    @staticmethod
    def _zone(ctx, props):
        backend = _r53(ctx.account)
        if props.get("HostedZoneId"):
            return backend, props["HostedZoneId"].replace("/hostedzone/", "")
        wanted = props.get("HostedZoneName", "").rstrip(".") + "."
        for zone in list(backend.zones.values()):
            if zone.name.rstrip(".") + "." == wanted and not getattr(zone, "private_zone", False):
                return backend, zone.id
        raise ResourceFailed(f"No hosted zone found with name {wanted}")

    @staticmethod
    def _record(props):
        record = {"Name": props["Name"], "Type": props["Type"]}
        alias = props.get("AliasTarget")
        if alias:
            record["AliasTarget"] = {"HostedZoneId": alias["HostedZoneId"], "DNSName": alias["DNSName"],
                                     "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth", False))}
        else:
            record["TTL"] = int(props.get("TTL", 300))
            record["ResourceRecords"] = [{"Value": v} for v in props.get("ResourceRecords") or []]
        return record

    @staticmethod
    def _change(ctx, props, action, record):
        backend, zone = RecordSet._zone(ctx, props)
        try:
            backend.change_resource_record_sets(zone, [{"Action": action, "ResourceRecordSet": record}])
        except Exception as e:  # noqa: BLE001 - InvalidChangeBatch, NoSuchHostedZone
            raise ResourceFailed(_error_text(e)) from e

    @staticmethod
    def create(ctx, logical_id, props):
        record = RecordSet._record(props)
        RecordSet._change(ctx, props, "CREATE", record)
        return props["Name"].rstrip(".")

    @staticmethod
    def update(ctx, res, props):
        RecordSet._change(ctx, props, "UPSERT", RecordSet._record(props))
        return res.physical_id

    @staticmethod
    def delete(ctx, res):
        # With the values the stack gave it: a record changed outside the
        # stack fails the delete ("the values provided do not match the
        # current values"), as it does for CloudFormation.
        if not RecordSet.exists(ctx, res):
            return  # already gone: CloudFormation's delete succeeds
        RecordSet._change(ctx, res.properties, "DELETE", RecordSet._record(res.properties))

    @staticmethod
    def _current(ctx, res):
        """The record as it is now (a DELETE must repeat its current values)."""
        backend, zone = RecordSet._zone(ctx, res.properties)
        name = res.properties["Name"].rstrip(".") + "."
        for r in backend.get_hosted_zone(zone).rrsets:
            if r.name.rstrip(".") + "." == name and r.type == res.properties["Type"]:
                if r.alias_target:
                    return {"Name": name, "Type": r.type, "AliasTarget": r.alias_target}
                return {"Name": name, "Type": r.type, "TTL": r.ttl,
                        "ResourceRecords": [{"Value": v} for v in r.records or []]}
        return RecordSet._record(res.properties)

    @staticmethod
    def attributes(ctx, res):
        return {}

    @staticmethod
    def observe(ctx, res):
        now = RecordSet._current(ctx, res)
        want = RecordSet._record(res.properties)
        expected, actual = {}, {}
        for record, out in ((want, expected), (now, actual)):
            alias = record.get("AliasTarget")
            if alias:
                out["/AliasTarget/DNSName"] = alias["DNSName"].rstrip(".").lower()
                out["/AliasTarget/HostedZoneId"] = alias["HostedZoneId"]
            else:
                out["/TTL"] = str(record.get("TTL"))
                out["/ResourceRecords"] = sorted(r["Value"] for r in record.get("ResourceRecords") or [])
        return expected, actual

    @staticmethod
    def exists(ctx, res):
        try:
            backend, zone = RecordSet._zone(ctx, res.properties)
            rrsets = backend.get_hosted_zone(zone).rrsets
        except Exception:  # noqa: BLE001 - the zone is gone
            return False
        name = res.properties["Name"].rstrip(".") + "."
        return any(r.name.rstrip(".") + "." == name and r.type == res.properties["Type"] for r in rrsets)


def differences(ctx, res):
    """PropertyDifferences of a live resource against its template's properties."""
    expected, actual = TYPES[res.type].observe(ctx, res)
    return [{"PropertyPath": path, "ExpectedValue": json.dumps(expected[path]), "ActualValue": json.dumps(actual.get(path)),
             "DifferenceType": "NOT_EQUAL"} for path in expected if expected[path] != actual.get(path)]


TYPES = {
    "AWS::S3::Bucket": Bucket,
    "AWS::S3::BucketPolicy": BucketPolicy,
    "AWS::CloudFront::CloudFrontOriginAccessIdentity": OriginAccessIdentity,
    "AWS::CloudFront::Distribution": Distribution,
    "AWS::Route53::RecordSet": RecordSet,
}
