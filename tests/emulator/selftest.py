"""Self-test of the emulator's AWS-like patches and knobs, with boto3.

    .emulator/venv/bin/python tests/emulator/selftest.py

Starts the emulator through start.py (MOTO_ACM_VALIDATION_WAIT=1, as the Rust
harness does), exercises every knob and control endpoint, prints
"N passed, M failed" and exits non-zero if anything failed. Each test uses its
own access key, so knobs never leak between tests.
"""

import json
import time

from selftest_kit import Clients, check, control, error_of, expect_error, expect_ok, run

ACCOUNT = "123456789012"
VALIDATION = "_d930b28be6c5927595552b219965053e"
ZONE = "selftest.example"  # hosted zone for the certificates' validation records


def bucket(c, name, tags=None):
    config = {"LocationConstraint": "eu-west-1"}
    if tags:
        config["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return c.s3.create_bucket(Bucket=name, CreateBucketConfiguration=config)


def zone_id(c, name):
    for zone in c.r53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]:
        if zone["Name"] == name + "." and not zone["Config"]["PrivateZone"]:
            return zone["Id"]
    return c.r53.create_hosted_zone(Name=name, CallerReference=f"selftest-{name}-{time.time()}")["HostedZone"]["Id"]


def request_cert(c, domain, **kw):
    return c.acm.request_certificate(DomainName=domain, ValidationMethod="DNS", **kw)["CertificateArn"]


def issued_cert(c, domain):
    """A certificate for domain, ISSUED once its validation CNAME is in the zone."""
    arn = request_cert(c, domain)
    c.r53.change_resource_record_sets(
        HostedZoneId=zone_id(c, ZONE),
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": f"{VALIDATION}.{domain}.", "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": "_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws."}]}}]},
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        if c.acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED":
            return arn
        time.sleep(0.2)
    raise AssertionError(f"certificate for {domain} never issued")


def dist_config(ref, bucket_name="selftest-origin", cert=None, oac=None, aliases=None):
    origin = {"Id": "o1", "DomainName": f"{bucket_name}.s3.eu-west-1.amazonaws.com",
              "S3OriginConfig": {"OriginAccessIdentity": ""}}
    if oac:
        origin["OriginAccessControlId"] = oac
    config = {
        "CallerReference": ref,
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "o1", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }
    if aliases:
        config["Aliases"] = {"Quantity": len(aliases), "Items": aliases}
    if cert:
        config["ViewerCertificate"] = {"ACMCertificateArn": cert, "SSLSupportMethod": "sni-only",
                                       "MinimumProtocolVersion": "TLSv1.2_2021"}
    return config


def create_dist(c, ref, **kw):
    return c.cf.create_distribution(DistributionConfig=dist_config(ref, **kw))["Distribution"]["Id"]


def disable(c, dist_id):
    got = c.cf.get_distribution_config(Id=dist_id)
    config = got["DistributionConfig"]
    config["Enabled"] = False
    return c.cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=config)["ETag"]


def delete_dist(c, dist_id):
    etag = c.cf.get_distribution(Id=dist_id)["ETag"]
    c.cf.delete_distribution(Id=dist_id, IfMatch=etag)


# --------------------------------------------------------------------------
# the tests, one per knob or behaviour
# --------------------------------------------------------------------------


def test_cert_in_use_seconds():
    c = Clients("AKIASELFCERTUSE", cert_in_use_seconds=2)
    arn = issued_cert(c, "inuse.selftest.example")
    dist = create_dist(c, "inuse", cert=arn)
    expect_error("cert in use by a distribution", lambda: c.acm.delete_certificate(CertificateArn=arn), "ResourceInUseException", 400)
    disable(c, dist)
    delete_dist(c, dist)
    expect_error("cert still in use after its distribution's deletion",
                 lambda: c.acm.delete_certificate(CertificateArn=arn), "ResourceInUseException", 400)
    time.sleep(2.1)
    expect_ok("cert deletable once the window passed", lambda: c.acm.delete_certificate(CertificateArn=arn))
    # Default (knob 0): deletable right after the distribution is gone.
    d = Clients("AKIASELFCERTUSE0")
    arn = issued_cert(d, "inuse0.selftest.example")
    dist = create_dist(d, "inuse0", cert=arn)
    disable(d, dist)
    delete_dist(d, dist)
    expect_ok("cert deletable at once by default", lambda: d.acm.delete_certificate(CertificateArn=arn))


