"""placeholder"""

import struct as _struct
import time as _time

from elfuse_py.process import proc as _proc

from .table import syscall

_TS = _struct.Struct("<qq")


@syscall("clock_gettime", "int, ptr")
def sys_clock_gettime(clk, tp):
    ns = _time.clock_gettime_ns(clk)
    _proc.mem.pack(_TS, tp, ns // 1000000000, ns % 1000000000)
    return 0
