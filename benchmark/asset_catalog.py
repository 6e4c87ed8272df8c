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

# DEMUCS dns64: the URL of `denoiser.pretrained.DNS_64_URL`. Only the sha256 prefix the publisher
# put in the file name (torch.hub's check_hash convention) is known; the full digest and the size
# were not found (see benchmark.assets.sha256_matches).
register_asset(Asset(
    name="demucs_dns64",
    urls=("https://dl.fbaipublicfiles.com/adiyoss/denoiser/dns64-a7761ff99a7d5bb6.th",),
    sha256="a7761ff99a7d5bb6",
    size=0,
    licence="CC BY-NC 4.0 (facebookresearch/denoiser)",
    path="demucs/dns64-a7761ff99a7d5bb6.th",
    used_by="system demucs",
    description="DEMUCS real-time denoiser, H=64, trained on DNS (state dict, 16 kHz)",
    homepage="https://github.com/facebookresearch/denoiser",
))

# VoiceFixer: the URLs the `voicefixer` 0.1.3 package downloads from. No sha256 was found (a
# third-party note gives Zenodo MD5s 1f479dabb9fa5724de5e20f2164cbc7a for vf.ckpt and
# ac6de16561dd6042daf8bb3a806dc818 for the vocoder); until one is recorded here, fetch refuses.
register_asset(Asset(
    name="voicefixer_analysis",
    urls=("https://zenodo.org/record/5600188/files/vf.ckpt?download=1",),
    sha256="",
    size=0,
    licence="CC BY 4.0 (Zenodo record 5600188)",
    path="voicefixer/vf.ckpt",
    used_by="system voicefixer",
    description="VoiceFixer analysis module checkpoint vf.ckpt (about 466 MB)",
    homepage="https://github.com/haoheliu/voicefixer",
))
register_asset(Asset(
    name="voicefixer_vocoder",
    urls=("https://zenodo.org/record/5469951/files/model.ckpt-1490000_trimed.pt?download=1",
          "https://zenodo.org/record/5600188/files/model.ckpt-1490000_trimed.pt?download=1"),
    sha256="",
    size=0,
    licence="CC BY 4.0 (Zenodo)",
    path="voicefixer/model.ckpt-1490000_trimed.pt",
    used_by="system voicefixer",
    description="VoiceFixer 44.1 kHz TFGAN vocoder checkpoint (about 135 MB)",
    homepage="https://github.com/haoheliu/voicefixer",
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
register_asset(Asset(
    name="dac_44khz",
    urls=("https://github.com/descriptinc/descript-audio-codec/releases/download/0.0.1/weights.pth",),
    # sha256 as recorded by a third-party loader that pins this exact release file (DAC_SHA256
    # beside DAC_URL); Descript publishes no checksum and the file could not be hashed offline
    # here. The size is not published (0).
    sha256="a88eed82a7024ccc1facdb1e605c4c2f99281c8118c22c9895ffa846d8fb61aa",
    size=0,
    licence="MIT",
    path="dac/weights_44khz_8kbps_0.0.1.pth",
    used_by="systems masksr_* / masksr2_* (codec), MaskSR trainer",
    description="Descript Audio Codec 44.1 kHz 8 kbps (9 x 1024 RVQ, hop 512), release 0.0.1",
    homepage="https://github.com/descriptinc/descript-audio-codec",
))
register_asset(Asset(
    name="hubert_base",
    urls=("https://huggingface.co/facebook/hubert-base-ls960/resolve/main/pytorch_model.bin",),
    sha256="",          # not found with the look-up tools: fetch refuses until it is filled in
    size=0,
    licence="Apache-2.0 (transformers port of fairseq HuBERT-base, MIT)",
    path="hubert/hubert-base-ls960-pytorch_model.bin",
    used_by="MaskSR2 trainer (semantic KD teacher)",
    description="HuBERT-base pre-trained on LibriSpeech 960 h (transformers HubertModel weights)",
    homepage="https://huggingface.co/facebook/hubert-base-ls960",
))
register_asset(Asset(
    name="hubert_base_l9_km500",
    urls=("https://dl.fbaipublicfiles.com/hubert/hubert_base_ls960_L9_km500.bin",),
    sha256="",          # not found with the look-up tools: fetch refuses until it is filled in
    size=0,
    licence="MIT (fairseq)",
    path="hubert/hubert_base_ls960_L9_km500.bin",
    used_by="MaskSR2 trainer (kd_target=l9_k500)",
    description="k-means (500 clusters) of HuBERT-base layer-9 features (joblib sklearn model)",
    homepage="https://github.com/facebookresearch/fairseq/tree/main/examples/hubert",
))

# ---------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------
# The test-set builders read unpacked corpora under BENCHMARK_CORPORA (testsets/corpora.py); these
# records let a user with internet fetch the archives (sha256 from torchaudio's checksum tables).
# VoiceBank-DEMAND (datashare.ed.ac.uk/handle/10283/2791), the DNS 2020 test set (git-LFS files in
# microsoft/DNS-Challenge, branch interspeech2020/master) and VoiceFixer's test-set release
# (zenodo.org/record/5528144, GSR_and_SSR_testsets.zip) have no published sha256 we could find:
# they are not registered (a record without a real sha256 would pretend to verify).
register_asset(Asset(
    name="vctk_0.92",
    urls=("https://datashare.ed.ac.uk/bitstream/handle/10283/3443/VCTK-Corpus-0.92.zip",),
    sha256="f96258be9fdc2cbff6559541aae7ea4f59df3fcaf5cf963aae5ca647357e359c",
    size=11747302977,
    licence="CC BY 4.0",
    path="corpora/VCTK-Corpus-0.92.zip",
    used_by="test sets sr, all_gsr, vctk_gsr",
    kind="corpus",
    description="CSTR VCTK Corpus 0.92 (48 kHz FLAC, mic1/mic2, transcripts)",
    homepage="https://datashare.ed.ac.uk/handle/10283/3443",
))
register_asset(Asset(
    name="librispeech_test_clean",
    urls=("https://www.openslr.org/resources/12/test-clean.tar.gz",),
    sha256="39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    size=346663984,
    licence="CC BY 4.0",
    path="corpora/test-clean.tar.gz",
    used_by="test set libri_noisy",
    kind="corpus",
    description="LibriSpeech test-clean (40 speakers, 2620 utterances, 16 kHz FLAC)",
    homepage="https://www.openslr.org/12",
))
