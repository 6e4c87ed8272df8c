"""`frcrn`: FRCRN (Zhao et al., ICASSP 2022), the released 16 kHz denoiser (001 Table 4; 002 Tables
III and IV): ClearerVoice-Studio's `FRCRN_SE_16K`, the model ModelScope ships as
`damo/speech_frcrn_ans_cirm_16k`.

Model code from the `clearvoice` package (PyPI 0.1.2), which runs beside our torch: its
`clearvoice.models.frcrn_se` modules import only torch, numpy, scipy and librosa. It is installed
with `pip install --no-deps clearvoice==0.1.2 yamlargparse` (the `frcrn` extra): the wheel pins
numpy<2, librosa==0.10.2, soundfile==0.12.1, torchaudio and opencv, none of which the FRCRN code
imports; `clearvoice/__init__.py` imports `yamlargparse` (pure Python).

What the wrapper takes from clearvoice 0.1.2, file by file (read in the installed wheel):
- the network, `clearvoice/models/frcrn_se/frcrn.py` `FRCRN_SE_16K`: `DCCRN(complex=True,
  model_complexity=45, model_depth=14, log_amp=False, padding_mode="zeros", win_len, win_inc,
  fft_len, win_type)` with win_len=640, win_inc=320, fft_len=640, win_type="hanning" from
  `clearvoice/config/inference/FRCRN_SE_16K.yaml`; inference is `DCCRN.inference`.
- the checkpoint layout, `clearvoice/networks.py` `SpeechModel._load_model` (model_key="model"):
  a torch pickle whose "model" entry (or the whole file) is the DCCRN state dict, keys with or
  without a DataParallel "module." prefix. That loader copies only the keys whose names and shapes
  match and silently keeps random weights for the others; ours refuses any missing, unexpected or
  mis-shaped key (`systems.base.check_state_dict`), then loads with strict=True. BatchNorm's
  integer `num_batches_tracked` counters are the one exception: not used in eval mode, not
  required (the checkpoint may omit them). ModelScope's release of the same model
  (`damo/speech_frcrn_ans_cirm_16k`, pytorch_model.bin) is the flat state dict of its `FRCRN`
  class, whose modules are named as in clearvoice's DCCRN (stft, istft, unet, unet2), and which
  ModelScope also loads with strict=False (modelscope/modelscope
  `modelscope/models/audio/ans/frcrn.py` at 83ad27e, FRCRNDecorator); the loader here reads that
  flat form too, and any key that differs is refused by name.
- the input normalisation, `clearvoice/dataloader/dataloader.py` `audio_norm` (used for
  FRCRN_SE_16K by `DataReader`): scale to -25 dB RMS, then again by the RMS of the samples above
  the mean power, EPS 1e-6; the output is multiplied back by the inverse scale
  (`SpeechModel.process`).
- the decoding, `clearvoice/utils/decode.py` `decode_one_audio_frcrn_se_16k`: zero-pad to the
  decode window (1 s) / window + stride (stride 0.75 s) / the package's multiple-of-stride rule,
  whole-utterance inference up to 120 s, and above that 1 s windows with 0.75 s stride keeping
  the centre of each; the output is cut to the input length. That module imports torchaudio at
  the top (not installable beside our torch), so these steps are re-implemented here as written.
The released weights are the asset `frcrn_se_16k` (see benchmark/assets/catalog.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.assets import fetch
from benchmark.core.deps import require
from benchmark.core.errors import BenchmarkError
from systems.base import SYSTEMS, RestoreItem, System, SystemInfo, check_state_dict

RATE = 16000
DCCRN_ARGS: dict[str, Any] = dict(complex=True, model_complexity=45, model_depth=14, log_amp=False,
                                  padding_mode="zeros", win_len=640, win_inc=320, fft_len=640,
                                  win_type="hanning")
DECODE_WINDOW_S = 1.0           # FRCRN_SE_16K.yaml decode_window
ONE_TIME_DECODE_S = 120.0       # FRCRN_SE_16K.yaml one_time_decode_length
EPS = 1e-6                      # clearvoice/dataloader/dataloader.py EPS
INSTALL = "system frcrn; install with: pip install --no-deps clearvoice==0.1.2 yamlargparse"


def audio_norm(x: np.ndarray) -> tuple[np.ndarray, float]:
    """ClearerVoice's two-stage RMS normalisation to -25 dB; returns (scaled x, inverse scale)."""
    x = np.asarray(x, dtype=np.float64)
    scalar = 10 ** (-25 / 20) / (np.sqrt(np.mean(x ** 2)) + EPS)
    x = x * scalar
    p = x ** 2
    loud = p[p > p.mean()]
    scalarx = 10 ** (-25 / 20) / (np.sqrt(loud.mean()) + EPS) if loud.size else 1.0
    return x * scalarx, 1.0 / (scalar * scalarx + EPS)


