"""Self-test of oai.py: CloudFront origin access identities, with boto3.

    .emulator/venv/bin/python tests/emulator/oai_selftest.py

Starts the emulator as the other self-tests do, checks the OAI API against
CloudFront's documented answers, the OAI kept on distribution origins, S3's
handling of an OAI grant, and the edge honouring an OAI grant in either form
(and the OAI → OAC migration order of AWS's guide). Prints "N passed, M failed".
"""

import json
import re
import sys

sys.dont_write_bytecode = True

from edge_selftest import get  # noqa: E402
from selftest_kit import Clients, check, error_of, expect_error, expect_ok, run  # noqa: E402

OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def create_oai(c, ref, comment="c"):
    r = c.cf.create_cloud_front_origin_access_identity(
        CloudFrontOriginAccessIdentityConfig={"CallerReference": ref, "Comment": comment})
    return r


def origin_value(oai_id):
    return f"origin-access-identity/cloudfront/{oai_id}" if oai_id else ""


def dist_config(ref, bucket, oai_id=None, oac_id=None):
    origin = {"Id": "s3", "DomainName": f"{bucket}.s3.eu-west-1.amazonaws.com",
              "S3OriginConfig": {"OriginAccessIdentity": origin_value(oai_id)}}
    if oac_id:
        origin["OriginAccessControlId"] = oac_id
    return {
        "CallerReference": ref, "Comment": "", "Enabled": True, "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": OPTIMIZED, "Compress": True},
    }


def make_bucket(c, name, files=()):
    c.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key, body in files:
        c.s3.put_object(Bucket=name, Key=key, Body=body, ContentType="text/plain")


