"""The host's signal numbers and calls, as plain ints: `sig` is CPython's C module `_signal`.

Python's `signal` module is that C module plus wrappers that turn numbers
into IntEnum members (Signals, Handlers, Sigmasks); importing it imports
`enum` (and functools), ~2 ms of every start-up.  The emulator translates
signals by number and name only (runtime/signums.py), so the start-up path
uses the C module itself: the same functions and constants, ints in and out
(`getsignal(...) == sig.SIG_IGN` still holds).  Another Python falls back to
`signal`.  The macOS host model hides its Linux-only names from both
(host/darwin_model.py).
"""
from __future__ import annotations

try:
    import _signal as sig
except ImportError:                     # not CPython
    import signal as sig

__all__ = ["sig"]