def test_not_disabled_seconds():
    c = Clients("AKIASELFNOTDIS", not_disabled_seconds=2)
    dist = create_dist(c, "notdisabled")
    etag = disable(c, dist)
    check("disabled distribution is Deployed", c.cf.get_distribution(Id=dist)["Distribution"]["Status"] == "Deployed")
    expect_error("DistributionNotDisabled right after Deployed",
                 lambda: c.cf.delete_distribution(Id=dist, IfMatch=etag), "DistributionNotDisabled", 409)
    time.sleep(2.1)
    expect_ok("deletable after the window", lambda: c.cf.delete_distribution(Id=dist, IfMatch=etag))
    d = Clients("AKIASELFNOTDIS0")
    dist = create_dist(d, "notdisabled0")
    etag = disable(d, dist)
    expect_ok("deletable at once by default", lambda: d.cf.delete_distribution(Id=dist, IfMatch=etag))


def oac(c, name):
    return c.cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": name, "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]


def test_oac_in_use_seconds():
    c = Clients("AKIASELFOAC", oac_in_use_seconds=2)
    control_id = oac(c, "selftest-oac")
    dist = create_dist(c, "oacuse", oac=control_id)
    expect_error("OAC in use by a distribution", lambda: c.cf.delete_origin_access_control(Id=control_id),
                 "OriginAccessControlInUse", 409)
    disable(c, dist)
    delete_dist(c, dist)
    expect_error("OAC still in use after the deletion", lambda: c.cf.delete_origin_access_control(Id=control_id),
                 "OriginAccessControlInUse", 409)
    time.sleep(2.1)
    expect_ok("OAC deletable after the window", lambda: c.cf.delete_origin_access_control(Id=control_id))
    d = Clients("AKIASELFOAC0")
    control_id = oac(d, "selftest-oac0")
    dist = create_dist(d, "oacuse0", oac=control_id)
    disable(d, dist)
    delete_dist(d, dist)
    expect_ok("OAC deletable at once by default", lambda: d.cf.delete_origin_access_control(Id=control_id))