def policy(bucket, *principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": p, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        for p in principals]})


def arn_of(oai_id):
    return f"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {oai_id}"


# --------------------------------------------------------------------------


def test_create_get_list():
    c = Clients("AKIAOAIAPI")
    r = create_oai(c, "ref-1", "first")
    o = r["CloudFrontOriginAccessIdentity"]
    check("Id is E + 13 characters", re.fullmatch(r"E[A-Z0-9]{13}", o["Id"]) is not None, o)
    check("S3CanonicalUserId is hex", re.fullmatch(r"[0-9a-f]{96}", o["S3CanonicalUserId"]) is not None, o)
    check("config echoed", o["CloudFrontOriginAccessIdentityConfig"] == {"CallerReference": "ref-1", "Comment": "first"}, o)
    check("201 with ETag and Location", r["ResponseMetadata"]["HTTPStatusCode"] == 201 and r["ETag"]
          and r["Location"].endswith(f"/2020-05-31/origin-access-identity/cloudfront/{o['Id']}"), r)
    g = c.cf.get_cloud_front_origin_access_identity(Id=o["Id"])
    check("Get: same identity and ETag", g["CloudFrontOriginAccessIdentity"] == o and g["ETag"] == r["ETag"], g)
    gc = c.cf.get_cloud_front_origin_access_identity_config(Id=o["Id"])
    check("GetConfig", gc["CloudFrontOriginAccessIdentityConfig"]["Comment"] == "first" and gc["ETag"] == r["ETag"], gc)
    again = create_oai(c, "ref-1", "first")["CloudFrontOriginAccessIdentity"]
    check("same CallerReference and config: the same identity", again["Id"] == o["Id"], again)
    expect_error("same CallerReference, other config", lambda: create_oai(c, "ref-1", "other"),
                 "CloudFrontOriginAccessIdentityAlreadyExists", 409)
    expect_error("Get of a missing OAI", lambda: c.cf.get_cloud_front_origin_access_identity(Id="E000000000000X"),
                 "NoSuchCloudFrontOriginAccessIdentity", 404)
    second = create_oai(c, "ref-2", "second")["CloudFrontOriginAccessIdentity"]
    # Every test's key is of account 123456789012: keep to this test's two.
    mine = {o["Id"], second["Id"]}
    listing = c.cf.list_cloud_front_origin_access_identities()["CloudFrontOriginAccessIdentityList"]
    items = [i for i in listing.get("Items", []) if i["Id"] in mine]
    check("List has both, in creation order, with canonical ids and comments", [i["Id"] for i in items] == [o["Id"], second["Id"]]
          and items[1] == {"Id": second["Id"], "S3CanonicalUserId": second["S3CanonicalUserId"], "Comment": "second"}
          and listing["Quantity"] == len(listing["Items"]), listing)
    seen, marker, pages = [], None, 0
    while True:
        page = c.cf.list_cloud_front_origin_access_identities(MaxItems="1", **({"Marker": marker} if marker else {}))
        page = page["CloudFrontOriginAccessIdentityList"]
        pages += 1
        check("a page of one", page["Quantity"] == 1 and page["MaxItems"] == 1, page)
        seen += [i["Id"] for i in page["Items"]]
        if not page["IsTruncated"]:
            check("the last page has no NextMarker", "NextMarker" not in page, page)
            break
        check("NextMarker is the page's last Id", page["NextMarker"] == page["Items"][-1]["Id"], page)
        marker = page["NextMarker"]
    check("pages with MaxItems 1 list each identity once", seen == [i["Id"] for i in listing["Items"]]
          and pages == len(seen), seen)


def test_update_and_delete_need_if_match():
    c = Clients("AKIAOAIUPDATE")
    r = create_oai(c, "upd-1", "one")
    oai_id, etag = r["CloudFrontOriginAccessIdentity"]["Id"], r["ETag"]
    config = {"CallerReference": "upd-1", "Comment": "two"}
    expect_error("Update without If-Match", lambda: c.cf.update_cloud_front_origin_access_identity(
        Id=oai_id, CloudFrontOriginAccessIdentityConfig=config), "InvalidIfMatchVersion", 400)
    expect_error("Update with a stale If-Match", lambda: c.cf.update_cloud_front_origin_access_identity(
        Id=oai_id, CloudFrontOriginAccessIdentityConfig=config, IfMatch="EWRONG"), "PreconditionFailed", 412)
    expect_error("Update may not change the CallerReference", lambda: c.cf.update_cloud_front_origin_access_identity(
        Id=oai_id, CloudFrontOriginAccessIdentityConfig={"CallerReference": "x", "Comment": "two"}, IfMatch=etag),
        "IllegalUpdate", 400)
    u = expect_ok("Update", lambda: c.cf.update_cloud_front_origin_access_identity(
        Id=oai_id, CloudFrontOriginAccessIdentityConfig=config, IfMatch=etag))
    check("Update: new comment and a new ETag", u and u["CloudFrontOriginAccessIdentity"]
          ["CloudFrontOriginAccessIdentityConfig"]["Comment"] == "two" and u["ETag"] != etag, u)
    expect_error("Delete without If-Match", lambda: c.cf.delete_cloud_front_origin_access_identity(Id=oai_id),
                 "InvalidIfMatchVersion", 400)
    expect_error("Delete with the old ETag", lambda: c.cf.delete_cloud_front_origin_access_identity(
        Id=oai_id, IfMatch=etag), "PreconditionFailed", 412)
    d = expect_ok("Delete", lambda: c.cf.delete_cloud_front_origin_access_identity(Id=oai_id, IfMatch=u["ETag"]))
    check("Delete: 204", d and d["ResponseMetadata"]["HTTPStatusCode"] == 204, d)
    expect_error("gone", lambda: c.cf.get_cloud_front_origin_access_identity(Id=oai_id),
                 "NoSuchCloudFrontOriginAccessIdentity", 404)


def test_in_use_while_an_origin_names_it():
    c = Clients("AKIAOAIINUSE")
    make_bucket(c, "oai-inuse")
    r = create_oai(c, "inuse-1")
    oai_id, etag = r["CloudFrontOriginAccessIdentity"]["Id"], r["ETag"]
    d = c.cf.create_distribution(DistributionConfig=dist_config("inuse-d", "oai-inuse", oai_id=oai_id))
    dist_id = d["Distribution"]["Id"]
    origin = d["Distribution"]["DistributionConfig"]["Origins"]["Items"][0]
    check("the origin keeps its OAI", origin["S3OriginConfig"]["OriginAccessIdentity"] == origin_value(oai_id), origin)
    got = c.cf.get_distribution_config(Id=dist_id)
    check("GetDistributionConfig shows it", got["DistributionConfig"]["Origins"]["Items"][0]["S3OriginConfig"]
          ["OriginAccessIdentity"] == origin_value(oai_id), got)
    expect_error("Delete while an origin uses it", lambda: c.cf.delete_cloud_front_origin_access_identity(
        Id=oai_id, IfMatch=etag), "CloudFrontOriginAccessIdentityInUse", 409)
    oac_id = c.cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "oai-inuse-oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    config = got["DistributionConfig"]
    config["Origins"]["Items"][0]["OriginAccessControlId"] = oac_id
    expect_error("an origin with both an OAI and an OAC", lambda: c.cf.update_distribution(
        Id=dist_id, DistributionConfig=config, IfMatch=got["ETag"]), "IllegalOriginAccessConfiguration", 400)
    config["Origins"]["Items"][0]["S3OriginConfig"]["OriginAccessIdentity"] = ""
    c.cf.update_distribution(Id=dist_id, DistributionConfig=config, IfMatch=got["ETag"])
    expect_ok("Delete once no origin uses it", lambda: c.cf.delete_cloud_front_origin_access_identity(
        Id=oai_id, IfMatch=etag))


def test_check_oai_knob():
    lenient = Clients("AKIAOAILENIENT")
    make_bucket(lenient, "oai-lenient")
    expect_ok("without check_oai a made-up OAI is kept (older tests rely on it)", lambda: lenient.cf.create_distribution(
        DistributionConfig=dist_config("lenient-d", "oai-lenient", oai_id="E2QWRUHAPOMQZL")))
    c = Clients("AKIAOAISTRICT", check_oai=True)
    make_bucket(c, "oai-strict")
    expect_error("check_oai: an origin naming a missing OAI", lambda: c.cf.create_distribution(
        DistributionConfig=dist_config("strict-d", "oai-strict", oai_id="E2QWRUHAPOMQZL")),
        "InvalidOriginAccessIdentity", 400)
    expect_error("check_oai: a malformed value", lambda: c.cf.create_distribution(
        DistributionConfig=dist_config("strict-d2", "oai-strict", oai_id=None) | {"Origins": {"Quantity": 1, "Items": [{
            "Id": "s3", "DomainName": "oai-strict.s3.eu-west-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": "E2QWRUHAPOMQZL"}}]}}),
        "InvalidOriginAccessIdentity", 400)
    oai_id = create_oai(c, "strict-oai")["CloudFrontOriginAccessIdentity"]["Id"]
    expect_ok("check_oai: an existing OAI", lambda: c.cf.create_distribution(
        DistributionConfig=dist_config("strict-d3", "oai-strict", oai_id=oai_id)))
    expect_error("check_oai: a grant to a missing OAI's ARN", lambda: c.s3.put_bucket_policy(
        Bucket="oai-strict", Policy=policy("oai-strict", {"AWS": arn_of("E2QWRUHAPOMQZL")})),
        "MalformedPolicy", 400, "Invalid principal")
    expect_error("check_oai: a grant to an unknown OAI canonical user", lambda: c.s3.put_bucket_policy(
        Bucket="oai-strict", Policy=policy("oai-strict", {"CanonicalUser": "ab" * 48})),
        "MalformedPolicy", 400, "Invalid principal")
    expect_ok("check_oai: a grant to an existing OAI", lambda: c.s3.put_bucket_policy(
        Bucket="oai-strict", Policy=policy("oai-strict", {"AWS": arn_of(oai_id)})))


