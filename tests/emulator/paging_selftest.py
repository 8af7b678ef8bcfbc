"""Self-test of paging.py's patches, with boto3.

    .emulator/venv/bin/python tests/emulator/paging_selftest.py

Starts the emulator as selftest.py does (whose plumbing it reuses), checks
each AWS behaviour that paging.py restores, prints "N passed, M failed" and
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
from selftest import Clients, check


def test_origin_access_controls_page_by_marker():
    c = Clients("AKIAPAGINGOAC")
    made = set()
    for i in range(105):
        made.add(c.cf.create_origin_access_control(OriginAccessControlConfig={
            "Name": f"paging-{i}", "SigningProtocol": "sigv4", "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"])
    first = c.cf.list_origin_access_controls()["OriginAccessControlList"]
    check("first page: 100, truncated, with a marker",
          first["Quantity"] == 100 and first["IsTruncated"] and first.get("NextMarker"), {
              k: v for k, v in first.items() if k != "Items"})
    second = c.cf.list_origin_access_controls(Marker=first["NextMarker"])["OriginAccessControlList"]
    ids = [o["Id"] for o in first["Items"]] + [o["Id"] for o in second.get("Items", [])]
    check("the marker gives the rest, and the last page is not truncated",
          not second["IsTruncated"] and len(ids) == len(set(ids)) and made <= set(ids), (len(ids), len(set(ids))))
    small = c.cf.list_origin_access_controls(MaxItems="7")["OriginAccessControlList"]
    check("MaxItems", small["Quantity"] == 7 and small["IsTruncated"], small["Quantity"])
    seen = set()
    for page in c.cf.get_paginator("list_origin_access_controls").paginate():
        seen.update(o["Id"] for o in page["OriginAccessControlList"].get("Items", []))
    check("a paginator sees every control", made <= seen, len(seen))


# --------------------------------------------------------------------------


def main():
    run_dir = tempfile.mkdtemp(prefix="cdnctl-emulator-paging-")
    emulator = subprocess.Popen(
        [sys.executable, os.path.join(st.HERE, "start.py"), run_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(run_dir, "stderr.log"), "w"),
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
