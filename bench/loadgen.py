"""A small HTTP load generator for loopback benchmarks: raw sockets, several processes, bounded in time."""

from __future__ import annotations

import multiprocessing as mp
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Result:
    ok: int
    errors: int
    statuses: dict
    latencies: list[float]
    elapsed: float
    # A client used up its share of the requests before the time was up: the rate then measures an idle tail.
    dry: bool = False

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


def _request(port: int, payload: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    head = b"".join(chunks[:1])[:12]
    return int(head[9:12]) if head.startswith(b"HTTP/1.") else 0


DRY = ("dry", 0.0, "")  # the marker a client appends when its requests ran out before the deadline


def _thread(port, requests, deadline, interval, out):
    next_at = time.perf_counter()
    for item in requests:
        label, payload = item if isinstance(item, tuple) else ("", item)
        now = time.perf_counter()
        if now >= deadline:
            return
        if interval:
            if next_at > now:
                time.sleep(next_at - now)
            next_at += interval
        start = time.perf_counter()
        try:
            status = _request(port, payload)
        except OSError:
            status = 0
        out.append((status, time.perf_counter() - start, label))
    if time.perf_counter() < deadline:
        out.append(DRY)


def _process(port, requests, threads, duration, interval, queue):
    deadline = time.perf_counter() + duration
    outs = [[] for _ in range(threads)]
    workers = [
        threading.Thread(target=_thread, args=(port, requests[i::threads], deadline, interval, outs[i]))
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put([item for out in outs for item in out])


def _drive(port: int, requests: list, duration: float, processes: int, threads: int, interval: float | None):
    """Send `requests` from `processes` x `threads` clients for at most `duration` seconds; returns the
    (status, seconds, label) items and the elapsed time."""
    queue: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=_process, args=(port, requests[i::processes], threads, duration, interval, queue))
        for i in range(processes)
    ]
    start = time.perf_counter()
    for proc in procs:
        proc.start()
    items = [item for _ in procs for item in queue.get()]
    for proc in procs:
        proc.join()
    return items, min(time.perf_counter() - start, duration + 0.5)


def run(
    port: int, requests: list[bytes], duration: float, processes: int = 2, threads: int = 8, rate: float | None = None
) -> Result:
    """Closed loop (as fast as answered) or, with `rate`, paced at that many requests per second in all."""
    interval = (processes * threads) / rate if rate else None
    return _result(*_drive(port, requests, duration, processes, threads, interval))


def _result(items: list, elapsed: float) -> Result:
    dry = DRY in items
    items = [item for item in items if item != DRY]
    statuses: dict = {}
    for status, *_ in items:
        statuses[status] = statuses.get(status, 0) + 1
    ok = [latency for status, latency, _ in items if 200 <= status < 300]
    return Result(len(ok), len(items) - len(ok), statuses, ok, elapsed, dry)


def combined(results: list[Result]) -> Result:
    """Several runs' results as one: their requests, statuses and latencies together over their summed time."""
    statuses: dict = {}
    for result in results:
        for status, n in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    return Result(
        sum(r.ok for r in results),
        sum(r.errors for r in results),
        statuses,
        [latency for result in results for latency in result.latencies],
        sum(r.elapsed for r in results),
        any(r.dry for r in results),
    )


def run_labelled(
    port: int, requests: list[tuple[str, bytes]], duration: float, processes: int = 2, threads: int = 8
) -> dict[str, Result]:
    """A mixed closed-loop run; (label, request) pairs; one Result per label over the same elapsed time."""
    items, elapsed = _drive(port, requests, duration, processes, threads, None)
    dry = DRY in items
    items = [item for item in items if item != DRY]
    labels = sorted({label for *_, label in items})
    return {label: _result([i for i in items if i[2] == label] + [DRY] * dry, elapsed) for label in labels}
