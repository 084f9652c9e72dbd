/* uname: print only the fields that are the same everywhere. */
#include <sys/utsname.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    struct utsname u;
    CHECK(uname(&u) == 0, "uname");
    printf("sysname=%s\nmachine=%s\n", u.sysname, u.machine);
    CHECK(u.release[0] >= '1' && u.release[0] <= '9', "release starts with a version number");
    char host[256];
    CHECK(gethostname(host, sizeof host) == 0 && strcmp(host, u.nodename) == 0, "nodename is the host name");
    CHECK(u.version[0] != 0, "version is set");
    DONE();
}
