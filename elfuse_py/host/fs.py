"""Host file-system calls whose form differs between Linux and macOS.

Each concern is one interface with a Linux and a macOS (BSD) implementation,
chosen once from `platform.KIND`: the host's AT_FDCWD, renameat2's flags,
statfs's filesystem magic, struct flock's layout, sendfile, the path of
an open fd, and which fds are open (`open_fds`).  Values here are *host* values; callers translate Linux's by
meaning ("noreplace", "exchange", ...).
"""
from __future__ import annotations

import fcntl
import os
import stat
import struct

from elfuse_py.host import platform

_libc = None


def __getattr__(name: str):
    # `libc`: the host libc (ctypes) for the few calls Python's os module does not
    # expose with errno, loaded on first use (ctypes costs ~1 ms of every start-up).
    if name == "libc":
        return _host_libc()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _host_libc():
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _oserr(err: int) -> OSError:
    return OSError(err, os.strerror(err))


class _Linux:
    AT_FDCWD = -100
    # renameat2(2): (libc function, {meaning: host flag})
    RENAME = ("renameat2", {"noreplace": 1, "exchange": 2, "whiteout": 4})
    FLOCK = (struct.Struct("@hhqqi"), ("type", "whence", "start", "len", "pid"))
    HAS_FD_DIR = True                     # checked once selected (below)

    @staticmethod
    def statfs_raw(target, size: int) -> bytes | None:
        """The host's struct statfs (Linux: the asm-generic 64-bit layout the guest uses)."""
        import ctypes
        libc = _host_libc()
        buf = ctypes.create_string_buffer(size)
        if isinstance(target, int):
            r = libc.fstatfs(target, buf)
        else:
            r = libc.statfs(ctypes.c_char_p(target), buf)
        if r != 0:
            raise _oserr(ctypes.get_errno())
        return buf.raw

    @staticmethod
    def sendfile(out_fd: int, in_fd: int, off: int | None, count: int) -> int:
        return os.sendfile(out_fd, in_fd, off, count)

    @staticmethod
    def fd_path(fd: int) -> str:
        """The path the host kernel records for open fd `fd` (ENOENT/EBADF if not open)."""
        return os.readlink(f"/proc/self/fd/{fd}")

    @staticmethod
    def open_fds(below: int) -> list[int]:
        """The open fds under `below`, ascending (the kernel's list in /proc/self/fd)."""
        return _still_open(int(n) for n in os.listdir("/proc/self/fd") if int(n) < below)


class _Darwin:
    AT_FDCWD = -2
    # renameatx_np: RENAME_SWAP 0x2, RENAME_EXCL 0x4
    RENAME = ("renameatx_np", {"noreplace": 4, "exchange": 2})
    FLOCK = (struct.Struct("@qqihh"), ("start", "len", "pid", "type", "whence"))
    HAS_FD_DIR = False

    @staticmethod
    def statfs_raw(target, size: int) -> bytes | None:
        return None          # macOS's struct statfs carries no Linux magic

    @staticmethod
    def sendfile(out_fd: int, in_fd: int, off: int | None, count: int) -> int:
        # macOS's sendfile needs a socket: copy through a bounded buffer.
        data = os.pread(in_fd, min(count, 1 << 20), off) if off is not None \
            else os.read(in_fd, min(count, 1 << 20))
        n = os.write(out_fd, data) if data else 0
        if off is None and n < len(data):
            os.lseek(in_fd, n - len(data), os.SEEK_CUR)
        return n

    @staticmethod
    def fd_path(fd: int) -> str | None:
        """F_GETPATH gives a file's path; pipes and sockets get Linux-style names.

        None for a file whose path the host cannot give (the macOS model on
        Linux has no F_GETPATH): the runtime's record from open answers then.
        """
        st = os.fstat(fd)                       # EBADF if not open
        if stat.S_ISFIFO(st.st_mode):
            return f"pipe:[{st.st_ino}]"
        if stat.S_ISSOCK(st.st_mode):
            return f"socket:[{st.st_ino}]"
        getpath = getattr(fcntl, "F_GETPATH", None)
        if getpath is not None:
            try:
                return fcntl.fcntl(fd, getpath, bytes(1024)).split(b"\0", 1)[0].decode()
            except OSError:
                pass
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            return None
        if stat.S_ISCHR(st.st_mode):
            dev = _device_path(st.st_rdev)
            if dev is not None:
                return dev
        return f"anon_inode:[{st.st_ino}]"


    @staticmethod
    def open_fds(below: int) -> list[int]:
        """The open fds under `below`, ascending.

        A Mac lists them in /dev/fd (fdesc).  A Linux host playing a Mac has
        only Linux's /dev/fd, a link into /proc, so it asks the kernel with
        poll() instead: a closed fd comes back POLLNVAL (macOS's poll gives
        POLLNVAL for some devices too, hence /dev/fd there).
        """
        if platform.IS_DARWIN:
            return _still_open(int(n) for n in os.listdir("/dev/fd") if n.isdigit() and int(n) < below)
        return _poll_open(below)


