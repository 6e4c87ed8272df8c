"""`oracle_mel`: VoiceFixer's 44.1 kHz TFGAN vocoder resynthesising the *target's* mel spectrogram
(the vocoder's upper bound: 003 Tables 1, 6-9 and 004 Tables 1-2, row "Oracle-Mel").

An oracle row like `target_dac`: it needs the clean reference. The mel is the one VoiceFixer's
analysis module is trained to predict and its vocoder receives at inference, computed with the
package's own modules exactly as `voicefixer.base.VoiceFixer._pre` computes it (voicefixer 0.1.3):
`FDomainHelper(window_size=2048, hop_size=441, center=True, pad_mode="reflect", window="hann")`
magnitude STFT, then `MelScale(n_mels=128, sample_rate=44100, n_stft=1025)`; it goes to
`Vocoder.forward` (mel weighting, dB, normalisation, the generator), the call `restore_inmem`
makes with the analysis output. What follows is `restore_inmem`'s too: 30 s segments, an output
whose peak exceeds 1 is divided by its peak, and each segment's output is cut to the segment's
length around its centre (`_trim_center`: drop diff//2 samples at the start). The package's own
`Vocoder.oracle(fpath, out_path)` is not used: it builds its mel basis with positional librosa
arguments that librosa >= 0.10 rejects, and it peak-normalises the file, which `restore_inmem`
(the VoiceFixer row) does not.

Weights: the asset `voicefixer_vocoder` (unpinned: its sha256 enters this system's cache key),
checked key by key before the package loads it (`systems.voicefixer.check_vocoder_checkpoint`:
the package's `load_try` would keep random weights for missing keys). The package downloads the
checkpoint at import time when it is missing from ~/.cache/voicefixer, so it is imported with
HOME pointing at our link folder (`systems.voicefixer`), where the asset file already is.
"""

from __future__ import annotations

import numpy as np

from benchmark.assets import fetch
from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo
from systems.voicefixer import VOCODER, _home, check_vocoder_checkpoint, voicefixer_home

SEGMENT = 44100 * 30            # restore_inmem's seg_length


def trim_center(est: np.ndarray, n: int) -> np.ndarray:
    """`VoiceFixer._trim_center` for a longer output: drop diff//2 samples at the start, keep n
    (for diff == 1 the package's slice `[0:-0]` would return nothing; we keep the first n)."""
    diff = est.size - n
    if diff <= 0:
        return np.pad(est, (0, -diff))
    return est[diff // 2: diff // 2 + n]


@SYSTEMS.register
class OracleMel(System):
    info = SystemInfo(
        name="oracle_mel", version="voicefixer0.1.3-tfgan44k", rate=44100, backend="torch",
        description="VoiceFixer's TFGAN vocoder on the clean target's mel (vocoder upper bound)",
        assets=("voicefixer_vocoder",), devices=("cpu", "cuda"), needs_target=True,
        extra="voicefixer", paper_row="Oracle-Mel")

    def load(self) -> None:
        vocoder = fetch("voicefixer_vocoder")          # the asset error before any import
        require("torchlibrosa", "voicefixer", "system oracle_mel")
        import torch
        home = voicefixer_home({VOCODER: vocoder})
        with _home(home):
            require("voicefixer", "voicefixer",
                    "system oracle_mel; install with: pip install --no-deps voicefixer==0.1.3")
            from voicefixer.tools.mel_scale import MelScale
            from voicefixer.tools.modules.fDomainHelper import FDomainHelper
            from voicefixer.vocoder.base import Vocoder
            check_vocoder_checkpoint(vocoder)
            try:
                self._vocoder = Vocoder(sample_rate=44100)
            except Exception as exc:
                raise BenchmarkError(f"VoiceFixer vocoder {vocoder} does not load: "
                                     f"{type(exc).__name__}: {exc}") from exc
        self._f_helper = FDomainHelper(window_size=2048, hop_size=441, center=True,
                                       pad_mode="reflect", window="hann", freeze_parameters=True)
        self._mel = MelScale(n_mels=128, sample_rate=44100, n_stft=1025)
        self._torch = torch
        for m in (self._vocoder, self._f_helper, self._mel):
            m.to(self.device).eval()

    def target_mel(self, x: np.ndarray):
        """The mel VoiceFixer's analysis stage works on: [1, 1, frames, 128] (VoiceFixer._pre)."""
        t = self._torch.from_numpy(np.asarray(x, dtype=np.float32))[None, None].to(self.device)
        sp, _, _ = self._f_helper.wav_to_spectrogram_phase(t)
        return self._mel(sp.permute(0, 1, 3, 2)).permute(0, 1, 3, 2)

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_vocoder"):
            self.load()
        out = []
        with self._torch.no_grad():
            for it in items:
                if it.target is None:
                    raise BenchmarkError(f"system 'oracle_mel' needs the clean reference of item "
                                         f"'{it.id}', but the test set has none")
                x = np.asarray(it.target, dtype=np.float32)
                parts = []
                for start in range(0, max(x.size, 1), SEGMENT):
                    seg = x[start:start + SEGMENT]
                    y = self._vocoder(self.target_mel(seg), cuda=self.device == "cuda")
                    peak = float(y.abs().max())
                    if peak > 1.0:
                        y = y / peak
                    parts.append(trim_center(y.reshape(-1).cpu().numpy(), seg.size))
                out.append(np.ascontiguousarray(np.concatenate(parts), dtype=np.float32))
        return out