def pad_for_decoding(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Zero padding of decode_one_audio_frcrn_se_16k (kept as written, including its rule for
    inputs longer than window + stride, which pads by more than one stride)."""
    window = int(rate * DECODE_WINDOW_S)
    stride = int(window * 0.75)
    t = x.size
    if t < window:
        pad = window - t
    elif t < window + stride:
        pad = window + stride - t
    elif (t - window) % stride != 0:
        pad = t - (t - window) // stride * stride
    else:
        pad = 0
    return np.concatenate([x, np.zeros(pad, dtype=x.dtype)])


def released_state_dict(ckpt: Any) -> dict:
    """The DCCRN state dict inside a released checkpoint: its "model" entry or the file itself,
    without a DataParallel "module." prefix."""
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise BenchmarkError(f"the FRCRN checkpoint holds a {type(state).__name__}, not a state dict")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _no_counters(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.endswith("num_batches_tracked")}


@SYSTEMS.register
class FRCRN(System):
    info = SystemInfo(
        name="frcrn", version="clearvoice0.1.2-FRCRN_SE_16K", rate=RATE, backend="torch",
        description="FRCRN complex-mask denoiser, ClearerVoice-Studio FRCRN_SE_16K checkpoint",
        assets=("frcrn_se_16k",), devices=("cpu", "cuda"), extra="frcrn", paper_row="FRCRN")

    def load(self) -> None:
        path = fetch("frcrn_se_16k")            # the asset error before any import
        import torch

        mod = require("clearvoice.models.frcrn_se.frcrn", "frcrn", INSTALL)
        model = mod.DCCRN(**DCCRN_ARGS)
        try:
            ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise BenchmarkError(f"FRCRN checkpoint {path} is not a readable torch file: "
                                 f"{type(exc).__name__}: {exc}") from exc
        state = _no_counters(released_state_dict(ckpt))
        check_state_dict(_no_counters(model.state_dict()), state, f"FRCRN checkpoint {path}")
        result = model.load_state_dict(state, strict=False)
        if result.unexpected_keys or any(not k.endswith("num_batches_tracked")
                                         for k in result.missing_keys):
            raise BenchmarkError(f"FRCRN checkpoint {path} did not load strictly: {result}")
        self._torch = torch
        self._model = model.to(self.device).eval()

    def _infer(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            t = torch.from_numpy(x.astype(np.float32))[None].to(self.device)
            return self._model.inference(t).detach().cpu().numpy().astype(np.float64)

    def restore(self, items: list[RestoreItem]) -> list[np.ndarray]:
        if not hasattr(self, "_model"):
            self.load()
        out = []
        for it in items:
            x = np.asarray(it.audio, dtype=np.float64)
            xn, inverse = audio_norm(x)
            xp = pad_for_decoding(xn)
            window = int(RATE * DECODE_WINDOW_S)
            stride = int(window * 0.75)
            if x.size > RATE * ONE_TIME_DECODE_S:      # the package's segmented decoding
                y = np.zeros(xp.size)
                give_up = (window - stride) // 2
                i = 0
                while i + window <= xp.size:
                    seg = self._infer(xp[i:i + window])
                    if i == 0:
                        y[:window - give_up] = seg[:-give_up]
                    else:
                        y[i + give_up:i + window - give_up] = seg[give_up:-give_up]
                    i += stride
            else:
                y = self._infer(xp)
            y = y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))
            out.append(np.ascontiguousarray(y * inverse, dtype=np.float32))
        return out
