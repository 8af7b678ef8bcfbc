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
    expect_error("UsePreviousTemplate with nothing new is refused the same way", lambda: cfn.update_stack(
        StackName="Seed-name", UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}]),
        "ValidationError", 400, "No updates are to be performed.")


def test_detach_the_stack_through_change_sets_keeps_everything():
    """AWS's documented way out: Retain everywhere, then remove, then delete."""
    c = Clients("AKIATAKEDETACH")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "detach")
    before = physical(cfn, stack_id)
    retained = with_policies(body)
    cs = cfn.create_change_set(StackName="Seed-detach", ChangeSetName="retain", TemplateBody=retained)
    check("CreateChangeSet: its id and the stack's", cs["Id"].startswith("arn:aws:cloudformation:")
          and ":changeSet/retain/" in cs["Id"] and cs["StackId"] == stack_id, cs)
    described, changes = changes_of(cfn, "Seed-detach", "retain")
    check("available", described["Status"] == "CREATE_COMPLETE" and described["ExecutionStatus"] == "AVAILABLE",
          described)
    check("the bucket (Retain already) does not change", BUCKET not in changes, list(changes))
    check("five Modify, none replacing, no PolicyAction", len(changes) == 5 and all(
        ch["Action"] == "Modify" and ch["Replacement"] == "False" and "PolicyAction" not in ch
        for ch in changes.values()), changes)
    dist = changes[DIST]
    check("Scope and Details name the policies", dist["Scope"] == ["DeletionPolicy", "UpdateReplacePolicy"]
          and {d["Target"]["Attribute"] for d in dist["Details"]} == {"DeletionPolicy", "UpdateReplacePolicy"}
          and dist["PhysicalResourceId"] == before[DIST], dist)
    listed = cfn.list_change_sets(StackName="Seed-detach")["Summaries"]
    check("ListChangeSets", [x["ChangeSetName"] for x in listed] == ["retain"], listed)
    tpl = cfn.get_template(StackName="Seed-detach", ChangeSetName="retain")["TemplateBody"]
    check("GetTemplate of the change set", tpl == json.loads(retained))
    cfn.execute_change_set(StackName="Seed-detach", ChangeSetName="retain")
    s = wait(cfn, stack_id)
    check("UPDATE_COMPLETE", s["StackStatus"] == "UPDATE_COMPLETE" and s["ChangeSetId"] == cs["Id"], s)
    executed = cfn.describe_change_set(StackName=stack_id, ChangeSetName=cs["Id"])
    check("the change set: EXECUTE_COMPLETE", executed["ExecutionStatus"] == "EXECUTE_COMPLETE", executed)
    check("same physical resources", physical(cfn, stack_id) == before)
    check("still served", get(domain, "/index.html", scheme="http").status == 200)

    # Remove all but the bucket: each Remove shows PolicyAction Retain.
    only_bucket = with_policies(body, drop=(POLICY, OAI, DIST, A, AAAA))
    cfn.create_change_set(StackName="Seed-detach", ChangeSetName="remove", TemplateBody=only_bucket)
    _, changes = changes_of(cfn, "Seed-detach", "remove")
    check("five Remove, each PolicyAction Retain", len(changes) == 5 and all(
        ch["Action"] == "Remove" and ch["PolicyAction"] == "Retain" for ch in changes.values()), changes)
    cfn.execute_change_set(StackName="Seed-detach", ChangeSetName="remove")
    check("UPDATE_COMPLETE", wait(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE")
    check("the stack holds only the bucket", list(physical(cfn, stack_id)) == [BUCKET])
    cfn.delete_stack(StackName="Seed-detach")
    s = wait(cfn, stack_id)
    check("DELETE_COMPLETE", s["StackStatus"] == "DELETE_COMPLETE" and "DeletionTime" in s, s)
    expect_error("a deleted stack is not found by name", lambda: cfn.describe_stacks(StackName="Seed-detach"),
                 "ValidationError", 400, "does not exist")
    skipped = [e for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
               if e["LogicalResourceId"] == BUCKET and e["ResourceStatus"] == "DELETE_SKIPPED"]
    check("the bucket's DELETE_SKIPPED event", len(skipped) == 1, skipped)

    # Everything is still there, with the same ids, and serves.
    check("bucket kept", c.s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200)
    check("distribution kept", c.cf.get_distribution(Id=before[DIST])["Distribution"]["Id"] == before[DIST])
    check("OAI kept", c.cf.get_cloud_front_origin_access_identity(Id=before[OAI])["CloudFrontOriginAccessIdentity"])
    check("records kept", set(records(c, zone, domain)) >= {"A", "AAAA"})
    check("policy kept", "Origin Access Identity" in c.s3.get_bucket_policy(Bucket=bucket)["Policy"])
    check("served throughout", get(domain, "/app.css").status == 200)
    tags = {t["Key"] for t in c.s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    check("the retained bucket keeps CloudFormation's tags", "aws:cloudformation:stack-name" in tags, tags)


def test_cdk_destroy_is_an_outage():
    """DeleteStack of the seed stack as it is: only the bucket stays."""
    c = Clients("AKIATAKEDESTROY")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "destroy")
    before = physical(cfn, stack_id)
    check("served before", get(domain, "/index.html", scheme="http").status == 200)
    cfn.delete_stack(StackName="Seed-destroy")
    s = wait(cfn, stack_id)
    check("DELETE_COMPLETE", s["StackStatus"] == "DELETE_COMPLETE", s)
    check("the bucket is retained, with its files", c.s3.get_object(Bucket=bucket, Key="index.html")["Body"].read()
          == b"<h1>seed</h1>")
    expect_error("the distribution is deleted", lambda: c.cf.get_distribution(Id=before[DIST]), "NoSuchDistribution", 404)
    expect_error("the OAI is deleted", lambda: c.cf.get_cloud_front_origin_access_identity(Id=before[OAI]),
                 "NoSuchCloudFrontOriginAccessIdentity", 404)
    expect_error("the policy is deleted", lambda: c.s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy", 404)
    check("the records are deleted", not set(records(c, zone, domain)) & {"A", "AAAA"})
    a = get(domain, "/app.css", scheme="http")
    check("the site is down: CloudFront's 403 for an unknown name", a.status == 403 and b"could not be satisfied"
          in a.body, a)
    order = [e["LogicalResourceId"] for e in reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"])
             if e["ResourceStatus"] == "DELETE_COMPLETE" and e["LogicalResourceId"] != "Seed-destroy"]
    check("deleted in reverse dependency order: records, then distribution, then OAI",
          order.index(A) < order.index(DIST) and order.index(AAAA) < order.index(DIST)
          and order.index(DIST) < order.index(OAI) and order.index(POLICY) < order.index(OAI), order)


def test_removing_without_retain_deletes():
    c = Clients("AKIATAKEREMOVE")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "remove")
    template = json.loads(body)
    for logical_id in (A, AAAA):
        template["Resources"].pop(logical_id)
    cfn.create_change_set(StackName=stack_id, ChangeSetName="drop-records", TemplateBody=json.dumps(template))
    _, changes = changes_of(cfn, stack_id, "drop-records")
    check("Remove with PolicyAction Delete", set(changes) == {A, AAAA} and all(
        ch["Action"] == "Remove" and ch["PolicyAction"] == "Delete" for ch in changes.values()), changes)
    cfn.execute_change_set(StackName=stack_id, ChangeSetName="drop-records")
    check("UPDATE_COMPLETE", wait(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE")
    check("the records are gone", not set(records(c, zone, domain)) & {"A", "AAAA"})


def test_replacement_and_policy_actions():
    c = Clients("AKIATAKEREPLACE")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "replace")
    template = json.loads(body)
    template["Resources"][BUCKET]["Properties"]["BucketName"] = "takeover-replace-2"
    template["Resources"][A]["Properties"]["Name"] = f"www.replace.{ZONE}."
    cfn.create_change_set(StackName=stack_id, ChangeSetName="rename", TemplateBody=json.dumps(template))
    _, changes = changes_of(cfn, stack_id, "rename")
    check("a new BucketName: Replacement True, ReplaceAndRetain (UpdateReplacePolicy Retain)",
          changes[BUCKET]["Replacement"] == "True" and changes[BUCKET]["PolicyAction"] == "ReplaceAndRetain", changes)
    check("the policy's Bucket refers to it: Conditional, Dynamic", changes[POLICY]["Replacement"] == "Conditional"
          and changes[POLICY]["Details"][0]["Evaluation"] == "Dynamic"
          and changes[POLICY]["PolicyAction"] == "ReplaceAndDelete", changes.get(POLICY))
    check("the distribution follows without replacement", changes[DIST]["Replacement"] == "False", changes.get(DIST))
    check("a renamed record: Replacement True, ReplaceAndDelete", changes[A]["Replacement"] == "True"
          and changes[A]["PolicyAction"] == "ReplaceAndDelete", changes.get(A))
    cfn.delete_change_set(StackName=stack_id, ChangeSetName="rename")
    expect_error("a deleted change set", lambda: cfn.describe_change_set(StackName=stack_id, ChangeSetName="rename"),
                 "ChangeSetNotFound", 404)
    # Executing a record rename: the new record made, the old one deleted in cleanup.
    template = json.loads(body)
    template["Resources"][A]["Properties"]["Name"] = f"www.replace.{ZONE}."
    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(template))
    check("UPDATE_COMPLETE", wait(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE")
    check("the new A record", "A" in records(c, zone, f"www.replace.{ZONE}"))
    check("the old A record deleted, the AAAA kept", set(records(c, zone, domain)) & {"A", "AAAA"} == {"AAAA"})
    statuses = [e["ResourceStatus"] for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
                if e["LogicalResourceId"] == "Seed-replace"]
    check("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS came before UPDATE_COMPLETE", statuses[:2] == [
        "UPDATE_COMPLETE", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"], statuses)


def test_change_set_without_changes_fails():
    c = Clients("AKIATAKENOCHANGE")
    cfn, stack_id, body, *_ = seed(c, "nochange")
    cfn.create_change_set(StackName=stack_id, ChangeSetName="same", TemplateBody=body)
    cs = cfn.describe_change_set(StackName=stack_id, ChangeSetName="same")
    check("FAILED, UNAVAILABLE, with AWS's reason", cs["Status"] == "FAILED" and cs["ExecutionStatus"] == "UNAVAILABLE"
          and cs["StatusReason"].startswith("The submitted information didn't contain changes.") and not cs["Changes"], cs)
    expect_error("cannot be executed", lambda: cfn.execute_change_set(StackName=stack_id, ChangeSetName="same"),
                 "InvalidChangeSetStatus", 400)


def test_failed_create_rolls_back_keeping_the_retained_bucket():
    c = Clients("AKIATAKEROLLBACK")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "first")
    # A second stack for the same name: CloudFront refuses the alias (CNAMEAlreadyExists).
    clash = body.replace("takeover-first", "takeover-clash")
    second = cfn.create_stack(StackName="Seed-clash", TemplateBody=clash)["StackId"]
    s = wait(cfn, second)
    events = cfn.describe_stack_events(StackName=second)["StackEvents"]
    rollback = [e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"]
    check("ROLLBACK_COMPLETE, the rollback naming the distribution", s["StackStatus"] == "ROLLBACK_COMPLETE"
          and DIST in rollback[0]["ResourceStatusReason"], (s, rollback))
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    check("the distribution's CREATE_FAILED says why", failed and "CNAMEAlreadyExists" in failed[0]["ResourceStatusReason"],
          failed)
    check("its bucket (Retain) stays", c.s3.head_bucket(Bucket="takeover-clash"))
    expect_error("its policy went with the rollback", lambda: c.s3.get_bucket_policy(Bucket="takeover-clash"),
                 "NoSuchBucketPolicy", 404)
    expect_error("a rolled-back stack cannot be updated", lambda: cfn.update_stack(
        StackName=second, TemplateBody=with_policies(clash)), "ValidationError", 400, "ROLLBACK_COMPLETE")
    check("the first stack still serves", get(domain, "/index.html").status == 200)


def test_delete_failed_then_retain_resources():
    c = Clients("AKIATAKEDELFAIL")
    bootstrap(c)
    template = {"Resources": {"Plain": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "takeover-plain"}}}}
    cfn = client(c, "cloudformation")
    stack_id = cfn.create_stack(StackName="Plain", TemplateBody=json.dumps(template))["StackId"]
    check("created", wait(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE")
    c.s3.put_object(Bucket="takeover-plain", Key="f", Body=b"x")
    expect_error("RetainResources only from DELETE_FAILED", lambda: cfn.delete_stack(
        StackName=stack_id, RetainResources=["Plain"]), "ValidationError", 400, "DELETE_FAILED")
    cfn.delete_stack(StackName=stack_id)
    s = wait(cfn, stack_id)
    check("a bucket with objects: DELETE_FAILED", s["StackStatus"] == "DELETE_FAILED" and "Plain" in s["StackStatusReason"],
          s)
    cfn.delete_stack(StackName=stack_id, RetainResources=["Plain"])
    check("retained on the second try: DELETE_COMPLETE", wait(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE")
    check("the bucket and its object stay", c.s3.get_object(Bucket="takeover-plain", Key="f")["Body"].read() == b"x")
    expect_ok("deleting a stack that is gone succeeds", lambda: cfn.delete_stack(StackName="Plain"))


def test_drift_detection_and_control_endpoints():
    c = Clients("AKIATAKEDRIFT")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "drift")
    detection = cfn.detect_stack_drift(StackName=stack_id)["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    check("in sync", status["DetectionStatus"] == "DETECTION_COMPLETE" and status["StackDriftStatus"] == "IN_SYNC"
          and status["DriftedStackResourceCount"] == 0, status)
    check("DescribeStacks: IN_SYNC", cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["DriftInformation"]
          ["StackDriftStatus"] == "IN_SYNC")
    # cdnctl's kind of change, made outside the stack: drift on the distribution.
    got = c.cf.get_distribution_config(Id=physical(cfn, stack_id)[DIST])
    config = got["DistributionConfig"]
    config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = "redirect-to-https"
    c.cf.update_distribution(Id=physical(cfn, stack_id)[DIST], DistributionConfig=config, IfMatch=got["ETag"])
    check("control: declare drift", control("/cfn/drift", {"stack": "Seed-drift", "resource": OAI,
                                                            "status": "MODIFIED"})[0] == 200)
    check("control: unknown resource is 404", control("/cfn/drift", {"stack": "Seed-drift", "resource": "Nope",
                                                                       "status": "MODIFIED"})[0] == 404)
    a = records(c, zone, domain)["A"]
    c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "DELETE", "ResourceRecordSet": a}]})
    detection = cfn.detect_stack_drift(StackName=stack_id)["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    check("drifted: three resources", status["StackDriftStatus"] == "DRIFTED" and status["DriftedStackResourceCount"] == 3,
          status)
    found = {d["LogicalResourceId"]: d for d in cfn.describe_stack_resource_drifts(StackName=stack_id)["StackResourceDrifts"]}
    drifts = {k: d["StackResourceDriftStatus"] for k, d in found.items()}
    check("MODIFIED as found and as declared, DELETED as found", drifts[DIST] == "MODIFIED" and drifts[OAI] == "MODIFIED"
          and drifts[A] == "DELETED" and drifts[BUCKET] == drifts[POLICY] == drifts[AAAA] == "IN_SYNC", drifts)
    check("the distribution's PropertyDifferences", found[DIST]["PropertyDifferences"] == [{
        "PropertyPath": "/DistributionConfig/DefaultCacheBehavior/ViewerProtocolPolicy", "ExpectedValue": '"allow-all"',
        "ActualValue": '"redirect-to-https"', "DifferenceType": "NOT_EQUAL"}], found[DIST])
    only = cfn.describe_stack_resource_drifts(StackName=stack_id, StackResourceDriftStatusFilters=["DELETED"])
    check("filtered", [d["LogicalResourceId"] for d in only["StackResourceDrifts"]] == [A], only)
    resource = cfn.describe_stack_resources(StackName=stack_id, LogicalResourceId=A)["StackResources"][0]
    check("DescribeStackResources shows the drift", resource["DriftInformation"]["StackResourceDriftStatus"] == "DELETED",
          resource)

    check("control: set a status", control("/cfn/stack-status", {"stack": "Seed-drift", "status":
                                                                   "UPDATE_ROLLBACK_FAILED", "reason": "test"})[0] == 200)
    s = cfn.describe_stacks(StackName="Seed-drift")["Stacks"][0]
    check("the status as set", s["StackStatus"] == "UPDATE_ROLLBACK_FAILED" and s["StackStatusReason"] == "test", s)
    expect_error("such a stack cannot be updated", lambda: cfn.update_stack(
        StackName=stack_id, TemplateBody=with_policies(body)), "ValidationError", 400,
        "is in UPDATE_ROLLBACK_FAILED state and can not be updated")
    check("control: unknown stack is 404", control("/cfn/stack-status", {"stack": "Nope", "status": "X"})[0] == 404)


def test_failed_update_rolls_back():
    c = Clients("AKIATAKEUPDFAIL")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "updfail")
    before = physical(cfn, stack_id)
    template = json.loads(with_policies(body))
    template["Resources"][DIST]["Properties"]["DistributionConfig"]["ViewerCertificate"]["AcmCertificateArn"] = (
        "arn:aws:acm:us-east-1:123456789012:certificate/missing")
    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(template))
    s = wait(cfn, stack_id)
    check("UPDATE_ROLLBACK_COMPLETE", s["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", s)
    failed = [e for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
              if e["ResourceStatus"] == "UPDATE_FAILED"]
    check("the distribution's UPDATE_FAILED: InvalidViewerCertificate", failed and failed[0]["LogicalResourceId"] == DIST
          and "InvalidViewerCertificate" in failed[0]["ResourceStatusReason"], failed)
    check("the template is the old one", cfn.get_template(StackName=stack_id)["TemplateBody"] == json.loads(body))
    check("same resources", physical(cfn, stack_id) == before)
    cfn.create_change_set(StackName=stack_id, ChangeSetName="retain", TemplateBody=with_policies(body))
    _, changes = changes_of(cfn, stack_id, "retain")
    check("the policies were rolled back too: five Modify again", len(changes) == 5, changes)
    check("served", get(domain, "/index.html").status == 200)


def test_stack_seconds_keeps_operations_in_progress():
    c = Clients("AKIATAKESLOW", stack_seconds=1.5)
    cfn, stack_id, body, domain, bucket, zone = seed(c, "slow")
    cfn.update_stack(StackName=stack_id, TemplateBody=with_policies(body))
    s = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    check("UPDATE_IN_PROGRESS", s["StackStatus"] == "UPDATE_IN_PROGRESS", s)
    expect_error("no second update meanwhile", lambda: cfn.update_stack(StackName=stack_id, TemplateBody=body),
                 "ValidationError", 400, "UPDATE_IN_PROGRESS state and can not be updated")
    expect_error("no delete meanwhile", lambda: cfn.delete_stack(StackName=stack_id), "ValidationError", 400)
    check("then UPDATE_COMPLETE", wait(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE")


def test_control_seed_stack():
    c = Clients("AKIATAKECONTROL")
    domain = f"control.{ZONE}"
    zone = zone_id(c, ZONE).replace("/hostedzone/", "")
    status, answer = control("/cfn/seed-stack", {"key": c.key, "bucket": "takeover-control", "zone": zone,
                                                 "certificate": issued_cert(c, domain), "domain": domain,
                                                 "stack": "SeedControl"})
    check("seed-stack: CREATE_COMPLETE", status == 200 and answer.get("StackStatus") == "CREATE_COMPLETE", answer)
    requests = json.loads(__import__("urllib.request").request.urlopen(
        INFO["control"] + f"/requests?key={c.key}").read())
    check("the seeding is not in the client's request log", not any(r["service"] == "cloudformation" for r in requests),
          requests)
    cfn = client(c, "cloudformation")
    s = cfn.describe_stacks(StackName="SeedControl")["Stacks"][0]
    check("the stack, as CreateStack made it", s["StackId"] == answer["StackId"], s)
    check("its template", cfn.get_template(StackName="SeedControl")["TemplateBody"] == json.loads(answer["TemplateBody"]))
    c.s3.put_object(Bucket="takeover-control", Key="x.txt", Body=b"x")
    check("served", get(domain, "/x.txt").status == 200)
    status, again = control("/cfn/seed-stack", {"key": c.key, "bucket": "b", "zone": zone, "certificate": "x",
                                                "domain": domain, "stack": "SeedControl"})
    check("seed-stack: CreateStack's refusal", "already exists" in again.get("error", ""), again)


def test_plain_records_and_zone_by_name():
    c = Clients("AKIATAKETXT")
    zone = zone_id(c, ZONE).replace("/hostedzone/", "")
    template = {"Resources": {"Txt": {"Type": "AWS::Route53::RecordSet", "Properties": {
        "HostedZoneName": ZONE + ".", "Name": f"txt.{ZONE}", "Type": "TXT", "TTL": "60",
        "ResourceRecords": ['"hello"']}}}}
    cfn = client(c, "cloudformation")
    stack_id = cfn.create_stack(StackName="Txt", TemplateBody=json.dumps(template))["StackId"]
    s = wait(cfn, stack_id)
    check("created", s["StackStatus"] == "CREATE_COMPLETE", s)
    txt = records(c, zone, f"txt.{ZONE}").get("TXT", {})
    check("the TXT record", txt.get("TTL") == 60 and txt.get("ResourceRecords") == [{"Value": '"hello"'}], txt)
    template["Resources"]["Txt"]["Properties"]["TTL"] = "120"
    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(template))
    check("updated in place", wait(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE"
          and records(c, zone, f"txt.{ZONE}")["TXT"]["TTL"] == 120)
    cfn.delete_stack(StackName=stack_id)
    check("deleted", wait(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
          and "TXT" not in records(c, zone, f"txt.{ZONE}"))


def test_create_through_a_change_set():
    c = Clients("AKIATAKECREATECS")
    cfn = client(c, "cloudformation")
    template = {"Resources": {"Plain": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                                        "Properties": {"BucketName": "takeover-cs-create"}}}}
    cs = cfn.create_change_set(StackName="CsCreate", ChangeSetName="first", ChangeSetType="CREATE",
                               TemplateBody=json.dumps(template))
    s = cfn.describe_stacks(StackName="CsCreate")["Stacks"][0]
    check("REVIEW_IN_PROGRESS", s["StackStatus"] == "REVIEW_IN_PROGRESS" and s["StackId"] == cs["StackId"], s)
    _, changes = changes_of(cfn, "CsCreate", "first")
    check("one Add", list(changes) == ["Plain"] and changes["Plain"]["Action"] == "Add"
          and "Replacement" not in changes["Plain"], changes)
    check("nothing made yet", "takeover-cs-create" not in [b["Name"] for b in c.s3.list_buckets()["Buckets"]])
    cfn.execute_change_set(StackName="CsCreate", ChangeSetName="first")
    check("CREATE_COMPLETE", wait(cfn, cs["StackId"])["StackStatus"] == "CREATE_COMPLETE")
    check("the bucket", c.s3.head_bucket(Bucket="takeover-cs-create"))


def test_request_log_names_query_actions():
    c = Clients("AKIATAKELOG")
    cfn = client(c, "cloudformation")
    error_of(lambda: cfn.describe_stacks(StackName="Nope"))
    error_of(lambda: cfn.delete_stack(StackName="Nope"))
    log = json.loads(__import__("urllib.request").request.urlopen(INFO["control"] + f"/requests?key={c.key}").read())
    check("DescribeStacks is a read, DeleteStack a write, by name", [(r["op"], r["write"]) for r in log] == [
        ("DescribeStacks", False), ("DeleteStack", True)], log)
    faulty = Clients("AKIATAKEFAULT", lose_answer_of=["CreateChangeSet"])
    got = error_of(lambda: client(faulty, "cloudformation").describe_stacks())
    check("a pattern on another action does not hit DescribeStacks", got is None, got)


def test_a_record_changed_outside_the_stack_fails_its_delete():
    c = Clients("AKIATAKEUPSERT")
    cfn, stack_id, body, domain, bucket, zone = seed(c, "upsert")
    a = records(c, zone, domain)["A"]
    a["AliasTarget"]["DNSName"] = "d111111abcdef8.cloudfront.net."
    c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT",
                                                                                   "ResourceRecordSet": a}]})
    cfn.delete_stack(StackName=stack_id)
    s = wait(cfn, stack_id)
    check("DELETE_FAILED, naming the A record", s["StackStatus"] == "DELETE_FAILED" and A in s["StackStatusReason"]
          and AAAA not in s["StackStatusReason"], s)
    failed = [e for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
              if e["ResourceStatus"] == "DELETE_FAILED" and e["LogicalResourceId"] == A]
    check("Route 53's reason", failed and "do not match the current values" in failed[0]["ResourceStatusReason"], failed)
    check("the A record stays", records(c, zone, domain)["A"]["AliasTarget"]["DNSName"].startswith("d111111abcdef8"))
    ids = physical(cfn, stack_id)
    check("what it depends on stays too (distribution, OAI, bucket)", c.cf.get_distribution(Id=ids[DIST])
          and c.cf.get_cloud_front_origin_access_identity(Id=ids[OAI]))
    check("what it does not depend on went (AAAA, policy)", "AAAA" not in records(c, zone, domain)
          and error_of(lambda: c.s3.get_bucket_policy(Bucket=bucket)) is not None)
    cfn.delete_stack(StackName=stack_id, RetainResources=[A])
    check("retained on the second try", wait(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE")


def setup():
    """The CDK bootstrap's version parameter in the stacks' region, as `cdk bootstrap` leaves it."""
    bootstrap(Clients("AKIATAKESETUP"))


if __name__ == "__main__":
    run("cdnctl-takeover-selftest-", globals(), setup)
