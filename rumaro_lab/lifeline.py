"""Helper processes that end when the process they work for dies: no orphans after a ``kill -9``.

A killed Jupyter kernel, the OOM killer or ``kill -9`` gives a process no chance to stop its
children. multiprocessing's pool workers would then wait for work forever (each holding its
loaded models), and with them the forkserver and the resource tracker, which only end when every
worker has. Two lines of defence:

- `die_with_parent` (called in each worker's initializer): on Linux the kernel kills the worker
  when its parent process (the forkserver) dies (``prctl(PR_SET_PDEATHSIG)``), and a watch thread
  ends it as soon as the process that started the run is gone (``pidfd`` on Linux, polling
  elsewhere). The thread needs the worker's GIL; the kernel signal does not.
- `guard_forkserver` (run when a forkserver that `start_forkserver` started imports this
  module, a preloaded one): a watch thread ends the forkserver when the run's process is gone, which in turn makes the kernel end every
  worker. The resource tracker ends by itself once none of them is left (its pipe closes).

>>> import os
>>> watch_parent(os.getpid(), start=False).daemon
True
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)

#: Linux prctl option: signal to deliver to this process when its parent dies.
PR_SET_PDEATHSIG = 1
#: Set by the run's process (its pid) before the forkserver starts; read by `guard_forkserver`.
ENV_RUN_PID = "RUMARO_RUN_PID"
#: Exit status of a helper whose run's process disappeared.
EXIT_PARENT_GONE = 70


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux only).

    Returns False where that is not possible (other systems): `watch_parent` still covers them.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _wait_for_exit(pid: int, interval: float) -> None:
    """Block until process `pid` has ended (a pidfd where the system has them, else polling)."""
    try:
        fd = os.pidfd_open(pid)  # Linux >= 5.3: readable once the process has ended
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)
        return
    direct = os.getppid() == pid
    # A dead parent may linger as a zombie (kill(pid, 0) still succeeds): our parent changing
    # tells it apart.
    while _alive(pid) and (not direct or os.getppid() == pid):
        time.sleep(interval)


def watch_parent(pid: int, interval: float = 0.5, start: bool = True) -> threading.Thread:
    """A daemon thread that ends this process (``os._exit``) as soon as process `pid` is gone."""

    def run() -> None:
        _wait_for_exit(pid, interval)
        os._exit(EXIT_PARENT_GONE)

    thread = threading.Thread(target=run, name=f"rumaro-lifeline-{pid}", daemon=True)
    if start:
        thread.start()
    return thread


def die_with_parent(run_pid: int) -> None:
    """Make this helper process end when its parent dies, and when process `run_pid` does."""
    set_parent_death_signal()
    if not _alive(run_pid):  # gone before we got here
        os._exit(EXIT_PARENT_GONE)
    watch_parent(run_pid)


def start_forkserver() -> None:
    """Start multiprocessing's forkserver now, told which process it works for.

    The variable is set only while the forkserver starts, so no other child inherits it. A
    forkserver already running (started earlier, by other code) is left as it is: it still ends
    once this process and every worker it forked are gone.
    """
    from multiprocessing import forkserver

    os.environ[ENV_RUN_PID] = str(os.getpid())
    try:
        forkserver.ensure_running()
    finally:
        os.environ.pop(ENV_RUN_PID, None)


def guard_forkserver() -> bool:
    """In a forkserver started by a marked run's process: end it when that process is gone.

    Does nothing (returns False) anywhere else, including the run's process itself.
    """
    run_pid = os.environ.get(ENV_RUN_PID)
    in_forkserver = "multiprocessing.forkserver" in sys.modules and sys.argv[:1] == ["-c"]
    if not in_forkserver or run_pid != str(os.getppid()):
        return False
    watch_parent(int(run_pid))
    return True


guard_forkserver()  # a no-op except in a forkserver started by `start_forkserver`
