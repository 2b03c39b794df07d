"""Where jobs run: in this process, in a local process pool, or on a Dask cluster.

A `Job` is one image with the extractors still to compute and its dependencies' known outputs;
a `Worker` holds one process's extractor instances (models load once per process) and runs jobs.
Each backend yields lists of `JobResult` as they finish, so the runner can cache them at once.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from .. import lifeline
from ..errors import ImageLoadError, RumaroError
from ..images import load_image
from .base import Extractor, stable_hash
from .plan import Plan, with_settings

log = logging.getLogger(__name__)


@dataclass
class Job:
    """What a worker gets: one image, the extractors to compute, their dependencies' outputs."""

    job_id: int
    label: str
    path: str
    sha256: str
    post: dict[str, Any]
    todo: tuple[str, ...]
    known: dict[str, dict[str, Any]]
    data: bytes | None = None  # sent along to Dask workers, which may not see our disk
    #: names in `known` computed without a failed optional requirement (an earlier stage)
    uncached: frozenset[str] = frozenset()


@dataclass
class JobResult:
    job_id: int
    computed: dict[str, tuple[dict[str, Any], Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    load_error: str | None = None
    decode_s: float = 0.0
    #: computed without an optional dependency that failed on this image (or from such an
    #: output): in the table, but not cached, since the cache key says the dependency was there
    uncached: set[str] = field(default_factory=set)
    extract_s: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0  # CPU time of the worker process on this job (all its threads)


def one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, RumaroError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


class Worker:
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

    def run(self, job: Job) -> JobResult:
        cpu = time.process_time()
        result = self._run(job)
        result.cpu_s = time.process_time() - cpu
        return result

    def _run(self, job: Job) -> JobResult:
        result = JobResult(job.job_id)
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
        result.uncached = set(job.uncached)
        for name in job.todo:
            step = self.plan.step(name)
            missing = [d for d in step.requires if d not in outputs]
            if missing:
                result.errors[name] = f"skipped: needs {', '.join(missing)}, which failed"
                continue
            # an optional dependency that failed here is absent, as in a run without it (the
            # person gate must not cost faces, people and pose when objects fails on a photo)
            deps = {d: outputs[d] for d in step.deps if d in outputs}
            if len(deps) < len(step.deps) or any(d in result.uncached for d in deps):
                result.uncached.add(name)
            try:
                inst = self.instance(name)
                t0 = time.perf_counter()
                values, raw = inst.extract_with_raw(image, deps, job.post)
                features = inst.check_output(values)
                result.extract_s[name] = time.perf_counter() - t0
            except Exception as exc:  # one extractor failing on one image must not stop the run
                result.errors[name] = one_line(exc)
                continue
            outputs[name] = features
            result.computed[name] = (features, raw)
        return result


# -- backends: where jobs run ---------------------------------------------------------------
def run_inline(
    jobs: Sequence[Job], plan: Plan, instances: Mapping[str, Extractor]
) -> Iterator[list[JobResult]]:
    worker = Worker(plan, instances)
    for job in jobs:
        yield [worker.run(job)]


_POOL_WORKER: Worker | None = None


def _limit_native_threads() -> None:
    """One compute thread per worker process: the pool already uses every core, and native
    thread pools (OpenCV, OpenMP) on top of it only fight over the same cores."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - OpenCV is a dependency
        pass


def _init_pool_worker(plan: Plan, instances: Mapping[str, Extractor], run_pid: int) -> None:
    global _POOL_WORKER  # one per worker process: that is where its models live
    lifeline.die_with_parent(run_pid)  # no orphan keeps its models loaded after a kill -9
    _limit_native_threads()
    _POOL_WORKER = Worker(plan, instances)


def _run_pool_chunk(jobs: list[Job]) -> list[JobResult]:
    assert _POOL_WORKER is not None, "pool worker not initialised"
    return [_POOL_WORKER.run(job) for job in jobs]


def _chunks(jobs: Sequence[Job], workers: int) -> list[list[Job]]:
    """Tasks of several images (they amortise inter-process traffic), then single images for
    the last 2 x `workers` x size, so that the workers finish together instead of one waiting
    out the other's last task.

    >>> [len(c) for c in _chunks(list(range(20)), 1)]
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    >>> [len(c) for c in _chunks(list(range(200)), 2)]  # doctest: +ELLIPSIS
    [6, 6, ..., 6, 2, 1, 1, ..., 1]
    """
    size = max(1, min(8, len(jobs) // (workers * 16)))
    tail = min(len(jobs), 2 * workers * size) if size > 1 else 0
    head = len(jobs) - tail
    return ([list(jobs[i : min(head, i + size)]) for i in range(0, head, size)]
            + [[job] for job in jobs[head:]])


def _failed(jobs: Iterable[Job], message: str) -> list[JobResult]:
    return [JobResult(job.job_id, errors=dict.fromkeys(job.todo, message)) for job in jobs]


#: native model runtimes a forkserver imports once for all its workers when the plan has a
#: local extractor (each worker would spend ~0.5 s CPU importing them itself). Only modules
#: that run no OpenCV code at import belong here: OpenCV's thread pool, once started in the
#: forkserver, hangs every forked worker in cv2.setNumThreads (image_stats's colour table,
#: computed at import, starts it; measured when preloading the extractors' modules was tried).
NATIVE_RUNTIMES = ("cv2", "onnxruntime", "mediapipe")


def _mp_context(local: bool = False):
    # forkserver: workers start from a clean process (no inherited threads or locks), and with
    # the runner preloaded each one starts quickly. "__main__" is asked for too, but Python
    # 3.11's forkserver never receives the script's path, so each worker imports the script
    # itself when it unpickles a class defined there (hence `if __name__ == "__main__":`).
    # Started here, so that it ends when this process does (`lifeline.guard_forkserver`, run
    # when it preloads this module).
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # a missing runtime is skipped by multiprocessing (it ignores ImportError in preloads)
        ctx.set_forkserver_preload(["__main__", __name__, *(NATIVE_RUNTIMES if local else ())])
        lifeline.start_forkserver()
        return ctx
    return multiprocessing.get_context("spawn")


def run_pool(
    jobs: Sequence[Job], plan: Plan, instances: Mapping[str, Extractor], workers: int
) -> Iterator[list[JobResult]]:
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_mp_context(any(s.local for s in plan.steps)),
        initializer=_init_pool_worker, initargs=(plan, dict(instances), os.getpid()),
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


_DASK_WORKERS: dict[str, Worker] = {}
_DASK_LOCK = threading.Lock()


def _run_dask_chunk(
    plan: Plan, instances: Mapping[str, Extractor], token: str, jobs: list[Job]
) -> list[JobResult]:
    # One image at a time per worker process: models are not assumed to be thread-safe.
    with _DASK_LOCK:
        worker = _DASK_WORKERS.get(token)
        if worker is None:
            worker = _DASK_WORKERS[token] = Worker(plan, instances)
        return [worker.run(job) for job in jobs]


def run_dask(
    jobs: Sequence[Job], plan: Plan, instances: Mapping[str, Extractor], settings, scheduler
) -> Iterator[list[JobResult]]:
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
            name: inst if not inst.local else with_settings(inst, no_secrets)
            for name, inst in instances.items()
        }
        pending: dict[Any, list[Job]] = {}

        def submit(chunk: list[Job]):
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
                results = _failed(chunk, f"dask task failed ({one_line(exc)})")
            for job in chunk:
                job.data = None
            yield results
            nxt = next(chunks, None)
            if nxt is not None:
                queue.add(submit(nxt))
    finally:
        if own_client:
            client.close()
