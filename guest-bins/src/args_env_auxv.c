/* What a program sees at start-up: argc/argv, chosen environment variables
 * (named in GUEST_SHOW, comma-separated; default GUEST_T1,GUEST_T2,HOME)
 * and the auxiliary vector through getauxval.  Output is deterministic: for
 * values that differ between runs (AT_RANDOM, AT_HWCAP) it prints properties
 * only.  Exit status = number of failed checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

static void show_env(const char *name) {
    const char *v = getenv(name);
    if (v) printf("env %s=%s\n", name, v);
    else printf("env %s unset\n", name);
}

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    CHECK(argv[argc] == NULL, "argv is NULL-terminated");

    const char *show = getenv("GUEST_SHOW");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", show ? show : "GUEST_T1,GUEST_T2,HOME");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        show_env(tok);

    unsigned long pagesz = getauxval(AT_PAGESZ);
    printf("AT_PAGESZ=%lu\n", pagesz);
    CHECK(pagesz == 4096, "AT_PAGESZ is 4096");
    CHECK(getauxval(AT_HWCAP) != 0, "AT_HWCAP is nonzero");
    unsigned long phnum = getauxval(AT_PHNUM);
    printf("AT_PHNUM=%lu\n", phnum);
    CHECK(phnum > 0, "AT_PHNUM is positive");
    CHECK(getauxval(AT_PHDR) != 0, "AT_PHDR is set");
    CHECK(getauxval(AT_PHENT) == 56, "AT_PHENT is sizeof(Elf64_Phdr)");
    CHECK(getauxval(AT_ENTRY) != 0, "AT_ENTRY is set");

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int any = 0;
    if (rnd) {
        volatile unsigned sum = 0;
        for (int i = 0; i < 16; i++) { sum += rnd[i]; any |= rnd[i]; }
        (void)sum;
    }
    CHECK(rnd != NULL, "AT_RANDOM points somewhere");
    CHECK(any != 0, "AT_RANDOM's 16 bytes are readable and not all zero");

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("AT_EXECFN=%s\n", execfn ? execfn : "(null)");
    CHECK(execfn != NULL, "AT_EXECFN is set");
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    printf("AT_PLATFORM=%s\n", platform ? platform : "(null)");
    CHECK(platform && strcmp(platform, "aarch64") == 0, "AT_PLATFORM is aarch64");
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    CHECK(getauxval(AT_SECURE) == 0, "AT_SECURE is 0");
    printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
    CHECK(getauxval(AT_CLKTCK) == 100, "AT_CLKTCK is 100");
    CHECK(getauxval(AT_UID) == (unsigned long)getuid(), "AT_UID matches getuid");
    CHECK(getauxval(AT_EGID) == (unsigned long)getegid(), "AT_EGID matches getegid");
    DONE();
}
