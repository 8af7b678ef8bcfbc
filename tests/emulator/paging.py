"""List pages as AWS serves them, where moto 5.2.5 does not. Called from
emulator.py's main() after the other patches.

- CloudFront ListOriginAccessControls: AWS returns at most MaxItems (default
  100) controls a page and the next page from Marker. moto's backend pages,
  but its response handler passes neither Marker nor MaxItems on: every
  request answers the first 100 with IsTruncated true, so a client paging
  through (the SDK's paginator stops at a repeated marker) never sees the
  others, and an OAC made after the first 100 of the account is not found.
  Patched: the handler passes both, as moto's ListDistributions does.
"""

import functools


def patch():
    from moto.cloudfront import responses as cfr
    from moto.core.responses import ActionResult

    original = cfr.CloudFrontResponse.list_origin_access_controls

    @functools.wraps(original)
    def list_origin_access_controls(self):
        marker = self._get_param("Marker")
        max_items = self._get_int_param("MaxItems")
        controls, next_marker = self.backend.list_origin_access_controls(marker=marker, max_items=max_items)
        return ActionResult({
            "OriginAccessControlList": {
                "Marker": marker or "",
                "NextMarker": next_marker,
                "MaxItems": max_items or 100,
                "IsTruncated": next_marker is not None,
                "Quantity": len(controls),
                "Items": controls,
            }
        })

    cfr.CloudFrontResponse.list_origin_access_controls = list_origin_access_controls
