"""Lazy public names for a package: each is imported from its sub-module on first use.

``doorstep.report`` and ``doorstep.design`` export many names whose sub-modules pull in heavy
libraries (scipy.stats, matplotlib, python-docx); loading them only when used keeps
``import doorstep.run`` and every notebook kernel's start-up short.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` for its lazy ``exports``.

    ``exports`` maps each public name to the sub-module (relative to ``package``) defining
    it; a loaded name is kept in ``namespace`` (the package's ``globals()``).

    Examples
    --------
    >>> namespace = {}
    >>> getter, listing = lazy_exports("doorstep", {"DataError": "errors"}, namespace)
    >>> getter("DataError").__name__, "DataError" in namespace, listing()
    ('DataError', True, ['DataError'])
    """

    def load(name: str) -> object:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module_name}"), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return load, names
