/* Pseudo-terminals: posix_openpt/grantpt/unlockpt/ptsname (TIOCGPTN,
 * TIOCSPTLCK), then termios and window size on the pair and data through it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 && (errno == ENOENT || errno == EACCES)) {
        printf("ok - (no /dev/ptmx here: skipped)\n");
        DONE();
    }
    CHECK(m >= 0, "posix_openpt");
    CHECK(grantpt(m) == 0, "grantpt");
    CHECK(unlockpt(m) == 0, "unlockpt");
    char *name = ptsname(m);
    CHECK(name && !strncmp(name, "/dev/pts/", 9), "ptsname is /dev/pts/N");
    int s = open(name, O_RDWR | O_NOCTTY);
    CHECK(s >= 0, "open the slave");
    CHECK(isatty(s) && isatty(m), "both ends are ttys");
    struct termios t;
    CHECK(tcgetattr(s, &t) == 0, "tcgetattr on the slave");
    t.c_lflag &= ~(ECHO | ICANON);
    t.c_oflag &= ~OPOST;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    CHECK(tcsetattr(s, TCSANOW, &t) == 0, "tcsetattr raw on the slave");
    struct winsize ws = {.ws_row = 24, .ws_col = 80}, got;
    CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0 && ioctl(s, TIOCGWINSZ, &got) == 0 && got.ws_col == 80,
          "window size set on the master is seen on the slave");
    char buf[16] = {0};
    CHECK(write(m, "hi!", 3) == 3, "write to the master");
    CHECK(read(s, buf, sizeof buf) == 3 && !memcmp(buf, "hi!", 3), "read it from the slave");
    CHECK(write(s, "yo", 2) == 2, "write to the slave");
    memset(buf, 0, sizeof buf);
    CHECK(read(m, buf, sizeof buf) == 2 && !memcmp(buf, "yo", 2), "read it from the master");
    int n = -1;
    CHECK(ioctl(m, TIOCGPTN, &n) == 0 && n == atoi(name + 9), "TIOCGPTN matches ptsname");
    close(s);
    close(m);
    DONE();
}
