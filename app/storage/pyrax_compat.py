"""pyrax's pinned dependencies on Python >= 3.10: ``collections``' pre-3.10 ABC aliases.

pyrax 1.10.0 pins python-novaclient 2.27.0, which drags in 2017 releases of python-keystoneclient
and oslo.config. Those subclass ``collections.Mapping`` and friends, gone since Python 3.10, so
they crash on import, and python-swiftclient imports keystoneclient whenever it is installed.
``app/__init__.py`` imports this module before anything imports swiftclient, and it changes
nothing where pyrax is not installed.
"""

from __future__ import annotations

import collections
import collections.abc
import importlib.util

_ABC_NAMES = (
    "Callable",
    "Iterable",
    "Mapping",
    "MutableMapping",
    "MutableSequence",
    "MutableSet",
    "Sequence",
    "Set",
)


def alias_collections_abc() -> None:
    """Give ``collections`` its pre-3.10 ABC aliases, where pyrax (and its pins) is installed."""
    if importlib.util.find_spec("pyrax") is None:
        return
    for name in _ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


alias_collections_abc()
