"""The guest root (--sysroot / -L / ELFUSE_SYSROOT): path resolution inside it."""
from __future__ import annotations

import os
import shutil
import stat

import pytest

from elfuse_py.runtime import paths
from helpers import ROOT, guest_bin, run_elfuse


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "usr" / "lib").mkdir(parents=True)
    (r / "etc").mkdir()
    (r / "dev").mkdir()
    (r / "usr" / "lib" / "f").write_text("in sysroot\n")
    (r / "etc" / "x").write_text("x\n")
    os.symlink("usr/lib", r / "lib")               # relative link
    os.symlink("/usr/lib", r / "lib64")            # absolute link: inside the sysroot
    os.symlink("../../etc/x", r / "usr" / "lib" / "rel")
    os.symlink("/etc/x", r / "usr" / "lib" / "abs")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    saved = paths.sysroot
    paths.set_sysroot(str(r))
    yield str(r)
    paths.sysroot = saved


def test_no_sysroot_is_identity():
    saved = paths.sysroot
    paths.sysroot = None
    try:
        assert paths.host_path(b"/etc/passwd") == "/etc/passwd"
        assert paths.host_path(b"rel/x") == "rel/x"
    finally:
        paths.sysroot = saved


def test_absolute_paths_resolve_inside(root):
    assert paths.host_path(b"/usr/lib/f") == f"{root}/usr/lib/f"
    assert paths.host_path(b"/lib/f") == f"{root}/usr/lib/f"
    assert paths.host_path(b"/lib64/f") == f"{root}/usr/lib/f"   # /usr/lib of the sysroot
    assert paths.host_path(b"//lib/./f") == f"{root}/usr/lib/f"
    assert paths.host_path(b"/") == root


def test_symlinks_followed_inside(root):
    assert paths.host_path(b"/lib/rel") == f"{root}/etc/x"
    assert paths.host_path(b"/lib/abs") == f"{root}/etc/x"
    # not following the last component: the link itself
    assert paths.host_path(b"/lib/abs", follow=False) == f"{root}/usr/lib/abs"
    assert paths.host_path(b"/lib", follow=False) == f"{root}/lib"


def test_dotdot_cannot_climb_out(root):
    assert paths.host_path(b"/../../../usr/lib/f") == f"{root}/usr/lib/f"
    assert paths.host_path(b"/usr/../../../etc/x") == f"{root}/etc/x"
    # a link whose target climbs with .. stays inside as well
    os.symlink("../../../../../../etc/x", os.path.join(root, "usr/lib/climb"))
    assert paths.host_path(b"/lib/climb") == f"{root}/etc/x"


def test_fallback_to_host(root):
    assert paths.host_path(b"/etc/passwd") == "/etc/passwd"
    assert paths.host_path(b"/tmp") == "/tmp"
    assert paths.host_path(b"/lib/nonexistent") == "/lib/nonexistent"


def test_relative_and_kernel_paths_are_host(root):
    assert paths.host_path(b"usr/lib/f") == "usr/lib/f"
    assert paths.host_path(b"/dev/null") == "/dev/null"      # even though root/dev exists
    assert paths.host_path(b"/proc/self/maps") == "/proc/self/maps"


def test_symlink_loop_is_eloop(root):
    with pytest.raises(OSError) as e:
        paths.host_path(b"/loop1/x")
    assert e.value.errno == 40 or e.value.errno == __import__("errno").ELOOP


def test_guest_path_strips_sysroot(root):
    assert paths.guest_path(f"{root}/usr/lib/f") == "/usr/lib/f"
    assert paths.guest_path(root) == "/"
    assert paths.guest_path("/etc/passwd") == "/etc/passwd"
    assert paths.guest_path(root + "x/y") == root + "x/y"


def _static_sysroot(tmp_path, name="hello"):
    r = tmp_path / "sr"
    (r / "bin").mkdir(parents=True)
    shutil.copy(guest_bin(name), r / "bin" / name)
    os.chmod(r / "bin" / name, 0o755)
    return r


def test_cli_sysroot_reaches_shebang_interpreter(tmp_path):
    """A script's #! interpreter is looked up inside the sysroot (option and env var)."""
    r = _static_sysroot(tmp_path)
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/hello\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    for kw in ({"options": ["--sysroot", str(r)]}, {"options": ["-L", str(r)]},
               {"extra_env": {"ELFUSE_SYSROOT": str(r)}}):
        res = run_elfuse([str(script)], **kw)
        assert res.returncode == 0, (kw, res.stderr)
        assert b"hello" in res.stdout.lower()
    res = run_elfuse([str(script)])
    assert res.returncode == 127   # /bin/hello does not exist on the host


def test_cli_sysroot_exe_link_is_guest_path(tmp_path):
    """/proc/self/exe of a program inside the sysroot is its guest path."""
    r = _static_sysroot(tmp_path, "procfs_probe")
    script = tmp_path / "p.sh"
    script.write_text("#!/bin/procfs_probe readlink\n")
    script.chmod(0o755)
    res = run_elfuse([str(script), "/proc/self/exe"], options=["-L", str(r)])
    # argv: /bin/procfs_probe readlink SCRIPT /proc/self/exe -> readlinks the script path
    assert res.returncode in (0, 1), res.stderr
    res = run_elfuse([str(r / "bin" / "procfs_probe"), "readlink", "/proc/self/exe"],
                     options=["-L", str(r)])
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().strip() == "/bin/procfs_probe"


def test_guest_sees_sysroot_files_and_links(tmp_path):
    """A guest's open/readlink of absolute paths go inside the sysroot; `..` stays inside."""
    r = _static_sysroot(tmp_path, "procfs_probe")
    (r / "etc").mkdir()
    (r / "etc" / "motd").write_text("sysroot motd\n")
    os.symlink("/etc/motd", r / "etc" / "abs")
    os.symlink("motd", r / "etc" / "rel")
    opts = ["-L", str(r)]
    exe = str(r / "bin" / "procfs_probe")

    def run(*args):
        res = run_elfuse([exe, *args], options=opts)
        assert res.returncode == 0, res.stderr
        return res.stdout.decode()

    assert run("cat", "/etc/motd") == "sysroot motd\n"
    assert run("cat", "/etc/abs") == "sysroot motd\n"       # absolute link, inside
    assert run("cat", "/../../../etc/rel") == "sysroot motd\n"
    assert run("readlink", "/etc/abs") == "/etc/motd\n"     # the link itself, not resolved
    assert run("readlink", "/etc/rel") == "motd\n"
    # a file the sysroot lacks comes from the host
    host_file = tmp_path / "hostonly.txt"
    host_file.write_text("host\n")
    assert run("cat", str(host_file)) == "host\n"