def tagset(tags):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_system_tags():
    c = Clients("AKIASELFTAGS")
    bucket(c, "selftest-systags")
    status, _ = control("/seed-bucket-tags", {"bucket": "selftest-systags",
                                             "tags": {"aws:cloudformation:stack-name": "stack", "team": "a"}})
    check("seed-bucket-tags answers 200", status == 200)
    got = {t["Key"]: t["Value"] for t in c.s3.get_bucket_tagging(Bucket="selftest-systags")["TagSet"]}
    check("seeded tags are there", got == {"aws:cloudformation:stack-name": "stack", "team": "a"}, got)
    expect_ok("a set keeping the system tag is accepted", lambda: c.s3.put_bucket_tagging(
        Bucket="selftest-systags", Tagging=tagset({"aws:cloudformation:stack-name": "stack", "team": "b", "x": "1"})))
    expect_error("dropping a system tag", lambda: c.s3.put_bucket_tagging(
        Bucket="selftest-systags", Tagging=tagset({"team": "b"})), "InvalidTag", 400, "System tags cannot be removed by requester")
    expect_error("changing a system tag", lambda: c.s3.put_bucket_tagging(
        Bucket="selftest-systags", Tagging=tagset({"aws:cloudformation:stack-name": "other"})),
        "InvalidTag", 400, "System tags cannot be removed by requester")
    expect_error("adding a system tag", lambda: c.s3.put_bucket_tagging(
        Bucket="selftest-systags", Tagging=tagset({"aws:cloudformation:stack-name": "stack", "aws:new": "1"})),
        "InvalidTag", 400, "Your TagKey cannot be prefixed with aws:")
    expect_error("deleting the tags of a bucket with system tags",
                 lambda: c.s3.delete_bucket_tagging(Bucket="selftest-systags"),
                 "InvalidTag", 400, "System tags cannot be removed by requester")
    got = {t["Key"]: t["Value"] for t in c.s3.get_bucket_tagging(Bucket="selftest-systags")["TagSet"]}
    check("refused changes left the tags alone", got == {"aws:cloudformation:stack-name": "stack", "team": "b", "x": "1"}, got)
    bucket(c, "selftest-plaintags")
    expect_error("aws: key on a plain bucket", lambda: c.s3.put_bucket_tagging(
        Bucket="selftest-plaintags", Tagging=tagset({"aws:x": "1"})), "InvalidTag", 400, "Your TagKey cannot be prefixed with aws:")
    expect_ok("plain tags", lambda: c.s3.put_bucket_tagging(Bucket="selftest-plaintags", Tagging=tagset({"a": "1"})))
    expect_ok("delete plain tags", lambda: c.s3.delete_bucket_tagging(Bucket="selftest-plaintags"))
    expect_error("aws: key in CreateBucketConfiguration",
                 lambda: bucket(c, "selftest-awscreate", {"aws:x": "1"}), "InvalidTag", 400, "prefixed with aws:")
    status, _ = control("/seed-bucket-tags", {"bucket": "selftest-nosuchbucket", "tags": {}})
    check("seed-bucket-tags of a missing bucket is 404", status == 404)

    expect_error("CloudFront TagResource with aws: key", lambda: c.cf.tag_resource(
        Resource=f"arn:aws:cloudfront::{ACCOUNT}:distribution/X", Tags={"Items": [{"Key": "aws:x", "Value": "1"}]}),
        "InvalidArgument", 400)
    expect_error("CloudFront CreateDistributionWithTags with aws: key", lambda: c.cf.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": dist_config("awstags"),
                                    "Tags": {"Items": [{"Key": "aws:x", "Value": "1"}]}}), "InvalidArgument", 400)
    expect_ok("CloudFront plain tag", lambda: c.cf.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": dist_config("plaintags"),
                                    "Tags": {"Items": [{"Key": "x", "Value": "1"}]}}))
    before = len(c.acm.list_certificates()["CertificateSummaryList"])
    expect_error("ACM RequestCertificate with aws: key", lambda: request_cert(
        c, "tags.selftest.example", Tags=[{"Key": "aws:x", "Value": "1"}]), "InvalidTagException", 400)
    check("no certificate created", len(c.acm.list_certificates()["CertificateSummaryList"]) == before)
    arn = request_cert(c, "tags.selftest.example")
    expect_error("ACM AddTagsToCertificate with aws: key", lambda: c.acm.add_tags_to_certificate(
        CertificateArn=arn, Tags=[{"Key": "aws:x", "Value": "1"}]), "InvalidTagException", 400)


def test_acm_idempotency():
    c = Clients("AKIASELFIDEM")
    first = request_cert(c, "idem.selftest.example", IdempotencyToken="selftest1")
    check("same token, same ARN", request_cert(c, "idem.selftest.example", IdempotencyToken="selftest1") == first)
    check("same token, other tags, same ARN", request_cert(
        c, "idem.selftest.example", IdempotencyToken="selftest1", Tags=[{"Key": "k", "Value": "v"}]) == first)
    c.acm.delete_certificate(CertificateArn=first)
    again = expect_ok("same token after delete", lambda: request_cert(c, "idem.selftest.example", IdempotencyToken="selftest1"))
    check("same token after delete, same ARN", again == first, again)
    check("other token, other ARN", request_cert(c, "idem.selftest.example", IdempotencyToken="selftest2") != first)


def test_shared_validation_record():
    c = Clients("AKIASELFVALID")
    records = []
    for _ in range(2):
        arn = request_cert(c, "shared.selftest.example")
        options = c.acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
        records.append(options[0]["ResourceRecord"])
    check("same validation record for the same domain", records[0] == records[1], records)
    check("validation record name", records[0]["Name"] == f"{VALIDATION}.shared.selftest.example.", records[0])


def test_private_zone():
    c = Clients("AKIASELFPRIV")
    public = c.r53.create_hosted_zone(Name="private.selftest.example", CallerReference="selftest-pub")["HostedZone"]
    private = c.r53.create_hosted_zone(
        Name="private.selftest.example", CallerReference="selftest-priv",
        HostedZoneConfig={"PrivateZone": True, "Comment": "private"},
        VPC={"VPCRegion": "eu-west-1", "VPCId": "vpc-12345678"})["HostedZone"]
    check("two zones", public["Id"] != private["Id"])
    check("private zone is private", c.r53.get_hosted_zone(Id=private["Id"])["HostedZone"]["Config"]["PrivateZone"] is True)
    check("public zone is public", c.r53.get_hosted_zone(Id=public["Id"])["HostedZone"]["Config"]["PrivateZone"] is False)
    listed = {z["Id"]: z["Config"]["PrivateZone"] for z in c.r53.list_hosted_zones_by_name(
        DNSName="private.selftest.example")["HostedZones"] if z["Name"] == "private.selftest.example."}
    check("ListHostedZonesByName shows both with PrivateZone", listed == {public["Id"]: False, private["Id"]: True}, listed)


