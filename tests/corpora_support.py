"""Where the shared excerpts' files are, in either corpus layout (helpers only; no tests here).

The DNS Challenge test set sits where a clone of the DNS-Challenge repository puts it
(`DNS-Challenge/datasets/test_set/`, 2020 names `clnsp<k>_<noise>_snr<S>_tl<T>_fileid_<N>.wav`
paired with `clean/clean_fileid_<N>.wav`); the harness's earlier `DNS-Challenge/test_set/` with
`noisy_fileid_<N>.wav` is accepted too."""

from __future__ import annotations

from pathlib import Path

DNS_LAYOUTS = ("DNS-Challenge/datasets/test_set", "DNS-Challenge/test_set")


def dns_test_set(corpora: Path) -> Path:
    for rel in DNS_LAYOUTS:
        if (Path(corpora) / rel).is_dir():
            return Path(corpora) / rel
    raise FileNotFoundError(f"no DNS test set under {corpora} ({' or '.join(DNS_LAYOUTS)})")


def dns_pair(corpora: Path, file_id: int, subset: str = "synthetic/no_reverb") -> tuple[Path, Path]:
    """(noisy, clean) of one synthetic pair, found by its file id."""
    base = dns_test_set(corpora) / subset
    noisy = sorted((base / "noisy").glob(f"*_fileid_{file_id}.wav"))
    clean = base / "clean" / f"clean_fileid_{file_id}.wav"
    if len(noisy) != 1 or not clean.exists():
        raise FileNotFoundError(f"DNS pair fileid_{file_id} not found under {base}")
    return noisy[0], clean
