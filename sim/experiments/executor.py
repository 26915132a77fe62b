"""The one batch executor: the runs of replications, sweeps, staffing, validation and ``sim.run``, in this
process, on a local process pool or on a Dask cluster, the same way for all of them:

- outcomes come back in the jobs' order, whatever order they finish in;
- a worker process that dies has its jobs tried again (up to ``ATTEMPTS`` times each);
- with run files (:class:`~sim.io.results.RunFiles`) each outcome is kept as soon as it comes, and the
  batch run again runs only what is missing;
- a strategy defined in ``__main__`` (a notebook's or a script's own code) runs in this process: worker
  processes started afresh cannot import it;
- each batch (a phase: a staffing search's trials, a sweep's points) has its own progress bar, whose
  total is that batch's jobs (a resumed batch starts at the jobs already done), and with
  :func:`reporting` ``verbose`` a line per finished job;
- interrupted (Ctrl-C), it lets its workers go at once: they ignore the interrupt themselves, so that
  only this process decides, and its pool is terminated, not waited for.

An executor keeps its pool or cluster from one batch to the next (a staffing search runs dozens) and
lets it go on :meth:`Executor.close` or at the end of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

from sim import files
from sim.errors import ConvsimError
from sim.io.results import RunFiles
from strategies import registry

ATTEMPTS = 3  # a job whose worker dies is tried this many times in all
R = TypeVar("R")
_VERBOSE: ContextVar[bool] = ContextVar("convsim_verbose", default=False)


@contextlib.contextmanager
def reporting(verbose: bool) -> Iterator[None]:
    """Within the block, executors write a line per finished job to stderr (``verbose``)."""
    token = _VERBOSE.set(verbose)
    try:
        yield
    finally:
        _VERBOSE.reset(token)


class Task(Protocol):
    """A job: a picklable description of one run, for a worker function to carry out."""

    @property
    def name(self) -> str:
        """The run's name, unique in its batch (its run file's name)."""

    @property
    def strategy(self) -> str | None:
        """The strategy it routes by (None: the scenario's own)."""


J = TypeVar("J", bound=Task)


def die_with_parent(parent: int, every: float = 0.5) -> None:
    """In a worker process: exit as soon as the process that started it is gone (a killed ``compare`` or
    ``sweep`` leaves no worker behind, waiting forever for jobs that will never come); ignore Ctrl-C,
    which the terminal sends to every process of the command: the parent handles it, and lets us go."""
    import threading

    with contextlib.suppress(ValueError, OSError):  # (not in the main thread: nothing to ignore)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    started_by = os.getppid()  # the parent, or a fork server started by it

    def watch() -> None:
        while os.getppid() == started_by and files.alive(parent):
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="convsim-parent-watch", daemon=True).start()


def defined_here(strategy: str | None) -> bool:
    """Whether the strategy's class lives in ``__main__`` (a notebook's or a script's own code), which
    worker processes started afresh cannot import."""
    return strategy is not None and registry.resolve(strategy).__module__ == "__main__"


