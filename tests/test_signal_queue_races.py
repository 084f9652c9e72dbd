"""The guest's signal queue against the host signals' Python-level handlers.

`signals._on_wake` (another guest's inbox) and `signals._on_host_signal`
queue signals on the main thread, wherever Python looks for pending host
signals: on entering a Python function and after a call returns (the
`call` and `c_return` events of a profile function are those points).  The
main thread's own queue operations must survive such a handler at each of
them: every instance queued is pending and taken, and the pending bits say
exactly which signals have queued siginfos.

The first case is the lost wake-up of t_sig_rtqueue under the macOS model:
`_take_pending` read `pending`, called `bit()`, where the handler queued the
child's next sigqueue, and wrote the old value back without the bit - the
instance sat in `infos`, not pending, and the parent's sigtimedwait slept
through its 10 s.
"""
from __future__ import annotations

import struct
import sys

import pytest

from elfuse_py.runtime import signals
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.sigstate import SigState

RT, RT2, STD = 37, 40, 10          # SIGRTMIN+5 (kernel numbering), another RT one, SIGUSR1


def _info(sig: int, value: int) -> bytes:
    return signals._si(sig, signals.SI_QUEUE, 1234, 1000, struct.pack("<i", value))


def _consistent(st, k: int) -> None:
    for sig in range(1, signals.NSIG + 1):
        has = bool(st.infos.get(sig))
        assert bool(st.pending & signals.bit(sig)) == has, f"handler at check point {k}: signal {sig}'s bit"
    assert st.queued == sum(len(q) for q in st.infos.values()), f"handler at check point {k}: count"


def _values(st, sig: int) -> list[int]:
    return [struct.unpack_from("<i", i, 24)[0] for i in st.infos.get(sig, ())]


# (name, set-up, main-thread operation, the handler's signal (its value: 9),
#  the values queued at the end)
CASES = [
    ("take RT, handler queues RT",
     lambda: signals.queue(RT, _info(RT, 0)),
     lambda: signals.take(signals.bit(RT), 1),
     RT, {RT: [9]}),
    ("take RT of two, handler queues RT",
     lambda: (signals.queue(RT, _info(RT, 0)), signals.queue(RT, _info(RT, 1))),
     lambda: signals.take(signals.bit(RT), 1),
     RT, {RT: [1, 9]}),
    ("queue RT, handler queues another RT",
     lambda: None,
     lambda: signals.queue(RT, _info(RT, 0)),
     RT2, {RT: [0], RT2: [9]}),
    ("queue standard, handler queues RT",
     lambda: None,
     lambda: signals.queue(STD, _info(STD, 0)),
     RT, {STD: [0], RT: [9]}),
    ("queue standard, handler queues the same standard",
     lambda: None,
     lambda: signals.queue(STD, _info(STD, 0)),
     STD, None),                  # merged: one instance, either value
    ("take standard, handler queues RT",
     lambda: signals.queue(STD, _info(STD, 0)),
     lambda: signals.take(signals.bit(STD), 1),
     RT, {RT: [9]}),
]


@pytest.mark.parametrize("name,setup,main,hsig,want", CASES, ids=[c[0] for c in CASES])
def test_handler_at_every_check_point(name, setup, main, hsig, want, monkeypatch):
    points = 0
    k = 0
    while True:
        k += 1
        monkeypatch.setattr(proc, "sig", SigState())
        setup()
        seen = [0]
        fired = [False]

        def prof(frame, event, arg):
            if event in ("call", "c_return") and not fired[0]:
                seen[0] += 1
                if seen[0] == k:
                    fired[0] = True
                    sys.setprofile(None)
                    signals.queue(hsig, _info(hsig, 9))

        sys.setprofile(prof)
        try:
            main()
        finally:
            sys.setprofile(None)
        if not fired[0]:
            break
        points += 1
        st = proc.sig
        _consistent(st, k)
        if want is None:
            assert len(st.infos.get(hsig, ())) == 1, f"handler at check point {k}"
        else:
            got = {s: _values(st, s) for s in st.infos}
            assert got == want, f"handler at check point {k}"
    assert points > 3                    # the injection did reach the operation
