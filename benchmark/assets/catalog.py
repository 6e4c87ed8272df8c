"""The catalogue of external assets (weights and corpora). One `register_asset` call per asset.

Sections by area; add new records to the section of the feature that needs them. Cache paths
are `<asset-family>/<file name>` so that a mirror folder mirrors the cache layout.
"""

from dataclasses import dataclass

from benchmark.assets.records import ASSETS, Asset, register_asset
from benchmark.core.errors import AssetError

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

# FRCRN (001 Table 4; 002 Tables III, IV): ClearerVoice-Studio's FRCRN_SE_16K, the same 16 kHz
# model ModelScope ships as damo/speech_frcrn_ans_cirm_16k. The Hugging Face revision, sha256 and
# byte size are those pinned by a third-party loader of this exact file (its UPSTREAM_REVISION,
# CHECKPOINT_SHA256, CHECKPOINT_BYTES constants); the publisher gives no checksum and the file
# could not be downloaded here to hash it. The checkpoint is a torch pickle {"model": state_dict}
# (how the clearvoice loader reads it: networks.SpeechModel._load_model, model_key="model").
register_asset(Asset(
    name="frcrn_se_16k",
    urls=("https://huggingface.co/alibabasglab/FRCRN_SE_16K/resolve/"
          "3766e6a64b0d8cb58f08d913d617bf129f11ed53/last_best_checkpoint.pt",),
    sha256="b22256adbb91b68cf5a3db8f6657a4fb17066eecd5f069803e59c186c1cf3ebb",
    size=161053751,
    licence="Apache-2.0 (ClearerVoice-Studio)",
    path="frcrn/FRCRN_SE_16K-last_best_checkpoint.pt",
    used_by="system frcrn",
    description="FRCRN speech enhancement, 16 kHz (ClearerVoice-Studio FRCRN_SE_16K checkpoint)",
    homepage="https://huggingface.co/alibabasglab/FRCRN_SE_16K",
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
# ac6de16561dd6042daf8bb3a806dc818 for the vocoder), so both are unpinned (sha256=""): `fetch`
# accepts the file with a warning naming its own sha256, that hash is part of the cache key of
# every system using it (systems.base.System.cache_key) and is listed in the report's provenance.
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

# The papers' WER model and speaker model: public URLs known, sha256 not published where it could
# be looked up from here, so they are unpinned (sha256=""): `fetch` uses the file with a warning
# naming its own sha256, which the metric also records in its backend_version.
register_asset(Asset(
    name="nemo_stt_en_conformer_transducer_xlarge",
    urls=("https://huggingface.co/nvidia/stt_en_conformer_transducer_xlarge/resolve/main/"
          "stt_en_conformer_transducer_xlarge.nemo",
          "https://api.ngc.nvidia.com/v2/models/nvidia/nemo/stt_en_conformer_transducer_xlarge/"
          "versions/1.10.0/files/stt_en_conformer_transducer_xlarge.nemo"),
    sha256="", size=0, licence="CC BY 4.0",
    path="nemo/stt_en_conformer_transducer_xlarge.nemo", used_by="metric wer (backend nemo)",
    description="NVIDIA NeMo Conformer-Transducer XLarge English ASR (MaskSR2 footnote 4)",
    homepage="https://huggingface.co/nvidia/stt_en_conformer_transducer_xlarge"))

register_asset(Asset(
    name="wespeaker_voxceleb_resnet34",
    urls=("https://huggingface.co/Wespeaker/wespeaker-voxceleb-resnet34/resolve/main/"
          "voxceleb_resnet34.onnx",
          "https://wespeaker-1256283475.cos.ap-shanghai.myqcloud.com/models/voxceleb/"
          "voxceleb_resnet34.onnx"),
    sha256="", size=0, licence="CC BY 4.0 (VoxCeleb-trained WeSpeaker model)",
    path="wespeaker/voxceleb_resnet34.onnx", used_by="(earlier spk_sim backend; not used now)",
    description="WeSpeaker ResNet34 speaker embedding, VoxCeleb2-dev, ONNX runtime model",
    homepage="https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md"))

# The model the public WeSpeaker command line of 2024 uses for `--language english`
# (wenet-e2e/wespeaker wespeaker/cli/hub.py at 3ccc791: "english": voxceleb_resnet221_LM, since
# 2023-11; before c6a42a1 the CLI ran this very model's ONNX export). Its ONNX runtime export is
# listed in docs/pretrained.md (same commit); no sha256 is published there.
register_asset(Asset(
    name="wespeaker_voxceleb_resnet221_LM",
    urls=("https://wenet.org.cn/downloads?models=wespeaker&version=voxceleb_resnet221_LM.onnx",
          "https://huggingface.co/Wespeaker/wespeaker-voxceleb-resnet221-LM/resolve/main/"
          "voxceleb_resnet221_LM.onnx",
          "https://wespeaker-1256283475.cos.ap-shanghai.myqcloud.com/models/voxceleb/"
          "voxceleb_resnet221_LM.onnx"),
    sha256="", size=0, licence="CC BY 4.0 (VoxCeleb-trained WeSpeaker model)",
    path="wespeaker/voxceleb_resnet221_LM.onnx", used_by="metric spk_sim (backend wespeaker)",
    description="WeSpeaker ResNet221 (large-margin fine-tuned) speaker embedding, VoxCeleb2-dev, "
                "ONNX runtime model: the 2024 CLI's English model",
    homepage="https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md"))

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
    sha256="",          # not found with the look-up tools: unpinned (used with a warning naming
                        # its hash; the hash enters cache keys and provenance)
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
    sha256="",          # not found with the look-up tools: unpinned (used with a warning naming
                        # its hash; the hash enters cache keys and provenance)
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
# VoiceBank-DEMAND's test archives and the VoiceFixer release are registered *unpinned* (sha256
# ""): `fetch` downloads them and warns with the file's own sha256, `verify` lists them as
# unpinned. The DNS 2020 test set has no single archive (git-LFS files): testsets/provision.py fetches
# its LFS objects from the repository.
register_asset(Asset(
    name="voicebank_demand_clean_testset",
    urls=("https://datashare.ed.ac.uk/bitstream/handle/10283/2791/clean_testset_wav.zip",),
    sha256="", size=0, licence="CC BY 4.0",
    path="corpora/VoiceBank-DEMAND/clean_testset_wav.zip",
    used_by="test sets denoise, vctk_gsr (noise), libri_noisy (noise)", kind="corpus", unpack=True,
    description="VoiceBank-DEMAND clean test speech (824 utterances, 48 kHz)",
    homepage="https://datashare.ed.ac.uk/handle/10283/2791",
))
register_asset(Asset(
    name="voicebank_demand_noisy_testset",
    urls=("https://datashare.ed.ac.uk/bitstream/handle/10283/2791/noisy_testset_wav.zip",),
    sha256="", size=0, licence="CC BY 4.0",
    path="corpora/VoiceBank-DEMAND/noisy_testset_wav.zip",
    used_by="test sets denoise, vctk_gsr (noise), libri_noisy (noise)", kind="corpus", unpack=True,
    description="VoiceBank-DEMAND noisy test speech (noise = noisy - clean, as VoiceFixer derives it)",
    homepage="https://datashare.ed.ac.uk/handle/10283/2791",
))
register_asset(Asset(
    name="voicebank_demand_testset_txt",
    urls=("https://datashare.ed.ac.uk/bitstream/handle/10283/2791/testset_txt.zip",),
    sha256="", size=0, licence="CC BY 4.0",
    path="corpora/VoiceBank-DEMAND/testset_txt.zip",
    used_by="test set vctk_gsr (noise), libri_noisy (noise)", kind="corpus", unpack=True,
    description="VoiceBank-DEMAND test-set transcripts",
    homepage="https://datashare.ed.ac.uk/handle/10283/2791",
))
register_asset(Asset(
    name="voicefixer_testsets",
    urls=("https://zenodo.org/record/5528144/files/GSR_and_SSR_testsets.zip?download=1",),
    sha256="", size=0, licence="see the Zenodo record (VCTK/VoiceBank-DEMAND-derived audio, CC BY 4.0)",
    path="corpora/voicefixer/GSR_and_SSR_testsets.zip",
    used_by="test sets all_gsr / sr / decli / derev / denoise with --source official", kind="corpus",
    unpack=True,
    description="VoiceFixer's released test sets: TestSets/{ALL_GSR,SR,DECLI,DEREV,DENOISE} + pair lists",
    homepage="https://zenodo.org/record/5528144",
))
# VoiceFixer's RIR-44k (003 App. C.1: 43239 filters simulated with sunits/rir_simulator_python at
# 44.1 kHz, 5000 of them the test split RIR-Test). voicefixer_main init.sh fetches exactly this URL
# and unzips it into datasets/se, giving datasets/se/RIR_44k/{train,test}. No size or checksum is
# published on the pages reachable from here: unpinned.
register_asset(Asset(
    name="voicefixer_rir44k",
    urls=("https://zenodo.org/record/5528124/files/RIR_44k.zip?download=1",),
    sha256="", size=0, licence="see the Zenodo record 5528124",
    path="corpora/voicefixer/RIR_44k.zip",
    used_by="test sets all_gsr, derev (RIR-Test, the default RIRs)", kind="corpus", unpack=True,
    description="VoiceFixer RIR-44k: simulated 44.1 kHz room impulse responses, train/ and test/ (.npy)",
    homepage="https://zenodo.org/record/5528124",
))
# DCASE 2018 Task 1 (TUT Urban Acoustic Scenes 2018) evaluation audio, Zenodo 1293883: all_gsr's
# noise (DCASE-Eval, 003 App. C.1/C.3). Sizes and md5 as dcase_util 0.2.20 records them
# (datasets/tut.py, TUTUrbanAcousticScenes_2018_EvaluationSet.package_list); the publisher gives
# md5 only, no sha256: `fetch` checks the md5 (Asset.md5) and the size.
_DCASE18_EVAL = "https://zenodo.org/record/1293883/files/TUT-urban-acoustic-scenes-2018-evaluation.{part}.zip"
_DCASE18_EVAL_PARTS = (
    # (part, bytes, md5)
    ("audio.1", 1718662668, "4fd51d1365df3d13735b86a51ff8840b"),
    ("audio.2", 1715801158, "f6916f68a16b25f128badff441f80d8a"),
    ("audio.3", 1718666070, "05a6f5d1259a4da49cda32f534c71cc6"),
    ("audio.4", 1716820790, "fcdceb6a022d698064e5537edbbd6664"),
    ("audio.5", 1716577566, "ff94b9abc4f01bf2dd9a2aca79d8590d"),
    ("audio.6", 320850287, "3dd86135fb4df726f6036ffafe0dff88"),
    ("meta", 8840, "b519d0b2addcb5e8569ec0c44df14e3e"),
)
for _part, _bytes, _md5 in _DCASE18_EVAL_PARTS:
    register_asset(Asset(
        name="dcase2018_task1_eval_" + _part.replace(".", "_"),
        urls=(_DCASE18_EVAL.format(part=_part),),
        sha256="", md5=_md5, size=_bytes,
        licence="TUT Urban Acoustic Scenes 2018: free for non-commercial use",
        path=f"corpora/dcase2018/TUT-urban-acoustic-scenes-2018-evaluation.{_part}.zip",
        used_by="test set all_gsr (noise: DCASE-Eval)", kind="corpus", unpack=True,
        description=f"TUT Urban Acoustic Scenes 2018 evaluation set, {_part} (md5 {_md5})",
        homepage="https://zenodo.org/record/1293883",
    ))

# WHAMR! (Maciejewski et al., ICASSP 2020): the room parameters of its test split, one row per
# test utterance, `reverb_params_tt.csv` (columns utterance_id, room_x/y/z, micL_x/y, micR_x/y,
# mic_z, s1_x/y/z, s2_x/y/z, T60), which vctk_gsr simulates as the scripts do (002 Sec. III-A).
# The CSV ships inside MERL's WHAMR! scripts archive as whamr_scripts/data/reverb_params_tt.csv
# (`whamr_scripts` below: fetched and unpacked, testsets/whamr.py reads the CSV from there), and
# alone in speechbrain's sepformer-whamr model repository, where
# recipes/WHAMandWHAMR/meta/create_whamr_rirs.py (speechbrain @ 9c826ef39) fetches it
# ("metadata/reverb_params_tt.csv"). Neither publisher gives a checksum and neither file could be
# downloaded from here to hash it: both unpinned (sha256 ""); a build records the CSV's own sha256
# in info.json.
register_asset(Asset(
    name="whamr_reverb_params_tt",
    urls=("https://huggingface.co/speechbrain/sepformer-whamr/resolve/main/metadata/"
          "reverb_params_tt.csv",),
    sha256="", size=0, licence="CC BY-NC 4.0 (WHAMR! metadata, MERL)",
    path="corpora/whamr/reverb_params_tt.csv",
    used_by="test set vctk_gsr (rooms)", kind="corpus",
    description="WHAMR! test-split room parameters, one row per test utterance (3000 rows)",
    homepage="http://wham.whisper.ai/",
))
register_asset(Asset(
    name="whamr_scripts",
    urls=("https://storage.googleapis.com/whisper-public/whamr_scripts.tar.gz",),
    sha256="", size=0, licence="CC BY-NC 4.0 (WHAMR! scripts, MERL)",
    path="corpora/whamr/whamr_scripts.tar.gz",
    used_by="test set vctk_gsr (rooms: whamr_scripts/data/reverb_params_tt.csv)", kind="corpus",
    unpack=True,
    description="WHAMR! generation scripts with their metadata CSVs (data/reverb_params_{tr,cv,tt}.csv)",
    homepage="http://wham.whisper.ai/",
))

register_asset(Asset(
    name="vctk_0.92",
    urls=("https://datashare.ed.ac.uk/bitstream/handle/10283/3443/VCTK-Corpus-0.92.zip",),
    sha256="f96258be9fdc2cbff6559541aae7ea4f59df3fcaf5cf963aae5ca647357e359c",
    size=11747302977,
    licence="CC BY 4.0",
    path="corpora/VCTK-Corpus-0.92.zip",
    used_by="test sets sr, all_gsr, vctk_gsr, decli, derev",
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


@dataclass(frozen=True)
class CorpusArchive:
    """How a corpus archive unpacks, for a fetcher that installs it under BENCHMARK_CORPORA: the
    archive's members are extracted into `unpack_to` (relative to BENCHMARK_CORPORA), which then
    holds `corpus_folder` (the folder testsets/corpora.py looks for). `md5`: the publisher's
    checksum where it gives md5 instead of sha256."""
    asset: str
    unpack_to: str
    corpus_folder: str
    top_level: str              # the archive's own top folder ("" when its members sit at its root)
    md5: str = ""


CORPUS_ARCHIVES: dict[str, CorpusArchive] = {a.asset: a for a in (
    # VCTK-Corpus-0.92.zip has wav48_silence_trimmed/, txt/ at its root (torchaudio VCTK_092
    # extracts it into <root>/VCTK-Corpus-0.92)
    CorpusArchive("vctk_0.92", "VCTK-Corpus-0.92", "VCTK-Corpus-0.92", ""),
    CorpusArchive("librispeech_test_clean", ".", "LibriSpeech", "LibriSpeech"),
    # the datashare zips each hold their own folder (clean_testset_wav/, ...). DataShare lists
    # 147.1 MB / 162.6 MB for the clean / noisy test zips (no exact bytes, no sha256); a
    # third-party README gives md5 34eb1c0ba7ef667e9b966866c542fc16 / fb1b86caa31e8ba5b506c0c64da9aab5
    # (unverified here, so not enforced)
    CorpusArchive("voicebank_demand_clean_testset", "VoiceBank-DEMAND", "VoiceBank-DEMAND", "clean_testset_wav"),
    CorpusArchive("voicebank_demand_noisy_testset", "VoiceBank-DEMAND", "VoiceBank-DEMAND", "noisy_testset_wav"),
    CorpusArchive("voicebank_demand_testset_txt", "VoiceBank-DEMAND", "VoiceBank-DEMAND", "testset_txt"),
    # voicefixer_main init.sh: unzip GSR_and_SSR_testsets.zip -d datasets/se -> datasets/se/TestSets
    CorpusArchive("voicefixer_testsets", ".", "TestSets", "TestSets"),
    # voicefixer_main init.sh: unzip RIR_44k.zip -d datasets/se -> datasets/se/RIR_44k/{train,test}
    CorpusArchive("voicefixer_rir44k", ".", "RIR_44k", "RIR_44k"),
    *(CorpusArchive("dcase2018_task1_eval_" + part.replace(".", "_"), ".",
                    "TUT-urban-acoustic-scenes-2018-evaluation", "TUT-urban-acoustic-scenes-2018-evaluation",
                    md5) for part, _b, md5 in _DCASE18_EVAL_PARTS),
)}


# ---------------------------------------------------------------------------------------------
# Demo corpora (`make demo` on a machine without corpora: benchmark/demo.py)
# ---------------------------------------------------------------------------------------------
# Cache paths are `demo_corpora/<the corpus layout>`, so the cached files form a corpora folder.
# Mini LibriSpeech dev-clean-2 (OpenSLR 31) stands in for LibriSpeech test-clean. Its sha256 is
# the one pinned by a public Nix derivation (fetchurl, sha256-F27FAUkO...); OpenSLR publishes
# only md5 (6d7ab67ac6a1d2c993d050e16d61080d). Its exact byte size was not found: `size` is
# OpenSLR's listed 126 MB, used only for the progress bar (the sha256 decides).
register_asset(Asset(
    name="demo_mini_librispeech",
    urls=("https://www.openslr.org/resources/31/dev-clean-2.tar.gz",
          "https://openslr.elda.org/resources/31/dev-clean-2.tar.gz"),
    sha256="176ec501490eced2d6c1f89f4f0ddc7dfe799e649e5322f8ba49fe3ff50c8012",
    size=126 * 1024 * 1024,
    licence="CC BY 4.0",
    path="demo_corpora/archives/dev-clean-2.tar.gz",
    used_by="make demo (fresh machine)",
    kind="corpus",
    description="Mini LibriSpeech dev-clean-2 (16 kHz FLAC + transcripts), the demo's speech",
    unpack=True,
    homepage="https://www.openslr.org/31/",
))

_GH = "https://github.com/{repo}/raw/{commit}/{path}"
_DEMO_FILES = (
    # (corpus path, repo, commit, path in repo, sha256, bytes, licence)
    *((f"VoiceBank-DEMAND/{kind}_testset_wav/p287_00{i}.wav", "facebookresearch/denoiser",
       "8afd7c166699bb3c8b2d95b6dd706f71e1075df0", f"dataset/debug/{kind}/p287_00{i}.wav", sha, size,
       "VoiceBank-DEMAND audio CC BY 4.0")
      for kind, i, sha, size in (
          ("clean", 1, "41ed2c8c8ca2e31edda5aa987530c7087ec50ee42f2c8c3318600ef61f1a0838", 62778),
          ("noisy", 1, "76d5125141e3a7a17d5982a10e0e748128049af60628236fe8cb38f0a67de729", 62778),
          ("clean", 2, "0f7110ab41ee613df8ed5dcd44a031754c1d0d04ce1e5d92bd9ef68b712b83ac", 104216),
          ("noisy", 2, "4b4da148e54b7dfe9d739e388d56122f141763204bc3c4c2917087a3a617baae", 104216),
          ("clean", 3, "cc0e09b21dd1160078fb2f53f75b1862f869a5ecb6dca1fb2e861a6060c7b352", 231474),
          ("noisy", 3, "4e72a4878aecfd6e8cc7a7996034fa323a2737d738b0cd5940063f596ad6b8c0", 231474),
          ("clean", 4, "0edb5668afed189894d7e6e47d0d615b5bbcddf118d551fc73aa61bc692d142a", 155606),
          ("noisy", 4, "afecf6312419f065e93dbc65a910e4116eb3237eec4da8d355f4634fcc9fef3e", 155606),
          ("clean", 5, "db831ffcc4759dccc0fd4d3d5096a9be5d7da553e16b63341f577f42a0bea83a", 207836),
          ("noisy", 5, "3adf814d4516f6c6fc24867b301a27633c0ae662bef07ffb9e537af36c39fcf1", 207836),
          ("clean", 6, "82320e81d8238865e216fe5c91ee8dabf413062bdccb5afdcfcbd0802be5a19d", 162586),
          ("noisy", 6, "1eab20927973cb23fa99efa9577bd4064cdbf02da45160271a7aa2b9149c2883", 162586))),
    ("noise/doing_the_dishes.wav", "LCAV/pyroomacoustics", "6fe43fecb7c358ac9aaa054e7e73641189f1afff",
     "examples/input_samples/doing_the_dishes.wav",
     "099eafcd7c4c266612012b5622b97157042e5288acaf4cbf3dc475814bfcdaa8", 3045984,
     "Speech Commands background noise, CC BY 4.0"),
    ("noise/noise_freesound_573577.wav", "Rikorose/DeepFilterNet", "d375b2d8309e0935d165700c91da9de862a99c31",
     "assets/noise_freesound_573577.wav",
     "cb367b36e4e9d72d112377dd57bf354e13f0b30f8402c9e841ac47639e773497", 474010, "CC0 1.0 (freesound)"),
    ("rirs/rir_sim_1001_w11.7_l2.6_h2.5_rt60_0.7919.wav", "Rikorose/DeepFilterNet",
     "d375b2d8309e0935d165700c91da9de862a99c31", "assets/rir_sim_1001_w11.7_l2.6_h2.5_rt60_0.7919.wav",
     "227db737f46bca264378e1c55c25f033ada513dbfbed928edf6783e0d13ba89d", 108514, "MIT/Apache-2.0"),
    *((f"DNS-Challenge/datasets/test_set/synthetic/no_reverb/{kind}/{kind}_fileid_{i}.wav",
       "Xiaobin-Rong/gtcrn",
       "bad2f7a943d6be997cdde145725286f1dfe12d6b", f"audio_examples/00{i}_{kind}.wav", sha, 160044,
       "DNS Challenge test set, CC BY 4.0")
      for kind, i, sha in (
          ("clean", 15, "e448d6a68c0eabcd41134964f54ede02a91a81cbef45e30ebd9c218981b1d5d1"),
          ("noisy", 15, "8f31605f758d8bfa158527c1dccdff5c11be0ea9a737a74fc467aef3584392af"),
          ("clean", 16, "bcbcfa1c09018fc332d93a9a5a954a6422398794decb64f2757cb060fc57190d"),
          ("noisy", 16, "97b2fd196738d579ae65d5a439f3968c98a94b3801e7c979fdc9f2164899e9b4"),
          ("clean", 72, "d78f921686cfb66ff5b7295e49cdb32f178e4a0e7d2566c3d0fdb3533c32f77b"),
          ("noisy", 72, "6a70e78745559ff99cfa12c75d66922682710cd97830ff82b918467572aaefa7"))),
)
for _rel, _repo, _commit, _src, _sha, _size, _lic in _DEMO_FILES:
    register_asset(Asset(
        name="demo_" + _rel.rsplit("/", 1)[-1].removesuffix(".wav").lower().replace(".", "_")
             + ("_" + _rel.split("/")[1].split("_")[0] if _rel.startswith("VoiceBank") else ""),
        urls=(_GH.format(repo=_repo, commit=_commit, path=_src),),
        sha256=_sha, size=_size, licence=_lic, path=f"demo_corpora/{_rel}",
        used_by="make demo (fresh machine)", kind="corpus",
        description=f"demo corpus file {_rel}", homepage=f"https://github.com/{_repo}"))


# ---------------------------------------------------------------------------------------------
# Look-ups (the records above are registered when this module is imported)
# ---------------------------------------------------------------------------------------------
def get_asset(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetError(f"unknown asset '{name}'. Known: {', '.join(sorted(ASSETS))}") from None


def all_assets() -> list[Asset]:
    return [ASSETS[k] for k in sorted(ASSETS)]
