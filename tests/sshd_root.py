"""The guest root for tests/test_sshd.py: Debian's arm64 openssh-server and what it links."""
from __future__ import annotations

from pathlib import Path

import debian_sysroot as D

# `apt-cache depends openssh-server:arm64`, its libraries followed one level
# (libsystemd0's compressors and gcrypt, libaudit1's libcap-ng0, Kerberos),
# plus dash for the login shell and coreutils (BASE_ARM64) for the command.
SSHD_ARM64 = D.BASE_ARM64 + [
    "openssh-server", "dash", "libaudit1", "libcap-ng0", "libcom-err2", "libcrypt1",
    "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0", "libkeyutils1",
    "libpam0g", "libssl3", "libsystemd0", "libcap2", "libgcrypt20", "libgpg-error0",
    "liblz4-1", "liblzma5", "libzstd1", "libwrap0", "libnsl2", "libtirpc3", "zlib1g",
]


def sshd_root() -> Path:
    return D.build("sshd-arm64", SSHD_ARM64, merge_usr=True)
