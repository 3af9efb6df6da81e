"""Random draws while a batch is computed go through the host, which refuses them.

Ferry refuses a random draw while a plugin computes a batch (`validate`, `apply`, `predict`):
a row's draw would depend on its place in the call, so the same row would get other features
online than in training. The host sees draws of the sandbox's random source, but Python's
`random` module keeps its generator in memory (componentize-py seeds it from the host on the
first call). So the SDK routes that generator through the host while a batch is computed: a
draw asks the host for a byte first, and the host stops the call with an error that names the
plugin and the call. Outside those calls (`__init__`, `update`, `finish`, `train`, `load`)
the generator works as usual.

`random.Random` and the module's functions are patched when `ferry_plugin` is imported; a
name taken with `from random import random` before that import escapes it, so import
`ferry_plugin` first."""

from __future__ import annotations

import functools
import os
import random as _random
from typing import Any, Callable

_computing = False


def _guard(draw: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(draw)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _computing:
            # The host refuses this and stops the call, naming it.
            os.urandom(1)
        return draw(*args, **kwargs)

    return guarded


def _install() -> None:
    # Every draw of a `random.Random` goes through one of these; the others are built on them.
    for name in ("random", "getrandbits", "randbytes", "seed"):
        if hasattr(_random.Random, name):
            setattr(_random.Random, name, _guard(getattr(_random.Random, name)))
    # The module's functions are methods of one hidden instance, bound at its import: bind
    # them again so they see the guarded methods.
    shared = getattr(_random, "_inst", None)
    if shared is None:
        return
    for name in dir(_random):
        f = getattr(_random, name)
        if getattr(f, "__self__", None) is shared:
            setattr(_random, name, getattr(shared, name))


def computing(f: Callable[..., Any]) -> Callable[..., Any]:
    """`f` run as a call that computes a batch: random draws inside it are refused."""

    @functools.wraps(f)
    def call(*args: Any, **kwargs: Any) -> Any:
        global _computing
        before, _computing = _computing, True
        try:
            return f(*args, **kwargs)
        finally:
            _computing = before

    return call


_install()
