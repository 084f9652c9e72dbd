/* memfd file seals: F_ADD_SEALS / F_GET_SEALS and what each seal refuses.
 * Real seals on a Linux host; kept by the emulator where the host has none
 * (macOS, and the macOS host model). */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int fd = memfd_create("seals", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    CHECK(fd >= 0, "memfd_create MFD_ALLOW_SEALING");
    CHECK(write(fd, "abcd", 4) == 4, "write 4 bytes");
    CHECK(fcntl(fd, F_GET_SEALS) == 0, "no seals at first");
    CHECK_ERR(fcntl(fd, F_ADD_SEALS, 0x100), EINVAL, "unknown seal bit: EINVAL");

    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "add F_SEAL_SHRINK");
    CHECK_ERR(ftruncate(fd, 2), EPERM, "shrink refused");
    CHECK(ftruncate(fd, 8) == 0, "grow allowed");

    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0, "add F_SEAL_GROW");
    CHECK_ERR(ftruncate(fd, 16), EPERM, "grow refused");
    CHECK(pwrite(fd, "xy", 2, 2) == 2, "a write inside the file is fine");
    CHECK_ERR(pwrite(fd, "xyz", 3, 7), EPERM, "a write past the end is refused");

    pid_t kid = fork();
    if (kid == 0)
        _exit(fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW) ? 0 : 1);
    int st = -1;
    CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "a forked child sees the seals");

    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "add F_SEAL_WRITE");
    CHECK_ERR(write(fd, "q", 1), EPERM, "write refused");
    CHECK_ERR(pwrite(fd, "q", 1, 0), EPERM, "pwrite refused");
    void *p = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p == MAP_FAILED && errno == EPERM, "writable shared mapping refused");
    p = mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED && !memcmp(p, "abxy", 4), "read-only shared mapping allowed");
    if (p != MAP_FAILED) munmap(p, 8);

    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0, "add F_SEAL_SEAL");
    CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM, "no more seals after F_SEAL_SEAL");
    CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
          "F_GET_SEALS lists all four");
    int d = dup(fd);
    CHECK(fcntl(d, F_GET_SEALS) == fcntl(fd, F_GET_SEALS), "a dup has the same seals");
    close(d);
    close(fd);

    fd = memfd_create("plain", MFD_CLOEXEC);
    CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL, "without MFD_ALLOW_SEALING: F_SEAL_SEAL");
    CHECK_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "and no seal can be added");
    close(fd);

    fd = open("plainfile", O_CREAT | O_RDWR, 0600);
    CHECK_ERR(fcntl(fd, F_GET_SEALS), EINVAL, "a regular file has no seals: EINVAL");
    close(fd);
    unlink("plainfile");
    DONE();
}
