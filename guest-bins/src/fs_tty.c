/* tty ioctls on stdin, which the test runs on a pseudo-terminal: TCGETS,
 * TCSETS (raw mode and back), TIOCSWINSZ/TIOCGWINSZ, TIOCGPGRP, FIONREAD,
 * TCFLSH.  Not a t_* program: it needs a terminal on fd 0. */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    struct termios t, raw, back;
    CHECK(isatty(0), "stdin is a tty");
    CHECK(tcgetattr(0, &t) == 0, "tcgetattr");
    printf("iflag=%o oflag=%o cflag=%o lflag=%o\n", t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag);
    printf("cc: intr=%d quit=%d erase=%d kill=%d eof=%d min=%d time=%d susp=%d\n", t.c_cc[VINTR],
           t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF], t.c_cc[VMIN], t.c_cc[VTIME],
           t.c_cc[VSUSP]);
    printf("speed=%d\n", (int)cfgetospeed(&t));
    raw = t;
    cfmakeraw(&raw);
    raw.c_cc[VMIN] = 3;
    raw.c_cc[VTIME] = 7;
    CHECK(tcsetattr(0, TCSANOW, &raw) == 0, "tcsetattr raw");
    CHECK(tcgetattr(0, &back) == 0, "tcgetattr after raw");
    printf("raw: iflag=%o oflag=%o cflag=%o lflag=%o min=%d time=%d\n", back.c_iflag, back.c_oflag,
           back.c_cflag, back.c_lflag, back.c_cc[VMIN], back.c_cc[VTIME]);
    CHECK(!(back.c_lflag & (ICANON | ECHO)) && back.c_cc[VMIN] == 3 && back.c_cc[VTIME] == 7, "raw mode stuck");
    CHECK(cfsetospeed(&back, B9600) == 0 && cfsetispeed(&back, B9600) == 0 && tcsetattr(0, TCSADRAIN, &back) == 0,
          "set 9600 baud");
    CHECK(tcgetattr(0, &back) == 0 && cfgetospeed(&back) == B9600, "speed reads back as B9600");
    CHECK(tcsetattr(0, TCSAFLUSH, &t) == 0 && tcgetattr(0, &back) == 0 && back.c_lflag == t.c_lflag
          && back.c_iflag == t.c_iflag && back.c_oflag == t.c_oflag, "original settings restored");
    struct winsize ws = {.ws_row = 33, .ws_col = 101}, ws2;
    CHECK(ioctl(0, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ");
    CHECK(ioctl(0, TIOCGWINSZ, &ws2) == 0 && ws2.ws_row == 33 && ws2.ws_col == 101, "TIOCGWINSZ reads it back");
    pid_t pg;
    CHECK(ioctl(0, TIOCGPGRP, &pg) == 0 || errno == ENOTTY, "TIOCGPGRP");
    int n = -1;
    CHECK(ioctl(0, FIONREAD, &n) == 0 && n == 0, "FIONREAD on an idle tty");
    CHECK(tcflush(0, TCIFLUSH) == 0, "tcflush");
    CHECK_ERR(tcflush(0, 9), EINVAL, "tcflush bad queue");
    DONE();
}
