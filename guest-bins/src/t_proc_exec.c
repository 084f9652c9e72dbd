/* execve: another image (re-exec of /proc/self/exe), a #! script, execveat
 * on an fd, and errors (ENOENT, EACCES, ENOEXEC, EFAULT) that return to the
 * caller with its image intact. */
/* qemu-differs: qemu-user cannot exec /proc/self/exe or an AArch64 #! interpreter without binfmt_misc */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(const char *path, char *const argv[], char *const envp[]) {
    pid_t c = fork();
    if (c == 0) { execve(path, argv, envp); _exit(100 + errno); }
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put_file(const char *name, const char *text, int mode) {
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, text, strlen(text));
    close(fd);
    chmod(name, mode);
}

int main(int argc, char **argv, char **envp) {
    if (argc >= 2 && strcmp(argv[1], "child") == 0) {
        const char *foo = getenv("FOO");
        int ok = argc == 3 && strcmp(argv[0], "renamed") == 0 && strcmp(argv[2], "a b") == 0
                 && foo && strcmp(foo, "bar") == 0 && envp[1] == NULL;
        return ok ? 33 : 1;
    }
    if (argc >= 2 && strcmp(argv[1], "script-arg") == 0)
        return argc == 4 && strcmp(argv[2], "./script.sh") == 0 && strcmp(argv[3], "x") == 0 ? 34 : 2;
    if (argc >= 2 && strcmp(argv[1], "fexec") == 0)
        return 35;

    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    exe[n > 0 ? n : 0] = 0;

    char *cargv[] = {"renamed", "child", "a b", NULL};
    char *cenv[] = {"FOO=bar", NULL};
    CHECK(run("/proc/self/exe", cargv, cenv) == 33, "execve /proc/self/exe with argv and envp");
    CHECK(run(exe, cargv, cenv) == 33, "execve of the program by path");

    char line[4200];
    snprintf(line, sizeof line, "#!%s script-arg\necho not reached\n", exe);
    put_file("script.sh", line, 0755);
    char *sargv[] = {"./script.sh", "x", NULL};
    CHECK(run("./script.sh", sargv, cenv) == 34, "execve of a #! script");

    int fd = open(exe, O_RDONLY);
    pid_t c = fork();
    if (c == 0) {
        char *fargv[] = {"t", "fexec", NULL};
        syscall(SYS_execveat, fd, "", fargv, cenv, AT_EMPTY_PATH);
        _exit(100 + errno);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 35, "execveat(fd, \"\", AT_EMPTY_PATH)");
    close(fd);

    CHECK_ERR(execve("./does-not-exist", sargv, cenv), ENOENT, "missing file: ENOENT");
    put_file("noexec", "#!/bin/sh\n", 0644);
    CHECK_ERR(execve("./noexec", sargv, cenv), EACCES, "no exec permission: EACCES");
    put_file("garbage", "hello, not a program\n", 0755);
    CHECK_ERR(execve("./garbage", sargv, cenv), ENOEXEC, "not an executable format: ENOEXEC");
    CHECK_ERR(execve(".", sargv, cenv), EACCES, "a directory: EACCES");
    put_file("badinterp.sh", "#!/no/such/interpreter\n", 0755);
    CHECK_ERR(execve("./badinterp.sh", sargv, cenv), ENOENT, "missing interpreter: ENOENT");
    CHECK_ERR(execve((const char *)8, sargv, cenv), EFAULT, "bad path pointer: EFAULT");
    char *badargv[] = {"x", (char *)8, NULL};
    CHECK_ERR(execve(exe, badargv, cenv), EFAULT, "bad argv string: EFAULT");
    CHECK(1, "still running after failed execs");
    DONE();
}
