"""Benchmark: what authentication adds to a request (goal: under 2 ms at p50).

    .venv/bin/python bench/auth.py [--requests 400]

On a fresh SQLite registry, in process (no network), for `POST /api/v1/evaluate` (a case
file) and `GET /api/v1/patients/{id}`:
- the middleware's own work per request (route lookup, policy, bearer-JWT verification or
  session lookup, CSRF check), timed directly, p50 and p95;
- the whole request through the application with a bearer token, with a session cookie, and
  with the authentication middleware replaced by one that hands every request the same
  clinician without checking anything (the baseline), p50 and p95. The baseline does all the
  rest, the audit entry of each read and evaluation included, so "added" is what verifying
  the caller costs (the median of the per-round differences from the baseline); the audit's
  own cost is printed on its own line.
- an anonymous flood of refused requests (401): each refusal written to the audit trail, and
  coalesced as the service does it (identity/events.py), p50 and p95, and the entries each
  wrote.
Prints one line per figure; the test keys and accounts are made here and thrown away.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from venapath.api.app import create_app
from venapath.domain.access import Principal, Role, local_operator
from venapath.domain.records import PatientIn
from venapath.identity.events import REFUSAL_WINDOW_SECONDS, RefusalCoalescer, SecurityEvents
from venapath.identity.http import PRINCIPAL_STATE
from venapath.identity.middleware import AuthenticationMiddleware
from venapath.identity.policy import requirement_for
from venapath.identity.routing import RouteIndex
from venapath.identity.sessions import SessionStore, SignedIn, session_cookie_name
from venapath.identity.tokens import BearerVerifier
from venapath.kb.loader import load_knowledge_base
from venapath.persistence import migrate
from venapath.persistence.audit import AuditAction, AuditFact, AuditTrail
from venapath.persistence.database import Database
from venapath.persistence.tables import AuditEventRow
from venapath.services.registry import Registry
from venapath.settings import Settings, load_settings

ISSUER = "https://auth.bench"
AUDIENCE = "https://venapath.bench"
CASE = Path(__file__).resolve().parent.parent / "examples" / "cases"


BENCH_CLINICIAN = Principal("local:bench", "Bench", frozenset({Role.CLINICIAN}), "local")


class FixedCaller:
    """The baseline's stand-in for authentication: the same clinician, nothing verified."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[PRINCIPAL_STATE] = BENCH_CLINICIAN
        await self.app(scope, receive, send)


def _keys() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "bench", "alg": "RS256"})
    return key, {"keys": [public]}


def _token(key: rsa.RSAPrivateKey) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "bench", "aud": AUDIENCE, "iat": now, "exp": now + 3000}
    claims["scope"] = "system/*.cruds"
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench"})


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(ordered) * 1000:.3f} ms, p95 {p95 * 1000:.3f} ms"