def test_canonical_user_grant_is_kept_as_the_arn():
    c = Clients("AKIAOAIPOLICY")
    make_bucket(c, "oai-policy")
    o = create_oai(c, "policy-oai")["CloudFrontOriginAccessIdentity"]
    c.s3.put_bucket_policy(Bucket="oai-policy", Policy=policy("oai-policy", {"CanonicalUser": o["S3CanonicalUserId"]},
                                                              {"AWS": "arn:aws:iam::123456789012:root"}))
    shown = json.loads(c.s3.get_bucket_policy(Bucket="oai-policy")["Policy"])["Statement"]
    check("GetBucketPolicy shows the OAI's ARN for its canonical user", shown[0]["Principal"] == {"AWS": arn_of(o["Id"])},
          shown)
    check("other principals unchanged", shown[1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}, shown)


def test_edge_honours_an_oai_grant_in_either_form():
    # Each check reads its own key: the edge caches a 403 for 10 s.
    c = Clients("AKIAOAIEDGE")
    make_bucket(c, "oai-edge", [(f"{k}.txt", k.encode()) for k in "abcdefg"])
    o = create_oai(c, "edge-oai")
    oai_id, canonical = o["CloudFrontOriginAccessIdentity"]["Id"], o["CloudFrontOriginAccessIdentity"]["S3CanonicalUserId"]
    d = c.cf.create_distribution(DistributionConfig=dist_config("edge-d", "oai-edge", oai_id=oai_id))["Distribution"]
    domain = d["DomainName"]
    check("no grant: 403", get(domain, "/g.txt").status == 403)
    c.s3.put_bucket_policy(Bucket="oai-edge", Policy=policy("oai-edge", {"CanonicalUser": canonical}))
    a = get(domain, "/a.txt")
    check("granted by canonical user (as the CDK writes it): 200", a.status == 200 and a.body == b"a", a)
    other = create_oai(c, "edge-other")["CloudFrontOriginAccessIdentity"]
    c.s3.put_bucket_policy(Bucket="oai-edge", Policy=policy("oai-edge", {"CanonicalUser": other["S3CanonicalUserId"]}))
    check("another OAI's grant: 403", get(domain, "/b.txt").status == 403)
    c.s3.put_bucket_policy(Bucket="oai-edge", Policy=policy("oai-edge", {"AWS": arn_of(oai_id)}))
    check("granted by ARN: 200", get(domain, "/c.txt").status == 200)

    # AWS's migration order: grant both, switch the origin, then drop the OAI grant.
    oac_id = c.cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "oai-edge-oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]
    oac_grant = {"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::oai-edge/*", "Condition": {"StringEquals": {"AWS:SourceArn": d["ARN"]}}}
    both = json.loads(policy("oai-edge", {"CanonicalUser": canonical}))
    both["Statement"].append(oac_grant)
    c.s3.put_bucket_policy(Bucket="oai-edge", Policy=json.dumps(both))
    got = c.cf.get_distribution_config(Id=d["Id"])
    config = got["DistributionConfig"]
    config["Origins"]["Items"][0]["S3OriginConfig"]["OriginAccessIdentity"] = ""
    config["Origins"]["Items"][0]["OriginAccessControlId"] = oac_id
    c.cf.update_distribution(Id=d["Id"], DistributionConfig=config, IfMatch=got["ETag"])
    check("switched to the OAC with both grants: 200", get(domain, "/d.txt").status == 200)
    c.s3.put_bucket_policy(Bucket="oai-edge", Policy=json.dumps({"Version": "2012-10-17", "Statement": [oac_grant]}))
    check("OAI grant removed, OAC origin: 200", get(domain, "/e.txt").status == 200)
    etag = c.cf.get_cloud_front_origin_access_identity(Id=oai_id)["ETag"]
    expect_ok("the OAI can go", lambda: c.cf.delete_cloud_front_origin_access_identity(Id=oai_id, IfMatch=etag))


