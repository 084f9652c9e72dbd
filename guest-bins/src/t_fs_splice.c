/* splice, tee and vmsplice with Linux's checks: file <-> pipe with and without
 * offsets, pipe -> pipe, ESPIPE/EINVAL/EBADF/EAGAIN, SPLICE_F_NONBLOCK, EOF,
 * tee duplicating without consuming, vmsplice both ways. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int late_fd;
static void *late_writer(void *arg) {
    (void)arg;
    usleep(30000);
    write(late_fd, "late", 4);
    return NULL;
}

int main(void) {
    char path[] = "/tmp/t_fs_spliceXXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0, "mkstemp");
    unlink(path);
    CHECK(write(f, "0123456789abcdef", 16) == 16, "write file");
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0, "two pipes");
    char buf[64];

    /* file -> pipe with an offset: the file position does not move */
    loff_t off = 4;
    CHECK(splice(f, &off, p[1], NULL, 6, 0) == 6 && off == 10, "splice file@4 -> pipe: 6 bytes, offset advanced");
    CHECK(lseek(f, 0, SEEK_CUR) == 16, "the file position is unchanged");
    CHECK(read(p[0], buf, sizeof buf) == 6 && memcmp(buf, "456789", 6) == 0, "the pipe holds them");
    /* file -> pipe without an offset: the position moves */
    lseek(f, 10, SEEK_SET);
    CHECK(splice(f, NULL, p[1], NULL, 100, SPLICE_F_MOVE | SPLICE_F_MORE) == 6, "splice file -> pipe, up to EOF");
    CHECK(lseek(f, 0, SEEK_CUR) == 16, "position advanced to EOF");
    CHECK(splice(f, NULL, p[1], NULL, 100, 0) == 0, "splice at EOF: 0");
    /* pipe -> file at an offset */
    off = 20;
    CHECK(splice(p[0], NULL, f, &off, 100, 0) == 6 && off == 26, "splice pipe -> file@20");
    CHECK(pread(f, buf, 6, 20) == 6 && memcmp(buf, "abcdef", 6) == 0, "the file got the bytes");
    /* pipe -> pipe */
    write(p[1], "hello", 5);
    CHECK(splice(p[0], NULL, q[1], NULL, 3, 0) == 3, "splice pipe -> pipe: 3 of 5");
    CHECK(read(q[0], buf, sizeof buf) == 3 && memcmp(buf, "hel", 3) == 0, "the second pipe got them");
    CHECK(read(p[0], buf, sizeof buf) == 2 && memcmp(buf, "lo", 2) == 0, "the rest stayed");

    /* errors */
    CHECK(splice(-1, NULL, -1, NULL, 0, 0) == 0, "len 0: 0 before any check");
    CHECK_ERR(splice(p[0], NULL, q[1], NULL, 1, 0x10), EINVAL, "unknown flag: EINVAL");
    CHECK_ERR(splice(-1, NULL, q[1], NULL, 1, 0), EBADF, "bad fd: EBADF");
    off = 0;
    CHECK_ERR(splice(p[0], &off, f, NULL, 1, 0), ESPIPE, "offset for the input pipe: ESPIPE");
    CHECK_ERR(splice(f, NULL, p[1], &off, 1, 0), ESPIPE, "offset for the output pipe: ESPIPE");
    CHECK_ERR(splice(f, NULL, f, NULL, 1, 0), EINVAL, "no pipe: EINVAL");
    CHECK_ERR(splice(p[0], NULL, p[1], NULL, 1, 0), EINVAL, "same pipe: EINVAL");
    CHECK_ERR(splice(p[1], NULL, q[1], NULL, 1, 0), EBADF, "input not readable: EBADF");
    CHECK_ERR(splice(p[0], NULL, q[1], NULL, 1, SPLICE_F_NONBLOCK), EAGAIN, "empty pipe with SPLICE_F_NONBLOCK: EAGAIN");
    off = -1;
    CHECK_ERR(splice(f, &off, p[1], NULL, 1, 0), EINVAL, "negative offset: EINVAL");
    int af = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(af >= 0, "open a directory");
    char apath[] = "/tmp/t_fs_splice_aXXXXXX";
    int a = mkstemp(apath);
    unlink(apath);
    fcntl(a, F_SETFL, O_APPEND);
    write(p[1], "x", 1);
    CHECK_ERR(splice(p[0], NULL, a, NULL, 1, 0), EINVAL, "O_APPEND output: EINVAL");
    read(p[0], buf, 1);
    close(a);
    close(af);

    /* a blocking splice waits for another thread's write */
    pthread_t t;
    late_fd = p[1];
    pthread_create(&t, NULL, late_writer, NULL);
    CHECK(splice(p[0], NULL, q[1], NULL, 10, 0) == 4, "blocking splice: woken by another thread's write");
    pthread_join(t, NULL);
    CHECK(read(q[0], buf, sizeof buf) == 4 && memcmp(buf, "late", 4) == 0, "and moved its bytes");

    /* EOF on a pipe without writers */
    int r[2];
    pipe(r);
    close(r[1]);
    CHECK(splice(r[0], NULL, q[1], NULL, 10, 0) == 0, "pipe without writers: 0");
    close(r[0]);

    /* tee */
    write(p[1], "teedata", 7);
    CHECK(tee(p[0], q[1], 3, 0) == 3, "tee 3 bytes");
    CHECK(read(q[0], buf, sizeof buf) == 3 && memcmp(buf, "tee", 3) == 0, "the output pipe has a copy");
    CHECK(tee(p[0], q[1], 100, 0) == 7, "tee again: all 7, the input was not consumed");
    CHECK(read(q[0], buf, sizeof buf) == 7 && memcmp(buf, "teedata", 7) == 0, "second copy");
    CHECK(read(p[0], buf, sizeof buf) == 7 && memcmp(buf, "teedata", 7) == 0, "the input pipe still holds it all");
    CHECK_ERR(tee(p[0], q[1], 1, SPLICE_F_NONBLOCK), EAGAIN, "tee from an empty pipe, non-blocking: EAGAIN");
    CHECK_ERR(tee(p[0], p[1], 1, 0), EINVAL, "tee to the same pipe: EINVAL");
    CHECK_ERR(tee(f, q[1], 1, 0), EINVAL, "tee from a file: EINVAL");
    CHECK_ERR(tee(p[0], q[1], 1, 0x20), EINVAL, "tee unknown flag: EINVAL");

    /* vmsplice */
    struct iovec iov[2] = { { "ab", 2 }, { "cde", 3 } };
    CHECK(vmsplice(p[1], iov, 2, SPLICE_F_GIFT) == 5, "vmsplice to a pipe: 5 bytes");
    char o1[2], o2[8];
    struct iovec out[2] = { { o1, 2 }, { o2, 8 } };
    CHECK(vmsplice(p[0], out, 2, 0) == 5 && memcmp(o1, "ab", 2) == 0 && memcmp(o2, "cde", 3) == 0,
          "vmsplice from a pipe into two iovecs");
    CHECK_ERR(vmsplice(f, iov, 2, 0), EBADF, "vmsplice on a file: EBADF");
    CHECK_ERR(vmsplice(p[1], iov, 2, 0x40), EINVAL, "vmsplice unknown flag: EINVAL");
    CHECK_ERR(vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK), EAGAIN, "vmsplice from an empty pipe, non-blocking: EAGAIN");
    CHECK_ERR(vmsplice(p[1], (struct iovec *)8, 1, 0), EFAULT, "vmsplice bad iovec: EFAULT");
    DONE();
}
