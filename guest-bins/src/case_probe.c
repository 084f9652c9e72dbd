/* Prints what happens when names that differ only in case are created in the
 * working directory (tests/test_case_volumes.py runs it, natively and with the
 * macOS model's case-insensitive volume guard). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, int r) {
    printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

int main(void) {
    int fd = open("a", O_CREAT | O_WRONLY, 0644);
    show("create a", fd);
    if (fd >= 0) { write(fd, "lower", 5); close(fd); }
    fd = open("A", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    show("create A", fd);
    if (fd >= 0) close(fd);
    show("reopen a", fd = open("a", O_CREAT | O_RDONLY, 0644));
    if (fd >= 0) {
        char buf[8] = {0};
        printf("a holds: %s\n", read(fd, buf, 7) == 5 ? buf : "(lost)");
        close(fd);
    }
    show("mkdir d", mkdir("d", 0755));
    show("mkdir D", mkdir("D", 0755));
    show("symlink S->a", symlink("a", "S") == 0 ? 0 : -1);
    show("symlink s->a", symlink("a", "s"));
    show("link a->L", link("a", "L"));
    show("link a->l", link("a", "l"));
    fd = open("x", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
    show("rename x->A", rename("x", "A"));
    show("rename a->A", rename("a", "A"));
    return 0;
}