def test_edge_principal_matching_in_process():
    # A policy stored with the CanonicalUser form (as a policy written before
    # the OAI existed in this process would be) is still honoured.
    import edge
    import oai
    from moto.cloudfront.models import cloudfront_backends

    backend = cloudfront_backends["123456789012"]["aws"]
    oai.KNOB = lambda name, default=0: default
    identity = oai.create(backend, {"CallerReference": "in-process", "Comment": ""})
    who = ("aws", oai.ARN.format(identity.id))
    check("canonical user matches", edge.principal_matches({"Principal": {"CanonicalUser": identity.canonical}}, who))
    check("ARN matches", edge.principal_matches({"Principal": {"AWS": [oai.ARN.format(identity.id)]}}, who))
    check("another canonical user does not", not edge.principal_matches({"Principal": {"CanonicalUser": "ab" * 48}}, who))
    check("a service grant does not", not edge.principal_matches(
        {"Principal": {"Service": "cloudfront.amazonaws.com"}}, who))


def test_raw_answers_follow_the_service_model():
    # The Rust SDK checks each payload's root element by name: as in botocore's model.
    import xml.etree.ElementTree as ET

    import botocore.session

    model = botocore.session.get_session().get_service_model("cloudfront")
    c = Clients("AKIAOAIRAW")
    answers = []
    c.cf.meta.events.register("after-call.*", lambda http_response, model, **kw: answers.append((model, http_response)))
    o = create_oai(c, "raw-1")["CloudFrontOriginAccessIdentity"]
    c.cf.get_cloud_front_origin_access_identity(Id=o["Id"])
    c.cf.get_cloud_front_origin_access_identity_config(Id=o["Id"])
    c.cf.list_cloud_front_origin_access_identities()
    ns = "{http://cloudfront.amazonaws.com/doc/2020-05-31/}"
    for op, response in answers:
        payload = op.output_shape.serialization.get("payload") or next(iter(op.output_shape.members))
        shape = op.output_shape.members[payload]
        root = ET.fromstring(response.content)
        check(f"{op.name}: root <{shape.name}> in CloudFront's namespace", root.tag == ns + shape.name, root.tag)
        names = [child.tag[len(ns):] for child in root]
        check(f"{op.name}: members in the model's order", names == [m for m in shape.members if m in names], names)
        for header in ("ETag", "Location"):
            if header in op.output_shape.members:
                check(f"{op.name}: {header} header", response.headers.get(header), dict(response.headers))
    listing = ET.fromstring(answers[-1][1].content)
    items = listing.find(ns + "Items")
    member = model.shape_for("CloudFrontOriginAccessIdentitySummaryList").member.name
    check("list items are <CloudFrontOriginAccessIdentitySummary>", all(i.tag == ns + member for i in items), member)


if __name__ == "__main__":
    run("cdnctl-oai-selftest-", globals())
