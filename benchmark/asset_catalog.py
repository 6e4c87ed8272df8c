"""The catalogue of external assets (weights and corpora). One `register_asset` call per asset.

Sections by area; add new records to the section of the feature that needs them. Cache paths
are `<asset-family>/<file name>` so that a mirror folder mirrors the cache layout.
"""

from benchmark.assets import Asset, register_asset

# ---------------------------------------------------------------------------------------------
# Systems (baselines)
# ---------------------------------------------------------------------------------------------
register_asset(Asset(
    name="gtcrn_onnx",
    urls=("https://github.com/Xiaobin-Rong/gtcrn/raw/3862c44808dca492ea5a8a145d2dc2a1028d08c8/"
          "stream/onnx_models/gtcrn.onnx",),
    sha256="f648b02f2d7ff96ebcb0eec2219688a08ed12fe7e3d50f248605a90eba8cad17",
    size=352084,
    licence="MIT",
    path="gtcrn/gtcrn.onnx",
    used_by="system gtcrn",
    description="GTCRN streaming speech enhancement, ONNX export (16 kHz)",
    homepage="https://github.com/Xiaobin-Rong/gtcrn",
))

# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
register_asset(Asset(
    name="nisqa",
    urls=("https://github.com/gabrielmittag/NISQA/raw/fe84f0f252abec382b24367d5b22498a7ce34dbb/"
          "weights/nisqa.tar",),
    sha256="7ec4cf937514dd3f8860b21e66fabd8ca87a168572675ef8d979c4c4ad2e805c",
    size=1051663,
    licence="CC BY-NC-SA 4.0 (weights; research use only)",
    path="nisqa/nisqa.tar",
    used_by="metric nisqa",
    description="NISQA v2.0 full-band speech quality model weights (PyTorch checkpoint)",
    homepage="https://github.com/gabrielmittag/NISQA",
))

# ---------------------------------------------------------------------------------------------
# MaskSR family
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------
