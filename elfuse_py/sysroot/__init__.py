"""`elfuse-py-sysroot`: build a guest root (for `elfuse-py -L DIR`) with Python alone.

Two ways in, both without apt, dpkg, ar or any other host tool, on macOS and Linux:

* from a Debian mirror: fetch the Release file and check its signature
  (`openpgp`), fetch and check the arm64 package index, resolve the
  dependencies, download and check each `.deb`, unpack it (`mirror`, `index`,
  `resolve`, `deb`, `extract`), then do the few steps of maintainer scripts a
  root needs without running them (`layout`);
* from an image tarball: `docker save`, an OCI image layout, or a plain rootfs
  tarball (`image`).

`cli` is the command line; docs/sysroot.md describes the tool.
"""
