"""Self-test of cfn.py: the CloudFormation subset, with the seed CDK stack.

    .emulator/venv/bin/python tests/emulator/takeover_selftest.py

Starts the emulator as the other self-tests do, deploys the fixture's CDK
template (seed_stack.py) with boto3, and checks what CloudFormation does with
it: real resources that the edge serves, change sets with their Changes,
DeletionPolicy / UpdateReplacePolicy, updates, deletion that keeps only what
is retained (so `cdk destroy` is the outage it is on AWS), rollbacks, drift
and the control endpoints. Prints "N passed, M failed".
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

import seed_stack  # noqa: E402
from edge_selftest import get  # noqa: E402
from selftest import issued_cert, zone_id  # noqa: E402
from selftest_kit import INFO, Clients, check, control, error_of, expect_error, expect_ok, run  # noqa: E402

REGION = "eu-west-1"
ZONE = "selftest.example"  # also where selftest.issued_cert validates
ALIAS_ZONE = "Z2FDTNDATAQYW2"


def client(c, service, region=REGION):
    return boto3.client(service, region_name=region, endpoint_url=INFO["endpoint"], verify=INFO["ca_bundle"],
                        aws_access_key_id=c.key, aws_secret_access_key="secret",
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def bootstrap(c, version="21", region=REGION):
    client(c, "ssm", region).put_parameter(Name=seed_stack.BOOTSTRAP_PARAMETER, Value=version, Type="String",
                                           Overwrite=True)


def wait(cfn, stack, timeout=60):
    deadline = time.time() + timeout
    while True:
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not s["StackStatus"].endswith("_IN_PROGRESS") or time.time() > deadline:
            return s


def seed(c, label, files=(("index.html", b"<h1>seed</h1>"), ("app.css", b"body{}"))):
    """Deploys the seed stack `label` (its own bucket, name and certificate) with
    CreateStack; returns (cfn client, stack id, body, domain, bucket, zone)."""
    domain, bucket = f"{label}.{ZONE}", f"takeover-{label}"
    zone = zone_id(c, ZONE).replace("/hostedzone/", "")
    body = seed_stack.template_body(bucket, zone, issued_cert(c, domain), domain)
    cfn = client(c, "cloudformation")
    stack_id = cfn.create_stack(StackName=f"Seed-{label}", TemplateBody=body)["StackId"]
    s = wait(cfn, stack_id)
    check(f"{label}: CREATE_COMPLETE", s["StackStatus"] == "CREATE_COMPLETE", s)
    for key, content in files:
        c.s3.put_object(Bucket=bucket, Key=key, Body=content, ContentType="text/html")
    return cfn, stack_id, body, domain, bucket, zone


def physical(cfn, stack):
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}


def records(c, zone, name):
    sets = c.r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {r["Type"]: r for r in sets if r["Name"] == name + "."}


def changes_of(cfn, stack, name):
    cs = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
    return cs, {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in cs["Changes"]}


def with_policies(body, deletion="Retain", replace="Retain", drop=()):
    template = json.loads(body)
    for logical_id in drop:
        template["Resources"].pop(logical_id)
    for decl in template["Resources"].values():
        decl["DeletionPolicy"], decl["UpdateReplacePolicy"] = deletion, replace
    return json.dumps(template)


BUCKET, POLICY, OAI, DIST, A, AAAA = ("CdnBucketD3E1E7F8", "CdnBucketPolicyF82E0DBE",
                                      "CdnDistributionOrigin1S3Origin072B1ABC", "CdnDistributionA3885507",
                                      "CdnARecordB2304761", "CdnAaaaRecordE26603DD")


# --------------------------------------------------------------------------


def test_fixture_copy_matches_shared():
    check("tests/it/data has the fixture", os.path.exists(seed_stack.FIXTURE))
    if os.path.exists(seed_stack.SHARED):
        with open(seed_stack.FIXTURE) as a, open(seed_stack.SHARED) as b:
            check("the copy matches ../shared/fixtures", json.load(a) == json.load(b))


def test_deploy_the_seed_stack():
    c = Clients("AKIATAKEDEPLOY")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "deploy")
    s = cfn.describe_stacks(StackName="Seed-deploy")["Stacks"][0]
    check("DescribeStacks by name", s["StackId"] == stack_id and s["StackName"] == "Seed-deploy", s)
    param = s["Parameters"][0]
    check("BootstrapVersion: the SSM name, resolved", param["ParameterKey"] == "BootstrapVersion"
          and param["ParameterValue"] == seed_stack.BOOTSTRAP_PARAMETER and param["ResolvedValue"] == "21", param)
    check("drift not checked yet", s["DriftInformation"]["StackDriftStatus"] == "NOT_CHECKED", s)
    got = cfn.get_template(StackName="Seed-deploy")  # botocore decodes a JSON body
    check("GetTemplate: the body as sent", got["TemplateBody"] == json.loads(body)
          and got["StagesAvailable"] == ["Original", "Processed"], got)
    ids = physical(cfn, "Seed-deploy")
    check("six resources, all CREATE_COMPLETE", len(ids) == 6 and all(
        r["ResourceStatus"] == "CREATE_COMPLETE" for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]),
        ids)
    check("the bucket's physical id is its name", ids[BUCKET] == bucket, ids)
    check("the records' physical id is the name", ids[A] == domain and ids[AAAA] == domain, ids)
    one = cfn.describe_stack_resources(StackName="Seed-deploy", LogicalResourceId=DIST)["StackResources"]
    check("DescribeStackResources by logical id", [r["LogicalResourceId"] for r in one] == [DIST], one)
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=ids[DIST])["StackResources"]
    check("DescribeStackResources by physical id", by_physical[0]["StackId"] == stack_id, by_physical)

    # Real resources: S3, CloudFront, the OAI, Route 53.
    check("bucket CORS", c.s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["MaxAgeSeconds"] == 300)
    block = c.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    check("bucket public access block", all(block.values()) and len(block) == 4, block)
    tags = {t["Key"]: t["Value"] for t in c.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    check("bucket carries CloudFormation's system tags", tags.get("aws:cloudformation:stack-name") == "Seed-deploy"
          and tags.get("aws:cloudformation:logical-id") == BUCKET and tags.get("aws:cloudformation:stack-id") == stack_id,
          tags)
    oai = c.cf.get_cloud_front_origin_access_identity(Id=ids[OAI])["CloudFrontOriginAccessIdentity"]
    check("the OAI exists, with the CDK's comment", oai["CloudFrontOriginAccessIdentityConfig"]["Comment"]
          == "Identity for SeedCdnStackCdnDistributionOrigin18EFCA8BB", oai)
    statements = json.loads(c.s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    check("the policy grants the deploy principals", statements[0]["Principal"]["AWS"] == [
        "arn:aws:iam::123456789012:user/deployer", "arn:aws:iam::123456789012:role/ci"], statements)
    check("the policy's OAI grant shows as the OAI's ARN", statements[1]["Principal"] == {
        "AWS": f"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {ids[OAI]}"}, statements)
    d = c.cf.get_distribution(Id=ids[DIST])["Distribution"]
    config = d["DistributionConfig"]
    origin = config["Origins"]["Items"][0]
    check("distribution: alias, OAI origin, allow-all", config["Aliases"]["Items"] == [domain]
          and origin["S3OriginConfig"]["OriginAccessIdentity"] == f"origin-access-identity/cloudfront/{ids[OAI]}"
          and origin["DomainName"] == f"{bucket}.s3.{REGION}.amazonaws.com"
          and config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "allow-all", config)
    dist_tags = {t["Key"]: t["Value"] for t in c.cf.list_tags_for_resource(Resource=d["ARN"])["Tags"]["Items"]}
    check("distribution carries the system tags", dist_tags.get("aws:cloudformation:logical-id") == DIST, dist_tags)
    rs = records(c, zone, domain)
    check("A and AAAA alias records to the distribution", set(rs) >= {"A", "AAAA"} and all(
        rs[k]["AliasTarget"]["DNSName"].rstrip(".") == d["DomainName"] and rs[k]["AliasTarget"]["HostedZoneId"]
        == ALIAS_ZONE for k in ("A", "AAAA")), rs)

    # The edge serves the stack's site, over HTTP (allow-all) and HTTPS.
    a = get(domain, "/index.html", scheme="http")
    check("edge over http: 200", a.status == 200 and a.body == b"<h1>seed</h1>", a)
    check("edge over https: 200", get(domain, "/app.css").status == 200)


def test_create_refusals():
    c = Clients("AKIATAKEREFUSE")
    zone = zone_id(c, ZONE).replace("/hostedzone/", "")
    body = seed_stack.template_body("takeover-refused", zone, "arn:aws:acm:us-east-1:123456789012:certificate/x",
                                    f"refused.{ZONE}")
    cfn = client(c, "cloudformation", "us-west-2")
    expect_error("no bootstrap parameter", lambda: cfn.create_stack(StackName="Refused", TemplateBody=body),
                 "ValidationError", 400, "Unable to fetch parameters [/cdk-bootstrap/hnb659fds/version]")
    bootstrap(c, "5", "us-west-2")
    expect_error("bootstrap version 5: the CDK's rule", lambda: cfn.create_stack(StackName="Refused", TemplateBody=body),
                 "ValidationError", 400, "CDK bootstrap stack version 6 required")
    check("nothing was created", error_of(lambda: cfn.describe_stacks(StackName="Refused")) is not None
          and "takeover-refused" not in [b["Name"] for b in c.s3.list_buckets()["Buckets"]])
    template = json.loads(body)
    template["Resources"]["Extra"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    expect_error("a resource type not modelled is refused, not ignored", lambda: cfn.create_stack(
        StackName="Refused", TemplateBody=json.dumps(template)), "ValidationError", 400, "AWS::SNS::Topic")
    expect_error("no resources", lambda: cfn.create_stack(StackName="Refused", TemplateBody='{"Resources": {}}'),
                 "ValidationError", 400, "At least one Resources member")


def test_a_stack_name_is_taken_until_deleted():
    c = Clients("AKIATAKENAME")
    cfn, stack_id, body, *_ = seed(c, "name")
    expect_error("AlreadyExistsException", lambda: cfn.create_stack(StackName="Seed-name", TemplateBody=body),
                 "AlreadyExistsException", 400)
    expect_error("UpdateStack without changes", lambda: cfn.update_stack(StackName="Seed-name", TemplateBody=body),
                 "ValidationError", 400, "No updates are to be performed.")
    expect_ok("UsePreviousTemplate with nothing new is refused the same way", lambda: error_of(
        lambda: cfn.update_stack(StackName="Seed-name", UsePreviousTemplate=True)))


def setup():
    """The CDK bootstrap's version parameter in the stacks' region, as `cdk bootstrap` leaves it."""
    bootstrap(Clients("AKIATAKESETUP"))


if __name__ == "__main__":
    run("cdnctl-takeover-selftest-", globals(), setup)
