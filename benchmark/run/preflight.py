"""Everything a run needs, checked before any work or download, reported as one message.

Three kinds of prerequisite: built test sets (with the command that builds them, and `--fetch`
when their corpora are missing too), asset files (weights: in the cache or the mirror, with the
fetch command) and system prerequisites a plugin declares (`System.prerequisites(config)`: the
MaskSR family's trained checkpoints, with the train command). A run that lacks several of them
says so once, listing all, instead of stopping at the first (possibly after a long download).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.assets import fetch, get_asset
from benchmark.core.errors import AssetError, BenchmarkError
from benchmark.core.paths import corpora_dir, testsets_dir


class MissingPrerequisites(BenchmarkError):
    pass


@dataclass
class Preflight:
    testsets: list[str] = field(default_factory=list)      # lines
    assets: list[str] = field(default_factory=list)
    asset_names: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.testsets or self.assets or self.systems)

    def message(self, profile: str = "") -> str:
        parts = []
        if self.testsets:
            parts.append(f"{len(self.testsets)} test set(s) not built:\n" + "\n".join(self.testsets))
        if self.assets:
            hint = (" (or use --profile offline for the bundled metric backends)"
                    if profile == "paper" else "")
            parts.append(f"{len(self.assets)} asset(s) needed by this run are missing:\n" + "\n".join(self.assets)
                         + f"\n  fetch them: python -m benchmark assets fetch "
                         f"{' '.join(sorted(set(self.asset_names)))}{hint}")
        if self.systems:
            parts.append(f"{len(self.systems)} system prerequisite(s) missing:\n"
                         + "\n".join(self.systems))
        return "this run cannot start; nothing was done:\n" + "\n".join(parts)


def _testset_line(name: str) -> str:
    from testsets import TESTSETS
    folder = testsets_dir() / name
    if name not in TESTSETS:
        return (f"  test set '{name}' is not built ({folder}/manifest.jsonl is missing) and no "
                "builder has that name")
    corpora = corpora_dir()
    missing = [c for c in TESTSETS.get(name).info.corpora if not (corpora / c).exists()]
    if missing:
        return (f"  test set '{name}' is not built, and its corpora {', '.join(missing)} are not "
                f"under {corpora.resolve()}: python -m benchmark testsets build {name} --fetch")
    return f"  test set '{name}' is not built: python -m benchmark testsets build {name}"


def check(testsets: list[str], asset_users: list[tuple[str, tuple[str, ...]]],
          systems: list[tuple[str, type, dict]]) -> Preflight:
    """`asset_users`: (who, asset names); `systems`: (name, class, config)."""
    pf = Preflight()
    for name in testsets:
        if not (testsets_dir() / name / "manifest.jsonl").exists():
            pf.testsets.append(_testset_line(name))
    seen = set()
    for user, names in asset_users:
        for n in names:
            if n in seen:
                continue
            seen.add(n)
            try:
                fetch(n, offline=True)      # cache or mirror only: never a download here
            except AssetError:
                a = get_asset(n)
                pf.assets.append(f"  {n} ({user}): {a.urls[0] if a.urls else 'no public URL'} "
                                 f"-> {a.cached_path()}")
                pf.asset_names.append(n)
    for name, cls, config in systems:
        for line in cls.prerequisites(config):
            pf.systems.append(f"  {name}: {line}")
    return pf
