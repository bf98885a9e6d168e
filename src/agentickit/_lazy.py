"""Lazily exposed names (PEP 562): one table-driven module `__getattr__` for every package that has them.

A package keeps `import agentickit` cheap by naming, instead of importing, the modules of what few
users need (`ak.stores.SQLite`, `ak.SimulatedModel`, `ak.durable`); the type checker sees the same
names through `if TYPE_CHECKING:` imports beside the table.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ("lazy_exports",)


def lazy_exports(
    package: str, names: Mapping[str, str], submodules: Collection[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module `__getattr__` and `__dir__` for `package` (call it while it is imported: `__name__`).

    `names` maps a name to the module that defines it (absolute, or relative to `package`); a
    name in `submodules` is the subpackage `package.name` itself. A value is imported on first
    access and kept in the package's namespace, so the next access is a plain attribute read;
    `dir()` lists `__all__` and the lazy names.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace.get("__all__", ()), *names, *submodules})

    return __getattr__, __dir__
