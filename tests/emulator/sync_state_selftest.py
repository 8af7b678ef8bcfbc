"""Self-test of sync_state.py (conditional writes, invalidations in progress)
against the emulator as emulator.main() starts it, with boto3.

    .emulator/venv/bin/python tests/emulator/sync_state_selftest.py

Prints "N passed, M failed" and exits non-zero if anything failed. Each test
uses its own access key, so knobs never leak between tests.
"""

import sys
import threading
import time

sys.dont_write_bytecode = True

import selftest_kit  # noqa: E402
from selftest_kit import Clients, check, run  # noqa: E402


def error_of(fn):
    """(code, HTTP status) of a call that fails, or None."""
    got = selftest_kit.error_of(fn)
    return got and (got.code, got.status)


def bucket(c, name):
    c.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})


def distribution(c, ref):
    config = {
        "CallerReference": ref,
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "o1", "DomainName": "sync-state-origin.s3.eu-west-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o1", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }
    return c.cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def invalidate(c, dist, paths, ref):
    batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": ref}
    return c.cf.create_invalidation(DistributionId=dist, InvalidationBatch=batch)["Invalidation"]


# --------------------------------------------------------------------------
# S3 conditional writes
# --------------------------------------------------------------------------


def test_concurrent_if_none_match_writes_have_one_winner():
    c = Clients("AKIASYNCSTATE1")
    bucket(c, "sync-state-race")
    for attempt in range(5):
        key = f"lease-{attempt}"
        barrier = threading.Barrier(12)
        outcomes = []

        def write(n):
            barrier.wait()
            got = error_of(lambda: c.s3.put_object(Bucket="sync-state-race", Key=key, Body=f"{n}".encode() * 100000, IfNoneMatch="*"))
            outcomes.append(got)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [o for o in outcomes if o is None]
        losers = [o for o in outcomes if o is not None]
        check("one winner", len(winners) == 1, f"attempt {attempt}: {outcomes}")
        check("losers get 412", all(o == ("PreconditionFailed", 412) for o in losers), f"{losers}")


def test_if_match_writes_only_over_the_named_version():
    c = Clients("AKIASYNCSTATE2")
    bucket(c, "sync-state-match")
    first = c.s3.put_object(Bucket="sync-state-match", Key="state.json", Body=b"1", IfNoneMatch="*")["ETag"]
    check("create again refused",
          error_of(lambda: c.s3.put_object(Bucket="sync-state-match", Key="state.json", Body=b"x", IfNoneMatch="*"))
          == ("PreconditionFailed", 412))
    second = c.s3.put_object(Bucket="sync-state-match", Key="state.json", Body=b"2", IfMatch=first)["ETag"]
    check("stale If-Match refused",
          error_of(lambda: c.s3.put_object(Bucket="sync-state-match", Key="state.json", Body=b"3", IfMatch=first))
          == ("PreconditionFailed", 412))
    body = c.s3.get_object(Bucket="sync-state-match", Key="state.json")["Body"].read()
    check("the refused write changed nothing", body == b"2", f"{body!r}")
    check("If-Match on a missing key is 404",
          error_of(lambda: c.s3.put_object(Bucket="sync-state-match", Key="none.json", Body=b"3", IfMatch=first))
          == ("NoSuchKey", 404))
    check("If-None-Match other than * is not implemented",
          error_of(lambda: c.s3.put_object(Bucket="sync-state-match", Key="other.json", Body=b"3", IfNoneMatch=second))
          == ("NotImplemented", 501))
    check("DeleteObject with a stale If-Match refused",
          error_of(lambda: c.s3.delete_object(Bucket="sync-state-match", Key="state.json", IfMatch=first))
          == ("PreconditionFailed", 412))
    c.s3.delete_object(Bucket="sync-state-match", Key="state.json", IfMatch=second)
    check("DeleteObject with the current ETag deletes",
          error_of(lambda: c.s3.head_object(Bucket="sync-state-match", Key="state.json")) is not None)
    # Unconditional writes are untouched.
    c.s3.put_object(Bucket="sync-state-match", Key="plain", Body=b"1")
    c.s3.put_object(Bucket="sync-state-match", Key="plain", Body=b"2")


# --------------------------------------------------------------------------
# CloudFront invalidations in progress
# --------------------------------------------------------------------------


def test_invalidations_stay_in_progress_for_the_knob():
    c = Clients("AKIASYNCSTATE3", invalidation_seconds=1.5)
    dist = distribution(c, "sync-state-progress")
    made = invalidate(c, dist, ["/a"], "r1")
    check("created InProgress", made["Status"] == "InProgress", made["Status"])
    got = c.cf.get_invalidation(DistributionId=dist, Id=made["Id"])["Invalidation"]["Status"]
    check("read InProgress", got == "InProgress", got)
    listed = c.cf.list_invalidations(DistributionId=dist)["InvalidationList"]["Items"][0]["Status"]
    check("listed InProgress", listed == "InProgress", listed)
    time.sleep(1.7)
    got = c.cf.get_invalidation(DistributionId=dist, Id=made["Id"])["Invalidation"]["Status"]
    check("then Completed (AWS's spelling)", got == "Completed", got)
    quick = Clients("AKIASYNCSTATE4")
    made = invalidate(quick, distribution(quick, "sync-state-quick"), ["/a"], "r1")
    check("without the knob, Completed at once", made["Status"] == "Completed", made["Status"])


def test_limits_count_every_invalidation_in_progress():
    c = Clients("AKIASYNCSTATE5", invalidation_seconds=2)
    dist = distribution(c, "sync-state-limits")
    files = [f"/f{i}.txt" for i in range(2999)]
    invalidate(c, dist, files, "big")
    check("3,001 paths in progress refused",
          error_of(lambda: invalidate(c, dist, ["/x", "/y"], "two")) == ("TooManyInvalidationsInProgress", 400))
    invalidate(c, dist, ["/x"], "one")  # exactly 3,000
    check("the same reference again returns the earlier one",
          invalidate(c, dist, files, "big")["Status"] == "InProgress")
    wild = [f"/d{i}/*" for i in range(15)]
    invalidate(c, dist, wild, "wild")  # wildcards are counted apart from files
    check("a 16th wildcard refused",
          error_of(lambda: invalidate(c, dist, ["/e/*"], "wild2")) == ("TooManyInvalidationsInProgress", 400))
    time.sleep(2.2)
    invalidate(c, dist, ["/x", "/y", "/e/*"], "after")
    check("accepted once the others completed", True)
    # Concurrent batches: the limit holds across them.
    c2 = Clients("AKIASYNCSTATE6", invalidation_seconds=30)
    dist2 = distribution(c2, "sync-state-concurrent")
    outcomes = []
    barrier = threading.Barrier(4)

    def send(n):
        barrier.wait()
        outcomes.append(error_of(lambda: invalidate(c2, dist2, [f"/c{n}/{i}" for i in range(1000)], f"c{n}")))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("3 of 4 concurrent 1,000-path batches fit", outcomes.count(None) == 3, f"{outcomes}")


if __name__ == "__main__":
    run("cdnctl-sync-state-selftest-", globals())
