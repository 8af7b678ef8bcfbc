"""Self-test of listing.py's patches, with boto3.

    .emulator/venv/bin/python tests/emulator/listing_selftest.py

Starts the emulator as selftest.py does (whose plumbing it reuses), checks
each AWS behaviour that listing.py restores, prints "N passed, M failed" and
exits non-zero if anything failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import selftest as st
from selftest import Clients, check, oac


def test_origin_access_controls_page_by_marker():
    c = Clients("AKIALISTOAC")
    names = {f"listing-oac-{i:03}" for i in range(105)}
    for name in sorted(names):
        oac(c, name)
    first = c.cf.list_origin_access_controls()["OriginAccessControlList"]
    check("the first page holds 100", first["Quantity"] == 100 and first["IsTruncated"], str(first["Quantity"]))
    second = c.cf.list_origin_access_controls(Marker=first["NextMarker"])["OriginAccessControlList"]
    firsts = {o["Name"] for o in first["Items"]}
    seconds = {o["Name"] for o in second["Items"]}
    check("the next page holds the rest", len(seconds) == 5 and not second["IsTruncated"], str(len(seconds)))
    check("the pages do not overlap", not (firsts & seconds))
    small = c.cf.list_origin_access_controls(MaxItems="2")["OriginAccessControlList"]
    check("MaxItems bounds a page", small["Quantity"] == 2 and small["IsTruncated"])
    listed = set()
    for page in c.cf.get_paginator("list_origin_access_controls").paginate():
        listed |= {o["Name"] for o in page["OriginAccessControlList"].get("Items", [])}
    check("the paginator sees every one", names <= listed, str(len(names - listed)))


# --------------------------------------------------------------------------


def main():
    run_dir = tempfile.mkdtemp(prefix="cdnctl-emulator-listing-")
    env = dict(os.environ, MOTO_ACM_VALIDATION_WAIT="1")
    emulator = subprocess.Popen(
        [sys.executable, os.path.join(st.HERE, "start.py"), run_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(run_dir, "stderr.log"), "w"), env=env,
    )
    try:
        st.INFO.update(json.loads(emulator.stdout.readline()))
        for name, test in sorted(globals().items()):
            if not name.startswith("test_"):
                continue
            try:
                test()
            except Exception:
                st.RESULTS["failed"] += 1
                print(f"FAIL {name} raised:\n{traceback.format_exc()}", flush=True)
    finally:
        emulator.stdin.close()
        emulator.wait(timeout=30)
    print(f"{st.RESULTS['passed']} passed, {st.RESULTS['failed']} failed")
    if st.RESULTS["failed"]:
        print(f"emulator log: {os.path.join(run_dir, 'stderr.log')}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    sys.exit(1 if st.RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()
