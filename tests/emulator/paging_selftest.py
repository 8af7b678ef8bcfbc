"""Self-test of paging.py's patches, with boto3.

    .emulator/venv/bin/python tests/emulator/paging_selftest.py

Starts the emulator (selftest_kit.py), checks each AWS behaviour that
paging.py restores, prints "N passed, M failed" and exits non-zero if
anything failed.
"""

from selftest_kit import Clients, check, run


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


if __name__ == "__main__":
    run("cdnctl-emulator-paging-", globals())