def change(c, zone, action, name, kind, value, ttl=60):
    record = {"Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": value}]}
    return lambda: c.r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record}]})


def test_route53_conflicts():
    c = Clients("AKIASELFR53")
    zone = c.r53.create_hosted_zone(Name="conflict.example", CallerReference="selftest-conflict")["HostedZone"]["Id"]
    expect_ok("create A", change(c, zone, "CREATE", "www.conflict.example", "A", "1.2.3.4"))
    expect_error("create existing A", change(c, zone, "CREATE", "www.conflict.example.", "A", "1.2.3.5"),
                 "InvalidChangeBatch", 400,
                 "Tried to create resource record set [name='www.conflict.example.', type='A'] but it already exists")
    records = [r for r in c.r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"]
    check("no duplicate A", len(records) == 1, records)
    expect_ok("upsert existing A", change(c, zone, "UPSERT", "www.conflict.example", "A", "1.2.3.6"))
    expect_ok("AAAA next to A", change(c, zone, "CREATE", "www.conflict.example", "AAAA", "::1"))
    expect_error("CNAME where an A is", change(c, zone, "UPSERT", "www.conflict.example", "CNAME", "x.example.org"),
                 "InvalidChangeBatch", 400,
                 "RRSet of type CNAME with DNS name www.conflict.example. is not permitted because a conflicting "
                 "RRSet of type A with the same DNS name already exists in zone conflict.example.")
    expect_ok("create CNAME", change(c, zone, "CREATE", "cdn.conflict.example", "CNAME", "x.example.org"))
    expect_ok("upsert CNAME over CNAME", change(c, zone, "UPSERT", "cdn.conflict.example", "CNAME", "y.example.org"))
    expect_error("A where a CNAME is", change(c, zone, "UPSERT", "cdn.conflict.example", "A", "1.2.3.4"),
                 "InvalidChangeBatch", 400,
                 "RRSet of type A with DNS name cdn.conflict.example. is not permitted because a conflicting "
                 "RRSet of type CNAME with the same DNS name already exists in zone conflict.example.")
    expect_error("TXT where a CNAME is", change(c, zone, "CREATE", "cdn.conflict.example", "TXT", '"x"'),
                 "InvalidChangeBatch", 400, "conflicting RRSet of type CNAME")
    expect_error("delete missing (existing patch)", change(c, zone, "DELETE", "nothere.conflict.example", "A", "1.2.3.4"),
                 "InvalidChangeBatch", 400, "but it was not found")
    swap = {"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": {"Name": "cdn.conflict.example.", "Type": "CNAME", "TTL": 60,
                                                    "ResourceRecords": [{"Value": "y.example.org"}]}},
        {"Action": "CREATE", "ResourceRecordSet": {"Name": "cdn.conflict.example.", "Type": "A", "TTL": 60,
                                                    "ResourceRecords": [{"Value": "1.2.3.4"}]}}]}
    expect_ok("one batch replacing a CNAME with an A",
              lambda: c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=swap))
    expect_ok("apex TXT", change(c, zone, "UPSERT", "conflict.example", "TXT", '"v=spf1 -all"'))


