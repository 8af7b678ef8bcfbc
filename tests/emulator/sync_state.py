"""What `cdnctl sync` relies on for its state and its invalidations, as AWS
does it and moto 5.2.5 does not. Called from emulator.main() after the other
patches (patch_moto()).

- S3 conditional writes (checked, not patched). AWS: of concurrent PutObject
  requests with `If-None-Match: *` on one key exactly one succeeds; with
  `If-Match`, the write happens only over the ETag named, else 412
  PreconditionFailed (404 NoSuchKey when the key is missing). moto 5.2.5 does
  the same for PutObject and DeleteObject (the self-test holds it to that,
  concurrent writers included).
- S3 supports only `*` in a PutObject's If-None-Match. AWS answers any other
  value with 501 NotImplemented; moto ignores it. Patched.
- CloudFront invalidations take minutes. AWS: an invalidation is `InProgress`
  until the edge has dropped the paths, then `Completed`; moto answers
  `COMPLETED` at once. Knob `invalidation_seconds` (of the key creating the
  invalidation): it stays `InProgress` this long (default 0: completed at once).
- CloudFront's invalidation limits count every invalidation in progress on the
  distribution: at most 3,000 file paths and, independently, 15 wildcard paths
  (`…*`) in progress at once. AWS answers a batch that would go past either
  with TooManyInvalidationsInProgress (400); moto has no limit. Always on.
"""

import functools
import threading
import time

INVALIDATIONS = threading.Lock()

MAX_PATHS = 3000
MAX_WILDCARDS = 15


def patch_moto(knob):
    """knob(name, default): the setting of the client whose request is served
    (emulator.knob; passed in, as emulator.py runs as __main__)."""
    _patch_conditional_writes()
    _patch_invalidations(knob)


def _patch_conditional_writes():
    from moto.s3 import responses as s3r

    not_implemented = (
        501,
        {"Content-Type": "application/xml"},
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code>'
        "<Message>A header you provided implies functionality that is not implemented</Message>"
        "<Header>If-None-Match</Header></Error>",
    )

    put_object = s3r.S3Response.put_object

    @functools.wraps(put_object)
    def put_object_checked(self, *args, **kwargs):
        if self.headers.get("If-None-Match") not in (None, "*"):
            return not_implemented
        return put_object(self, *args, **kwargs)

    s3r.S3Response.put_object = put_object_checked


def _patch_invalidations(knob):
    from moto.cloudfront import exceptions as cfx
    from moto.cloudfront import models as cf

    class TooManyInvalidationsInProgress(cfx.CloudFrontException):
        code = 400

        def __init__(self, what):
            super().__init__(
                "TooManyInvalidationsInProgress",
                "Processing your request will cause you to exceed the maximum number of "
                f"in-progress wildcard invalidations or invalidation objects: {what}",
            )

    def status(self):
        return "InProgress" if time.time() < getattr(self, "_done_at", 0) else "Completed"

    # moto sets `status` in __init__; a property without a setter would refuse it.
    cf.Invalidation.status = property(status, lambda self, value: None)

    create = cf.CloudFrontBackend.create_invalidation  # emulator.py's (CallerReference) wrapper

    @functools.wraps(create)
    def create_within_limits(self, dist_id, paths, caller_ref):
        with INVALIDATIONS:  # the limits hold for concurrent requests too
            return create_checked(self, dist_id, paths, caller_ref)

    def create_checked(self, dist_id, paths, caller_ref):
        earlier = self.invalidations.get(dist_id) or []
        if any(i.caller_ref == caller_ref for i in earlier):
            return create(self, dist_id, paths, caller_ref)  # the earlier one, or its refusal
        in_progress = [i for i in earlier if i.status == "InProgress"]
        held = [p for i in in_progress for p in i.paths]
        wild = sum(1 for p in held + list(paths) if p.endswith("*"))
        files = sum(1 for p in held + list(paths) if not p.endswith("*"))
        if wild > MAX_WILDCARDS:
            raise TooManyInvalidationsInProgress(f"{wild} wildcard paths, at most {MAX_WILDCARDS}")
        if files > MAX_PATHS:
            raise TooManyInvalidationsInProgress(f"{files} paths, at most {MAX_PATHS}")
        invalidation = create(self, dist_id, paths, caller_ref)
        invalidation._done_at = time.time() + float(knob("invalidation_seconds"))
        return invalidation

    cf.CloudFrontBackend.create_invalidation = create_within_limits