def _timed(call: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def _middleware_only(
    settings: Settings, database: Database, app: Any, token: str, count: int
) -> None:
    sessions = SessionStore(database, settings)
    grant = sessions.start(
        SignedIn("local:bench", "Bench", frozenset({Role.CLINICIAN}), "local"), "127.0.0.1"
    )

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def noop(scope: Any, receive: Any, send: Any) -> None:
        return None

    middleware = AuthenticationMiddleware(
        noop,
        routes=RouteIndex(lambda: app.routes),
        sessions=sessions,
        cookie_name=session_cookie_name(settings),
        bearer=BearerVerifier(settings, lambda url: asyncio.sleep(0, {})),
        security=SecurityEvents(AuditTrail(database)),
    )
    cookie = f"{session_cookie_name(settings)}={grant.token}".encode()
    loop = asyncio.new_event_loop()
    for method, path in (("POST", "/api/v1/evaluate"), ("GET", "/api/v1/patients/p-1")):
        for label, headers in (
            ("bearer", [(b"authorization", f"Bearer {token}".encode())]),
            ("session", [(b"cookie", cookie), (b"x-csrf-token", grant.csrf_token.encode())]),
        ):
            scope = {
                "type": "http",
                "method": method,
                "path": path,
                "headers": headers,
                "client": ("127.0.0.1", 1),
            }

            def admit(
                scope: dict[str, Any] = scope, method: str = method, path: str = path
            ) -> None:
                template = middleware.routes.resolve(method, path)
                assert template is not None
                requirement = requirement_for(method, template)
                fresh = {**scope, "state": {}}
                loop.run_until_complete(middleware._admit(fresh, receive, template, requirement))

            samples = _timed(admit, count)
            print(f"middleware only, {label:7} {method} {path}: {_percentiles(samples)}")
    loop.close()


def _end_to_end(apps: dict[str, tuple[Any, dict[str, str]]], patient: str, count: int) -> None:
    """Requests to the apps interleaved (one each per round, the first of each round taking
    turns), so load on the machine and any cost a request leaves for the next (collection
    of its garbage) fall on all of them alike."""
    case = (CASE / "leg-dvt-iliofemoral-candidate.yaml").read_bytes()
    clients = {}
    for label, (app, headers) in apps.items():
        client = TestClient(app, base_url="http://127.0.0.1")
        client.__enter__()
        client.headers.update(headers)
        clients[label] = client

    def evaluate(client: TestClient) -> None:
        response = client.post(
            "/api/v1/evaluate", content=case, headers={"content-type": "application/yaml"}
        )
        assert response.status_code == 200, response.text

    def read(client: TestClient) -> None:
        assert client.get(f"/api/v1/patients/{patient}").status_code == 200

    for name, call in (("evaluate", evaluate), ("patient read", read)):
        samples: dict[str, list[float]] = {label: [] for label in clients}
        labels = list(clients)
        for round_number in range(count + 20):
            turn = round_number % len(labels)
            for label in labels[turn:] + labels[:turn]:
                client = clients[label]
                start = time.perf_counter()
                call(client)
                if round_number >= 20:  # the first rounds warm caches up
                    samples[label].append(time.perf_counter() - start)
        base = samples["no auth"]
        for label, taken in samples.items():
            # Paired by round: the requests of one round met the same load on the machine.
            added = statistics.median(t - b for t, b in zip(taken, base, strict=True)) * 1000
            print(
                f"whole request, {label:8} {name}: {_percentiles(taken)}; p50 added {added:+.3f} ms"
            )
    for client in clients.values():
        client.__exit__(None, None, None)


def _audit_only(registry: Registry, patient: str, count: int) -> None:
    """One audit entry of a patient read, appended on its own (hash chain, commit)."""
    fact = AuditFact(AuditAction.READ, BENCH_CLINICIAN, patient_id=patient)
    samples = _timed(lambda: registry.audit.record_event(fact), count)
    print(f"audit entry alone (in every figure above): {_percentiles(samples)}")


def _refusal_flood(make_app: Callable[[], Any], database: Database, count: int) -> None:
    """The same anonymous request refused `count` times: every refusal written (a window of
    0 s), then coalesced (the default 60 s window)."""
    for label, window in (("each written", 0.0), ("coalesced", REFUSAL_WINDOW_SECONDS)):
        app = make_app()
        app.state.security_events.coalescer = RefusalCoalescer(window=window)
        with database.session() as session:
            before = session.scalar(select(func.count()).select_from(AuditEventRow)) or 0
        with TestClient(app, base_url="http://127.0.0.1") as client:

            def refused(client: TestClient = client) -> None:
                assert client.get("/api/v1/worklist").status_code == 401

            samples = _timed(refused, count)
            with database.session() as session:
                after = session.scalar(select(func.count()).select_from(AuditEventRow)) or 0
        print(
            f"anonymous refusal, {label:12}: {_percentiles(samples)}; "
            f"{after - before} audit entries for {count} refusals"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument(
        "--database-url",
        default=None,
        help="An empty database to run on (e.g. PostgreSQL); default: a new SQLite file",
    )
    options = parser.parse_args()
    key, jwks = _keys()
    token = _token(key)
    settings = load_settings(
        env="development",
        api_issuers=[{"iss": ISSUER, "jwks": jwks, "audience": AUDIENCE}],
        log_level="warning",
    )
    kb = load_knowledge_base()
    with tempfile.TemporaryDirectory(prefix="venapath-bench-auth-") as folder:
        database = Database(options.database_url or f"sqlite:///{folder}/registry.sqlite3")
        migrate.upgrade(database)
        registry = Registry(database, kb)
        patient = registry.create_patient(PatientIn(), local_operator("bench")).id
        app = create_app(settings, kb=kb, registry=registry)
        _middleware_only(settings, database, app, token, options.requests)
        sessions = SessionStore(database, settings)
        grant = sessions.start(
            SignedIn("local:bench", "Bench", frozenset({Role.CLINICIAN}), "local"), None
        )
        cookie = {
            "cookie": f"{session_cookie_name(settings)}={grant.token}",
            "x-csrf-token": grant.csrf_token,
        }
        baseline = create_app(settings, kb=kb, registry=registry)
        baseline.user_middleware = [
            Middleware(FixedCaller) if m.cls is AuthenticationMiddleware else m
            for m in baseline.user_middleware
        ]
        apps = {
            "no auth": (baseline, {}),
            "bearer": (app, {"Authorization": f"Bearer {token}"}),
            "session": (create_app(settings, kb=kb, registry=registry), cookie),
        }
        _end_to_end(apps, patient, options.requests)
        _audit_only(registry, patient, options.requests)
        _refusal_flood(
            lambda: create_app(settings, kb=kb, registry=registry), database, options.requests
        )
        database.dispose()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