def test_fresh_certificate_seconds():
    c = Clients("AKIASELFFRESH", fresh_certificate_seconds=2)
    message = "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid"
    arn = issued_cert(c, "fresh.selftest.example")
    issued = time.time()
    expect_error("create with a certificate issued moments ago", lambda: create_dist(c, "fresh1", cert=arn),
                 "InvalidViewerCertificate", 400, message)
    time.sleep(max(0, issued + 2.1 - time.time()))
    dist = expect_ok("create once the certificate settled", lambda: create_dist(c, "fresh1", cert=arn))
    # UpdateDistribution: the config comes back from GetDistributionConfig.
    newer = issued_cert(c, "fresh2.selftest.example")
    issued = time.time()
    got = c.cf.get_distribution_config(Id=dist)
    check("stored ViewerCertificate names the certificate",
          got["DistributionConfig"]["ViewerCertificate"].get("ACMCertificateArn") == arn, got["DistributionConfig"]["ViewerCertificate"])
    config = got["DistributionConfig"]
    config["ViewerCertificate"]["ACMCertificateArn"] = newer
    expect_error("update to a certificate issued moments ago",
                 lambda: c.cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=config),
                 "InvalidViewerCertificate", 400, message)
    time.sleep(max(0, issued + 2.1 - time.time()))
    expect_ok("update once settled", lambda: c.cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=config))
    got = c.cf.get_distribution_config(Id=dist)
    expect_ok("update sending the stored config back",
              lambda: c.cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=got["DistributionConfig"]))
    # Always on, whatever the knob.
    d = Clients("AKIASELFFRESH0")
    missing = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000"
    expect_error("certificate that does not exist", lambda: create_dist(d, "fresh-missing", cert=missing),
                 "InvalidViewerCertificate", 400, message)
    pending = request_cert(d, "pending.selftest.example")
    expect_error("certificate not issued", lambda: create_dist(d, "fresh-pending", cert=pending),
                 "InvalidViewerCertificate", 400, message)
    other_region = arn.replace("us-east-1", "eu-west-1")
    expect_error("certificate outside us-east-1", lambda: create_dist(d, "fresh-region", cert=other_region),
                 "InvalidViewerCertificate", 400, message)
    got = d.cf.get_distribution_config(Id=dist)
    config = got["DistributionConfig"]
    config["ViewerCertificate"]["ACMCertificateArn"] = pending
    expect_error("update to a certificate not issued",
                 lambda: d.cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=config),
                 "InvalidViewerCertificate", 400, message)
    expect_ok("an issued certificate at once by default", lambda: create_dist(d, "fresh-ok", cert=arn))
    expect_ok("no certificate at all", lambda: create_dist(d, "fresh-none"))


def test_new_bucket_seconds():
    c = Clients("AKIASELFNEWB", new_bucket_seconds=2)
    bucket(c, "selftest-newbucket")
    born = time.time()
    expect_error("GetBucketTagging on a new bucket", lambda: c.s3.get_bucket_tagging(Bucket="selftest-newbucket"),
                 "NoSuchBucket", 404)
    expect_error("PutBucketPolicy on a new bucket", lambda: c.s3.put_bucket_policy(
        Bucket="selftest-newbucket", Policy=json.dumps({"Version": "2012-10-17", "Statement": []})), "NoSuchBucket", 404)
    expect_error("PutBucketEncryption on a new bucket", lambda: c.s3.put_bucket_encryption(
        Bucket="selftest-newbucket", ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}), "NoSuchBucket", 404)
    expect_error("PutPublicAccessBlock on a new bucket", lambda: c.s3.put_public_access_block(
        Bucket="selftest-newbucket", PublicAccessBlockConfiguration={"BlockPublicAcls": True}), "NoSuchBucket", 404)
    expect_error("PutBucketOwnershipControls on a new bucket", lambda: c.s3.put_bucket_ownership_controls(
        Bucket="selftest-newbucket", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
        "NoSuchBucket", 404)
    expect_error("GetBucketCors on a new bucket", lambda: c.s3.get_bucket_cors(Bucket="selftest-newbucket"), "NoSuchBucket", 404)
    expect_error("GetBucketVersioning on a new bucket", lambda: c.s3.get_bucket_versioning(Bucket="selftest-newbucket"),
                 "NoSuchBucket", 404)
    expect_ok("HeadBucket on a new bucket", lambda: c.s3.head_bucket(Bucket="selftest-newbucket"))
    expect_ok("ListObjectsV2 on a new bucket", lambda: c.s3.list_objects_v2(Bucket="selftest-newbucket"))
    expect_ok("PutObject on a new bucket", lambda: c.s3.put_object(Bucket="selftest-newbucket", Key="k", Body=b"x"))
    other = Clients("AKIASELFNEWB0")
    expect_error("another key sees the window too (it is the bucket's)",
                 lambda: other.s3.get_bucket_tagging(Bucket="selftest-newbucket"), "NoSuchBucket", 404)
    time.sleep(max(0, born + 2.1 - time.time()))
    expect_ok("PutBucketEncryption after the window", lambda: c.s3.put_bucket_encryption(
        Bucket="selftest-newbucket", ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}))
    bucket(other, "selftest-newbucket0")
    expect_ok("a bucket made by a key without the knob", lambda: other.s3.put_bucket_tagging(
        Bucket="selftest-newbucket0", Tagging=tagset({"a": "1"})))


