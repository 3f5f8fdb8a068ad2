"""Load test of the CDS Hooks services over loopback: latency percentiles and throughput.

Starts `venapath serve` (production mode: every call carries a freshly signed JWT) in its own
process, then drives `patient-view` and `order-sign` alternately at a fixed arrival rate
(open loop: a slow answer does not slow the arrivals) with a realistic prefetch of about 50
resources, and prints p50/p95/p99 latency, achieved throughput and errors.

Two latencies are printed. The client's runs from each request's scheduled time to the last
byte of its answer (waiting for a connection or a core counts). The server's is what its own
access log says (`duration_ms`, from the outermost middleware receiving the request to the
answer's last byte handed to uvicorn; the server logs at `info`, as in production): the gap
between the two is the kernel, uvicorn's HTTP parsing and the load generator itself. The
load generator's CPU time is printed too: on a 2-core machine it shares the cores with the
server, so it is kept small (every request's bytes are built and every token signed before
the clock starts).

    .venv/bin/python bench/cds_load.py --rate 100 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fhir_fixtures import (  # noqa: E402  (test fixtures double as realistic EHR data)
    ICD10,
    SNOMED,
    condition,
    dvt_record,
    medication_request,
    observation,
    searchset,
)
from jwt_support import BASE, issuer_settings, token  # noqa: E402
from venapath.cdshooks.prefetch import prefetch_answers  # noqa: E402


def realistic_record(variant: int = 0) -> list[dict[str, Any]]:
    """A leg-DVT patient with a chart of ~50 resources: lab history, other problems, drugs.

    `variant` shifts every laboratory value slightly, so each variant's resources differ
    from every other's (no reuse of already-validated resources between variants).
    """
    shift = variant * 1e-6
    record = dvt_record(platelets=62 + shift)
    for day in range(1, 15):
        hours = 24 * day
        labs = [
            ("plt", "777-3", "Platelets", 180 + day, "10*3/uL"),
            ("hb", "718-7", "Hemoglobin", 12 + day / 10, "g/dL"),
            ("cr", "2160-0", "Creatinine", 0.8 + day / 100, "mg/dL"),
        ]
        for prefix, loinc, label, value, unit in labs:
            record.append(
                observation(f"{prefix}-{day}", loinc, label, value + shift, unit, hours_ago=hours)
            )
    record += [
        condition("htn", SNOMED, "38341003", "Hypertensive disorder"),
        condition("dm", ICD10, "E11.9", "Type 2 diabetes mellitus without complications"),
        condition("ckd", SNOMED, "431855005", "Chronic kidney disease stage 1"),
        medication_request("metformin", "860975", "metformin 500 MG Oral Tablet"),
        medication_request("lisinopril", "314076", "lisinopril 10 MG Oral Tablet"),
    ]
    return record


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    port: int,
    workers: int,
    folder: Path,
    start_timeout: float = 30.0,
    database_url: str | None = None,
) -> subprocess.Popen[bytes]:
    """`venapath serve` in its own process group, its data and its log (JSON lines,
    `server.log`) in `folder`."""
    data_dir = folder / "data"
    log = folder / "server.log"
    environment = {
        **os.environ,
        "VENAPATH_ENV": "production",
        "VENAPATH_PUBLIC_BASE_URL": BASE,
        # The benchmark calls over loopback; production mode answers only listed Host names.
        "VENAPATH_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
        "VENAPATH_TRUSTED_ISSUERS": json.dumps(issuer_settings()),
        # Production's level: the access log (one line per request) is the server's timing.
        "VENAPATH_LOG_LEVEL": "info",
        # A fresh registry (it holds the JWT replay list and card feedback).
        "VENAPATH_DATA_DIR": str(data_dir),
    }
    if database_url:
        environment["VENAPATH_DATABASE_URL"] = database_url
    command = [
        str(Path(sys.executable).parent / "venapath"),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            start_new_session=True,  # its own process group: a kill reaches the workers too
        )
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # process.kill() left the uvicorn workers running
    raise SystemExit(f"server did not start; its log: {log}")


def server_durations(log: Path) -> list[float]:
    """Milliseconds the server's access log gives for each CDS service call."""
    durations = []
    for line in log.read_text(errors="replace").splitlines():
        if '"venapath.access"' not in line:
            continue
        entry = json.loads(line)
        path = str(entry.get("path", ""))
        if entry.get("method") == "POST" and path.startswith("/cds-services/"):
            durations.append(float(entry["duration_ms"]))
    return durations


