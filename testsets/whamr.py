"""The WHAMR! test rooms (002 Sec. III-A: "simulated RIRs created by the WHAMR! scripts and room
settings"): the rows of `reverb_params_tt.csv`, read through the asset registry (asset
`whamr_reverb_params_tt`, or the CSV inside the scripts archive `whamr_scripts`), one row per
item, simulated as the scripts do (`testsets.rir._simulate_whamr_legacy`).

The CSV's layout is the one the WHAMR! scripts write (run_sample_reverb.py: `utterance_id` as the
index, then room_x, room_y, room_z, micL_x, micL_y, micR_x, micR_y, mic_z, s1_x, s1_y, s1_z, s2_x,
s2_y, s2_z, T60; carried by WangHelin1997/LibriLightMix-WHAMR run_sample_reverb_parrallel.py) and
the one speechbrain reads (recipes/WHAMandWHAMR/meta/create_whamr_rirs.py @ 9c826ef39). The
speech enhancement task of WHAMR! reverberates speaker 1 at the left microphone (speechbrain
saves it as `0_0_<utterance>`): that RIR is the one used here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.audio import sha256_file
from benchmark.core.errors import AssetError, BenchmarkError
from testsets.rir import RoomParams

CSV_ASSET = "whamr_reverb_params_tt"
SCRIPTS_ASSET = "whamr_scripts"
CSV_IN_SCRIPTS = "whamr_scripts/data/reverb_params_tt.csv"
COLUMNS = ("utterance_id", "room_x", "room_y", "room_z", "micL_x", "micL_y", "micR_x", "micR_y",
           "mic_z", "s1_x", "s1_y", "s1_z", "s2_x", "s2_y", "s2_z", "T60")


@dataclass(frozen=True)
class WhamrRow:
    index: int                      # data row number in the CSV (0-based, header excluded)
    utterance_id: str
    values: dict[str, float]

    def room(self, rate: int) -> RoomParams:
        v = self.values
        return RoomParams(dims=(v["room_x"], v["room_y"], v["room_z"]),
                          mic=(v["micL_x"], v["micL_y"], v["mic_z"]),
                          source=(v["s1_x"], v["s1_y"], v["s1_z"]),
                          rt60=v["T60"], rate=rate, recipe="whamr_csv")


def read_rows(path: Path) -> list[WhamrRow]:
    """Every row of a reverb_params CSV; one clear error for a file of another layout."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise BenchmarkError(f"{path}: not a WHAMR! reverb_params CSV (columns {', '.join(missing)} "
                                 f"missing; expected {', '.join(COLUMNS)})")
        rows = []
        for i, rec in enumerate(reader):
            try:
                values = {c: float(rec[c]) for c in COLUMNS[1:]}
            except (TypeError, ValueError) as exc:
                raise BenchmarkError(f"{path}: data row {i + 1} has a non-numeric value ({exc})") from exc
            rows.append(WhamrRow(i, rec["utterance_id"], values))
    if not rows:
        raise BenchmarkError(f"{path}: no rows")
    return rows


def locate_csv() -> Path:
    """The local reverb_params_tt.csv (cache or mirror; never the internet: `testsets build
    --fetch` or `assets fetch whamr_reverb_params_tt` downloads it)."""
    from benchmark.assets import require_local
    try:
        return require_local(CSV_ASSET)
    except AssetError as first:
        try:
            scripts = require_local(SCRIPTS_ASSET)
        except AssetError:
            raise first from None
        path = Path(scripts) / CSV_IN_SCRIPTS
        if not path.is_file():
            raise AssetError(f"the WHAMR! scripts archive unpacked at {scripts} has no "
                             f"{CSV_IN_SCRIPTS}") from None
        return path


def csv_fingerprint(path: Path) -> str:
    return sha256_file(path)
