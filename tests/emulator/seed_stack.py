"""The seed CDK stack (issue #28): the template `cdk synth` emits for the stack
cdnctl takes over, with a deployment's own bucket, account, zone, certificate
and domain substituted, ready for CreateStack.

The template is shared/fixtures/seed-cdk-stack.template.json, copied to
tests/it/data/ so that the tests do not depend on where shared/ sits (CI has
it at ../shared beside the clone); takeover_selftest.py checks that the copy
still matches ../shared/fixtures when that exists.

    from seed_stack import template_body, SEED
    body = template_body(bucket="b", account="123456789012", zone="Z…",
                         certificate="arn:aws:acm:us-east-1:…", domain="www.example.test")

    python tests/emulator/seed_stack.py --bucket B --zone Z --certificate ARN --domain D [--account A]

prints it. The stack also needs the CDK bootstrap's SSM parameter
/cdk-bootstrap/hnb659fds/version (6 or more) in the stack's region: the
control endpoint POST /cfn/seed-stack (cfn.py) puts it and creates the stack.
"""

import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(ROOT, "tests", "it", "data", "seed-cdk-stack.template.json")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "seed-cdk-stack.template.json")
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"

# The fixture's own values (its README), replaced in this order.
SEED = {
    "certificate": "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
    "bucket": "seed-static-files",
    "zone": "Z0000000000000000000",
    "domain": "static.example.com",
    "account": "123456789012",
}


def template_body(bucket, zone, certificate, domain, account="123456789012"):
    """The fixture's JSON with the given values in place of the seed's."""
    with open(FIXTURE) as f:
        text = f.read()
    wanted = {"certificate": certificate, "bucket": bucket, "zone": zone, "domain": domain, "account": account}
    for name, seed in SEED.items():
        text = text.replace(json.dumps(seed)[1:-1], json.dumps(wanted[name])[1:-1])
    json.loads(text)  # still a template
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("bucket", "zone", "certificate", "domain"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--account", default="123456789012")
    args = parser.parse_args()
    print(template_body(args.bucket, args.zone, args.certificate, args.domain, args.account))


if __name__ == "__main__":
    main()
