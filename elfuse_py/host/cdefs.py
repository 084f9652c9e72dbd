"""Every C declaration elfuse-py hands to cffi, and how each becomes an `FFI`.

cffi normally parses C text with pycparser when a module is imported: about
30 ms of every `elfuse-py` start-up.  So each declaration set ("spec") here
is also kept precompiled in `elfuse_py/_ffi/<name>.py`, cffi's out-of-line
ABI mode (pure Python, no C compiler, nothing host-specific: sizes and
symbols are still resolved on the running host).  `load_ffi(name)` uses the
precompiled module when it was generated from exactly this text, and parses
the text otherwise, so a stale module costs time, never correctness.

After editing a spec: `python -m elfuse_py.host.cdefs` rewrites `_ffi/`
(tests/test_cdefs.py fails until it has been run).
"""
from __future__ import annotations

import os
import sys

# unicorn's API, plus the host libc calls that back guest memory.  Symbols
# are looked up when first used, so Linux-only ones (mremap, sched_getcpu, prctl)
# are harmless to declare on other hosts as long as nothing calls them there.
_UNICORN = """
typedef struct uc_struct uc_engine;
typedef size_t uc_hook;
typedef int uc_err;
typedef struct uc_context uc_context;

typedef struct uc_arm64_cp_reg {
    uint32_t crn; uint32_t crm; uint32_t op0; uint32_t op1; uint32_t op2;
    uint64_t val;
} uc_arm64_cp_reg;

typedef struct uc_tlb_entry { uint64_t paddr; uint32_t perms; } uc_tlb_entry;

unsigned int uc_version(unsigned int *major, unsigned int *minor);
uc_err uc_open(int arch, int mode, uc_engine **uc);
uc_err uc_close(uc_engine *uc);
uc_err uc_ctl(uc_engine *uc, int control, ...);
const char *uc_strerror(uc_err code);
uc_err uc_reg_write(uc_engine *uc, int regid, const void *value);
uc_err uc_reg_read(uc_engine *uc, int regid, void *value);
uc_err uc_reg_write_batch(uc_engine *uc, int const *regs, void *const *vals, int count);
uc_err uc_reg_read_batch(uc_engine *uc, int const *regs, void **vals, int count);
uc_err uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count);
uc_err uc_emu_stop(uc_engine *uc);
uc_err uc_hook_add(uc_engine *uc, uc_hook *hh, int type, void *callback,
                   void *user_data, uint64_t begin, uint64_t end, ...);
uc_err uc_hook_del(uc_engine *uc, uc_hook hh);
uc_err uc_mem_map_ptr(uc_engine *uc, uint64_t address, uint64_t size, uint32_t perms, void *ptr);
uc_err uc_mem_unmap(uc_engine *uc, uint64_t address, uint64_t size);
uc_err uc_mem_protect(uc_engine *uc, uint64_t address, uint64_t size, uint32_t perms);
uc_err uc_vmem_translate(uc_engine *uc, uint64_t address, uint32_t prot, uint64_t *paddress);
uc_err uc_context_alloc(uc_engine *uc, uc_context **context);
uc_err uc_context_save(uc_engine *uc, uc_context *context);
uc_err uc_context_restore(uc_engine *uc, uc_context *context);
uc_err uc_context_free(uc_context *context);
uc_err uc_context_reg_write(uc_context *ctx, int regid, const void *value);
uc_err uc_context_reg_read(uc_context *ctx, int regid, void *value);

void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
int munmap(void *addr, size_t length);
int mprotect(void *addr, size_t len, int prot);
int madvise(void *addr, size_t length, int advice);
int msync(void *addr, size_t length, int flags);
void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);
int sched_getcpu(void);
long labs(long j);
int prctl(int option, ...);
"""

# Linux's epoll, eventfd and timerfd (hostevents.py).
_EVENTS = """
int epoll_create1(int flags);
int eventfd(unsigned int initval, int flags);
int timerfd_create(int clockid, int flags);
struct h_timespec { int64_t tv_sec; int64_t tv_nsec; };
struct h_itimerspec { struct h_timespec it_interval; struct h_timespec it_value; };
int timerfd_settime(int fd, int flags, const struct h_itimerspec *new_value,
                    struct h_itimerspec *old_value);
int timerfd_gettime(int fd, struct h_itimerspec *curr_value);
"""
_EPOLL = """
struct epoll_event { uint32_t events; uint64_t data; };
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
"""

