"""The extraction runner: posts.parquet -> features.parquet, cached, parallel, failure-tolerant.

What a run does, in order:

1. reads the posts table and lists the images to use (the cover of each post, or every image of
   a sidecar with ``aggregate="mean"|"max"``);
2. hashes every image file (sha256 of its bytes, no decoding) and looks every
   (image, extractor, version, config) up in the cache in bulk: a fully cached re-run stops here;
3. sends each image with missing features to a worker, which decodes it once and runs only the
   missing extractors, in dependency order, with their dependencies' outputs (cached or fresh);
   models are loaded once per worker process (`Extractor.ensure_ready`);
4. stores each image's results in the cache as soon as they arrive (a crash loses nothing
   finished), records failures as ``status``/``error`` values, and goes on;
5. writes one typed row per post atomically (temp file + rename), the artifacts beside it, and
   returns a `RunSummary`.

Workers are local processes (``workers``, default ``settings.workers``; 1 = in this process), or
a Dask cluster when ``scheduler`` is given. Cloud extractors (``local = False``) always run in this
process, after the local ones, so that their cost guard (``settings.max_calls``) counts every call
of the run in one place.

The plan is `rumaro_lab.extractors.plan`, where jobs run is `rumaro_lab.extractors.backends`,
and the tables a run writes are `rumaro_lab.extractors.tables`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..accounts import validate_account
from ..errors import RumaroError
from ..fileio import write_parquet
from ..identity import warn_changed_media
from ..posts.schema import coerce_posts, read_posts
from .backends import Job, JobResult, run_dask, run_inline, run_pool
from .base import Extractor  # noqa: F401 - the doctests define extractors with it
from .cache import FeatureCache
from .plan import ConfigHasher, ExtractorSpec, Plan, plan_extractors
from .progress import Progress, RunStats, RunSummary
from .tables import (
    AGGREGATES,
    KEY_COLUMNS,
    Group,
    Unit,
    artifact_table,
    hash_files,
    image_table,
    post_artifacts,
    post_table,
    unit_errors,
    write_features,
)

__all__ = ["KEY_COLUMNS", "RunSummary", "extract_account", "extract_accounts", "extract_images",
           "extract_posts",
           "plan_extractors"]

log = logging.getLogger(__name__)


def _stages(plan: Plan) -> list[tuple[tuple[str, ...], bool]]:
    """(names, run_here): local extractors on the workers, then cloud ones in this process."""
    local = tuple(s.name for s in plan.steps if s.local)
    cloud = tuple(s.name for s in plan.steps if not s.local)
    needs_cloud = any(d in cloud for s in plan.steps if s.local for d in s.deps)
    if not cloud or not local or needs_cloud:
        return [(plan.names, not local)]
    return [(local, False), (cloud, True)]


def _run_units(
    units: list[Unit],
    plan: Plan,
    settings,
    cache: FeatureCache,
    workers: int,
    scheduler,
    progress: bool | None,
) -> RunStats:
    stats = RunStats(n_units=len(units))
    instances = {s.name: s.instance(settings) for s in plan.steps}
    hasher = ConfigHasher(plan, instances)
    hash_files([u for u in units if u.sha256 is None and u.load_error is None])
    for unit in units:
        if unit.load_error:
            log.warning("%s", unit.load_error)
            stats.failed_live.add(id(unit))

    groups: dict[tuple, Group] = {}
    for unit in units:
        if unit.load_error:
            continue
        hashes = {s.name: hasher(s.name, unit.post) for s in plan.steps}
        ident = (unit.sha256, *hashes.values())
        group = groups.get(ident)
        if group is None:
            group = groups[ident] = Group(unit.label, unit.path, unit.sha256, unit.post, hashes)
        unit.group = group

    cached = cache.get_many(g.key(s) for g in groups.values() for s in plan.steps)
    for group in groups.values():
        for s in plan.steps:
            value = cached.get(group.key(s))
            if value is not None:
                group.known[s.name] = value
                stats.cache_hits += 1

    stages = _stages(plan)
    todo_by_stage = []
    for names, _ in stages:
        todo = {id(g): tuple(n for n in names if n not in g.known) for g in groups.values()}
        todo_by_stage.append(todo)
        for g in groups.values():
            g.stages_left += bool(todo[id(g)])

    bar = Progress(len(groups), progress)
    try:
        bar.update(sum(1 for g in groups.values() if not g.stages_left), stats)
        for (_, run_here), todo in zip(stages, todo_by_stage, strict=True):
            jobs, job_groups = [], []
            for g in groups.values():
                if todo[id(g)] and g.load_error is None:
                    jobs.append(Job(len(jobs), g.label, str(g.path), g.sha256, g.post,
                                     todo[id(g)], dict(g.known), uncached=frozenset(g.uncached)))
                    job_groups.append(g)
                elif todo[id(g)]:  # unreadable in an earlier stage
                    g.stages_left -= 1
                    bar.update(int(g.stages_left == 0), stats)
            if not jobs:
                continue
            if scheduler is not None and not run_here:
                results = run_dask(jobs, plan, instances, settings, scheduler)
            elif workers > 1 and len(jobs) > 1 and not run_here:
                results = run_pool(jobs, plan, instances, min(workers, len(jobs)))
            else:
                results = run_inline(jobs, plan, instances)
            for batch in results:
                entries = []
                for result in batch:
                    g = job_groups[result.job_id]
                    _merge(g, result, plan, stats, entries)
                # Stored as they come: a crash later loses nothing already computed.
                cache.put_many(entries)
                done = 0
                for result in batch:
                    g = job_groups[result.job_id]
                    g.stages_left -= 1
                    done += g.stages_left == 0
                bar.update(done, stats)
    finally:
        bar.close()

    for unit in units:
        errors = unit_errors(unit, plan)
        stats.n_failed += bool(errors)
        stats.n_ok += not errors
        stats.failures.update(e.split(":", 1)[0] for e in errors)
    return stats


def _merge(group: Group, result: JobResult, plan: Plan, stats: RunStats, entries: list) -> None:
    stats.decode_s += result.decode_s
    stats.extract_s += sum(result.extract_s.values())
    stats.cpu_s += result.cpu_s
    if result.load_error or result.errors:
        stats.failed_live.add(id(group))
    if result.load_error:
        group.load_error = result.load_error
        log.warning("%s", result.load_error)
        return
    for name, (features, raw) in result.computed.items():
        group.known[name] = features
        group.errors.pop(name, None)
        if name in result.uncached:  # the next run computes it again
            group.uncached.add(name)
        else:
            entries.append((group.key(plan.step(name)), features, raw))
        stats.computed += 1
    for name, message in result.errors.items():
        group.errors[name] = message
        log.warning("%s: %s failed: %s", group.label, name, message)


def _resolve_workers(workers: int | None, settings) -> int:
    value = workers if workers is not None else getattr(settings, "workers", None)
    value = value or os.cpu_count() or 1
    if value < 1:
        raise RumaroError(f"--workers must be at least 1, not {value}")
    return int(value)


def _run_settings(settings, max_calls: int | None):
    """The settings handed to extractors: ``max_calls`` (the CLI option) overrides settings."""
    if settings is None:
        from ..settings import Settings

        settings = Settings()
    if max_calls is not None:
        settings = settings.model_copy(update={"max_calls": max_calls})
    return settings


def _python(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_python(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def extract_images(
    images: Iterable[str | Path],
    settings=None,
    extractors: Iterable[ExtractorSpec] | None = None,
    workers: int | None = None,
    scheduler=None,
    max_calls: int | None = None,
    progress: bool | None = None,
    cache: FeatureCache | None = None,
) -> pd.DataFrame:
    """Features of image files, one row per image: image, image_sha256, status, error, features.

    >>> import tempfile
    >>> from PIL import Image
    >>> from rumaro_lab.settings import Settings
    >>> from rumaro_lab.extractors.schema import continuous
    >>> class Mean(Extractor):
    ...     name, version, features = "mean", "1", {"value": continuous("mean pixel value")}
    ...     def extract(self, image, deps, post):
    ...         return {"value": float(image.rgb.mean())}
    >>> folder = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (4, 4), (10, 20, 30)).save(folder / "a.png")
    >>> s = Settings(_env_file=None, cache_dir=folder / "cache", workers=1)
    >>> extract_images([folder / "a.png"], s, extractors=[Mean])[["status", "mean.value"]]
      status  mean.value
    0     ok        20.0
    """
    settings = _run_settings(settings, max_calls)
    plan = plan_extractors(extractors, settings)
    units = [Unit(str(p), Path(p), {}) for p in images]
    with _open_cache(cache, settings) as store:
        _run_units(units, plan, settings, store, _resolve_workers(workers, settings),
                   scheduler if scheduler is not None else settings.scheduler, progress)
    return image_table(units, plan)


@contextlib.contextmanager
def _open_cache(cache: FeatureCache | None, settings) -> Iterator[FeatureCache]:
    """The given cache (left open) or the settings' one (closed at the end)."""
    if cache is not None:
        yield cache
        return
    with FeatureCache.for_settings(settings) as own:
        yield own


