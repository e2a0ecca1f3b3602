"""Engines: where the partitioned work of a run executes.

A stage that works on partitions (one input part, or one slice of customers) is written as a
plain function of pandas frames, and hands it to an :class:`Executor`:

- :class:`LocalExecutor` (``engine: local``) calls it in this process, one partition after the
  other: today's path, and the default.
- :class:`DaskExecutor` (``engine: dask``) submits it to a Dask cluster: a LocalCluster sized to
  the machine, or an existing scheduler (``dask.scheduler`` / ``--scheduler``). Results stay
  on the workers as futures until ``gather``; passing a future to the next ``map`` runs that
  step where the data already is.

Both run the same functions on the same partitions, so both give the same tables. Another
engine (Spark's ``mapInPandas``, Ray's ``map_batches``) would be one more executor.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from segment_report.pipeline.config import Config, DaskConfig
from segment_report.pipeline.errors import ConfigError, EngineError
from segment_report.pipeline.log import logger


def chunked(values: Any, size: int) -> list[Any]:
    """``values`` (a list or an array) in consecutive chunks of ``size``, the last shorter: the
    fixed chunks that make a distributed step give the same numbers as a local one."""
    return [values[i:i + size] for i in range(0, len(values), size)]


class Executor(Protocol):
    """Runs a function over partitions; ``map`` returns handles, ``gather`` their values."""

    name: str
    #: how many calls can run at once (threads over all workers)
    slots: int

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any], **kwargs: Any) -> list[Any]:
        """``func(a, b, ..., **kwargs)`` for each tuple of items; a handle per call."""

    def gather(self, handles: list[Any]) -> list[Any]:
        """The values behind ``handles`` (in this process)."""

    def results(self, handles: list[Any]) -> Iterator[Any]:
        """The values behind ``handles`` one by one, in order, each as soon as it is ready."""

    def share(self, value: Any) -> Any:
        """A handle to ``value`` that every call of ``map`` can take as an argument."""

    def describe(self) -> dict[str, Any]:
        """What ran the work, for manifest.json."""


class LocalExecutor:
    """Every call in this process, in order (``engine: local``)."""

    name = "local"
    slots = 1

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any], **kwargs: Any) -> list[Any]:
        return [func(*args, **kwargs) for args in zip(*iterables, strict=True)]

    def gather(self, handles: list[Any]) -> list[Any]:
        return list(handles)

    def results(self, handles: list[Any]) -> Iterator[Any]:
        return iter(handles)

    def share(self, value: Any) -> Any:
        return value

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": 1, "threads": self.slots}


class DaskExecutor:
    """Every call a task on a Dask cluster (``engine: dask``)."""

    name = "dask"

    def __init__(self, client: Any, slots: int, where: str = "", workers: int = 0) -> None:
        self.client = client
        self._environ = dict(os.environ)
        self.slots = slots
        self.where = where
        self.workers = workers

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any], **kwargs: Any) -> list[Any]:
        items = [list(it) for it in iterables]
        if not items or not items[0]:
            return []
        # The data travel inside the task graph (2.4 GB at 10M transactions, and Dask warns),
        # not by scatter: scattered data die with their worker, and the tasks that needed them
        # then fail instead of running again elsewhere. pure=False: two parts with equal
        # arguments are still two tasks.
        return self.client.map(func, *items, pure=False, **kwargs)

    def gather(self, handles: list[Any]) -> list[Any]:
        with _workers_lost():
            values = self.client.gather(handles)
        self._restore_environment()
        return values

    def results(self, handles: list[Any]) -> Iterator[Any]:
        for handle in handles:
            with _workers_lost():
                value = handle.result()
            self._restore_environment()
            yield value

    def _restore_environment(self) -> None:
        """Undo what a nanny that restarted a worker set in this process (``_environment_kept``)."""
        _put_back(self._environ)

    def share(self, value: Any) -> Any:
        return self.client.scatter(value, broadcast=True)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "scheduler": self.where, "workers": self.workers, "threads": self.slots,
                "dashboard": self.client.dashboard_link}


@contextlib.contextmanager
def _workers_lost() -> Iterator[None]:
    """A task whose worker died too often (Dask retries it on another worker first) is a clear
    error: which task, and what to look at."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    try:
        yield
    except (KilledWorker, CancelledError) as exc:  # cancelled: its inputs died with a worker
        raise EngineError(f"the Dask workers running a task kept dying: {exc}",
                          expected="workers that stay up while the run's tasks execute (Dask retried the "
                                   "task on other workers before giving up)",
                          fix="look at the workers' logs or the dashboard: a worker over its memory limit "
                              "is restarted, so give workers more memory (dask.memory_limit) or the "
                              "cluster more workers, and run again") from None


def _connect(address: str, timeout_s: float) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}",
                          expected="the address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786",
                          fix="start the scheduler (dask scheduler) or correct dask.scheduler / "
                              "--scheduler; leave it empty to start a cluster on this machine") from None


def _local_cluster(cfg: DaskConfig) -> Any:
    from distributed import LocalCluster

    workers = cfg.n_workers or max(1, len(os.sched_getaffinity(0)) // cfg.threads_per_worker)
    with _environment_kept():
        return LocalCluster(n_workers=workers, threads_per_worker=cfg.threads_per_worker,
                            memory_limit=cfg.memory_limit, processes=True, dashboard_address=":0")


@contextlib.contextmanager
def _environment_kept() -> Iterator[None]:
    """This process's environment as it was before the block.

    A nanny sets its worker's variables (``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED``...) in the
    environment of the process that runs it, before it spawns the worker, and leaves them
    there; in a LocalCluster that is this process. A library loaded later in the run then read
    ``OMP_NUM_THREADS=1`` and the UMAP layout of the segments came out different from a local
    run's (measured at 1M transactions: the same graph, another embedding). A nanny that
    restarts a dead worker does it again, so the executor puts the environment back after every
    wait as well.
    """
    before = dict(os.environ)
    try:
        yield
    finally:
        _put_back(before)


def _put_back(environ: dict[str, str]) -> None:
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)


@contextlib.contextmanager
def open_executor(cfg: Config) -> Iterator[Executor]:
    """The executor of ``cfg.engine``; for ``dask`` the cluster is open while the context is.

    Raises:
        ConfigError: the scheduler cannot be reached in ``dask.connect_timeout_s`` (exit 2).
    """
    if cfg.engine == "local":
        yield LocalExecutor()
        return
    with contextlib.ExitStack() as stack:
        if cfg.dask.scheduler:
            client = stack.enter_context(_connect(cfg.dask.scheduler, cfg.dask.connect_timeout_s))
            where = cfg.dask.scheduler
        else:
            from distributed import Client

            cluster = stack.enter_context(_local_cluster(cfg.dask))
            client = stack.enter_context(Client(cluster))
            where = "LocalCluster"
        workers = client.scheduler_info(n_workers=-1)["workers"]
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        logger.info("engine dask: %s, %d workers, %d threads; dashboard %s",
                    "a LocalCluster on this machine" if where == "LocalCluster" else f"the scheduler at {where}",
                    len(workers), threads, client.dashboard_link)
        yield DaskExecutor(client, threads, where, len(workers))
