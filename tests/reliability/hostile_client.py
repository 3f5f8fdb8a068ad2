"""One hostile client, run as its own OS process by `test_health_under_load.py`.

Why a process and not a thread: eight attacker threads in the test process share its
interpreter lock with the `/health` prober, so the prober's own waits for the lock were
measured as the service's latency. Here each attacker has its own interpreter.

Usage: python hostile_client.py URL PATH MEDIA ATTACK, with the bearer token (if any) in the
environment variable HOSTILE_TOKEN. ATTACK names a body of `reliability_support`
("bundle:4999", "alias_bomb", "yaml_nested", "json_nested:100000").

The client sends its body in a loop until its standard input is closed. It prints "ready"
once its first answer has arrived, and at the end one JSON line: the count of answers per
status and every connection error (a client that dies or cannot connect must not pass
silently as "no 5xx").
"""

from __future__ import annotations

import json
import os
import sys
import threading

import httpx
from reliability_support import ALIAS_BOMB, JSON_NESTED, YAML_NESTED, bundle

TOKEN_VARIABLE = "HOSTILE_TOKEN"
MAX_ERRORS_KEPT = 5


def body_of(attack: str) -> str:
    """The request body an attack name stands for."""
    name, _, size = attack.partition(":")
    bodies = {
        "bundle": lambda: bundle(int(size)),
        "alias_bomb": lambda: ALIAS_BOMB,
        "yaml_nested": lambda: YAML_NESTED,
        "json_nested": lambda: JSON_NESTED[int(size)],
    }
    return bodies[name]()


def stop_when_stdin_closes() -> threading.Event:
    """The test stops every client by closing its standard input."""
    stop = threading.Event()

    def wait() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait, daemon=True).start()
    return stop


def attack(url: str, path: str, media: str, body: str, token: str | None) -> dict[str, object]:
    headers = {"content-type": media}
    if token:
        headers["authorization"] = f"Bearer {token}"
    statuses: dict[str, int] = {}
    errors: list[str] = []
    error_count = 0
    stop = stop_when_stdin_closes()
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            try:
                response = client.post(path, content=body, headers=headers)
            except httpx.TransportError as error:
                error_count += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            if not statuses:
                print("ready", flush=True)
            key = str(response.status_code)
            statuses[key] = statuses.get(key, 0) + 1
    return {"statuses": statuses, "connection_errors": error_count, "errors": errors}


def main() -> None:
    url, path, media, attack_name = sys.argv[1:5]
    result = attack(url, path, media, body_of(attack_name), os.environ.get(TOKEN_VARIABLE))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
