"""Where batches are transformed: in process for small inputs, else a pool of worker processes
that end with the run (a parent-death watchdog in each worker)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

import pyarrow as pa

from ..output import pid_alive
from ..plan import TablePlan
from .transform import BatchResult, RunContext, transform_batch

_WORKER_RUN: RunContext | None = None

_PR_SET_PDEATHSIG = 1


def die_with(parent: int) -> None:
    """Make this worker exit when the process that started the pool (``parent``) dies.

    A pool worker is a child of the forkserver, not of the run, and blocks on a queue whose
    write end it holds itself: killed runs (kill -9) used to leave every worker alive, and with
    them the forkserver and the resource tracker (each worker holds their pipes open). So:
    the kernel kills the worker when its own parent (the forkserver) dies (PR_SET_PDEATHSIG), and
    a daemon thread waits on a pidfd of ``parent`` and ends the worker when it exits (polling
    where pidfds are missing). Once the workers are gone the forkserver and the resource
    tracker read end-of-file on their pipes and exit by themselves.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        fd = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)  # the run is already gone
    except (OSError, AttributeError):
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])  # readable once the process has exited
        else:
            while pid_alive(parent):
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="veil-parent-watch", daemon=True).start()


def worker_init(run: RunContext, parent: int | None = None) -> None:
    global _WORKER_RUN
    if parent is not None:
        die_with(parent)
    _WORKER_RUN = run


def _worker_run(tplan: TablePlan, batch: pa.RecordBatch, offset: int) -> BatchResult:
    return transform_batch(tplan, batch, _WORKER_RUN, offset)


def _pool_context():
    ctx = get_context("forkserver")
    # the forkserver imports veil once; each worker forks with it loaded (else every worker
    # imported pyarrow, sqlglot and veil on its own: ~0.3 s of CPU each on a 2-CPU run)
    ctx.set_forkserver_preload([__name__])
    return ctx


def prestart(workers: int) -> None:
    """Start the workers' forkserver now, for a run that will surely use the pool (a large input):
    it imports veil (~1 s of CPU) while the run reads the schema and waits on I/O, instead of when
    the first batch is ready. Nothing else is started; a run that never uses the pool loses nothing
    but that import, and the forkserver exits with the run."""
    if workers > 1:
        from multiprocessing import forkserver

        _pool_context()
        forkserver.ensure_running()


class Engine:
    """In-process for small inputs; a process pool once a table has several batches."""

    def __init__(self, run: RunContext, workers: int):
        self.run = run
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, tplan: TablePlan, batch: pa.RecordBatch, offset: int, parallel: bool) -> Future:
        if parallel and self.workers > 1:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(self.workers, mp_context=_pool_context(),
                                                initializer=worker_init, initargs=(self.run, os.getpid()))
            return self.pool.submit(_worker_run, tplan, batch, offset)
        fut: Future = Future()
        try:
            fut.set_result(transform_batch(tplan, batch, self.run, offset))
        except BaseException as exc:  # delivered through the future like a worker's error
            fut.set_exception(exc)
        return fut

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
