"""The papers' table layouts per test set, as data: the report lays its tables out from them and
the metric plan (benchmark.run.plan) scores, by default, the metrics they show.

A layout names its columns by the papers' column ids (SIG, BAK, OVL, SESQA, LSD, WER, SPK; PESQ,
SiSPNR, SSIM, SiSNR, STOI, MOS) and says which metric (and sub-score) fills each, and, where a
metric has versions, which backend produced the published numbers: a run's default metrics
(`layout_metrics`, benchmark.run.plan's defaults) ask for that backend and the report
names the backend behind every column.
SESQA, Dolby's in-house model, is not public: its column is filled by NISQA, the public full-band
stand-in, and footnoted as such. MOS columns are the papers' listening tests: no metric fills them
(see `listen-test`); only the published rows show values.

Backends of the published numbers (LSD and SiSPNR have versions; see metrics/lsd.py, sispnr.py):
- 001/002 (MaskSR, MaskSR2): LSD `voicefixer2022`. Both cite "the public implementation in [1]"
  (VoiceFixer) in 2024, when every public one - voicefixer_main after 9c94468 (Feb 2022) and the
  PyPI `ssr_eval` 0.0.7 (2023) - computes the 2022 form. The numbers agree: on the same released
  SR set, 001's Unprocessed LSD (2-16 kHz rates) is 2.889 against 003's 2.78 (mean of 3.13, 2.97,
  2.70, 2.32 in the 2021 form), +0.11; the 2022 form exceeds the 2021 one by +0.17 on our 16-bit
  SR renderings of the 8 VCTK excerpts (3.230 vs 3.065), and by about 0 on noisy input (ALL-GSR
  Unprocessed: 001 2.014, 003 2.00).
- 003/004 (VoiceFixer): LSD and SiSPNR `voicefixer2021` (voicefixer_main evaluation_proc at
  0c206f7; 003 was submitted in Oct 2021, 004's numbers are 003's); PESQ-wb, SiSNR and STOI
  `speechmetrics` (the same file computes them with speechmetrics: resampy to 16 kHz for PESQ,
  the files' own rate otherwise, zero-padding).
A test set may have several layouts (sr and all_gsr: MaskSR's and VoiceFixer's tables).

Which way a column is better comes from its metric (`MetricInfo.higher_is_better`), never from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    paper_id: str                 # column id in paper_results.json
    header: str
    metric: str                   # metric name in the METRICS registry
    sub: str | None = None        # metric sub-score column (None: the metric's first column)
    digits: int = 3
    backend: str | None = None    # the metric backend the published numbers used (None: any)

    @property
    def spec(self) -> str:
        """The metric spec a run asks for: `lsd:voicefixer2021`, or the bare name."""
        return f"{self.metric}:{self.backend}" if self.backend else self.metric


@dataclass(frozen=True)
class Layout:
    name: str
    source: str                   # the paper table it reproduces
    testsets: tuple[str, ...]
    columns: tuple[Column, ...]
    by_subset: bool = False       # one table per subset (dns2020: with/without reverb, real)
    subset_columns: dict | None = None  # subset -> paper ids shown (dns2020 real: no Spk Sim)
    papers: tuple[str, ...] = ("001", "002")   # seeds whose published rows it shows
    # how the listening page groups the set's items into tables: "subset" (the manifest's),
    # "canonical" (the papers' subset names, benchmark.report.tables.canonical_subset) or
    # "dominant" (the dominant distortion of each item)
    listen_groups: str = "subset"

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric specs its measured columns need (MOS columns have none)."""
        return tuple(dict.fromkeys(c.spec for c in self.columns if c.metric))


SIG = Column("SIG", "DNSMOS SIG ↑", "dnsmos", "SIG")
BAK = Column("BAK", "DNSMOS BAK ↑", "dnsmos", "BAK")
OVL = Column("OVL", "DNSMOS OVL ↑", "dnsmos", "OVRL")
SESQA = Column("SESQA", "NISQA ↑ †", "nisqa", "MOS")
LSD = Column("LSD", "LSD ↓", "lsd", None, backend="voicefixer2022")
WER = Column("WER", "WER (%) ↓", "wer", None, digits=2)
SPK = Column("SPK", "Spk Sim ↑", "spk_sim", None)