def _extract_posts(
    posts: pd.DataFrame,
    settings,
    extractors,
    workers,
    scheduler,
    aggregate: str,
    progress,
    cache: FeatureCache | None,
) -> tuple[pd.DataFrame, pd.DataFrame, RunStats, Plan, list[Unit], list[list[int]]]:
    if aggregate not in AGGREGATES:
        raise RumaroError(f"unknown aggregate {aggregate!r}", hint=f"use one of {AGGREGATES}")
    plan = plan_extractors(extractors, settings)
    post_fields = sorted({f for s in plan.steps for f in s.cls.post_fields})
    missing = [f for f in post_fields if f not in posts.columns]
    if missing:
        raise RumaroError(f"the posts table has no column(s) {missing} that extractors read")
    data_dir = Path(settings.data_dir)

    units: list[Unit] = []
    post_units: list[list[int]] = []
    n_images: list[int] = []
    for row in posts[["media", *post_fields]].itertuples(index=False):
        media = [str(m) for m in (row[0] if row[0] is not None else [])]
        post = {f: _python(v) for f, v in zip(post_fields, row[1:], strict=True)}
        used = media if aggregate != "cover" else media[:1]
        ids = []
        for label in used:
            ids.append(len(units))
            units.append(Unit(label, data_dir / label, post))
        post_units.append(ids)
        n_images.append(len(media))

    with _open_cache(cache, settings) as store:
        stats = _run_units(units, plan, settings, store, _resolve_workers(workers, settings),
                           scheduler if scheduler is not None else settings.scheduler, progress)

    warn_changed_media(posts, [[(units[i].label, units[i].sha256) for i in ids] for ids in post_units])
    image_df = image_table(units, plan)
    table = post_table(posts, image_df, post_units, n_images, plan, aggregate)
    artifacts = post_artifacts(posts, artifact_table(units, plan), post_units)
    return table, artifacts, stats, plan, units, post_units


