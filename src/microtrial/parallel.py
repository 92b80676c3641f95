"""Where per-sample and per-chunk work runs: local threads, or a Dask cluster.

One small API for every loop that can run in parallel (per-sample filtering, dereplication,
denoising and merging, classification chunks, rarefaction repeats, permutation batches)::

    from microtrial.parallel import map_ordered

    results = map_ordered(process_sample, samples, threads=threads, progress=progress,
                          desc="filter + dereplicate")

``map_ordered`` returns ``[fn(x, *shared) for x in items]``, in input order, whatever the
order the tasks finish in. Without an executor it runs on ``threads`` local threads (the
numba kernels release the GIL); inside :func:`use_executor` (set once by ``microtrial run``
for ``--jobs N`` or ``--dask-scheduler ADDRESS``) the tasks go to a Dask distributed
cluster instead. ``shared`` objects (a trained classifier, an error model) are sent to the
workers once, not once per task.

Results are identical to a local run because every task is a pure function of its item
(seeds are derived per item by the caller, never drawn from a shared generator) and results
are reduced by the caller in input order. Work nested inside a task (a task that itself calls
``map_ordered``) runs locally in that task: the executor is a context variable of the
calling thread, which worker threads do not inherit.

Workers must see the same files as the client (a shared file system) when tasks read
inputs by path, as the per-sample read filtering does.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DaskExecutor:
    """A connected ``distributed.Client`` that :func:`map_ordered` sends tasks to."""

    client: Any
    description: str

    @property
    def n_workers(self) -> int:
        try:
            return max(1, len(self.client.scheduler_info().get("workers", {})))
        except Exception:  # noqa: BLE001 - information only
            return 1


_CURRENT: contextvars.ContextVar[DaskExecutor | None] = contextvars.ContextVar(
    "microtrial_executor", default=None
)


def current_executor() -> DaskExecutor | None:
    """The executor set by :func:`use_executor` in this thread, or ``None`` (local)."""
    return _CURRENT.get()


@contextlib.contextmanager
def use_executor(executor: DaskExecutor | None) -> Iterator[DaskExecutor | None]:
    """Send :func:`map_ordered` calls made inside the block (in this thread) to ``executor``."""
    token = _CURRENT.set(executor)
    try:
        yield executor
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def dask_executor(
    *, scheduler: str | None = None, jobs: int | None = None, processes: bool = True
) -> Iterator[DaskExecutor | None]:
    """Connect to a Dask scheduler (``scheduler``), or start a local cluster of ``jobs``
    single-threaded workers; yields ``None`` (run locally) when neither is given.

    Parameters
    ----------
    scheduler : str, optional
        A running scheduler's address (``tcp://host:8786``).
    jobs : int, optional
        Workers of a local cluster (``--jobs N``); ignored when ``scheduler`` is given.
    processes : bool
        Local cluster workers as processes (default) or threads of this process.

    Raises
    ------
    microtrial.errors.InputError
        The scheduler cannot be reached (named by the ``--dask-scheduler`` option).
    """
    if scheduler is None and (jobs is None or jobs <= 1):
        yield None
        return
    from distributed import Client, LocalCluster

    from microtrial.errors import OptionError

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptionError("run.dask_scheduler", f"cannot connect to {scheduler}: {exc}") from None
        with client:
            yield DaskExecutor(client, f"dask scheduler {scheduler}")
        return
    n = int(jobs or 1)
    with (
        LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield DaskExecutor(client, f"local cluster of {n} {'processes' if processes else 'threads'}")


def map_ordered(
    fn: Callable[..., Any],
    items: Sequence[Any],
    *,
    shared: Sequence[Any] = (),
    threads: int = 1,
    executor: DaskExecutor | None = None,
    progress: ProgressCallback | None = None,
    desc: str = "",
) -> list[Any]:
    """``[fn(x, *shared) for x in items]``, on local threads or a Dask cluster, in input order.

    Parameters
    ----------
    fn : callable
        A pure function of one item (and the ``shared`` objects); sent to the workers with
        cloudpickle when an executor is in use.
    items : sequence
    shared : sequence, optional
        Objects every task needs (passed after the item); scattered to the workers once.
    threads : int
        Local threads when no executor is in use.
    executor : DaskExecutor, optional
        Defaults to :func:`current_executor`.
    progress : callable, optional
        ``progress(desc, done, total)``, called as tasks finish.
    desc : str
        The progress description.

    Returns
    -------
    list
        One result per item, in the order of ``items``.
    """
    items = list(items)
    n = len(items)
    out: list[Any] = [None] * n
    if progress:
        progress(desc, 0, n)
    ex = executor if executor is not None else current_executor()
    if ex is not None and n:
        from distributed import as_completed

        client = ex.client
        # hash=False: a fresh key per call; with content keys, a second call scattering the
        # same array could be served the key the first call's release is about to drop
        # (the tasks then fail with "lost dependencies"; dask/distributed issue 4612)
        extra = [client.scatter(obj, broadcast=True, hash=False) for obj in shared]
        futures = [client.submit(fn, x, *extra, pure=False) for x in items]
        index = {f.key: i for i, f in enumerate(futures)}
        done = 0
        try:
            for fut in as_completed(futures):
                out[index[fut.key]] = fut.result()
                done += 1
                if progress:
                    progress(desc, done, n)
        finally:
            for f in futures:
                f.release()
        return out
    if threads > 1 and n > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futs = [pool.submit(fn, x, *shared) for x in items]
            for i, f in enumerate(futs):
                out[i] = f.result()
                if progress:
                    progress(desc, i + 1, n)
        return out
    for i, x in enumerate(items):
        out[i] = fn(x, *shared)
        if progress:
            progress(desc, i + 1, n)
    return out


def n_workers(default: int = 1) -> int:
    """Workers of the current executor (for sizing chunks), else ``default``."""
    ex = current_executor()
    return ex.n_workers if ex is not None else default


__all__ = ["DaskExecutor", "current_executor", "dask_executor", "map_ordered", "n_workers",
           "use_executor"]
