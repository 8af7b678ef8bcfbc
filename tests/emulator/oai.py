"""CloudFront origin access identities (OAI), which moto 5.2.5 does not have.

moto serves no OAI API; it keeps an origin's S3OriginConfig.OriginAccessIdentity
as any string. This module adds the API, as CloudFront serves it (2020-05-31
REST-XML API, element names from botocore's service model, serialized by
moto's own serializer), and what S3 and CloudFront do with an OAI:

- Create/Get/GetConfig/List/Update/DeleteCloudFrontOriginAccessIdentity under
  /2020-05-31/origin-access-identity/cloudfront: Id `E…`, S3CanonicalUserId
  (96 hex digits), ETag per version, Location on create. A repeated
  CallerReference with the same Comment returns the existing identity; with
  another Comment it is CloudFrontOriginAccessIdentityAlreadyExists (409).
  Update and Delete need If-Match (InvalidIfMatchVersion without it,
  PreconditionFailed when stale); Update cannot change the CallerReference
  (IllegalUpdate). Delete answers CloudFrontOriginAccessIdentityInUse (409)
  while any distribution's origin names it as
  `origin-access-identity/cloudfront/E…`. An origin with both an OAI and an
  OAC is refused (IllegalOriginAccessConfiguration): the migration to an OAC
  clears the OAI in the same update.
- S3: a bucket policy granting an OAI by `{"CanonicalUser": <S3CanonicalUserId>}`
  is stored, and shown back by GetBucketPolicy, with the identity's ARN
  `{"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E…"}`
  (S3 rewrites such principals to the form it keeps; the S3 user guide:
  "Amazon S3 might change the canonical ID").
- The edge (edge.py) honours a grant by either form: `canonical_user_of(arn)`.

Knob (POST /configure), per client, off unless set:
    check_oai   true: CreateDistribution/UpdateDistribution answer
                InvalidOriginAccessIdentity (400) for an origin naming an OAI
                that does not exist (or a malformed value), and PutBucketPolicy
                answers MalformedPolicy "Invalid principal in policy" for a grant
                naming an OAI (ARN or canonical user) that does not exist, as
                AWS does. Off by default because older tests name made-up OAIs.

oai_selftest.py (with the CloudFormation subset, takeover_selftest.py) checks it.
"""

import json
import re
import secrets
import string
import threading

ARN = "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity {}"
ARN_RE = re.compile(r"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity (E[A-Z0-9]+)")
ORIGIN_PREFIX = "origin-access-identity/cloudfront/"
API = "/2020-05-31/origin-access-identity/cloudfront"
LOCK = threading.Lock()
KNOB = None  # emulator.knob


class Identity:
    def __init__(self, caller_reference, comment):
        self.id = "E" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))
        self.canonical = secrets.token_hex(48)
        self.caller_reference = caller_reference
        self.comment = comment
        self.etag = _etag()

    def config(self):
        return {"CallerReference": self.caller_reference, "Comment": self.comment}

    def shape(self):
        return {"Id": self.id, "S3CanonicalUserId": self.canonical, "CloudFrontOriginAccessIdentityConfig": self.config()}


def _etag():
    return "E" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))


def identities(backend):
    """The OAIs of one account's CloudFront backend, in creation order (moto's
    reset re-creates the backend, and so empties them)."""
    if "_oais" not in backend.__dict__:
        backend._oais = {}
    return backend._oais


def _all_backends():
    from moto.cloudfront.models import cloudfront_backends

    for account in list(cloudfront_backends.keys()):
        yield cloudfront_backends[account]["aws"]


def find(oai_id):
    """(backend, Identity) of an OAI id in any account, or (None, None)."""
    for backend in _all_backends():
        found = identities(backend).get(oai_id)
        if found is not None:
            return backend, found
    return None, None


def canonical_user_of(arn):
    """The S3CanonicalUserId of the OAI an IAM ARN names, or None."""
    m = ARN_RE.fullmatch(arn or "")
    identity = find(m.group(1))[1] if m else None
    return identity.canonical if identity else None


def _by_canonical(canonical):
    for backend in _all_backends():
        for identity in identities(backend).values():
            if identity.canonical == canonical:
                return identity
    return None


def origin_oai_ids(dist):
    """The OAI ids a distribution's origins use."""
    found = []
    for origin in dist.distribution_config.Origins["Items"]:
        value = (getattr(origin, "s3_origin_config", None) or {}).get("OriginAccessIdentity") or getattr(
            origin, "s3_access_identity", ""
        )
        if value and value.startswith(ORIGIN_PREFIX):
            found.append(value[len(ORIGIN_PREFIX):])
    return found


