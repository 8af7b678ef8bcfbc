"""What the emulator's boto3 self-tests share: start the emulator as the Rust
harness does, tally checks, read AWS refusals, set knobs, make clients.

A self-test script imports what it needs from here, defines its `test_*`
functions and ends with `run("cdnctl-<name>-", globals())`, which prints
"N passed, M failed" and exits non-zero if anything failed.
"""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = {"passed": 0, "failed": 0}
INFO = {}  # what start.py prints: endpoint, control, ca_bundle, edge addresses


def check(name, condition, detail=""):
    if condition:
        RESULTS["passed"] += 1
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}", flush=True)


Refusal = collections.namedtuple("Refusal", "code message status")


def error_of(fn):
    """The Refusal (code, message, HTTP status) of a call that fails, or None."""
    try:
        fn()
    except ClientError as e:
        err = e.response.get("Error", {})
        message = err.get("Message") or err.get("message") or ""
        return Refusal(err.get("Code"), message, e.response["ResponseMetadata"]["HTTPStatusCode"])
    return None


def expect_error(name, fn, code, status=None, message=None):
    got = error_of(fn)
    ok = got is not None and got[0] == code and (status is None or got[2] == status) and (message is None or message in got[1])
    check(name, ok, f"expected {code} {status} {message!r}, got {got}")
    return got


def expect_ok(name, fn):
    try:
        return fn()
    except ClientError as e:
        check(name, False, f"unexpected {e.response.get('Error')}")
        return None


def control(path, body):
    """(HTTP status, JSON answer) of a POST to the emulator's control endpoint."""
    request = urllib.request.Request(INFO["control"] + path, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def configure(key, **knobs):
    status, _ = control("/configure", {"key": key, **knobs})
    assert status == 200


class Clients:
    """boto3 clients for one access key (its knobs set first), each made on
    first use: `c.s3`, `c.cf`, `c.r53`, `c.acm`, `c.iam`."""

    SERVICES = {
        "s3": ("s3", "eu-west-1"),
        "cf": ("cloudfront", "us-east-1"),
        "r53": ("route53", "us-east-1"),
        "acm": ("acm", "us-east-1"),
        "iam": ("iam", "us-east-1"),
    }

    def __init__(self, key, **knobs):
        self.key = key
        if knobs:
            configure(key, **knobs)

    def __getattr__(self, name):
        if name not in Clients.SERVICES:
            raise AttributeError(name)
        service, region = Clients.SERVICES[name]
        client = boto3.client(
            service,
            region_name=region,
            endpoint_url=INFO["endpoint"],
            verify=INFO["ca_bundle"],
            aws_access_key_id=self.key,
            aws_secret_access_key="secret",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
        )
        setattr(self, name, client)
        return client


def run(prefix, namespace, setup=None):
    """Starts the emulator through start.py as the Rust harness does, calls
    `setup`, then every `test_*` function of `namespace` in name order (one
    that raises counts as a failure), prints the tally and exits with it. The
    emulator's log is kept, and named, only when something failed."""
    run_dir = tempfile.mkdtemp(prefix=prefix)
    emulator = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "start.py"), run_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(run_dir, "stderr.log"), "w"),
        env=dict(os.environ, MOTO_ACM_VALIDATION_WAIT="1"),
    )
    try:
        INFO.update(json.loads(emulator.stdout.readline()))
        if setup:
            setup()
        for name, test in sorted(namespace.items()):
            if not name.startswith("test_"):
                continue
            try:
                test()
            except Exception:
                RESULTS["failed"] += 1
                print(f"FAIL {name} raised:\n{traceback.format_exc()}", flush=True)
    finally:
        emulator.stdin.close()
        emulator.wait(timeout=30)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    if RESULTS["failed"]:
        print(f"emulator log: {os.path.join(run_dir, 'stderr.log')}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    sys.exit(1 if RESULTS["failed"] else 0)
