/* File descriptors: dup/dup2/dup3, fcntl (FD flags, status flags, F_DUPFD*,
 * record locks), flock, pipe2 flags, close_range, ioctl on non-ttys
 * (ENOTTY, FIONREAD, FIONBIO, FIOCLEX), sendfile, copy_file_range, and the
 * guest's fd limit (nothing at or above RLIMIT_NOFILE is reachable). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    char buf[64];
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "create f");
    CHECK(write(fd, "0123456789", 10) == 10, "write 10 bytes");

    /* dup family shares the offset */
    int d = dup(fd);
    CHECK(d > fd, "dup gives a new fd");
    CHECK(lseek(d, 2, SEEK_SET) == 2 && lseek(fd, 0, SEEK_CUR) == 2, "dup shares the offset");
    CHECK(fcntl(d, F_GETFD) == 0, "dup clears FD_CLOEXEC");
    CHECK(dup2(fd, 20) == 20, "dup2 to 20");
    CHECK(dup2(fd, fd) == fd, "dup2 to itself is a no-op");
    CHECK_ERR(dup3(fd, fd, 0), EINVAL, "dup3 to itself is EINVAL");
    CHECK_ERR(dup3(fd, 21, O_NONBLOCK), EINVAL, "dup3 with a bad flag");
    CHECK(dup3(fd, 21, O_CLOEXEC) == 21 && fcntl(21, F_GETFD) == FD_CLOEXEC, "dup3 O_CLOEXEC");
    CHECK_ERR(dup(-1), EBADF, "dup(-1)");
    CHECK_ERR(dup(9999), EBADF, "dup of a closed fd");
    CHECK_ERR(dup2(9999, 30), EBADF, "dup2 from a closed fd");

    /* fcntl */
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC, "F_SETFD FD_CLOEXEC");
    CHECK(fcntl(fd, F_SETFD, 0) == 0 && fcntl(fd, F_GETFD) == 0, "F_SETFD 0");
    int fl = fcntl(fd, F_GETFL);
    CHECK((fl & O_ACCMODE) == O_RDWR && !(fl & O_APPEND), "F_GETFL: O_RDWR");
    CHECK(fcntl(fd, F_SETFL, fl | O_APPEND | O_NONBLOCK) == 0, "F_SETFL O_APPEND|O_NONBLOCK");
    fl = fcntl(fd, F_GETFL);
    CHECK((fl & (O_APPEND | O_NONBLOCK)) == (O_APPEND | O_NONBLOCK) && (fl & O_ACCMODE) == O_RDWR,
          "F_GETFL shows them, access mode unchanged");
    CHECK(fcntl(d, F_GETFL) & O_APPEND, "status flags are shared with the dup");
    CHECK(fcntl(fd, F_SETFL, O_RDONLY) == 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR
          && !(fcntl(fd, F_GETFL) & O_APPEND), "F_SETFL cannot change the access mode");
    int hi = fcntl(fd, F_DUPFD, 50);
    CHECK(hi == 50, "F_DUPFD 50 gives 50");
    CHECK(fcntl(fd, F_DUPFD, 50) == 51, "F_DUPFD 50 again gives 51");
    int hc = fcntl(fd, F_DUPFD_CLOEXEC, 40);
    CHECK(hc == 40 && fcntl(hc, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC");
    CHECK_ERR(fcntl(fd, 0x7777), EINVAL, "unknown fcntl command");
    CHECK_ERR(fcntl(9999, F_GETFD), EBADF, "fcntl on a closed fd");

    /* the fd limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        CHECK_ERR(fcntl(fd, F_DUPFD, rl.rlim_cur), EINVAL, "F_DUPFD at RLIMIT_NOFILE is EINVAL");
        CHECK_ERR(dup2(fd, rl.rlim_cur), EBADF, "dup2 to RLIMIT_NOFILE is EBADF");
        CHECK_ERR(fcntl(rl.rlim_cur, F_GETFD), EBADF, "fd RLIMIT_NOFILE is not open");
        int hidden = 0;
        for (rlim_t i = rl.rlim_cur; i < rl.rlim_cur + 128; i++) {
            char c;
            if (fcntl(i, F_GETFD) != -1 || errno != EBADF) hidden++;
            if (write(i, "", 0) != -1 || errno != EBADF) hidden++;
            if (read(i, &c, 0) != -1 || errno != EBADF) hidden++;
            if (fcntl(i, F_DUPFD, 0) != -1 || errno != EBADF) hidden++;
            if (dup(i) != -1 || errno != EBADF) hidden++;
            if (lseek(i, 0, SEEK_CUR) != -1 || errno != EBADF) hidden++;
        }
        CHECK(hidden == 0, "the 128 fds above RLIMIT_NOFILE are all EBADF");
        CHECK_ERR(close(rl.rlim_cur + 1), EBADF, "close above RLIMIT_NOFILE is EBADF");
        CHECK_ERR(write(rl.rlim_cur + 2, "x", 1), EBADF, "write above RLIMIT_NOFILE is EBADF");
    } else {
        printf("ok - (getrlimit unavailable: limit checks skipped)\n");
    }

    /* record locks (one process: F_GETLK reports unlocked) */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    CHECK(fcntl(fd, F_SETLK, &lk) == 0, "F_SETLK write lock");
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    CHECK(fcntl(fd, F_GETLK, &q) == 0 && q.l_type == F_UNLCK, "F_GETLK: our own lock does not conflict");
    lk.l_type = F_UNLCK;
    CHECK(fcntl(fd, F_SETLKW, &lk) == 0, "F_SETLKW unlock");
    lk.l_type = 77;
    CHECK_ERR(fcntl(fd, F_SETLK, &lk), EINVAL, "F_SETLK bad l_type");
    struct flock ofd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    CHECK(fcntl(fd, F_OFD_SETLK, &ofd) == 0, "F_OFD_SETLK read lock");
    CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0, "flock LOCK_EX|LOCK_NB");
    CHECK(flock(fd, LOCK_UN) == 0, "flock LOCK_UN");
    CHECK_ERR(flock(fd, 0x40), EINVAL, "flock bad operation");

    /* close */
    CHECK(close(d) == 0, "close dup");
    CHECK_ERR(close(d), EBADF, "close twice");
    CHECK(close(20) == 0 && close(21) == 0 && close(50) == 0 && close(51) == 0 && close(40) == 0, "close the rest");

    /* pipes */
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2 O_CLOEXEC|O_NONBLOCK");
    CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC, "both ends close-on-exec");
    CHECK((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY
          && (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY, "pipe ends: nonblocking, read/write only");
    CHECK_ERR(read(p[0], buf, 1), EAGAIN, "empty nonblocking pipe: EAGAIN");
    CHECK_ERR(lseek(p[0], 0, SEEK_CUR), ESPIPE, "lseek on a pipe: ESPIPE");
    CHECK(write(p[1], "abc", 3) == 3, "write to the pipe");
    int avail = -1;
    CHECK(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 3, "FIONREAD on the pipe");
    struct termios t;
    CHECK_ERR(ioctl(p[0], TCGETS, &t), ENOTTY, "TCGETS on a pipe: ENOTTY");
    CHECK(!isatty(p[0]) && errno == ENOTTY, "isatty on a pipe is false");
    struct winsize ws;
    CHECK_ERR(ioctl(p[0], TIOCGWINSZ, &ws), ENOTTY, "TIOCGWINSZ on a pipe: ENOTTY");
    CHECK_ERR(ioctl(9999, FIONREAD, &avail), EBADF, "ioctl on a closed fd: EBADF");
    int off = 0;
    CHECK(ioctl(p[0], FIONBIO, &off) == 0 && !(fcntl(p[0], F_GETFL) & O_NONBLOCK), "FIONBIO 0 clears O_NONBLOCK");
    CHECK(ioctl(p[0], FIONCLEX) == 0 && fcntl(p[0], F_GETFD) == 0, "FIONCLEX");
    CHECK(ioctl(p[0], FIOCLEX) == 0 && fcntl(p[0], F_GETFD) == FD_CLOEXEC, "FIOCLEX");
    CHECK(read(p[0], buf, sizeof buf) == 3 && !memcmp(buf, "abc", 3), "read the pipe");
    int psz = fcntl(p[0], F_GETPIPE_SZ);
    CHECK(psz >= 4096, "F_GETPIPE_SZ");
    CHECK_ERR(pipe2(p, O_APPEND), EINVAL, "pipe2 bad flag");
    int *volatile badp = (int *)8;
    CHECK_ERR(pipe2(badp, 0), EFAULT, "pipe2 bad pointer");

    /* sendfile and copy_file_range */
    int out = open("g", O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t o = 3;
    CHECK(sendfile(out, fd, &o, 4) == 4 && o == 7, "sendfile with an offset");
    lseek(fd, 0, SEEK_SET);
    CHECK(sendfile(out, fd, NULL, 2) == 2 && lseek(fd, 0, SEEK_CUR) == 2, "sendfile from the file offset");
    lseek(out, 0, SEEK_SET);
    memset(buf, 0, sizeof buf);
    CHECK(read(out, buf, sizeof buf) == 6 && !strcmp(buf, "345601"), "sendfile wrote the bytes");
    loff_t ci = 8, co = 0;
    long r = syscall(SYS_copy_file_range, fd, &ci, out, &co, 2, 0);
    CHECK((r == 2 && ci == 10 && co == 2) || (r == -1 && errno == ENOSYS), "copy_file_range");
    CHECK_ERR(syscall(SYS_copy_file_range, fd, &ci, out, &co, 2, 1), EINVAL, "copy_file_range bad flags");
    close(out);

    /* close_range */
    int a = dup2(fd, 60), b = dup2(fd, 61), c = dup2(fd, 62);
    CHECK(a == 60 && b == 61 && c == 62, "dup2 60..62");
    long cr = syscall(SYS_close_range, 61, 62, 4 /* CLOSE_RANGE_CLOEXEC */);
    CHECK(cr == 0 && fcntl(61, F_GETFD) == FD_CLOEXEC && fcntl(60, F_GETFD) == 0, "close_range CLOEXEC");
    CHECK(syscall(SYS_close_range, 60, ~0U, 0) == 0, "close_range 60..~0");
    CHECK_ERR(fcntl(60, F_GETFD), EBADF, "fd 60 closed");
    CHECK_ERR(fcntl(62, F_GETFD), EBADF, "fd 62 closed");
    CHECK(fcntl(fd, F_GETFD) == 0, "lower fds stay open");
    CHECK_ERR(syscall(SYS_close_range, 5, 4, 0), EINVAL, "close_range first > last");

    /* umask */
    mode_t old = umask(077);
    CHECK(umask(old) == 077, "umask round trip");
    close(fd);
    unlink("f");
    unlink("g");
    DONE();
}
