"""The MaskSR family (001 MaskSR, 002 MaskSR2): codec, encoder, masked LM, KD, sampler, trainer.

Importing the package registers the system plugins (`plugin`); everything heavy is imported lazily.
"""

from systems.masksr import (
    plugin,  # noqa: F401  (registers masksr_* / masksr2_* systems)
    variants,  # noqa: F401,E402  (issue 6: ablation configs and systems)
)
