"""Listing where moto drops what AWS does. Called from emulator.py's main().

- CloudFront: ListOriginAccessControls honours Marker and MaxItems, 100 a
  page by default, as CloudFront does. moto pages its backend's list but its
  response passes neither parameter on, so every request gets the first page
  again: past 100 origin access controls (a full test run makes more), the
  SDK's paginator never sees the rest, and a name that CreateOriginAccessControl
  calls taken is nowhere in the listing.
"""


def patch_moto():
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult

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

    CloudFrontResponse.list_origin_access_controls = list_origin_access_controls