def policy(*principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "s3:*",
        "Resource": ["arn:aws:s3:::selftest-policy", "arn:aws:s3:::selftest-policy/*"]}]})


def test_principals():
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    c = Clients("AKIASELFPRIN", check_principals=True)
    bucket(c, "selftest-policy")
    role = c.iam.create_role(RoleName="selftest-deployer", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    user = c.iam.create_user(UserName="selftest-user")["User"]["Arn"]
    missing = f"arn:aws:iam::{ACCOUNT}:role/selftest-nobody"
    expect_error("missing role", lambda: c.s3.put_bucket_policy(Bucket="selftest-policy", Policy=policy(role, missing)),
                 "MalformedPolicy", 400, "Invalid principal in policy")
    expect_error("missing user", lambda: c.s3.put_bucket_policy(
        Bucket="selftest-policy", Policy=policy(f"arn:aws:iam::{ACCOUNT}:user/selftest-nobody")),
        "MalformedPolicy", 400, "Invalid principal in policy")
    expect_ok("existing role, user and root", lambda: c.s3.put_bucket_policy(
        Bucket="selftest-policy", Policy=policy(role, user, f"arn:aws:iam::{ACCOUNT}:root")))
    expect_ok("root alone (a string)", lambda: c.s3.put_bucket_policy(Bucket="selftest-policy", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::selftest-policy/*"}})))
    d = Clients("AKIASELFPRIN0")
    expect_ok("missing role accepted by default", lambda: d.s3.put_bucket_policy(Bucket="selftest-policy", Policy=policy(missing)))
    e = Clients("AKIASELFPROP", iam_propagation_seconds=2)
    fresh = e.iam.create_role(RoleName="selftest-fresh", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    born = time.time()
    expect_error("role created moments ago", lambda: e.s3.put_bucket_policy(Bucket="selftest-policy", Policy=policy(fresh)),
                 "MalformedPolicy", 400, "Invalid principal in policy")
    expect_ok("missing role not checked without check_principals",
              lambda: e.s3.put_bucket_policy(Bucket="selftest-policy", Policy=policy(missing)))
    expect_ok("root is never refused", lambda: e.s3.put_bucket_policy(
        Bucket="selftest-policy", Policy=policy(f"arn:aws:iam::{ACCOUNT}:root")))
    time.sleep(max(0, born + 2.1 - time.time()))
    expect_ok("roles once IAM propagated", lambda: e.s3.put_bucket_policy(Bucket="selftest-policy", Policy=policy(fresh, role)))


def test_certificate_status():
    c = Clients("AKIASELFSTATUS")
    failed = request_cert(c, "failed.selftest.example")
    status, _ = control("/certificate-status", {"arn": failed, "status": "FAILED"})
    check("certificate-status answers 200", status == 200)
    # Its validation record appears, yet it stays FAILED.
    issued_arn = issued_cert(c, "failed.selftest.example")
    time.sleep(1.2)
    check("FAILED stays FAILED", c.acm.describe_certificate(CertificateArn=failed)["Certificate"]["Status"] == "FAILED")
    for status_name in ("VALIDATION_TIMED_OUT", "EXPIRED", "INACTIVE", "REVOKED"):
        arn = issued_cert(c, f"{status_name.lower().replace('_', '-')}.selftest.example")
        control("/certificate-status", {"arn": arn, "status": status_name})
        got = c.acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
        check(f"status {status_name}", got == status_name, got)
        if status_name == "EXPIRED":
            expect_error("a distribution refuses an EXPIRED certificate",
                         lambda: create_dist(c, "expired", cert=arn), "InvalidViewerCertificate", 400)
    listed = {x["CertificateArn"]: x["Status"] for x in c.acm.list_certificates()["CertificateSummaryList"]}
    check("ListCertificates without filter shows every status",
          {"FAILED", "VALIDATION_TIMED_OUT", "EXPIRED", "INACTIVE", "REVOKED", "ISSUED", "PENDING_VALIDATION"} <= set(listed.values()),
          set(listed.values()))
    filtered = {x["Status"] for x in c.acm.list_certificates(
        CertificateStatuses=["ISSUED", "PENDING_VALIDATION"])["CertificateSummaryList"]}
    check("ListCertificates filter", filtered == {"ISSUED", "PENDING_VALIDATION"}, filtered)
    check("filtered list has the issued one", issued_arn in {x["CertificateArn"] for x in c.acm.list_certificates(
        CertificateStatuses=["ISSUED"])["CertificateSummaryList"]})
    status, _ = control("/certificate-status", {"arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/nope", "status": "FAILED"})
    check("certificate-status of a missing certificate is 404", status == 404)


def test_ignore_create_bucket_tags():
    c = Clients("AKIASELFIGNORE", ignore_create_bucket_tags=True)
    bucket(c, "selftest-ignoretags", {"a": "1"})
    expect_error("tags ignored", lambda: c.s3.get_bucket_tagging(Bucket="selftest-ignoretags"), "NoSuchTagSet", 404)
    d = Clients("AKIASELFIGNORE0")
    bucket(d, "selftest-keeptags", {"a": "1"})
    got = d.s3.get_bucket_tagging(Bucket="selftest-keeptags")["TagSet"]
    check("tags applied by default", got == [{"Key": "a", "Value": "1"}], got)


def test_deny():
    c = Clients("AKIASELFDENY", deny=["s3:TagResource", "cloudfront:ListDistributions"])
    expect_error("CreateBucket with tags without s3:TagResource",
                 lambda: bucket(c, "selftest-denied", {"a": "1"}), "AccessDenied", 403,
                 'User: arn:aws:iam::123456789012:user/test is not authorized to perform: s3:TagResource on resource: '
                 '"arn:aws:s3:::selftest-denied" because no identity-based policy allows the s3:TagResource action')
    check("nothing created", error_of(lambda: c.s3.head_bucket(Bucket="selftest-denied")) is not None)
    expect_ok("CreateBucket without tags", lambda: bucket(c, "selftest-denied"))
    expect_error("a denied CloudFront action", lambda: c.cf.list_distributions(), "AccessDenied", 403,
                 "is not authorized to perform: cloudfront:ListDistributions")
    e = Clients("AKIASELFDENY2", deny=["s3:PutBucketPolicy", "acm:ListCertificates"])
    expect_error("a denied S3 action", lambda: e.s3.put_bucket_policy(Bucket="selftest-denied", Policy=policy()),
                 "AccessDenied", 403, "s3:PutBucketPolicy")
    expect_error("a denied ACM action", lambda: e.acm.list_certificates(), "AccessDeniedException", 400,
                 "acm:ListCertificates")
    d = Clients("AKIASELFDENY0")
    expect_ok("allowed by default", lambda: bucket(d, "selftest-allowed", {"a": "1"}))


def test_list_distributions_and_zones():
    c = Clients("AKIASELFLIST")
    create_dist(c, "listed", bucket_name="selftest-listed", aliases=["listed.selftest.example"])
    items = c.cf.list_distributions()["DistributionList"]["Items"]
    mine = [d for d in items if d["Origins"]["Items"][0]["DomainName"] == "selftest-listed.s3.eu-west-1.amazonaws.com"]
    check("ListDistributions summary has Origins", len(mine) == 1)
    check("ListDistributions summary has Aliases", mine and mine[0]["Aliases"].get("Items") == ["listed.selftest.example"])
    zone = c.r53.create_hosted_zone(Name="gone.example", CallerReference="selftest-gone")["HostedZone"]["Id"]
    change(c, zone, "CREATE", "www.gone.example", "A", "1.2.3.4")()
    expect_error("DeleteHostedZone of a non-empty zone", lambda: c.r53.delete_hosted_zone(Id=zone), "HostedZoneNotEmpty", 400)
    status, _ = control("/delete-zone", {"id": zone})
    check("delete-zone answers 200", status == 200)
    expect_error("zone gone", lambda: c.r53.get_hosted_zone(Id=zone), "NoSuchHostedZone", 404)
    status, _ = control("/delete-zone", {"id": zone.split("/")[-1]})
    check("delete-zone of a missing zone is 404", status == 404)


# --------------------------------------------------------------------------


def setup(key="AKIASELFSETUP"):
    """The origin bucket and validation zone the tests' distributions and certificates use."""
    c = Clients(key)
    c.s3.create_bucket(Bucket="selftest-origin", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    zone_id(c, ZONE)


if __name__ == "__main__":
    run("cdnctl-emulator-selftest-", globals(), setup)
