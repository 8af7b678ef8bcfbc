"""Self-test of provisioning.py's patches, with boto3.

    .emulator/venv/bin/python tests/emulator/provisioning_selftest.py

Starts the emulator as selftest.py does (with its setup and helpers), checks
each AWS behaviour that provisioning.py restores, prints "N passed, M failed"
and exits non-zero if anything failed.
"""

import json
import time

import selftest as st
from selftest import issued_cert, zone_id
from selftest_kit import Clients, check, error_of, expect_error, expect_ok, run

VALUE = "_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws."


def test_public_policy_refused_under_block_public_policy():
    c = Clients("AKIAPROVPUBLIC")
    st.bucket(c, "prov-public")
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prov-public/*"}]})
    expect_ok("public policy without a public access block", lambda: c.s3.put_bucket_policy(Bucket="prov-public", Policy=public))
    c.s3.put_public_access_block(Bucket="prov-public", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    expect_error("public policy under BlockPublicPolicy", lambda: c.s3.put_bucket_policy(Bucket="prov-public", Policy=public),
                 "AccessDenied", 403)
    scoped = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::prov-public/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}}}, {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prov-public/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]})
    expect_ok("non-public policy under BlockPublicPolicy", lambda: c.s3.put_bucket_policy(Bucket="prov-public", Policy=scoped))


def test_service_statements_do_not_apply_to_access_keys():
    c = Clients("AKIAPROVSERVICE")
    st.bucket(c, "prov-service")
    c.s3.put_object(Bucket="prov-service", Key=".cdnctl/note.json", Body=b"{}")
    c.s3.put_object(Bucket="prov-service", Key="app.css", Body=b"a")
    deny = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyCloudFrontReservedPrefix", "Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": ["arn:aws:s3:::prov-service/.cdnctl/*", "arn:aws:s3:::prov-service/*/.cdnctl/*"]}]})
    c.s3.put_bucket_policy(Bucket="prov-service", Policy=deny)
    got = expect_ok("a deny for CloudFront does not deny an access key",
                    lambda: c.s3.get_object(Bucket="prov-service", Key=".cdnctl/note.json"))
    check("read the note", got is not None and got["Body"].read() == b"{}")
    everyone = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prov-service/app.css"}]})
    c.s3.put_bucket_policy(Bucket="prov-service", Policy=everyone)
    got = error_of(lambda: c.s3.get_object(Bucket="prov-service", Key="app.css"))
    check("a deny for everyone still applies", got is not None and got[2] == 403, got)


def test_key_algorithm_and_list_filter():
    c = Clients("AKIAPROVLIST")
    rsa = st.request_cert(c, "rsa.prov.example")
    ec = st.request_cert(c, "ec.prov.example", KeyAlgorithm="EC_prime256v1")
    multi = st.request_cert(c, "primary.prov.example", SubjectAlternativeNames=["primary.prov.example", "second.prov.example"])
    d = c.acm.describe_certificate(CertificateArn=ec)["Certificate"]
    check("RequestCertificate honours KeyAlgorithm", d["KeyAlgorithm"] == "EC_prime256v1", d["KeyAlgorithm"])
    listed = {s["CertificateArn"]: s for s in c.acm.list_certificates()["CertificateSummaryList"]}
    check("ListCertificates: RSA_2048 only by default", rsa in listed and ec not in listed, list(listed))
    every = {s["CertificateArn"]: s for s in c.acm.list_certificates(
        Includes={"keyTypes": ["RSA_2048", "EC_prime256v1", "EC_secp384r1"]})["CertificateSummaryList"]}
    check("ListCertificates: keyTypes names the others", rsa in every and ec in every)
    only_ec = [s["CertificateArn"] for s in c.acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]]
    check("ListCertificates: keyTypes filters", ec in only_ec and rsa not in only_ec)
    s = listed.get(multi, {})
    check("summary DomainName is the primary name", s.get("DomainName") == "primary.prov.example", s)
    check("summary names the others in SubjectAlternativeNameSummaries",
          "second.prov.example" in (s.get("SubjectAlternativeNameSummaries") or []), s)
    check("summary carries no full description", "SubjectAlternativeNames" not in s and "DomainValidationOptions" not in s, s)


def test_describe_lag():
    c = Clients("AKIAPROVLAG", describe_lag_seconds=2)
    arn = st.request_cert(c, "lag.prov.example")
    expect_error("DescribeCertificate right after the request",
                 lambda: c.acm.describe_certificate(CertificateArn=arn), "ResourceNotFoundException", 400)
    time.sleep(2.2)
    d = expect_ok("DescribeCertificate after the lag", lambda: c.acm.describe_certificate(CertificateArn=arn))
    check("described after the lag", d is not None and d["Certificate"]["CertificateArn"] == arn)
    again = c.acm.request_certificate(DomainName="lag.prov.example", ValidationMethod="DNS", IdempotencyToken="provlag1")
    same = c.acm.request_certificate(DomainName="lag.prov.example", ValidationMethod="DNS", IdempotencyToken="provlag1")
    check("idempotent answer is the same certificate", again["CertificateArn"] == same["CertificateArn"])
    c2 = Clients("AKIAPROVNOLAG")
    arn2 = st.request_cert(c2, "nolag.prov.example")
    expect_ok("no lag by default", lambda: c2.acm.describe_certificate(CertificateArn=arn2))


def test_route53_delete_repeats_current_values():
    c = Clients("AKIAPROVDELETE")
    zone = c.r53.create_hosted_zone(Name="exact.prov.example", CallerReference="prov-exact")["HostedZone"]["Id"]

    def batch(action, rr):
        return lambda: c.r53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": rr}]})

    txt = {"Name": "t.exact.prov.example.", "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": '"a"'}]}
    expect_ok("create TXT", batch("UPSERT", txt))
    expect_error("DELETE with another TTL", batch("DELETE", dict(txt, TTL=60)), "InvalidChangeBatch", 400,
                 "do not match the current values")
    expect_error("DELETE with another value", batch("DELETE", dict(txt, ResourceRecords=[{"Value": '"b"'}])),
                 "InvalidChangeBatch", 400)
    alias = {"Name": "a.exact.prov.example.", "Type": "A", "AliasTarget": {
        "HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d111.cloudfront.net.", "EvaluateTargetHealth": True}}
    expect_ok("create alias", batch("UPSERT", alias))
    wrong = dict(alias, AliasTarget=dict(alias["AliasTarget"], EvaluateTargetHealth=False))
    expect_error("DELETE alias with another EvaluateTargetHealth", batch("DELETE", wrong), "InvalidChangeBatch", 400)
    # The whole batch fails: the TXT record is still there.
    both = lambda: c.r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": txt}, {"Action": "DELETE", "ResourceRecordSet": wrong}]})
    expect_error("a batch with one wrong DELETE", both, "InvalidChangeBatch", 400)
    names = {r["Name"] for r in c.r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]}
    check("nothing of a failed batch is applied", "t.exact.prov.example." in names, names)
    expect_ok("DELETE with the current values", batch("DELETE", txt))
    expect_ok("DELETE alias as it is", batch("DELETE", alias))
    # What ListResourceRecordSets returns is what DELETE takes.
    expect_ok("re-create alias", batch("UPSERT", alias))
    listed = [r for r in c.r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
              if r["Name"] == "a.exact.prov.example."]
    expect_ok("DELETE of the listed record", batch("DELETE", listed[0]))


def test_viewer_certificate_must_cover_aliases_and_have_a_supported_key():
    c = Clients("AKIAPROVVIEWER")
    covered = issued_cert(c, "v1.selftest.example")
    wide = st.request_cert(c, "v2.selftest.example", SubjectAlternativeNames=["v2.selftest.example", "v3.selftest.example"])
    c.r53.change_resource_record_sets(HostedZoneId=zone_id(c, st.ZONE), ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"{st.VALIDATION}.{n}.", "Type": "CNAME", "TTL": 300,
                                                  "ResourceRecords": [{"Value": VALUE}]}}
        for n in ("v2.selftest.example", "v3.selftest.example")]})
    ec384 = st.request_cert(c, "v4.selftest.example", KeyAlgorithm="EC_secp384r1")
    c.r53.change_resource_record_sets(HostedZoneId=zone_id(c, st.ZONE), ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"{st.VALIDATION}.v4.selftest.example.", "Type": "CNAME",
                                                  "TTL": 300, "ResourceRecords": [{"Value": VALUE}]}}]})
    deadline = time.time() + 10
    while time.time() < deadline and any(
        c.acm.describe_certificate(CertificateArn=a)["Certificate"]["Status"] != "ISSUED" for a in (wide, ec384)
    ):
        time.sleep(0.2)

    def config(ref, aliases, arn):
        return {
            "CallerReference": ref, "Comment": "", "Enabled": True,
            "Aliases": {"Quantity": len(aliases), "Items": aliases},
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "selftest-origin.s3.eu-west-1.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
            "ViewerCertificate": {"ACMCertificateArn": arn, "SSLSupportMethod": "sni-only",
                                  "MinimumProtocolVersion": "TLSv1.2_2021"},
        }

    expect_error("a certificate that does not cover the alias",
                 lambda: c.cf.create_distribution(DistributionConfig=config("prov-v1", ["other.selftest.example"], covered)),
                 "InvalidViewerCertificate", 400, "doesn't cover")
    expect_error("an EC_secp384r1 certificate",
                 lambda: c.cf.create_distribution(DistributionConfig=config("prov-v2", ["v4.selftest.example"], ec384)),
                 "InvalidViewerCertificate", 400, "key algorithm")
    made = expect_ok("a certificate covering both aliases",
                     lambda: c.cf.create_distribution(DistributionConfig=config(
                         "prov-v3", ["v2.selftest.example", "v3.selftest.example"], wide)))
    if made:
        dist_id, etag = made["Distribution"]["Id"], made["ETag"]
        expect_error("update to an alias the certificate does not cover",
                     lambda: c.cf.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=config(
                         "prov-v3", ["v2.selftest.example", "v1.selftest.example"], wide)),
                     "InvalidViewerCertificate", 400)


if __name__ == "__main__":
    run("cdnctl-emulator-provisioning-", globals(), lambda: st.setup("AKIAPROVSETUP"))