def _still_open(fds) -> list[int]:
    out = []
    for fd in sorted(fds):
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)     # drop the listing's own, now closed, fd
        except OSError:
            continue
        out.append(fd)
    return out


_POLL_BATCH = 1024


def _poll_open(below: int) -> list[int]:
    """Open fds under `below` by poll(2) in batches: POLLNVAL marks a closed one."""
    import array                        # (here: a plain run never needs it, ~0.2 ms of start-up)
    import ctypes
    import select
    poll = _host_libc().poll
    nval = select.POLLNVAL
    out = []
    for start in range(0, max(below, 0), _POLL_BATCH):
        n = min(_POLL_BATCH, below - start)
        pfds = array.array("i", bytes(8 * n))           # struct pollfd {int fd; short events, revents}
        pfds[0::2] = array.array("i", range(start, start + n))
        buf = (ctypes.c_char * (8 * n)).from_buffer(pfds)
        if poll(buf, ctypes.c_uint(n), 0) < 0:
            continue
        revents = memoryview(pfds).cast("B").cast("h")[3::4].tolist()
        out.extend(start + i for i, r in enumerate(revents) if not r & nval)
    return out


_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
            "/dev/ptmx", "/dev/console")


def _device_path(rdev: int) -> str | None:
    """The /dev node of a character device (by its device number), for an fd whose path
    the host cannot give; None if it is none of the usual ones."""
    for path in _DEVICES:
        try:
            if os.stat(path).st_rdev == rdev:
                return path
        except OSError:
            pass
    try:
        for name in os.listdir("/dev/pts"):
            path = "/dev/pts/" + name
            if os.stat(path).st_rdev == rdev:
                return path
    except OSError:
        pass
    return None


class _Other(_Darwin):
    RENAME = (None, {})


FS = {"linux": _Linux, "darwin": _Darwin}.get(platform.KIND, _Other)
# What is handed to the real host's libc (AT_FDCWD, renameat2's function and
# flags, struct flock) follows the real host.  What only decides behaviour
# follows the host model, so the macOS model runs the Mac's code: no
# /proc/self/fd, no statfs magic, sendfile as a bounded copy, and an fd's
# path from F_GETPATH (None where the host cannot say: the runtime then
# answers from the paths it recorded at open).
MODEL_FS = _Darwin if platform.MODEL == "darwin" else FS
AT_FDCWD = FS.AT_FDCWD
RENAME = FS.RENAME
HOST_FLOCK, HOST_FLOCK_FIELDS = FS.FLOCK
HAS_FD_DIR = MODEL_FS.HAS_FD_DIR and os.path.isdir("/proc/self/fd")
# Whether the host itself can name an open file (Linux's /proc, a Mac's
# F_GETPATH); if not, the runtime records paths at open (fdtable.FdTable.paths).
FD_PATHS_KNOWN = MODEL_FS is _Linux or hasattr(fcntl, "F_GETPATH")
statfs_raw = MODEL_FS.statfs_raw
sendfile = MODEL_FS.sendfile
fd_path = MODEL_FS.fd_path
open_fds = MODEL_FS.open_fds


# ----- case-insensitive volumes ---------------------------------------------------------------
# macOS formats its disks case-insensitive by default: there, creating "A" next
# to an existing "a" would silently open "a".  Linux programs expect two files.
_PC_CASE_SENSITIVE = 11                  # <sys/unistd.h> on macOS
_case_by_dev: dict[int, bool] = {}
# The macOS model on Linux cannot fold case on a Linux disk; a test may ask it
# to treat every volume as the Mac default does, so the guard itself runs.
_MODEL_CASEFOLD = platform.MODEL == "darwin" and os.environ.get("ELFUSE_MODEL_CASEFOLD") == "1"
CASE_CHECKS = platform.IS_DARWIN or _MODEL_CASEFOLD    # whether any volume here may ignore case


def case_insensitive(directory, dir_fd: int | None = None) -> bool:
    """True if names in `directory` (a path, relative to `dir_fd`) are compared without case."""
    if _MODEL_CASEFOLD:
        return True
    if not platform.IS_DARWIN:
        return False
    try:
        st = os.stat(directory, dir_fd=dir_fd)
    except OSError:
        return False
    known = _case_by_dev.get(st.st_dev)
    if known is None:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)
            try:
                known = os.fpathconf(fd, _PC_CASE_SENSITIVE) == 0
            finally:
                os.close(fd)
        except (OSError, ValueError):
            known = False
        _case_by_dev[st.st_dev] = known
    return known


# ----- files of the host's /proc -------------------------------------------------------------

# The device of the host's /proc (None where the model has none to look at):
# a file the guest opened that is on it came from the host's /proc.
PROC_DEV = os.stat("/proc").st_dev if MODEL_FS is _Linux and os.path.isdir("/proc/self") else None
