"""External files: the asset record type (`records`), the catalogue as data (`catalog`) and
fetching with cache, mirror, resume and sha256 verification (`download`).

Import order has no circle: records <- catalog <- download <- this package.
"""

from benchmark.assets.catalog import all_assets, get_asset
from benchmark.assets.download import (
    VerifyResult,
    asset_fingerprints,
    fetch,
    local_sha256,
    mirror_candidates,
    offline_mode,
    require_local,
    sha256_of,
    verify,
)
from benchmark.assets.records import ASSETS, Asset, register_asset, sha256_matches

__all__ = [
    "ASSETS", "Asset", "VerifyResult", "all_assets", "asset_fingerprints", "fetch", "get_asset", "local_sha256",
    "mirror_candidates", "offline_mode", "register_asset", "require_local", "sha256_matches", "sha256_of", "verify",
]