def requests(templates: dict[str, str], variant: int) -> list[tuple[str, dict[str, Any]]]:
    record = realistic_record(variant)
    prefetch = prefetch_answers(record, templates)
    context = {"userId": "Practitioner/1", "patientId": "p1"}
    patient_view = {
        "hook": "patient-view",
        "hookInstance": "x",
        "context": context,
        "prefetch": prefetch,
    }
    order = medication_request("draft-1", "8410", "alteplase", status="draft")
    order_sign = {
        "hook": "order-sign",
        "hookInstance": "y",
        "context": {**context, "draftOrders": searchset(order)},
        "prefetch": prefetch,
    }
    return [
        ("/cds-services/venapath-patient-view", patient_view),
        ("/cds-services/venapath-order-sign", order_sign),
    ]


class Connection:
    """One keep-alive HTTP/1.1 connection with hand-written requests.

    A general-purpose client spends milliseconds of CPU per request; on a 2-core machine
    that CPU is taken from the server being measured. Raw bytes over asyncio streams cost
    a few tens of microseconds.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> tuple[int, bytes]:
        """Send one whole request (head and body, built in advance); the status and body."""
        self.writer.write(request)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


def raw_request(path: str, body: bytes, authorization: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {authorization}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def drive(
    port: int, rate: float, duration: float, cold: bool
) -> tuple[list[float], int, float, float]:
    """Latencies (s), errors, elapsed wall time and the load generator's own CPU seconds."""
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=5) as client:
        discovery = await client.get(
            f"{url}/cds-services",
            headers={"Authorization": f"Bearer {token(BASE + '/cds-services')}"},
        )
    templates = discovery.json()["services"][0]["prefetch"]
    total = int(rate * duration)
    variants = total if cold else 1
    bodies = [
        [(path, json.dumps(body).encode()) for path, body in requests(templates, v)]
        for v in range(variants)
    ]
    calls = bodies[0]
    # Every request's bytes are built, and its token signed (each call needs its own jti),
    # before the clock starts, so that neither competes with the server for CPU.
    prepared = []
    for index in range(total):
        path, body = bodies[index % variants][index % 2]
        prepared.append(raw_request(path, body, f"Bearer {token(BASE + path)}"))
    del bodies
    prefetch = json.loads(calls[0][1])["prefetch"].values()
    resources = sum(len(v.get("entry", [])) if "entry" in v else 1 for v in prefetch if v)
    print(f"prefetch: {resources} resources, {len(calls[0][1]) / 1024:.0f} KiB per request")
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(16):
        idle.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    errors = 0

    async def one(index: int, scheduled: float) -> None:
        nonlocal errors
        connection = await idle.get()
        try:
            status, answer = await asyncio.wait_for(connection.post(prepared[index]), timeout=5)
            ok = status == 200 and b'"cards"' in answer
            idle.put_nowait(connection)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            idle.put_nowait(await Connection.open(port))
        # From the scheduled time, not the send time: waiting for a connection counts.
        latencies.append(time.perf_counter() - scheduled)
        errors += not ok

    cpu = time.process_time()
    begin = time.perf_counter()
    tasks = []
    for index in range(total):
        scheduled = begin + index / rate
        wait = scheduled - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(index, scheduled)))
    await asyncio.gather(*tasks)
    return latencies, errors, time.perf_counter() - begin, time.process_time() - cpu


def percentiles(milliseconds: list[float]) -> str:
    ordered = sorted(milliseconds)
    cuts = statistics.quantiles(ordered, n=100)
    return f"p50 {cuts[49]:.1f}  p95 {cuts[94]:.1f}  p99 {cuts[98]:.1f}  max {ordered[-1]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="every request carries a chart never seen before (no validated-resource reuse)",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the server's /ready (raise it on a busy machine)",
    )
    parser.add_argument(
        "--database-url",
        help="the registry database (default: a fresh SQLite file); e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/cdsbench, an empty database of its own",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the run's folder (server log with one access line per call, registry)",
    )
    args = parser.parse_args()
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="venapath-cds-load-"))
    server = start_server(port, args.workers, folder, args.start_timeout, args.database_url)
    try:
        latencies, errors, elapsed, client_cpu = asyncio.run(
            drive(port, args.rate, args.duration, args.cold)
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    served = server_durations(folder / "server.log")
    if args.keep:
        print(f"run folder kept: {folder}")
    else:
        shutil.rmtree(folder)  # the registry of the run (megabytes); kept when the server fails
    client = [value * 1000 for value in latencies]
    print(
        f"requests: {len(client)} in {elapsed:.1f} s -> {len(client) / elapsed:.1f} req/s"
        f" (target {args.rate:g})"
    )
    print(f"latency ms, client: {percentiles(client)}")
    if len(served) >= 2:
        print(f"latency ms, server: {percentiles(served)}  ({len(served)} access-log lines)")
    print(f"load generator CPU: {client_cpu:.1f} s ({client_cpu / elapsed:.0%} of one core)")
    mode = "cold (new chart every request)" if args.cold else "warm (the same chart each hook)"
    database = "SQLite" if not args.database_url else args.database_url.split(":", 1)[0]
    print(f"errors: {errors}  (server workers: {args.workers}; {mode}; {database})")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
