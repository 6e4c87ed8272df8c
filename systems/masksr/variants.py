"""The papers' ablation rows as configurations of the one MaskSR model and trainer (issue 6), each
registered as a config (train with `python -m benchmark train NAME ...`) and as a system whose
`paper_row` is the row name of `benchmark/report/paper_results.json`.

- 001 Table 1 / Table 2: `soundstorm_s`, `uniaudio_s` (MaskSR-S size and training, 001 Sec. 3.2);
- 001 Table 5 (App. A): `masksr_s_waveform`, `masksr_s_dac` (w = 0.3 as chosen in App. A);
- 002 Table I: `masksr2_s_<kd>` for every KD target (`none` is 002's MaskSR-S at w = 1, in 002's
  form: BatchNorm, FC, DAC-initialised embeddings), `masksr2_s_none_w0` (the same checkpoint at
  w = 0);
- 002 Table V (App. B): span masking, `masksr2_s_l9_k500_span5`, `masksr2_s_avg_feature_span{4,6,8}`.
"""

from __future__ import annotations

import dataclasses

from systems.base import SYSTEMS
from systems.masksr.config import get_config, register_config
from systems.masksr.plugin import system_class


def _variant(base: str, name: str, paper_row: str, **changes) -> str:
    register_config(dataclasses.replace(get_config(base), name=name, paper_row=paper_row, **changes))
    return name


KD_ROWS = {"none": "MaskSR-S (w = 1)", "stft44k": "MaskSR2-S (STFT-44.1k)",
           "stft16k": "MaskSR2-S (STFT-16k)", "l9_k500": "MaskSR2-S (L9-K500)",
           "l9_feature": "MaskSR2-S (L9-feature)", "avg_feature": "MaskSR2-S (Avg-feature)"}
SPAN_ROWS = {("l9_k500", 5): "MaskSR2-S (L9-K500, span 5)",
             ("avg_feature", 4): "MaskSR2-S (Avg-feature, span 4)",
             ("avg_feature", 6): "MaskSR2-S (Avg-feature, span 6)",
             ("avg_feature", 8): "MaskSR2-S (Avg-feature, span 8)"}

VARIANTS: tuple[str, ...] = (
    # 48 LM passes: 40 iterations for codebook 1 + one greedy pass for each of the 8 others
    _variant("masksr_s", "soundstorm_s", "SoundStorm", codebook_modelling="soundstorm", iterations=48),
    # 9 x T sampling steps per window; `iterations` is not used by the autoregressive decoder
    _variant("masksr_s", "uniaudio_s", "UniAudio", codebook_modelling="uniaudio", lm_blocks=5),
    _variant("masksr_s", "masksr_s_waveform", "MaskSR-S (waveform input)", input_feature="waveform",
             input_proj="fc"),
    _variant("masksr_s", "masksr_s_dac", "MaskSR-S (DAC input)", input_feature="dac",
             encoder_blocks=0, lm_blocks=14, guidance=0.3),
    *(_variant("masksr2_s", f"masksr2_s_{kd}", row, kd_target=kd) for kd, row in KD_ROWS.items()),
    *(_variant("masksr2_s", f"masksr2_s_{kd}_span{span}", row, kd_target=kd, span=span)
      for (kd, span), row in SPAN_ROWS.items()),
)

for _name in VARIANTS:
    SYSTEMS.add(_name, lambda n=_name: system_class(n))

# 002 Table I's MaskSR-S (w = 0): the `masksr2_s_none` checkpoint decoded without guidance
DECODING_VARIANTS = {"masksr2_s_none_w0": ("masksr2_s_none", 0.0, "MaskSR-S (w = 0)")}
for _name, (_config, _w, _row) in DECODING_VARIANTS.items():
    SYSTEMS.add(_name, lambda n=_name, c=_config, w=_w, r=_row: system_class(n, c, w, r))
