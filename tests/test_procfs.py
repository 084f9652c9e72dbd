"""/proc as the guest sees it: its own program, mappings, argv and an AArch64 CPU.

Unit checks of elfuse_py.runtime.procfs run in-process; the rest runs
guest-bins/src/procfs_probe.c under elfuse-py.  guest-bins/src/t_proc_procfs.c
(run by test_guest_suite.py natively and under the macOS host model) checks
the files' contents; here, under the model, the listings and errors
procfs_probe shows, and a trace proving that the model's emulator reads no
host /proc or /sys.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from helpers import ROOT, available_libcs, guest_bin, run_elfuse

MODEL = {"ELFUSE_HOST_COMPAT": "darwin"}

LIBCS = available_libcs()


def probe(libc: str, *args: str, options=()) -> str:
    exe = guest_bin("procfs_probe", libc)
    r = run_elfuse([exe, *args], options=list(options))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_exe_is_the_guest_program(libc):
    exe = guest_bin("procfs_probe", libc)
    assert probe(libc, "readlink", "/proc/self/exe").strip() == os.path.abspath(exe)
    # /proc/<own pid>/exe is the same link (the guest's pid is the emulator's).
    assert "python" not in probe(libc, "readlink", "/proc/self/exe")


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_maps_lists_program_and_stack(libc):
    exe = os.path.abspath(guest_bin("procfs_probe", libc))
    maps = probe(libc, "cat", "/proc/self/maps")
    lines = maps.splitlines()
    assert any(l.endswith(" " + exe) and " r-xp " in l for l in lines), maps
    assert any(l.endswith(" [stack]") and " rw-p " in l for l in lines), maps
    pat = re.compile(r"^[0-9a-f]{8,}-[0-9a-f]{8,} [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+( +\S.*)?$")
    for line in lines:
        assert pat.match(line), line
    assert "python" not in maps


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_cpuinfo_is_aarch64(libc):
    info = probe(libc, "cat", "/proc/cpuinfo")
    feats = re.search(r"^Features\s*: (.*)$", info, re.M)
    assert feats, info
    words = feats.group(1).split()
    assert "fp" in words and "asimd" in words
    assert "CPU architecture: 8" in info
    assert "flags" not in info and "GenuineIntel" not in info and "AuthenticAMD" not in info


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_cmdline_and_environ(libc):
    out = probe(libc, "catz", "/proc/self/cmdline")
    exe = guest_bin("procfs_probe", libc)
    assert out.split("\n")[:3] == [exe, "catz", "/proc/self/cmdline"]
    exe2 = guest_bin("procfs_probe", libc)
    r = run_elfuse([exe2, "catz", "/proc/self/environ"], extra_env={"GUEST_PROCFS_TEST": "x y"})
    assert r.returncode == 0
    assert "GUEST_PROCFS_TEST=x y" in r.stdout.decode().split("\n")


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_auxv_matches_getauxval(libc):
    assert probe(libc, "auxv").strip() == "auxv matches"


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_fd_link(libc):
    exe = os.path.abspath(guest_bin("procfs_probe", libc))
    assert probe(libc, "fdlink").strip() == exe


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_own_pid_is_self(libc):
    # The probe cannot know its pid in advance; /proc/self/stat names it, and
    # /proc/<that pid>/exe must be the guest program too.
    stat = probe(libc, "cat", "/proc/self/stat")
    m = re.match(r"^(\d+) \((.*)\) R (\d+) ", stat)
    assert m, stat
    assert m.group(2) == "procfs_probe"
    assert len(stat.split(")", 1)[1].split()) == 50


# ----- in-process unit checks of the synthesised files ------------------------------

def test_maps_format_unit(monkeypatch):
    from elfuse_py.runtime import procfiles
    from elfuse_py.runtime.memory import Region

    class FakeMem:
        regions = [Region(0x400000, 0x401000, 5, "/bin/true"), Region(0x500000, 0x502000, 3, ""),
                   Region(0x7ff000, 0x800000, 3, "[stack]", shared=False)]

    class FakeProc:
        mem = FakeMem()

    monkeypatch.setattr(procfiles, "proc", FakeProc())
    text = procfiles.maps_text().decode()
    lines = text.splitlines()
    assert lines[0].startswith("00400000-00401000 r-xp 00000000 ")
    assert lines[0].index("/bin/true") == 73
    assert lines[1] == "00500000-00502000 rw-p 00000000 00:00 0"
    assert lines[2].endswith(" [stack]") and lines[2].index("[stack]") == 73


def test_open_special_rejects_writes():
    from elfuse_py.runtime import paths, procfs

    paths.install_special_files(procfs)

    with pytest.raises(OSError) as e:
        paths.open_special(b"/proc/self/maps", 1, 0)   # O_WRONLY
    assert e.value.errno == 13
    assert paths.open_special(b"/etc/passwd", 0, 0) is None
    assert paths.open_special(b"/proc/1/maps", 0, 0) is None


def test_synthetic_stat_is_procfs_like():
    from elfuse_py.runtime import procfs

    node = procfs.Node(procfs.FILE, b"1/status", make=lambda: b"")
    st = procfs.fake_stat(node)
    assert st.st_mode == 0o100444 and st.st_size == 0
    node.write = lambda data: len(data)
    assert procfs.fake_stat(node).st_mode == 0o100644
    assert procfs.fake_stat(procfs.Node(procfs.DIR, b"1")).st_mode == 0o40555
    assert procfs.fake_stat(procfs.Node(procfs.LINK, b"self")).st_mode == 0o120777


def test_proc_path_recognition():
    from elfuse_py.runtime import procfs

    assert procfs.is_proc_path(b"/proc") and procfs.is_proc_path(b"/proc/self/maps")
    assert not procfs.is_proc_path(b"/procfoo") and not procfs.is_proc_path(b"/tmp/proc")


def test_cpumask_format():
    from elfuse_py.runtime import procfiles

    # Linux's %*pb: hex, 32-bit groups separated by commas.
    assert procfiles._hex_mask(2) == "3" and procfiles._hex_mask(36) == "f,ffffffff"
    assert procfiles._cpu_list(1) == "0" and procfiles._cpu_list(8) == "0-7"


# ----- the macOS host model: all of /proc synthesised ----------------------------------------

def model_probe(libc: str, *args: str) -> subprocess.CompletedProcess:
    return run_elfuse([guest_bin("procfs_probe", libc), *args], extra_env=MODEL)


@pytest.mark.parametrize("libc", LIBCS)
def test_model_proc_root_lists_only_guests(libc):
    r = model_probe(libc, "ls", "/proc")
    assert r.returncode == 0, r.stderr
    names = r.stdout.decode().split()
    for want in ("self", "thread-self", "cpuinfo", "meminfo", "uptime", "loadavg", "version",
                 "stat", "filesystems", "mounts", "net", "sys"):
        assert want in names
    pids = [int(n) for n in names if n.isdigit()]
    assert pids, names
    # Linux's /proc also lists the kernel's threads and every process; the model's only guests.
    assert 1 not in pids and 2 not in pids


@pytest.mark.parametrize("libc", LIBCS)
def test_model_proc_sys_tree(libc):
    r = model_probe(libc, "ls", "/proc/sys/kernel")
    assert r.returncode == 0, r.stderr
    assert {"ostype", "osrelease", "hostname", "pid_max", "random"} <= set(r.stdout.decode().split())
    r = model_probe(libc, "cat", "/proc/sys/kernel/ostype")
    assert r.stdout == b"Linux\n"


@pytest.mark.parametrize("libc", LIBCS)
def test_model_proc_missing_paths(libc):
    for path in ("/proc/self/ns", "/proc/kallsyms", "/proc/999999999/stat", "/proc/sys/nothing"):
        r = model_probe(libc, "cat", path)
        assert r.returncode == 1 and b"No such file or directory" in r.stderr, (path, r.stderr)


@pytest.mark.parametrize("libc", LIBCS)
def test_model_proc_fd_dir_hides_reserved_fds(libc):
    r = model_probe(libc, "ls", "/proc/self/fd")
    assert r.returncode == 0, r.stderr
    fds = sorted(int(n) for n in r.stdout.decode().split() if n.isdigit())
    assert fds[:3] == [0, 1, 2]
    # The emulator's own fds sit in a reserved range at the top of the limit.
    import resource
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert all(fd < soft for fd in fds), fds


@pytest.mark.parametrize("libc", LIBCS)
@pytest.mark.parametrize("model", [False, True], ids=["linux", "darwin-model"])
def test_cwd_inside_proc(libc, model):
    # top(1) does chdir("/proc") and opens "stat", "PID/stat" relative to it.
    exe = guest_bin("procfs_probe", libc)
    env = MODEL if model else None
    r = run_elfuse([exe, "cdcat", "/proc/self", "comm"], extra_env=env)
    assert r.returncode == 0, r.stderr
    cwd, comm = r.stdout.decode().splitlines()
    assert re.fullmatch(r"/proc/\d+", cwd) and comm == "procfs_probe"
    r = run_elfuse([exe, "cdcat", "/proc", "stat"], extra_env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[:2][0] == "/proc"
    assert r.stdout.decode().splitlines()[1].startswith("cpu ")
    r = run_elfuse([exe, "cdcat", "/proc/self/..", "self/status"], extra_env=env)
    assert r.returncode == 0 and r.stdout.decode().splitlines()[0] == "/proc", r.stderr


# ----- proof: under the model, no host /proc or /sys is read -----------------------------------

STRACE = shutil.which("strace")
# Syscalls whose string arguments are data, not paths.
_DATA_CALLS = {"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev",
               "preadv2", "pwritev2", "sendto", "recvfrom", "sendmsg", "recvmsg", "ioctl"}
_LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
# libffi (inside cffi's backend, not ours) checks /proc/self/status for PaX's
# EMUTRAMP once per process, with a plain fopen("r"): that open is allowed.
_LIBFFI_OPEN = 'openat(AT_FDCWD, "/proc/self/status", O_RDONLY)'


def host_proc_accesses(trace: str) -> list[tuple[str, str]]:
    """(pid, line) of every path syscall in an strace -f log naming /proc or /sys."""
    out = []
    for line in trace.splitlines():
        m = _LINE.match(line)
        if not m or m.group(2) in _DATA_CALLS:
            continue
        args = m.group(3)
        if m.group(2) == "execve":          # its argv and envp are the new program's data
            args = args.split(", [", 1)[0]
        if re.search(r'"/(proc|sys)(/[^"]*)?"', args):
            out.append((m.group(1), line))
    return out


@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
def test_macos_model_reads_no_host_proc(tmp_path):
    exe = guest_bin("t_proc_procfs")
    trace = tmp_path / "tr.txt"
    env = dict(os.environ, PYTHONPATH=str(ROOT), **MODEL)
    work = tmp_path / "cwd"
    work.mkdir()
    r = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=%file,%desc", "-o", str(trace),
                        sys.executable, "-m", "elfuse_py", exe], env=env, cwd=work,
                       capture_output=True, timeout=600)
    if r.returncode != 0 and b"ptrace" in r.stderr:
        pytest.skip(f"strace cannot trace here: {r.stderr.decode(errors='replace')[:200]}")
    assert r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert b"not ok" not in r.stdout
    hits = host_proc_accesses(trace.read_text(errors="replace"))
    others = [line for _, line in hits if _LIBFFI_OPEN not in line]
    assert not others, "the emulator touched the host's /proc or /sys:\n" + "\n".join(others)
    per_pid = Counter(pid for pid, _ in hits)
    assert all(n == 1 for n in per_pid.values()), hits
    # The parent and the forked child each ran; the trace did see them.
    assert len({line.split()[0] for line in trace.read_text().splitlines() if line[:1].isdigit()}) >= 2


def test_trace_filter_finds_proc_paths():
    trace = ('12 openat(AT_FDCWD, "/proc/self/status", O_RDONLY) = 3\n'
             '12 read(3, "/proc as text", 10) = 10\n'
             '13 newfstatat(AT_FDCWD, "/sys/devices/system/cpu", {...}, 0) = 0\n'
             '13 openat(AT_FDCWD, "/tmp/procfile", O_RDONLY) = 4\n'
             '14 openat(AT_FDCWD, "/proc", O_RDONLY|O_DIRECTORY) = 5\n')
    assert [p for p, _ in host_proc_accesses(trace)] == ["12", "13", "14"]
