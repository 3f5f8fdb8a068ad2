"""Which route a request is for, before the application runs: the key the policy table uses.

Built once from the application's own routes (so it always agrees with them), as the same
path regular expressions Starlette compiles; a request whose path and method match no route
is left to the application's 404 or 405.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Mount, compile_path


@dataclass(frozen=True)
class RouteKey:
    template: str
    methods: frozenset[str]
    pattern: re.Pattern[str]


def route_keys(routes: Sequence[BaseRoute]) -> list[RouteKey]:
    """Every (method set, path template) the application serves, in matching order."""
    keys = []
    for context in iter_route_contexts(routes):
        path = context.path
        if path is None:
            continue
        if isinstance(context.original_route, Mount):
            template = path.rstrip("/") + "/{path:path}"
            methods = frozenset({"GET", "HEAD"})
        else:
            template = path
            methods = frozenset(context.methods or ())
        pattern, _, _ = compile_path(template)
        keys.append(RouteKey(template=template, methods=methods, pattern=pattern))
    return keys


class RouteIndex:
    """Resolves (method, path) to a route template. Built on first use and rebuilt whenever
    the application's route list changes length, so a route added late is never served
    without its policy check."""

    def __init__(self, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self._routes = routes
        self._keys: list[RouteKey] = []
        self._built_from = -1

    def keys(self) -> list[RouteKey]:
        routes = self._routes()
        if len(routes) != self._built_from:
            self._keys = route_keys(routes)
            self._built_from = len(routes)
        return self._keys

    def resolve(self, method: str, path: str) -> str | None:
        """The template of the route that serves this request, or None (404/405 follow)."""
        for key in self.keys():
            if key.pattern.match(path) and (
                method in key.methods or (method == "HEAD" and "GET" in key.methods)
            ):
                return key.template
        return None
