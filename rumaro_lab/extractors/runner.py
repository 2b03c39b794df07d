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
5. writes one typed row per post atomically (temp file + rename) and returns a `RunSummary`.

Workers are local processes (``workers``, default ``settings.workers``; 1 = in this process), or
a Dask cluster when ``scheduler`` is given. Cloud extractors (``local = False``) always run in this
process, after the local ones, so that their cost guard (``settings.max_calls``) counts every call
of the run in one place.

>>> from rumaro_lab.extractors.base import Extractor
>>> class Mean(Extractor):
...     name, version, features = "mean", "1", {"value": "float"}
...     def extract(self, image, deps, post):
...         return {"value": float(image.rgb.mean())}
>>> plan = plan_extractors([Mean])
>>> plan.names
('mean',)
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import math
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import SecretStr

from ..accounts import validate_account
from ..errors import ImageLoadError, RumaroError
from ..images import file_sha256, load_image
from ..posts.schema import coerce_posts, read_posts
from . import DEFAULT_EXTRACTORS, Availability, Extractor, resolve_order
from . import extractor_class as registered_class
from .base import PANDAS_DTYPES, stable_hash
from .cache import CacheKey, FeatureCache

log = logging.getLogger(__name__)

#: The first columns of features.parquet, before the ``EXTRACTOR.FEATURE`` ones.
KEY_COLUMNS: dict[str, str] = {
    "account": "string",
    "post_id": "string",
    "image": "string",
    "image_sha256": "string",
    "n_images": "Int64",
    "status": "string",
    "error": "string",
}
#: How a sidecar's images become one row.
AGGREGATES = ("cover", "mean", "max")
#: Prefix of the error of an image that could not be read (no extractor ran on it).
LOAD_ERROR = "load"

ExtractorSpec = str | type[Extractor] | Extractor


# -- the plan: which extractors, in which order, with which options -------------------------
@dataclass(frozen=True)
class Step:
    """One extractor of a run: its class, options and the dependencies it is given."""

    name: str
    cls: type[Extractor]
    config: Mapping[str, Any]
    requires: tuple[str, ...]
    uses: tuple[str, ...]  # optional requirements present in this run
    prototype: Extractor | None = None  # an instance the caller configured, if any

    def instance(self, settings) -> Extractor:
        """A fresh instance for a run with these settings (a copy of the caller's, if given)."""
        if self.prototype is None:
            return self.cls(settings=settings, **self.config)
        return _with_settings(self.prototype, settings)

    @property
    def deps(self) -> tuple[str, ...]:
        return (*self.requires, *self.uses)

    @property
    def local(self) -> bool:
        return bool(self.cls.local)


