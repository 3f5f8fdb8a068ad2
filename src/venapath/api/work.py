"""Keeping the event loop free: a bounded worker pool for CPU-heavy work, and per-client rate
limits on the routes that do it.

One event loop serves every request of a worker process, `/health` included. Parsing,
validating and evaluating a case or a FHIR Bundle is CPU work of milliseconds to seconds; run
on the loop it stalls everyone else. `WorkPool.run` moves it to a few threads; when they are
all busy and the queue behind them is full, the request is refused at once with 503 and
Retry-After instead of waiting unboundedly. `RateLimiter` refuses a client that sends more
than its share with 429 and Retry-After. Both are per process: with several workers, each
holds its own pool and its own counts.
"""

from __future__ import annotations

import asyncio
import functools
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

from venapath.errors import RateLimitedError, UnavailableError

T = TypeVar("T")

MAX_TRACKED_CLIENTS = 10_000
WORKER_NICENESS = 5


class WorkPool:
    """At most as many jobs run at once as there are workers, and at most `queue` more wait;
    others get 503 at once.

    `run` uses `processes` worker processes when there are any, else `threads` threads. A
    process holds its own interpreter lock and garbage collector, so even a full collection
    after a 5,000-resource Bundle cannot pause the event loop; its jobs must be module-level
    functions with picklable arguments (`api/jobs.py`), and errors of the tree cross back
    intact. `run_in_thread` always uses a thread, for jobs that hold unpicklable state (the
    CDS Hooks services).
    """

    def __init__(self, threads: int, queue: int, processes: int = 0) -> None:
        self._threads = anyio.CapacityLimiter(threads)
        self._process_slots = anyio.CapacityLimiter(max(processes, 1))
        self._capacity = (processes or threads) + queue
        self._admitted = 0
        self._processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._warming: list[Future[None]] = []

    @property
    def in_processes(self) -> bool:
        return self._processes > 0

    @property
    def ready(self) -> bool:
        """False while worker processes are still starting (for `/ready`)."""
        return all(future.done() for future in self._warming)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` in a worker process, or a thread when there are none."""
        with self._admission():
            if not self.in_processes:
                return await anyio.to_thread.run_sync(work, *args, limiter=self._threads)
            async with self._process_slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool(), functools.partial(work, *args))

    async def run_in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(*args)` in a thread of the pool (state that cannot be pickled)."""
        with self._admission():
            return await anyio.to_thread.run_sync(work, *args, limiter=self._threads)

    @contextmanager
    def _admission(self) -> Iterator[None]:
        if self._admitted >= self._capacity:
            raise UnavailableError(
                "the service is busy evaluating other requests; retry shortly", retry_after=1
            )
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the server process has threads (fork would copy their locks).
            self._executor = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm_worker,
            )
        return self._executor

    def start(self) -> None:
        """Start the worker processes in the background at server start-up (each imports
        VenaPath and loads the knowledge base: seconds); `ready` says when they are up."""
        if self.in_processes:
            self._warming = [self._pool().submit(_warm_worker) for _ in range(self._processes)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _warm_worker() -> None:
    """Prepare a worker process: a lower CPU priority than the server's event loop (so on a
    busy machine the kernel runs `/health` first), then the bundled knowledge base, once."""
    if not getattr(_warm_worker, "done", False):
        os.nice(WORKER_NICENESS)
        from venapath.services.evaluation import knowledge_base

        knowledge_base()
        _warm_worker.done = True  # type: ignore[attr-defined]


class RateLimiter:
    """A token bucket per client: `per_minute` requests on average, bursts up to `burst`."""

    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str) -> None:
        """Spend one token of `client`, or raise RateLimitedError saying when to come back."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            wait = math.ceil((1.0 - tokens) / self._rate) if self._rate > 0 else 60
            raise RateLimitedError("too many requests from this client; slow down", wait)
        if client not in self._buckets and len(self._buckets) >= MAX_TRACKED_CLIENTS:
            self._forget_full_buckets(now)
        self._buckets[client] = (tokens - 1.0, now)

    def _forget_full_buckets(self, now: float) -> None:
        """Drop clients whose bucket has refilled: they would start full anyway."""
        self._buckets = {
            client: (tokens, at)
            for client, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self._rate < self._burst
        }

    async def __call__(self, request: Request) -> None:
        """A FastAPI dependency for the expensive routes."""
        self.take(client_key(request))


def client_key(request: Request) -> str:
    """The verified caller when there is one, else the connecting address."""
    principal = getattr(request.state, "principal", None)
    subject = getattr(principal, "subject", None)
    if subject:
        return f"principal:{subject}"
    return f"address:{request.client.host if request.client else 'unknown'}"