# --------------------------------------------------------------------------
# The API, as methods of moto's CloudFrontResponse
# --------------------------------------------------------------------------


def _errors():
    from moto.cloudfront import exceptions as cfx

    class Error(cfx.CloudFrontException):
        pass  # code and message given; the status comes from the service model

    return Error


def _get(backend, oai_id):
    identity = identities(backend).get(oai_id)
    if identity is None:
        raise _errors()("NoSuchCloudFrontOriginAccessIdentity", "The specified origin access identity does not exist.")
    return identity


def _check_if_match(identity, if_match):
    Error = _errors()
    if not if_match:
        raise Error("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if if_match != identity.etag:
        raise Error(
            "PreconditionFailed",
            "The precondition given in one or more of the request-header fields evaluated to false.",
        )


def create(backend, config):
    Error = _errors()
    ref, comment = config.get("CallerReference"), config.get("Comment")
    if not ref or comment is None:
        raise Error("InvalidArgument", "CallerReference and Comment are required.")
    with LOCK:
        for identity in identities(backend).values():
            if identity.caller_reference == ref:
                if identity.comment == comment:
                    return identity  # AWS: the same request again returns the same identity
                raise Error(
                    "CloudFrontOriginAccessIdentityAlreadyExists",
                    "If the CallerReference is a value you already sent in a previous request to create an "
                    "identity but the content of the CloudFrontOriginAccessIdentityConfig is different from the "
                    "original request, CloudFront returns a CloudFrontOriginAccessIdentityAlreadyExists error.",
                )
        identity = Identity(ref, comment)
        identities(backend)[identity.id] = identity
        return identity


def update(backend, oai_id, config, if_match):
    identity = _get(backend, oai_id)
    _check_if_match(identity, if_match)
    if config.get("CallerReference") != identity.caller_reference:
        raise _errors()("IllegalUpdate", "The update contains modifications that are not allowed.")
    identity.comment = config.get("Comment") or ""
    identity.etag = _etag()
    return identity


def delete(backend, oai_id, if_match):
    identity = _get(backend, oai_id)
    _check_if_match(identity, if_match)
    for dist in backend.distributions.values():
        if oai_id in origin_oai_ids(dist):
            raise _errors()("CloudFrontOriginAccessIdentityInUse", "The Origin Access Identity specified is already in use.")
    identities(backend).pop(oai_id, None)


def _responses():
    from moto.core.responses import ActionResult, EmptyResult

    def create_cloud_front_origin_access_identity(self):
        identity = create(self.backend, self._get_param("CloudFrontOriginAccessIdentityConfig", {}) or {})
        return ActionResult({
            "CloudFrontOriginAccessIdentity": identity.shape(),
            "Location": f"https://cloudfront.amazonaws.com{API}/{identity.id}",
            "ETag": identity.etag,
        })

    def get_cloud_front_origin_access_identity(self):
        identity = _get(self.backend, self._get_param("Id"))
        return ActionResult({"CloudFrontOriginAccessIdentity": identity.shape(), "ETag": identity.etag})

    def get_cloud_front_origin_access_identity_config(self):
        identity = _get(self.backend, self._get_param("Id"))
        return ActionResult({"CloudFrontOriginAccessIdentityConfig": identity.config(), "ETag": identity.etag})

    def list_cloud_front_origin_access_identities(self):
        marker = self._get_param("Marker") or ""
        max_items = int(self._get_param("MaxItems") or 100)
        everything = list(identities(self.backend).values())
        start = next((i for i, o in enumerate(everything) if o.id == marker), -1) + 1 if marker else 0
        page = everything[start:start + max_items]
        truncated = start + max_items < len(everything)
        listing = {
            "Marker": marker,
            "MaxItems": max_items,
            "IsTruncated": truncated,
            "Quantity": len(page),
            "Items": [{"Id": o.id, "S3CanonicalUserId": o.canonical, "Comment": o.comment} for o in page] or None,
        }
        if truncated:
            listing["NextMarker"] = page[-1].id
        return ActionResult({"CloudFrontOriginAccessIdentityList": listing})

    def update_cloud_front_origin_access_identity(self):
        identity = update(self.backend, self._get_param("Id"),
                          self._get_param("CloudFrontOriginAccessIdentityConfig", {}) or {}, self._get_param("IfMatch"))
        return ActionResult({"CloudFrontOriginAccessIdentity": identity.shape(), "ETag": identity.etag})

    def delete_cloud_front_origin_access_identity(self):
        delete(self.backend, self._get_param("Id"), self._get_param("IfMatch"))
        return EmptyResult()

    return {f.__name__: f for f in (
        create_cloud_front_origin_access_identity, get_cloud_front_origin_access_identity,
        get_cloud_front_origin_access_identity_config, list_cloud_front_origin_access_identities,
        update_cloud_front_origin_access_identity, delete_cloud_front_origin_access_identity)}


# --------------------------------------------------------------------------
# Distributions and bucket policies
# --------------------------------------------------------------------------


def _check_origins(backend, config):
    """An origin cannot have both an OAC and an OAI (IllegalOriginAccessConfiguration);
    check_oai: it may name only an OAI of the account (InvalidOriginAccessIdentity)."""
    if not isinstance(config, dict):
        return
    for origin in (config.get("Origins") or {}).get("Items") or []:
        if not isinstance(origin, dict):
            continue
        value = (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity") or ""
        if value and origin.get("OriginAccessControlId"):
            raise _errors()(
                "IllegalOriginAccessConfiguration",
                "An origin cannot contain both an origin access control (OAC) and an origin access identity (OAI).",
            )
        if not value or not KNOB("check_oai", False):
            continue
        oai_id = value[len(ORIGIN_PREFIX):] if value.startswith(ORIGIN_PREFIX) else None
        if oai_id is None or oai_id not in identities(backend):
            raise _errors()(
                "InvalidOriginAccessIdentity",
                "The origin access identity is not valid or doesn't exist.",
            )


def _rewrite_policy(policy):
    """The policy as S3 keeps it: OAI canonical users named by their ARN. With
    check_oai, a grant naming a missing OAI raises MalformedPolicy."""
    from moto.s3.exceptions import S3ClientError

    try:
        doc = json.loads(policy)
    except (ValueError, TypeError):
        return policy
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if statements is None:
        return policy
    changed = False
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if not isinstance(principal, dict):
            continue
        for arn in principal.get("AWS") if isinstance(principal.get("AWS"), list) else [principal.get("AWS")]:
            m = ARN_RE.fullmatch(arn or "")
            if m and KNOB("check_oai", False) and find(m.group(1))[1] is None:
                raise S3ClientError("MalformedPolicy", "Invalid principal in policy")
        canonical = principal.get("CanonicalUser")
        values = canonical if isinstance(canonical, list) else [canonical] if canonical else []
        kept, arns = [], []
        for value in values:
            identity = _by_canonical(value)
            if identity is not None:
                arns.append(ARN.format(identity.id))
            elif KNOB("check_oai", False) and re.fullmatch(r"[0-9a-f]{96}", value or ""):
                raise S3ClientError("MalformedPolicy", "Invalid principal in policy")
            else:
                kept.append(value)
        if not arns:
            continue
        changed = True
        aws = principal.get("AWS")
        aws = [] if aws is None else aws if isinstance(aws, list) else [aws]
        aws = aws + [a for a in arns if a not in aws]
        principal["AWS"] = aws[0] if len(aws) == 1 else aws
        if kept:
            principal["CanonicalUser"] = kept[0] if len(kept) == 1 else kept
        else:
            principal.pop("CanonicalUser")
    if not changed:
        return policy
    text = json.dumps(doc)
    return text.encode() if isinstance(policy, bytes) else text


def patch(knob):
    global KNOB
    KNOB = knob
    from moto.cloudfront import models as cf
    from moto.cloudfront import responses as cfr
    from moto.cloudfront import urls as cfu
    from moto.s3 import models as s3

    # Routes: moto matches the operation by the service model; these paths only
    # need to reach CloudFrontResponse.dispatch (read when the server's app is made).
    cfu.url_paths.update({
        "{0}" + API + "$": cfr.CloudFrontResponse.dispatch,
        "{0}" + API + "/(?P<Id>[^/]+)$": cfr.CloudFrontResponse.dispatch,
        "{0}" + API + "/(?P<Id>[^/]+)/config$": cfr.CloudFrontResponse.dispatch,
    })
    for name, method in _responses().items():
        setattr(cfr.CloudFrontResponse, name, method)

    create_dist = cf.CloudFrontBackend.create_distribution_with_tags

    def create_dist_checked(self, distribution_config, tags):
        _check_origins(self, distribution_config)
        return create_dist(self, distribution_config, tags)

    cf.CloudFrontBackend.create_distribution_with_tags = create_dist_checked

    update_dist = cf.CloudFrontBackend.update_distribution

    def update_dist_checked(self, dist_config, _id, if_match):
        _check_origins(self, dist_config)
        return update_dist(self, dist_config, _id, if_match)

    cf.CloudFrontBackend.update_distribution = update_dist_checked

    put_policy = s3.S3Backend.put_bucket_policy

    def put_policy_keeping_oai_arns(self, bucket_name, policy):
        return put_policy(self, bucket_name, _rewrite_policy(policy))

    s3.S3Backend.put_bucket_policy = put_policy_keeping_oai_arns