# BSD sockets (syscalls/net/host.py); msghdr differs between the hosts.
_SOCKETS = """
typedef unsigned int socklen_t;
struct iovec { void *iov_base; size_t iov_len; };
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int sv[2]);
int bind(int fd, const void *addr, socklen_t len);
int listen(int fd, int backlog);
int accept(int fd, void *addr, socklen_t *len);
int connect(int fd, const void *addr, socklen_t len);
int getsockname(int fd, void *addr, socklen_t *len);
int getpeername(int fd, void *addr, socklen_t *len);
long sendto(int fd, const void *buf, size_t n, int flags, const void *addr, socklen_t len);
long recvfrom(int fd, void *buf, size_t n, int flags, void *addr, socklen_t *len);
int setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int shutdown(int fd, int how);
long sendmsg(int fd, const void *msg, int flags);
long recvmsg(int fd, void *msg, int flags);
"""
_SOCKETS_LINUX = """
struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov;
                size_t msg_iovlen; void *msg_control; size_t msg_controllen; int msg_flags; };
"""
_SOCKETS_DARWIN = """
struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov;
                int msg_iovlen; void *msg_control; socklen_t msg_controllen; int msg_flags; };
int bindat(int dirfd, const void *addr, socklen_t len);
int connectat(int dirfd, int fd, const void *addr, socklen_t len);
"""

# getifaddrs(3) (netif.py): struct ifaddrs has one layout on 64-bit Linux and
# macOS; the sockaddrs it points to differ (sa_len on macOS) and are parsed by hand.
_NETIF = """
struct ifaddrs { struct ifaddrs *ifa_next; char *ifa_name; unsigned int ifa_flags;
                 unsigned char *ifa_addr; unsigned char *ifa_netmask; unsigned char *ifa_dstaddr;
                 unsigned char *ifa_data; };
int getifaddrs(struct ifaddrs **ifap);
void freeifaddrs(struct ifaddrs *ifa);
"""

# name -> the cdef calls that build it, as (text, packed) pairs.
# struct epoll_event is packed on x86 only (the kernel's EPOLL_PACKED).
SPECS: dict[str, tuple[tuple[str, bool], ...]] = {
    "unicorn": ((_UNICORN, False),),
    "events": ((_EVENTS, False), (_EPOLL, False)),
    "events_x86": ((_EVENTS, False), (_EPOLL, True)),
    "sockets_linux": ((_SOCKETS, False), (_SOCKETS_LINUX, False)),
    "sockets_darwin": ((_SOCKETS, False), (_SOCKETS_DARWIN, False)),
    "netif": ((_NETIF, False),),
}

GENERATED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ffi")


def parse_ffi(name: str):
    """A cffi FFI for spec `name`, parsed from its text now (the slow way)."""
    import cffi

    ffi = cffi.FFI()
    for text, packed in SPECS[name]:
        ffi.cdef(text, packed=packed)
    return ffi


def load_ffi(name: str):
    """The FFI for spec `name`: precompiled when current, else parsed."""
    try:
        # __import__, not importlib.import_module: the importlib package costs start-up.
        modname = f"elfuse_py.host._ffi.{name}"
        __import__(modname)
        mod = sys.modules[modname]
    except ImportError:
        mod = None
    if mod is not None and getattr(mod, "SPEC", None) == SPECS[name]:
        return mod.ffi
    return parse_ffi(name)


def generated_source(name: str) -> str:
    """The text `_ffi/<name>.py` must have for the current spec."""
    import contextlib
    import io
    import tempfile

    ffi = parse_ffi(name)
    ffi.set_source(f"elfuse_py.host._ffi.{name}", None)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, f"{name}.py")
        with contextlib.redirect_stdout(io.StringIO()):
            ffi.emit_python_code(out)
        with open(out) as f:
            text = f.read()
    return (f"# Generated by `python -m elfuse_py.host.cdefs` from SPECS[{name!r}]; do not edit.\n"
            + text + f"\nSPEC = {SPECS[name]!r}\n")


def write_all() -> list[str]:
    """Regenerate every precompiled module; returns the paths written."""
    written = []
    for name in SPECS:
        path = os.path.join(GENERATED_DIR, f"{name}.py")
        with open(path, "w") as f:
            f.write(generated_source(name))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all():
        print(f"wrote {p}")
