"""NISQA v2.0 (Mittag et al., Interspeech 2021), the published NISQA_DIM architecture, in torch.

Written from the paper and the checkpoint's `args` (weights/nisqa.tar), for inference only:
- features: librosa mel spectrogram of the 48 kHz signal, n_fft 4096, hop 0.01 s (480),
  window 0.02 s (960) Hann, centred (reflect), power 1, 48 Slaney mel bands up to 20 kHz,
  amplitude_to_db(ref=1, amin=1e-4, top_db=80);
- segments: 15-frame wide windows at every frame (n = frames - 14), keeping every 4th;
- framewise "adapt" CNN: 6 conv layers (16, 32, 64, 64, 64, 64 channels, 3x3; the last 3x3
  kernel's width equals the last pool width), batch norm + ReLU, adaptive max pooling to
  (24, 7), (12, 5), (6, 3) -> 384 features per segment;
- time dependency: linear 384 -> 64, layer norm, 2 post-norm self-attention layers (1 head,
  feed-forward 64, ReLU);
- 5 attention-pooling heads (FF 64 -> 128 -> 1 attention, linear 64 -> 1 output):
  MOS, noisiness, discontinuity, coloration, loudness (in that output order).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SR = 48000
HEADS = ("mos", "noi", "dis", "col", "loud")


def melspec(x: np.ndarray, args: dict, sr: int = SR) -> np.ndarray:
    """NISQA_lib.get_librosa_melspec: hop and window in seconds (10 / 20 ms at `sr`), n_fft 4096,
    48 Slaney mels up to 20 kHz. The released model (args ms_sr None) computes it at the file's
    own rate (librosa.load(sr=None)); filters above a low rate's Nyquist are empty, as there."""
    import librosa
    hop, win = int(sr * args["ms_hop_length"]), int(sr * args["ms_win_length"])
    s = librosa.feature.melspectrogram(
        y=np.asarray(x, dtype=np.float32), sr=sr, n_fft=args["ms_n_fft"], hop_length=hop,
        win_length=win, window="hann", center=True, pad_mode="reflect", power=1.0,
        n_mels=args["ms_n_mels"], fmin=0.0, fmax=args["ms_fmax"], htk=False, norm="slaney")
    return librosa.amplitude_to_db(s, ref=1.0, amin=1e-4, top_db=80.0)


def segments(spec: np.ndarray, seg: int, hop: int) -> torch.Tensor:
    """(n, 1, n_mels, seg) segments of a (n_mels, frames) spectrogram."""
    n = spec.shape[1] - (seg - 1)
    if n < 1:
        raise ValueError(f"{spec.shape[1]} spectrogram frames; NISQA needs at least {seg}")
    idx = np.arange(seg)[None, :] + np.arange(n)[:, None]
    x = torch.from_numpy(np.ascontiguousarray(spec.T[idx])).float()   # (n, seg, mels)
    return x.unsqueeze(1).transpose(3, 2)[::hop]


class AdaptCNN(nn.Module):
    def __init__(self, c1=16, c2=32, c3=64, pools=((24, 7), (12, 5), (6, 3))):
        super().__init__()
        self.pools = pools
        chans = [(1, c1), (c1, c2), (c2, c3), (c3, c3), (c3, c3)]
        for i, (ci, co) in enumerate(chans, 1):
            setattr(self, f"conv{i}", nn.Conv2d(ci, co, 3, padding=1))
            setattr(self, f"bn{i}", nn.BatchNorm2d(co))
        self.conv6 = nn.Conv2d(c3, c3, (3, pools[2][1]), padding=(1, 0))
        self.bn6 = nn.BatchNorm2d(c3)
        self.fan_out = c3 * pools[2][0]

    def forward(self, x):
        x = F.adaptive_max_pool2d(F.relu(self.bn1(self.conv1(x))), self.pools[0])
        x = F.adaptive_max_pool2d(F.relu(self.bn2(self.conv2(x))), self.pools[1])
        x = F.relu(self.bn3(self.conv3(x)))
        x = F.adaptive_max_pool2d(F.relu(self.bn4(self.conv4(x))), self.pools[2])
        x = F.relu(self.bn5(self.conv5(x)))
        x = F.relu(self.bn6(self.conv6(x)))
        return x.reshape(x.shape[0], self.fan_out)


class SALayer(nn.Module):
    def __init__(self, d, heads, h):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads)
        self.linear1, self.linear2 = nn.Linear(d, h), nn.Linear(h, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x, pad_mask):                     # x: (time, batch, d)
        x = self.norm1(x + self.self_attn(x, x, x, key_padding_mask=pad_mask)[0])
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class SelfAttention(nn.Module):
    def __init__(self, d_in, d, heads, layers, h):
        super().__init__()
        self.linear, self.norm1 = nn.Linear(d_in, d), nn.LayerNorm(d)
        self.layers = nn.ModuleList(SALayer(d, heads, h) for _ in range(layers))

    def forward(self, x, pad_mask):                     # x: (batch, time, d_in)
        x = self.norm1(self.linear(x).transpose(1, 0))
        for layer in self.layers:
            x = layer(x, pad_mask)
        return x.transpose(1, 0)


class PoolAttFF(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.linear1, self.linear2, self.linear3 = nn.Linear(d, h), nn.Linear(h, 1), nn.Linear(d, 1)

    def forward(self, x, pad_mask):                     # x: (batch, time, d)
        att = self.linear2(F.relu(self.linear1(x))).transpose(2, 1)
        att = att.masked_fill(pad_mask.unsqueeze(1), float("-inf")).softmax(dim=2)
        return self.linear3(torch.bmm(att, x).squeeze(1))


class _Wrap(nn.Module):          # keeps the checkpoint's key names (cnn.model.*, ...)
    def __init__(self, model):
        super().__init__()
        self.model = model


class NisqaDim(nn.Module):
    def __init__(self, args: dict):
        super().__init__()
        cnn = AdaptCNN(args["cnn_c_out_1"], args["cnn_c_out_2"], args["cnn_c_out_3"],
                       (tuple(args["cnn_pool_1"]), tuple(args["cnn_pool_2"]), tuple(args["cnn_pool_3"])))
        self.cnn = _Wrap(cnn)
        d = args["td_sa_d_model"]
        self.time_dependency = _Wrap(SelfAttention(cnn.fan_out, d, args["td_sa_nhead"],
                                                   args["td_sa_num_layers"], args["td_sa_h"]))
        self.pool_layers = nn.ModuleList(_Wrap(PoolAttFF(d, args["pool_att_h"])) for _ in HEADS)

    def forward(self, x, n_wins):                       # x: (batch, time, 1, mels, seg)
        b, t = x.shape[:2]
        pad_mask = torch.arange(t)[None, :] >= n_wins[:, None]
        feats = self.cnn.model(x.reshape(b * t, *x.shape[2:])).reshape(b, t, -1)
        feats = feats.masked_fill(pad_mask.unsqueeze(2), 0.0)
        h = self.time_dependency.model(feats, pad_mask)
        return torch.cat([p.model(h, pad_mask) for p in self.pool_layers], dim=1)


def load(path: str) -> tuple[NisqaDim, dict]:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    args = ck["args"]
    if args.get("model") != "NISQA_DIM" or args.get("cnn_model") != "adapt" or args.get("td") != "self_att":
        raise ValueError(f"unsupported NISQA checkpoint {args.get('name')}: model {args.get('model')}")
    model = NisqaDim(args)
    model.load_state_dict(ck["model_state_dict"], strict=True)
    return model.eval(), args