# VoiceFixer (003, 004): two decimals, as published; LSD and SiSPNR in their 2021 versions
VF_PESQ = Column("PESQ", "PESQ-wb ↑", "pesq", None, digits=2, backend="speechmetrics")
VF_LSD = Column("LSD", "LSD ↓", "lsd", None, digits=2, backend="voicefixer2021")
VF_SISPNR = Column("SiSPNR", "SiSPNR ↑", "sispnr", None, digits=2, backend="voicefixer2021")
VF_SSIM = Column("SSIM", "SSIM ↑", "ssim", None, digits=2)
VF_SISNR = Column("SiSNR", "SiSNR ↑", "si_snr", None, digits=2, backend="speechmetrics")
VF_STOI = Column("STOI", "STOI ↑", "stoi", None, digits=2, backend="speechmetrics")
VF_MOS = Column("MOS", "MOS ↑ ‡", "", None, digits=2)
VF = ("003", "004")

LAYOUTS: tuple[Layout, ...] = (
    Layout("full_band", "MaskSR (001) Table 1", ("sr", "all_gsr"), (SIG, BAK, OVL, SESQA, LSD, SPK)),
    Layout("vctk_gsr", "MaskSR2 (002) Table I", ("vctk_gsr",), (SIG, BAK, OVL, SESQA, LSD, WER, SPK),
           listen_groups="dominant"),
    Layout("libri_noisy", "MaskSR2 (002) Table III", ("libri_noisy",), (SIG, BAK, OVL, WER, SPK)),
    Layout("dns2020", "MaskSR (001) Table 4 / MaskSR2 (002) Table IV", ("dns2020",),
           (SIG, BAK, OVL, SPK), by_subset=True,
           subset_columns={"real_recordings": ("SIG", "BAK", "OVL")}, listen_groups="canonical"),
    Layout("vf_all_gsr", "VoiceFixer (003) Table 1 / (004) Table 1", ("all_gsr",),
           (VF_PESQ, VF_LSD, VF_SISPNR, VF_SSIM, VF_MOS), papers=VF),
    Layout("vf_sr", "VoiceFixer (003) Table 6, per sampling rate", ("sr",),
           (VF_LSD, VF_SISPNR, VF_SSIM, VF_MOS), by_subset=True, papers=VF),
    Layout("vf_denoise", "VoiceFixer (003) Table 7 / (004) Table 2", ("denoise",),
           (VF_SISNR, VF_PESQ, VF_SISPNR, VF_MOS), papers=VF),
    Layout("vf_derev", "VoiceFixer (003) Table 8", ("derev",), (VF_PESQ, VF_SISPNR, VF_MOS), papers=VF),
    Layout("vf_decli", "VoiceFixer (003) Table 9 / (004) Table 3, per clipping level", ("decli",),
           (VF_SISNR, VF_STOI, VF_PESQ, VF_MOS), by_subset=True, papers=VF),
)

def layouts_for(testset: str) -> tuple[Layout, ...]:
    """Every paper layout of a test set, in LAYOUTS order (MaskSR's first, then VoiceFixer's)."""
    return tuple(layout for layout in LAYOUTS if testset in layout.testsets)


def layout_for(testset: str) -> Layout | None:
    found = layouts_for(testset)
    return found[0] if found else None


def layout_metrics(testsets: list[str]) -> list[str]:
    """The metric specs the sets' tables need (`lsd:voicefixer2021` where a table's published
    numbers used a backend), in table order: what a run scores by default (benchmark.run.plan)."""
    names: list[str] = []
    for t in testsets:
        for layout in layouts_for(t):
            names += [m for m in layout.metrics if m not in names]
    return names


def listen_groups(testset: str) -> str:
    """How the listening page groups a set's items (its first layout's `listen_groups`)."""
    found = layout_for(testset)
    return found.listen_groups if found else "subset"
