"""The codebook modelling strategies (001 Sec. 2.4) as one explicit table, `codebook_modelling=`:
MaskSR's `parallel` (with 002 App. B span masking), `soundstorm` and `uniaudio`."""

from __future__ import annotations

from systems.masksr.config import ConfigError
from systems.masksr.parallel import ParallelStrategy
from systems.masksr.soundstorm import SoundStormStrategy
from systems.masksr.strategy_base import CodebookStrategy
from systems.masksr.uniaudio import UniAudioStrategy

STRATEGIES: dict[str, CodebookStrategy] = {
    s.name: s for s in (ParallelStrategy(), SoundStormStrategy(), UniAudioStrategy())
}


def get_strategy(name: str) -> CodebookStrategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown codebook_modelling '{name}'; known: {', '.join(sorted(STRATEGIES))}") from None
