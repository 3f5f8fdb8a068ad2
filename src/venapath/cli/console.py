"""Rich consoles made on first use.

Importing rich costs tens of milliseconds that `venapath evaluate --format json` never needs
(it writes plain JSON), so the module-level consoles of the CLI are these stand-ins: the real
`rich.console.Console` is built, with the same options, the first time anything prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """Stands in for `rich.console.Console(**options)` until the first call."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def get(self) -> Console:
        """The real console (built now if nothing has printed yet)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.get().print(*objects, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)
