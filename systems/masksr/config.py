"""Typed configurations of the MaskSR family (001 Sec. 3.2, 002 Sec. III-B) and their registry.

Every variant (paper sizes, the tiny test config, and later the ablations of 001 Sec. 2.4 /
002 App. B) is one `MaskSRConfig`; `override` applies `key=value` strings from the command line.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field

from benchmark.core.errors import BenchmarkError


class ConfigError(BenchmarkError):
    """An unknown configuration name or a bad override."""


@dataclass(frozen=True)
class MaskSRConfig:
    name: str
    paper_row: str = ""
    paper: str = ""                      # the paper this configuration follows: "001" (MaskSR,
                                         # Interspeech 2024) or "002" (MaskSR2); "" for test configs
    # --- architecture (001 Sec. 2.2-2.3, 3.2; 002 Sec. II, III-B) ---------------------------
    d_model: int = 512
    encoder_blocks: int = 6
    lm_blocks: int = 8
    heads: int = 16
    mlp_ratio: int = 4
    dropout: float = 0.0                 # papers are silent: none
    n_codebooks: int = 9
    codebook_size: int = 1024
    input_feature: str = "stft"          # registry encoder.INPUT_FEATURES ("stft"; issue 6: waveform, dac)
    n_fft: int = 2048
    hop: int = 512                       # = DAC hop: STFT frames align with codegram frames
    input_norm: str = "none"             # "batchnorm": MaskSR2's 1025-channel BatchNorm1d
    input_proj: str = "mlp"              # "mlp" (MaskSR) or "fc" (MaskSR2)
    embedding: str = "table"             # registry lm.EMBEDDINGS: "table" or "dac" (002 App. A)
    codebook_modelling: str = "parallel"  # registry strategies.STRATEGIES
    span: int = 1                        # span length in frames (002 App. B); 1 = token masking
    cfg_dropout: float = 0.1             # encoder output replaced by the learned embedding
    # --- semantic KD (002 Sec. II-A) ----------------------------------------------------------
    kd_target: str = "none"              # registry kd.KD_TARGETS
    kd_teacher: str = "hubert_base"      # registry kd.TEACHERS
    # --- codec ------------------------------------------------------------------------------------
    codec: str = "dac_44khz"             # registry codec.CODECS
    rate: int = 44100
    # --- sampler (001 Sec. 2.3 / 3.2; 002 Sec. II-B / III-B) ---------------------------------
    iterations: int = 40
    guidance: float = 2.0
    window_seconds: float = 3.0
    noise_var_start: float = 4.0
    score: str = "logit"                 # ranking score, registry decoding.SCORES: "logit" (001
                                         # Sec. 2.3, 002 Sec. II-B) or "log_prob"
    # --- training ---------------------------------------------------------------------------------
    segment_seconds: float = 3.0
    lr: float = 1e-4
    batch: int = 64
    steps: int = 800_000
    checkpoint_every: int = 1000
    log_every: int = 50
    seed: int = 0
    snr_db: tuple[float, float] = (-5.0, 20.0)
    clip: tuple[float, float] = (0.1, 0.5)
    bandwidth_hz: tuple[float, float] = (1000.0, 22050.0)
    p_reverb: float = 0.3                # reverb stage: voicefixer_main's config (reverb_rir prob
                                         # 0.30 at 0c206f7); 003's text says 0.25 (Algorithm 1 p1)
    degradation: str = "voicefixer_0c206f7"  # training distribution, registry augment.DISTRIBUTIONS:
                                         # its stages' probabilities; the ranges are the fields above
    simulated_rirs: int = 256            # RIR pool simulated when no --rirs folder is given
    segments_per_file: int = 0           # clean segments taken per speech file (0: all)
    fixed_degradations: int = 0          # 0: a fresh degradation every draw; N: each segment cycles
                                         # through N fixed degradations (overfitting / debugging)
    gain_bins: int = 8                   # Algorithm 1's random gain q ~ U(0.3, 1) on input and
                                         # target (003 App. C.2), in this many bins with codegrams
                                         # pre-extracted per bin (systems/masksr/prepare.py); 1: none
    extra: dict = field(default_factory=dict)

    # Frames of a window / training segment as the codec counts them: ceil(samples / hop) (the
    # codec pads to whole frames), so 3 s give ceil(132300 / 512) = 259 frames and UniAudio's
    # 9 x 259 = 2331 decoding steps (001 Sec. 3.2).
    @property
    def window_frames(self) -> int:
        return math.ceil(round(self.window_seconds * self.rate) / self.hop)

    @property
    def segment_frames(self) -> int:
        return math.ceil(round(self.segment_seconds * self.rate) / self.hop)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MaskSRConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown MaskSR config fields {sorted(unknown)}")
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)


CONFIGS: dict[str, MaskSRConfig] = {}


def register_config(cfg: MaskSRConfig) -> MaskSRConfig:
    CONFIGS[cfg.name] = cfg
    return cfg


def get_config(name: str) -> MaskSRConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"unknown MaskSR configuration '{name}'. Known: {', '.join(sorted(CONFIGS))}") from None


def _parse(value: str, typ):
    origin = typing.get_origin(typ)
    if typ in (int, "int"):
        return int(value)
    if typ in (float, "float"):
        return float(value)
    if typ in (bool, "bool"):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ValueError(value)
    if typ in (str, "str"):
        return value
    if origin is tuple or (isinstance(typ, str) and typ.startswith("tuple")):
        return tuple(float(v) for v in value.split(","))
    raise ValueError(f"cannot parse {typ}")


def override(cfg: MaskSRConfig, items: list[str] | dict) -> MaskSRConfig:
    """Apply `key=value` overrides (strings parsed by the field's type) or a dict of values."""
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            if "=" not in item:
                raise ConfigError(f"bad config override '{item}': expected KEY=VALUE")
            k, v = item.split("=", 1)
            pairs.append((k.strip(), v.strip()))
    fields = {f.name: f for f in dataclasses.fields(MaskSRConfig)}
    changes = {}
    for k, v in pairs:
        if k not in fields or k == "name":
            raise ConfigError(f"unknown config key '{k}'. Known: {', '.join(sorted(fields))}")
        if isinstance(v, str):
            try:
                v = _parse(v, fields[k].type)
            except ValueError:
                raise ConfigError(f"bad value for {k}: '{v}' (expected {fields[k].type})") from None
        changes[k] = v
    return dataclasses.replace(cfg, **changes)


# --- the papers' configurations -----------------------------------------------------------------
# 001's MaskSR (Sec. 2.2-2.3, 3.2): |STFT|^0.3 -> MLP, 9 embedding tables of 1025 x d, 3 s,
# 40 iterations, w = 2.
_MASKSR = dict(paper="001", input_norm="none", input_proj="mlp", embedding="table", kd_target="none",
               iterations=40, guidance=2.0, window_seconds=3.0, segment_seconds=3.0)
# 002's system (Sec. II, III-B, App. A), for MaskSR and MaskSR2 alike: 1025-channel BatchNorm1d ->
# FC, DAC-initialised embedding blocks ("when training MaskSR and MaskSR2", App. A), 4 s segments
# and windows, 20 iterations, w = 1; MaskSR2 adds the Avg-feature KD, 002's MaskSR has none.
_MASKSR_002 = dict(paper="002", input_norm="batchnorm", input_proj="fc", embedding="dac",
                   kd_target="none", iterations=20, guidance=1.0, window_seconds=4.0,
                   segment_seconds=4.0)
_MASKSR2 = {**_MASKSR_002, "kd_target": "avg_feature"}

# 001 Tables 1, 4 and 5 ("STFT (MaskSR)"); the base of 001's SoundStorm / UniAudio / input rows
register_config(MaskSRConfig(name="masksr_s", paper_row="MaskSR-S", d_model=512, lm_blocks=8, **_MASKSR))
register_config(MaskSRConfig(name="masksr_m", paper_row="MaskSR-M", d_model=768, lm_blocks=12,
                             batch=256, **_MASKSR))
# 002 Table I's MaskSR-L (001 has no L size); 002's MaskSR-S is `masksr2_s_none` (variants.py)
register_config(MaskSRConfig(name="masksr_l", paper_row="MaskSR-L", d_model=1024, lm_blocks=12,
                             batch=256, **_MASKSR_002))
register_config(MaskSRConfig(name="masksr2_s", paper_row="MaskSR2-S", d_model=512, lm_blocks=8,
                             batch=128, **_MASKSR2))
register_config(MaskSRConfig(name="masksr2_l", paper_row="MaskSR2-L", d_model=1024, lm_blocks=12,
                             batch=256, **_MASKSR2))
# Tiny MaskSR2 for tests and CPU smoke runs: random-initialised small DAC of the real class,
# tiny random HuBERT teacher, 0.5 s segments and windows (fast on 2 CPU cores).
register_config(MaskSRConfig(
    name="masksr2_tiny", paper_row="", d_model=64, encoder_blocks=1, lm_blocks=2, heads=4,
    codec="dac_random_small", kd_teacher="hubert_random_tiny",
    **{**_MASKSR2, "paper": "", "iterations": 8, "window_seconds": 0.5, "segment_seconds": 0.5},
    batch=4, steps=300, lr=2e-3, checkpoint_every=100, log_every=25, simulated_rirs=2,
    gain_bins=1))   # one level: the overfit tests measure one target per segment (8 bins measured:
                    # SoundStorm masked accuracy 0.80 instead of 0.94 after 500 steps)
