"""Public names a package imports on first use (PEP 562), so that importing the
package costs next to nothing (the CLI's start-up; docs/PERFORMANCE.md)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def exports(package: str, names: dict[str, str]
            ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names`` maps each public
    name to ``"module:attribute"``, or to ``"module"`` for a submodule."""
    namespace = importlib.import_module(package).__dict__

    def getattr_(name: str) -> Any:
        ref = names.get(name)
        if ref is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = ref.partition(":")
        value = importlib.import_module(module)
        if attr:
            value = getattr(value, attr)
        namespace[name] = value   # the next lookup is an ordinary attribute
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_