@dataclass
class Executor:
    """Runs batches of jobs on ``workers`` local processes (all cores by default; 1: in this process) or,
    with ``scheduler`` (a Dask scheduler's address, or "local" for a LocalCluster of ``workers``
    processes), on a Dask cluster; ``progress`` shows a bar of ``unit``s named ``description`` for each
    batch (:meth:`map`), its total fixed: that batch's jobs."""

    workers: int | None = None
    scheduler: str | None = None
    progress: bool = False
    description: str = "runs"
    unit: str = "run"
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)
    _client: Any = field(default=None, init=False, repr=False)
    _cluster: Any = field(default=None, init=False, repr=False)

    def map(self, worker: Callable[[J], R], jobs: Sequence[J], runs: RunFiles | None = None,
            phase: str | None = None) -> list[R]:
        """``worker(job)`` for every job, in the jobs' order; those ``runs`` holds are not run again and
        the others are kept there as they finish. ``phase`` names the batch on the progress bar."""
        done: dict[int, R] = {}
        if runs is not None:
            kept = runs.finished(job.name for job in jobs)
            done = {i: kept[job.name] for i, job in enumerate(jobs) if job.name in kept}
        missing = [i for i in range(len(jobs)) if i not in done]
        name = self.description if phase is None else f"{self.description}: {phase}"
        verbose = _VERBOSE.get()
        with tqdm(total=len(jobs), initial=len(done), unit=self.unit, desc=name, disable=not self.progress,
                  smoothing=0.1) as bar:
            started = time.perf_counter()
            for i, outcome in self._outcomes(worker, [jobs[i] for i in missing]):
                done[missing[i]] = outcome
                if runs is not None:
                    runs.save(jobs[missing[i]].name, outcome)
                bar.update()
                if verbose:
                    bar.write(f"convsim: {name}: {jobs[missing[i]].name} done ({bar.n}/{len(jobs)}, "
                              f"{time.perf_counter() - started:.1f} s)", file=sys.stderr)
        return [done[i] for i in range(len(jobs))]

    def _outcomes(self, worker: Callable[[J], R], jobs: list[J]) -> Iterator[tuple[int, R]]:
        """Each job's position and outcome, as they finish."""
        if not jobs:
            return
        here = any(defined_here(name) for name in {job.strategy for job in jobs})
        if here or (self.scheduler is None and (self.workers or os.cpu_count() or 1) == 1):
            yield from enumerate(map(worker, jobs))
        elif self.scheduler is not None:
            yield from self._on_dask(worker, jobs)
        else:
            yield from self._on_pool(worker, jobs)

    def _on_pool(self, worker: Callable[[J], R], jobs: list[J]) -> Iterator[tuple[int, R]]:
        """On the local process pool, made anew when a worker dies, its unfinished jobs tried again."""
        attempts = [0] * len(jobs)
        pending = list(range(len(jobs)))
        while pending:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=self._processes(), initializer=die_with_parent,
                                                 initargs=(os.getpid(),))
            futures: dict[Future[R], int] = {}
            delivered: set[Future[R]] = set()
            try:
                futures = {self._pool.submit(worker, jobs[i]): i for i in pending}
                for future in as_completed(futures):
                    outcome = future.result()
                    delivered.add(future)
                    yield futures[future], outcome
                pending = []
            except BrokenProcessPool:
                self._pool.shutdown()
                self._pool = None
                retry = [] if futures else list(pending)  # the pool broke before taking them
                for future, i in futures.items():
                    if future in delivered:
                        continue
                    if future.done() and future.exception() is None:
                        yield i, future.result()
                        continue
                    retry.append(i)
                for i in retry:
                    attempts[i] += 1
                    if attempts[i] >= ATTEMPTS:
                        raise RuntimeError(f"run {jobs[i].name} failed {ATTEMPTS} times: its worker died") from None
                pending = retry

    def _processes(self) -> int:
        """Local processes: as many as asked, but never more than the cores (a run keeps a core busy; more
        processes than cores add only memory: 64 workers on 2 cores would hold 64 interpreters)."""
        cores = os.cpu_count() or 1
        return max(1, min(self.workers or cores, cores))

    def _on_dask(self, worker: Callable[[J], R], jobs: list[J]) -> Iterator[tuple[int, R]]:
        """On the Dask cluster, which reschedules the jobs of a worker that dies."""
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise ConvsimError("--scheduler needs Dask: pip install 'convsim[dask]'") from None
        if self._client is None:
            try:
                if self.scheduler == "local":
                    self._cluster = LocalCluster(n_workers=self._processes(), threads_per_worker=1,
                                                 processes=True, dashboard_address=None)
                self._client = Client(self._cluster if self._cluster is not None else self.scheduler, timeout=30)
            except (OSError, ValueError, TypeError, TimeoutError) as exc:
                raise ConvsimError(f"--scheduler {self.scheduler!r}: cannot reach the Dask scheduler: {exc}") from None
        futures = {self._client.submit(worker, job, key=f"convsim-{job.name}-{uuid.uuid4().hex}", pure=False,
                                       retries=ATTEMPTS - 1): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def close(self, interrupted: bool = False) -> None:
        """Let the pool and the cluster go; ``interrupted``: at once, the pool's running jobs ended."""
        if self._pool is not None:
            if interrupted:  # its workers ignore Ctrl-C: end them rather than wait for their runs
                for process in list((self._pool._processes or {}).values()):
                    with contextlib.suppress(OSError, AttributeError):
                        process.terminate()
            # (waited for even when interrupted: the workers are ended, so this is at once, and the pool's
            # manager thread is gone before the interpreter's exit would wake it through a closed pipe)
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._pool = self._client = self._cluster = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(interrupted=kind is not None and issubclass(kind, KeyboardInterrupt))