@dataclass(frozen=True)
class Plan:
    """The extractors of a run in dependency order, and those left out (with the reason)."""

    steps: tuple[Step, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def token(self) -> str:
        """Identity of the plan's code and options (to reuse loaded models across tasks)."""
        return stable_hash(
            [(s.name, s.cls.__module__, s.cls.__qualname__, s.cls.version, dict(s.config))
             for s in self.steps]
        )

    def columns(self) -> dict[str, str]:
        """``EXTRACTOR.FEATURE`` -> pandas dtype for every step."""
        out: dict[str, str] = {}
        for s in self.steps:
            out.update(s.cls.columns())
        return out


def plan_extractors(
    extractors: Iterable[ExtractorSpec] | None = None, settings=None
) -> Plan:
    """Resolve names, classes or configured instances into a `Plan` (requirements first).

    With ``extractors=None`` the default local set runs, minus the extractors that can't run
    here (a warning says why). Extractors asked for by name that can't run are an error.
    """
    explicit = extractors is not None
    specs = list(extractors) if explicit else list(DEFAULT_EXTRACTORS)
    classes: dict[str, type[Extractor]] = {}
    configs: dict[str, dict[str, Any]] = {}
    prototypes: dict[str, Extractor] = {}
    names: list[str] = []
    for spec in specs:
        if isinstance(spec, str):
            name = spec.strip()
            if not name:
                continue
        elif isinstance(spec, Extractor):
            name = spec.name
            classes[name], configs[name] = type(spec), dict(spec.config)
            prototypes[name] = spec
        elif isinstance(spec, type) and issubclass(spec, Extractor):
            name = spec.name
            classes[name] = spec
        else:
            raise RumaroError(
                f"not an extractor: {spec!r}",
                hint="give extractor names, Extractor subclasses or instances",
            )
        if name not in names:
            names.append(name)
    if not names:
        raise RumaroError("no extractors to run", hint="see `rumaro extractors`")

    availability: dict[str, Availability] = {}

    def check(name: str) -> Availability:
        if name not in availability:
            try:
                cls = classes.get(name) or registered_class(name)
                availability[name] = cls.availability(settings)
            except RumaroError as exc:
                availability[name] = Availability(False, exc.message)
        return availability[name]

    order: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            wanted = resolve_order(
                [name], available=lambda n: check(n).ok, settings=settings, classes=classes
            )
        except RumaroError as exc:
            if explicit:
                raise
            skipped[name] = exc.message
            continue
        blocked = [n for n in wanted if not check(n).ok]
        if blocked:
            reason = f"{blocked[0]} can't run here: {check(blocked[0]).reason or 'unavailable'}"
            if explicit:
                raise RumaroError(
                    f"extractor {name!r} can't run: {reason}",
                    hint="see `rumaro extractors` for what each one needs",
                )
            skipped[name] = reason
            continue
        order.extend(n for n in wanted if n not in order)
    for name, reason in skipped.items():
        log.warning("skipping extractor %s: %s", name, reason)
    if not order:
        raise RumaroError(
            "none of the extractors can run here: "
            + "; ".join(f"{n}: {r}" for n, r in skipped.items()),
            hint="run `make models` and see `rumaro extractors`",
        )

    steps = []
    for name in order:
        cls = classes.get(name) or registered_class(name)
        uses = tuple(d for d in cls.optional_requires if d in order)
        steps.append(Step(name, cls, configs.get(name, {}), tuple(cls.requires), uses,
                          prototypes.get(name)))
    return Plan(tuple(steps), skipped)


# -- work units, jobs and results -----------------------------------------------------------
@dataclass
class _Unit:
    """One image of one post (or one image given directly)."""

    label: str  # data-dir-relative path, as in the posts table
    path: Path
    post: dict[str, Any]
    sha256: str | None = None
    load_error: str | None = None
    group: _Group | None = None


@dataclass
class _Group:
    """Units with identical cache keys (same bytes, same options): computed once."""

    label: str
    path: Path
    sha256: str
    post: dict[str, Any]
    config_hashes: dict[str, str]
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    load_error: str | None = None
    stages_left: int = 0

    def key(self, step: Step) -> CacheKey:
        return CacheKey(self.sha256, step.name, str(step.cls.version), self.config_hashes[step.name])


@dataclass
class _Job:
    """What a worker gets: one image, the extractors to compute, their dependencies' outputs."""

    job_id: int
    label: str
    path: str
    sha256: str
    post: dict[str, Any]
    todo: tuple[str, ...]
    known: dict[str, dict[str, Any]]
    data: bytes | None = None  # sent along to Dask workers, which may not see our disk


@dataclass
class _JobResult:
    job_id: int
    computed: dict[str, tuple[dict[str, Any], Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    load_error: str | None = None
    decode_s: float = 0.0
    extract_s: dict[str, float] = field(default_factory=dict)


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, RumaroError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


class _Worker:
    """Extractor instances of one process (models loaded once), and how to run a job.

    The instances are the run's own, or their pickled copies in a worker process (so a cloud
    extractor's copies share one run: one budget, one stop flag).
    """

    def __init__(self, plan: Plan, instances: Mapping[str, Extractor]):
        self.plan = plan
        self._instances = dict(instances)
        self._setup_errors: dict[str, BaseException] = {}

    def instance(self, name: str) -> Extractor:
        if name in self._setup_errors:
            raise self._setup_errors[name]
        inst = self._instances[name]
        try:
            inst.ensure_ready()
        except Exception as exc:  # a missing model fails every image the same way: once
            self._setup_errors[name] = exc
            raise
        return inst

    def run(self, job: _Job) -> _JobResult:
        result = _JobResult(job.job_id)
        start = time.perf_counter()
        try:
            image = load_image(job.data if job.data is not None else job.path, source=job.label)
        except ImageLoadError as exc:
            result.load_error = exc.message
            return result
        result.decode_s = time.perf_counter() - start
        if image.sha256 != job.sha256:
            result.load_error = f"{job.label} changed during the run; run again"
            return result
        outputs = dict(job.known)
        for name in job.todo:
            step = self.plan.step(name)
            missing = [d for d in step.deps if d not in outputs]
            if missing:
                result.errors[name] = f"skipped: needs {', '.join(missing)}, which failed"
                continue
            deps = {d: outputs[d] for d in step.deps}
            try:
                inst = self.instance(name)
                t0 = time.perf_counter()
                values, raw = inst.extract_with_raw(image, deps, job.post)
                features = inst.check_output(values)
                result.extract_s[name] = time.perf_counter() - t0
            except Exception as exc:  # one extractor failing on one image must not stop the run
                result.errors[name] = _one_line(exc)
                continue
            outputs[name] = features
            result.computed[name] = (features, raw)
        return result


# -- backends: where jobs run ---------------------------------------------------------------
def _run_inline(
    jobs: Sequence[_Job], plan: Plan, instances: Mapping[str, Extractor]
) -> Iterator[list[_JobResult]]:
    worker = _Worker(plan, instances)
    for job in jobs:
        yield [worker.run(job)]


_POOL_WORKER: _Worker | None = None


def _limit_native_threads() -> None:
    """One compute thread per worker process: the pool already uses every core, and native
    thread pools (OpenCV, OpenMP) on top of it only fight over the same cores."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - OpenCV is a dependency
        pass


def _init_pool_worker(plan: Plan, instances: Mapping[str, Extractor]) -> None:
    global _POOL_WORKER  # one per worker process: that is where its models live
    _limit_native_threads()
    _POOL_WORKER = _Worker(plan, instances)


def _run_pool_chunk(jobs: list[_Job]) -> list[_JobResult]:
    assert _POOL_WORKER is not None, "pool worker not initialised"
    return [_POOL_WORKER.run(job) for job in jobs]


def _chunks(jobs: Sequence[_Job], workers: int) -> list[list[_Job]]:
    # Several images per task amortise inter-process traffic; small enough to balance load.
    size = max(1, min(8, len(jobs) // (workers * 16)))
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def _failed(jobs: Iterable[_Job], message: str) -> list[_JobResult]:
    return [_JobResult(job.job_id, errors=dict.fromkeys(job.todo, message)) for job in jobs]


def _mp_context():
    # forkserver: workers start from a clean process (no inherited threads or locks), and with
    # the runner preloaded each one starts quickly. __main__ too, so that extractor classes
    # defined in a script can be unpickled in the workers.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", __name__])
        return ctx
    return multiprocessing.get_context("spawn")


def _run_pool(
    jobs: Sequence[_Job], plan: Plan, instances: Mapping[str, Extractor], workers: int
) -> Iterator[list[_JobResult]]:
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_mp_context(),
        initializer=_init_pool_worker, initargs=(plan, dict(instances)),
    )
    try:
        futures = {pool.submit(_run_pool_chunk, chunk): chunk for chunk in _chunks(jobs, workers)}
        broken = False
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                if not broken:  # every pending image fails the same way: say why once
                    broken = True
                    log.error(
                        "a worker process died (a crash in a model, out of memory, or a script "
                        "without `if __name__ == '__main__':`); the images it had are marked "
                        "failed, what was finished is cached. Run again, or with --workers 1."
                    )
                yield _failed(futures[future], "worker process died")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _with_settings(inst: Extractor, settings) -> Extractor:
    inst = copy.copy(inst)
    inst.settings = settings
    return inst


_DASK_WORKERS: dict[str, _Worker] = {}
_DASK_LOCK = threading.Lock()


def _run_dask_chunk(
    plan: Plan, instances: Mapping[str, Extractor], token: str, jobs: list[_Job]
) -> list[_JobResult]:
    # One image at a time per worker process: models are not assumed to be thread-safe.
    with _DASK_LOCK:
        worker = _DASK_WORKERS.get(token)
        if worker is None:
            worker = _DASK_WORKERS[token] = _Worker(plan, instances)
        return [worker.run(job) for job in jobs]


def _run_dask(
    jobs: Sequence[_Job], plan: Plan, instances: Mapping[str, Extractor], settings, scheduler
) -> Iterator[list[_JobResult]]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        raise RumaroError(
            "--scheduler needs dask.distributed", hint="pip install '.[distributed]'"
        ) from exc
    own_client = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=10) if own_client else scheduler
    except OSError as exc:
        raise RumaroError(
            f"cannot reach the Dask scheduler at {scheduler}: {exc}",
            hint="check the address (tcp://HOST:8786) or run without --scheduler",
        ) from exc
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        chunks = iter(_chunks(jobs, n_workers))
        # Models stay loaded on the workers for later runs of the same plan and settings; cloud
        # extractors (whose copies share one run's budget) get a fresh state every run.
        token = plan.token() + stable_hash(settings.model_dump(mode="json"))
        if any(not s.local for s in plan.steps):
            token += uuid.uuid4().hex
        # Local extractors need no credentials: don't send them over the network.
        no_secrets = settings.model_copy(
            update={k: None for k, v in settings if isinstance(v, SecretStr)}
        )
        instances = {
            name: inst if not inst.local else _with_settings(inst, no_secrets)
            for name, inst in instances.items()
        }
        pending: dict[Any, list[_Job]] = {}

        def submit(chunk: list[_Job]):
            for job in chunk:  # workers may be on other machines: send the bytes
                job.data = Path(job.path).read_bytes() if Path(job.path).is_file() else b""
            future = client.submit(_run_dask_chunk, plan, instances, token, chunk, pure=False)
            pending[future] = chunk
            return future

        # A bounded window of tasks keeps memory flat (image bytes travel with each task).
        window = [submit(c) for c in itertools.islice(chunks, 4 * n_workers)]
        queue = dask_completed(window)
        for future in queue:
            chunk = pending.pop(future)
            try:
                results = future.result()
            except Exception as exc:
                results = _failed(chunk, f"dask task failed ({_one_line(exc)})")
            for job in chunk:
                job.data = None
            yield results
            nxt = next(chunks, None)
            if nxt is not None:
                queue.add(submit(nxt))
    finally:
        if own_client:
            client.close()


# -- the run --------------------------------------------------------------------------------
@dataclass
class _Stats:
    n_units: int = 0
    n_ok: int = 0
    n_failed: int = 0
    cache_hits: int = 0
    computed: int = 0
    decode_s: float = 0.0
    extract_s: float = 0.0
    failures: Counter = field(default_factory=Counter)
    failed_live: set = field(default_factory=set)  # images with a failure so far (progress bar)


class _Progress:
    """A tqdm bar on stderr (only when it is a terminal unless asked): rate, hits, failures."""

    def __init__(self, total: int, enabled: bool | None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", desc="extract", file=sys.stderr,
                            dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int, stats: _Stats) -> None:
        if self.bar is not None and n:
            self.bar.set_postfix(cached=stats.cache_hits, failed=len(stats.failed_live),
                                 refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _hash_files(units: Sequence[_Unit]) -> None:
    """sha256 of every image (threads: hashlib releases the GIL on large buffers)."""
    by_path: dict[Path, list[_Unit]] = {}
    for unit in units:
        by_path.setdefault(unit.path, []).append(unit)

    def one(path: Path) -> tuple[str | None, str | None]:
        try:
            return file_sha256(path), None
        except FileNotFoundError:
            return None, "file not found"
        except IsADirectoryError:
            return None, "is a directory"
        except OSError as exc:
            return None, f"cannot read ({exc.strerror or exc})"

    with ThreadPoolExecutor(max_workers=4) as pool:
        for path, (sha, error) in zip(by_path, pool.map(one, by_path), strict=True):
            for unit in by_path[path]:
                unit.sha256 = sha
                if error:
                    unit.load_error = str(ImageLoadError.for_path(unit.label, error))


class _ConfigHasher:
    """Config hash per (step, post): options, optional deps present, post fields, upstream keys.

    A dependency's identity is part of its dependants' keys, so a new ``faces`` version also
    recomputes ``emotion``. Hashes that don't depend on the post are computed once.
    """

    def __init__(self, plan: Plan, instances: Mapping[str, Extractor]):
        self.plan = plan
        self.instances = instances
        self.by_post: dict[str, bool] = {}
        for s in plan.steps:
            self.by_post[s.name] = bool(s.cls.post_fields) or any(
                self.by_post[d] for d in s.deps
            )
        self._fixed: dict[str, str] = {}

    def __call__(self, name: str, post: Mapping[str, Any]) -> str:
        if not self.by_post[name] and name in self._fixed:
            return self._fixed[name]
        step = self.plan.step(name)
        own = self.instances[name].cache_config_hash(present_optional=step.uses, post=post)
        value = own
        if step.deps:
            value = stable_hash(
                {"own": own,
                 "deps": {d: [str(self.plan.step(d).cls.version), self(d, post)]
                          for d in step.deps}}
            )
        if not self.by_post[name]:
            self._fixed[name] = value
        return value


def _stages(plan: Plan) -> list[tuple[tuple[str, ...], bool]]:
    """(names, run_here): local extractors on the workers, then cloud ones in this process."""
    local = tuple(s.name for s in plan.steps if s.local)
    cloud = tuple(s.name for s in plan.steps if not s.local)
    needs_cloud = any(d in cloud for s in plan.steps if s.local for d in s.deps)
    if not cloud or not local or needs_cloud:
        return [(plan.names, not local)]
    return [(local, False), (cloud, True)]


def _run_units(
    units: list[_Unit],
    plan: Plan,
    settings,
    cache: FeatureCache,
    workers: int,
    scheduler,
    progress: bool | None,
) -> _Stats:
    stats = _Stats(n_units=len(units))
    instances = {s.name: s.instance(settings) for s in plan.steps}
    hasher = _ConfigHasher(plan, instances)
    _hash_files([u for u in units if u.sha256 is None and u.load_error is None])
    for unit in units:
        if unit.load_error:
            log.warning("%s", unit.load_error)
            stats.failed_live.add(id(unit))

    groups: dict[tuple, _Group] = {}
    for unit in units:
        if unit.load_error:
            continue
        hashes = {s.name: hasher(s.name, unit.post) for s in plan.steps}
        ident = (unit.sha256, *hashes.values())
        group = groups.get(ident)
        if group is None:
            group = groups[ident] = _Group(unit.label, unit.path, unit.sha256, unit.post, hashes)
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

    bar = _Progress(len(groups), progress)
    try:
        bar.update(sum(1 for g in groups.values() if not g.stages_left), stats)
        for (_, run_here), todo in zip(stages, todo_by_stage, strict=True):
            jobs, job_groups = [], []
            for g in groups.values():
                if todo[id(g)] and g.load_error is None:
                    jobs.append(_Job(len(jobs), g.label, str(g.path), g.sha256, g.post,
                                     todo[id(g)], dict(g.known)))
                    job_groups.append(g)
                elif todo[id(g)]:  # unreadable in an earlier stage
                    g.stages_left -= 1
                    bar.update(int(g.stages_left == 0), stats)
            if not jobs:
                continue
            if scheduler is not None and not run_here:
                results = _run_dask(jobs, plan, instances, settings, scheduler)
            elif workers > 1 and len(jobs) > 1 and not run_here:
                results = _run_pool(jobs, plan, instances, min(workers, len(jobs)))
            else:
                results = _run_inline(jobs, plan, instances)
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
        errors = _unit_errors(unit, plan)
        stats.n_failed += bool(errors)
        stats.n_ok += not errors
        stats.failures.update(e.split(":", 1)[0] for e in errors)
    return stats


def _merge(group: _Group, result: _JobResult, plan: Plan, stats: _Stats, entries: list) -> None:
    stats.decode_s += result.decode_s
    stats.extract_s += sum(result.extract_s.values())
    if result.load_error or result.errors:
        stats.failed_live.add(id(group))
    if result.load_error:
        group.load_error = result.load_error
        log.warning("%s", result.load_error)
        return
    for name, (features, raw) in result.computed.items():
        group.known[name] = features
        group.errors.pop(name, None)
        entries.append((group.key(plan.step(name)), features, raw))
        stats.computed += 1
    for name, message in result.errors.items():
        group.errors[name] = message
        log.warning("%s: %s failed: %s", group.label, name, message)


def _unit_errors(unit: _Unit, plan: Plan) -> list[str]:
    if unit.load_error:
        return [f"{LOAD_ERROR}: {unit.load_error}"]
    group = unit.group
    assert group is not None
    if group.load_error:
        return [f"{LOAD_ERROR}: {group.load_error}"]
    return [f"{n}: {group.errors[n]}" for n in plan.names if n in group.errors]


def _unit_status(unit: _Unit, plan: Plan) -> str:
    if unit.load_error or unit.group is None or unit.group.load_error:
        return "error"
    known = [n for n in plan.names if n in unit.group.known]
    if len(known) == len(plan.names):
        return "ok"
    return "partial" if known else "error"


# -- tables ---------------------------------------------------------------------------------
def _feature_columns(units: Sequence[_Unit], plan: Plan) -> dict[str, pd.api.extensions.ExtensionArray]:
    columns = {}
    for step in plan.steps:
        values = [
            (u.group.known.get(step.name) if u.group is not None else None) or {} for u in units
        ]
        for feature, kind in step.cls.features.items():
            dtype = PANDAS_DTYPES[kind]
            columns[f"{step.name}.{feature}"] = pd.array(
                [v.get(feature) for v in values], dtype=dtype
            )
    return columns


def _image_table(units: Sequence[_Unit], plan: Plan) -> pd.DataFrame:
    errors = ["; ".join(_unit_errors(u, plan)) or None for u in units]
    df = pd.DataFrame(
        {
            "image": pd.array([u.label for u in units], dtype="string"),
            "image_sha256": pd.array([u.sha256 for u in units], dtype="string"),
            "status": pd.array([_unit_status(u, plan) for u in units], dtype="string"),
            "error": pd.array(errors, dtype="string"),
            **_feature_columns(units, plan),
        }
    )
    return df


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
    >>> class Mean(Extractor):
    ...     name, version, features = "mean", "1", {"value": "float"}
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
    units = [_Unit(str(p), Path(p), {}) for p in images]
    with _open_cache(cache, settings) as store:
        _run_units(units, plan, settings, store, _resolve_workers(workers, settings),
                   scheduler if scheduler is not None else settings.scheduler, progress)
    return _image_table(units, plan)


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
) -> tuple[pd.DataFrame, _Stats, Plan]:
    if aggregate not in AGGREGATES:
        raise RumaroError(f"unknown aggregate {aggregate!r}", hint=f"use one of {AGGREGATES}")
    plan = plan_extractors(extractors, settings)
    post_fields = sorted({f for s in plan.steps for f in s.cls.post_fields})
    missing = [f for f in post_fields if f not in posts.columns]
    if missing:
        raise RumaroError(f"the posts table has no column(s) {missing} that extractors read")
    data_dir = Path(settings.data_dir)

    units: list[_Unit] = []
    post_units: list[list[int]] = []
    n_images: list[int] = []
    for row in posts[["media", *post_fields]].itertuples(index=False):
        media = [str(m) for m in (row[0] if row[0] is not None else [])]
        post = {f: _python(v) for f, v in zip(post_fields, row[1:], strict=True)}
        used = media if aggregate != "cover" else media[:1]
        ids = []
        for label in used:
            ids.append(len(units))
            units.append(_Unit(label, data_dir / label, post))
        post_units.append(ids)
        n_images.append(len(media))

    with _open_cache(cache, settings) as store:
        stats = _run_units(units, plan, settings, store, _resolve_workers(workers, settings),
                           scheduler if scheduler is not None else settings.scheduler, progress)

    image_df = _image_table(units, plan)
    table = _post_table(posts, image_df, post_units, n_images, plan, aggregate)
    return table, stats, plan


def _post_table(
    posts: pd.DataFrame,
    image_df: pd.DataFrame,
    post_units: list[list[int]],
    n_images: list[int],
    plan: Plan,
    aggregate: str,
) -> pd.DataFrame:
    columns = plan.columns()
    n = len(posts)
    has_image = [bool(ids) for ids in post_units]
    cover_idx = [ids[0] if ids else -1 for ids in post_units]
    # Posts without an image get an all-null row: take the cover rows, then blank them.
    padded = pd.concat([image_df, image_df.iloc[:0].reindex([len(image_df)])], ignore_index=True)
    rows = padded.iloc[[i if i >= 0 else len(image_df) for i in cover_idx]].reset_index(drop=True)

    status = rows["status"].astype("object").tolist()
    errors = rows["error"].astype("object").tolist()
    for p in range(n):
        if not has_image[p]:
            status[p], errors[p] = "error", f"{LOAD_ERROR}: the post has no image"

    if aggregate != "cover" and len(image_df):
        numeric = [c for c, t in columns.items() if t in ("Float64", "Int64")]
        owner = pd.Series(
            [p for p, ids in enumerate(post_units) for _ in ids], index=range(len(image_df))
        )
        if numeric:
            agg = image_df[numeric].groupby(owner.values).agg(aggregate)
            agg = agg.reindex(range(n))
            for c in numeric:
                target = "Float64" if aggregate == "mean" else columns[c]
                rows[c] = agg[c].astype(target).values
        for p, ids in enumerate(post_units):
            if len(ids) < 2:
                continue
            states = image_df["status"].iloc[ids].tolist()
            parts = [
                f"{e} [{image_df['image'].iat[i]}]"
                for i in ids
                if (e := image_df["error"].iat[i]) is not pd.NA and e is not None
            ]
            errors[p] = "; ".join(parts) or None
            if all(s == "ok" for s in states):
                status[p] = "ok"
            elif all(s == "error" for s in states):
                status[p] = "error"
            else:
                status[p] = "partial"

    out = pd.DataFrame(
        {
            "account": pd.array(posts["account"].astype("object"), dtype="string"),
            "post_id": pd.array(posts["post_id"].astype("object"), dtype="string"),
            "image": rows["image"].values,
            "image_sha256": rows["image_sha256"].values,
            "n_images": pd.array(n_images, dtype="Int64"),
            "status": pd.array(status, dtype="string"),
            "error": pd.array(errors, dtype="string"),
        }
    )
    features = rows[list(columns)].reset_index(drop=True)
    return pd.concat([out, features], axis=1)


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
    table, _, _ = _extract_posts(coerce_posts(posts), settings, extractors, workers, scheduler,
                                 aggregate, progress, cache)
    return table


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

    def __str__(self) -> str:
        text = (
            f"{self.account}: {self.n_posts} posts, {self.n_images} images with "
            f"{', '.join(self.extractors)} in {self.seconds:.1f} s ({self.images_per_s:.1f} "
            f"images/s): {self.n_ok} ok, {self.n_failed} with failures; "
            f"{self.cache_hits} results from the cache, {self.computed} computed"
        )
        if self.failures:
            text += " (failures: " + ", ".join(f"{k} {v}" for k, v in self.failures.items()) + ")"
        if self.skipped:
            text += "; not run: " + ", ".join(f"{k} ({v})" for k, v in self.skipped.items())
        if self.path is not None:
            text += f"\n-> {self.path}"
        return text


def write_features(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a features table atomically (temp file + rename): never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        table.to_parquet(tmp, index=False)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
    start = time.perf_counter()
    account = validate_account(account)
    settings = _run_settings(settings, max_calls)
    posts = read_posts(settings.posts_path(account))
    table, stats, plan = _extract_posts(posts, settings, extractors, workers, scheduler,
                                        aggregate, progress, None)
    path = write_features(table, settings.features_path(account))
    seconds = time.perf_counter() - start
    return RunSummary(
        account=account,
        extractors=plan.names,
        n_posts=len(table),
        n_images=stats.n_units,
        n_ok=stats.n_ok,
        n_failed=stats.n_failed,
        cache_hits=stats.cache_hits,
        computed=stats.computed,
        seconds=seconds,
        images_per_s=stats.n_units / seconds if seconds > 0 else math.nan,
        path=path,
        skipped=dict(plan.skipped),
        failures=dict(stats.failures),
        post_status=dict(Counter(table["status"].astype("object"))),
        decode_seconds=stats.decode_s,
        extract_seconds=stats.extract_s,
    )