def extract_posts(
    posts: pd.DataFrame,
    settings=None,
    extractors: Iterable[ExtractorSpec] | None = None,
    workers: int | None = None,
    scheduler=None,
    aggregate: str = "cover",
    max_calls: int | None = None,
    progress: bool | None = None,
    cache: FeatureCache | None = None,
) -> pd.DataFrame:
    """The features table of a posts table (one typed row per post, see `KEY_COLUMNS`).

    Media paths are relative to ``settings.data_dir``. ``aggregate="cover"`` uses each post's
    first image; ``"mean"``/``"max"`` aggregate numeric features over all its images
    (categorical ones still come from the cover).
    """
    settings = _run_settings(settings, max_calls)
    table = _extract_posts(coerce_posts(posts), settings, extractors, workers, scheduler,
                           aggregate, progress, cache)[0]
    return table


def extract_account(
    account: str,
    settings=None,
    extractors: Iterable[ExtractorSpec] | None = None,
    workers: int | None = None,
    scheduler=None,
    aggregate: str = "cover",
    max_calls: int | None = None,
    progress: bool | None = None,
) -> RunSummary:
    """posts.parquet of `account` -> features.parquet, cached; returns a `RunSummary`.

    ``workers`` (default ``settings.workers``) local processes, or the Dask cluster at
    ``scheduler`` (default ``settings.scheduler``); ``max_calls`` overrides the cloud cost guard.
    """
    return extract_accounts([account], settings, extractors, workers, scheduler, aggregate,
                            max_calls, progress)[0]


def extract_accounts(
    accounts: Iterable[str],
    settings=None,
    extractors: Iterable[ExtractorSpec] | None = None,
    workers: int | None = None,
    scheduler=None,
    aggregate: str = "cover",
    max_calls: int | None = None,
    progress: bool | None = None,
) -> list[RunSummary]:
    """Several accounts in ONE run: one plan, one pool of workers, one pass over the cache.

    The posts of every account are extracted together, so each worker process loads its models
    once for all of them (running `extract_account` per account would start a pool and load the
    models again for every account), and an image shared by two accounts is computed once. Each
    account still gets its own ``features.parquet`` and ``artifacts.parquet`` and its own
    `RunSummary` (whose ``seconds``, ``cache_hits`` and ``computed`` are the whole run's).
    """
    start = time.perf_counter()
    names = list(dict.fromkeys(validate_account(a) for a in accounts))
    if not names:
        raise RumaroError("no accounts to extract")
    settings = _run_settings(settings, max_calls)
    frames = [read_posts(settings.posts_path(a)) for a in names]
    posts = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    table, artifacts, stats, plan, units, post_units = _extract_posts(
        posts, settings, extractors, workers, scheduler, aggregate, progress, None)
    seconds = time.perf_counter() - start
    summaries, first = [], 0
    for name, frame in zip(names, frames, strict=True):
        rows = slice(first, first + len(frame))
        first += len(frame)
        own = table.iloc[rows].reset_index(drop=True)
        # artifacts first: a features.parquet never points at artifacts of an older run
        write_parquet(artifacts.iloc[rows].reset_index(drop=True), settings.artifacts_path(name))
        path = write_features(own, settings.features_path(name))
        errors = [unit_errors(units[i], plan) for ids in post_units[rows] for i in ids]
        summaries.append(RunSummary(
            account=name,
            extractors=plan.names,
            n_posts=len(own),
            n_images=len(errors),
            n_ok=sum(not e for e in errors),
            n_failed=sum(bool(e) for e in errors),
            cache_hits=stats.cache_hits,
            computed=stats.computed,
            seconds=seconds,
            images_per_s=stats.n_units / seconds if seconds > 0 else math.nan,
            path=path,
            skipped=dict(plan.skipped),
            failures=dict(Counter(x.split(":", 1)[0] for e in errors for x in e)),
            post_status=dict(Counter(own["status"].astype("object"))),
            decode_seconds=stats.decode_s,
            extract_seconds=stats.extract_s,
            run_accounts=len(names),
            worker_cpu_seconds=stats.cpu_s,
        ))
    return summaries
