"""What a run tells its user: counters, the progress bar, and the summary line.

The bar (tqdm, on stderr, only on a terminal unless asked) shows images done, the rate, cache
hits and failures; `RunSummary` is what `extract_account` returns and the CLI prints.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunStats:
    """Counters of one run (images, cache hits, computations, failures, seconds)."""

    n_units: int = 0
    n_ok: int = 0
    n_failed: int = 0
    cache_hits: int = 0
    computed: int = 0
    decode_s: float = 0.0
    extract_s: float = 0.0
    cpu_s: float = 0.0  # CPU time the workers spent on the images (models' setup included)
    failures: Counter = field(default_factory=Counter)
    failed_live: set = field(default_factory=set)  # images with a failure so far (progress bar)


class Progress:
    """A tqdm bar on stderr (only when it is a terminal unless asked): rate, hits, failures."""

    def __init__(self, total: int, enabled: bool | None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", desc="extract", file=sys.stderr,
                            dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int, stats: RunStats) -> None:
        if self.bar is not None and n:
            self.bar.set_postfix(cached=stats.cache_hits, failed=len(stats.failed_live),
                                 refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class RunSummary:
    """What `extract_account` did; ``str()`` is the line the CLI prints."""

    account: str
    extractors: tuple[str, ...]
    n_posts: int
    n_images: int
    n_ok: int
    n_failed: int
    cache_hits: int
    computed: int
    seconds: float
    images_per_s: float
    path: Path | None
    skipped: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    post_status: dict[str, int] = field(default_factory=dict)
    decode_seconds: float = 0.0
    extract_seconds: float = 0.0
    #: accounts extracted in the same run (`extract_accounts`): time and cache counts are the run's
    run_accounts: int = 1
    #: CPU seconds the worker processes (or this one, with one worker) spent on the images
    worker_cpu_seconds: float = 0.0

    def __str__(self) -> str:
        run = (f" in {self.seconds:.1f} s ({self.images_per_s:.1f} images/s)"
               if self.run_accounts == 1 else
               f" (one run of {self.run_accounts} accounts: {self.seconds:.1f} s, "
               f"{self.images_per_s:.1f} images/s)")
        text = (
            f"{self.account}: {self.n_posts} posts, {self.n_images} images with "
            f"{', '.join(self.extractors)}{run}: {self.n_ok} ok, {self.n_failed} with failures; "
            f"{self.cache_hits} results from the cache, {self.computed} computed"
        )
        if self.failures:
            text += " (failures: " + ", ".join(f"{k} {v}" for k, v in self.failures.items()) + ")"
        if self.skipped:
            text += "; not run: " + ", ".join(f"{k} ({v})" for k, v in self.skipped.items())
        if self.path is not None:
            text += f"\n-> {self.path}"
        return text
