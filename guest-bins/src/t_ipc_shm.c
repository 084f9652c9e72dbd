/* SysV shared memory: shmget keys and flags, shmat/shmdt (SHM_RDONLY, SHM_RND,
 * fixed addresses), real sharing with a forked child and between two
 * attachments, shm_nattch, IPC_STAT/IPC_SET/IPC_RMID (SHM_DEST until the last
 * detach), IPC_INFO/SHM_INFO/SHM_STAT, permissions (EACCES for another uid),
 * /proc/sysvipc/shm, and bad input (EINVAL, EFAULT, EEXIST, ENOENT). */
/* qemu-differs: qemu 7.2 accepts SHM_REMAP without an address and its shmdt of a removed segment leaves it */
#define _GNU_SOURCE
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

#ifdef __GLIBC__
#define PERM_KEY __key          /* glibc hides the member's name */
#else
#define PERM_KEY key
#endif

static int child_status(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return st;
}

/* Permission checks as a process whose uid is not the owner's: as root a
 * forked child becomes nobody; otherwise the owner's own bits are used. */
static void perms(int id, key_t key) {
    if (geteuid() == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(90);
            int bad = 0;
            errno = 0;
            if (shmat(id, NULL, SHM_RDONLY) != (void *)-1 || errno != EACCES) bad |= 1;
            if (shmget(key, 4096, 0400) != -1 || errno != EACCES) bad |= 2;
            if (shmget(key, 4096, 0) != id) bad |= 16;   /* asking for no access: allowed */
            struct shmid_ds ds;
            if (shmctl(id, IPC_STAT, &ds) != -1 || errno != EACCES) bad |= 4;
            if (shmctl(id, IPC_RMID, NULL) != -1 || errno != EPERM) bad |= 8;
            _exit(bad);
        }
        int st = child_status(pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) printf("# child status %#x\n", st);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another uid: shmat/shmget/IPC_STAT EACCES, IPC_RMID EPERM");
    } else {
        struct shmid_ds ds;
        CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT as owner");
        ds.shm_perm.mode = 0;
        CHECK(shmctl(id, IPC_SET, &ds) == 0, "IPC_SET mode 0");
        errno = 0;
        CHECK(shmat(id, NULL, SHM_RDONLY) == (void *)-1 && errno == EACCES &&
              shmget(key, 4096, 0400) == -1 && errno == EACCES && shmget(key, 4096, 0) == id &&
              shmctl(id, IPC_STAT, &ds) == -1 && errno == EACCES,
              "another uid: shmat/shmget/IPC_STAT EACCES, IPC_RMID EPERM");
    }
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    key_t key = 0x5e000000 | (getpid() & 0xffffff);
    struct shmid_ds ds;

    /* --- bad input --- */
    CHECK_ERR(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL, "size 0 is EINVAL");
    CHECK_ERR(shmget(IPC_PRIVATE, (size_t)-1, IPC_CREAT | 0600), EINVAL, "size above SHMMAX is EINVAL");
    CHECK_ERR(shmget(key, 4096, 0600), ENOENT, "unknown key without IPC_CREAT is ENOENT");
    /* Heuristic overcommit: more than RAM and swap together is ENOMEM at shmget. */
    long long ram = 0, swap = 0, v;
    char name[64];
    FILE *mi = fopen("/proc/meminfo", "r");
    while (mi && fscanf(mi, "%63s %lld kB", name, &v) == 2) {
        if (!strcmp(name, "MemTotal:")) ram = v * 1024;
        if (!strcmp(name, "SwapTotal:")) swap = v * 1024;
    }
    if (mi) fclose(mi);
    CHECK(ram > 0, "/proc/meminfo has MemTotal");
    CHECK_ERR(shmget(IPC_PRIVATE, (size_t)(ram + swap) * 2, IPC_CREAT | 0600), ENOMEM,
              "a segment larger than RAM and swap is ENOMEM");
    CHECK_ERR(shmctl(-1, IPC_STAT, &ds), EINVAL, "shmctl on id -1 is EINVAL");
    CHECK_ERR(shmat(-1, NULL, 0), EINVAL, "shmat of id -1 is EINVAL");
    CHECK_ERR(shmdt((void *)0x10000), EINVAL, "shmdt of an address with no segment is EINVAL");
    CHECK_ERR(shmdt((void *)0x10001), EINVAL, "shmdt of an unaligned address is EINVAL");

    /* --- a private segment, attached --- */
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget(IPC_PRIVATE, 10000)");
    CHECK_ERR(shmctl(id, 12345, &ds), EINVAL, "unknown shmctl command is EINVAL");
    CHECK_ERR(shmctl(id, IPC_STAT, (void *)8), EFAULT, "IPC_STAT to a bad pointer is EFAULT");
    CHECK_ERR(shmctl(id, IPC_SET, (void *)8), EFAULT, "IPC_SET from a bad pointer is EFAULT");
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1 && ((uintptr_t)p & (page - 1)) == 0, "shmat at a page-aligned address");
    CHECK(p[0] == 0 && p[9999] == 0, "a new segment is zeroed");
    strcpy(p, "parent");
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
    CHECK(ds.shm_segsz == 10000 && ds.shm_nattch == 1 && ds.shm_cpid == getpid()
          && ds.shm_lpid == getpid() && (ds.shm_perm.mode & 0777) == 0600
          && ds.shm_perm.PERM_KEY == IPC_PRIVATE && ds.shm_perm.uid == geteuid()
          && ds.shm_perm.cuid == geteuid() && ds.shm_atime > 0 && ds.shm_ctime > 0,
          "IPC_STAT: size, nattch 1, cpid/lpid, mode, key, uid, times");

    /* --- shared with a fork child --- */
    pid_t pid = fork();
    if (pid == 0) {
        struct shmid_ds c;
        int ok = strcmp(p, "parent") == 0 && shmctl(id, IPC_STAT, &c) == 0 && c.shm_nattch == 2;
        strcpy(p + 100, "child");
        _exit(ok ? 0 : 1);
    }
    int st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child sees the parent's bytes and nattch 2");
    CHECK(strcmp(p + 100, "child") == 0, "the parent sees the child's write");
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "nattch back to 1 after the child exits");

    /* --- a child that attaches by id itself --- */
    pid = fork();
    if (pid == 0) {
        shmdt(p);
        char *q = shmat(id, NULL, 0);
        if (q == (void *)-1) _exit(2);
        strcpy(q + 200, "attached");
        _exit(shmdt(q) == 0 ? 0 : 3);
    }
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(p + 200, "attached") == 0,
          "a child's own attachment writes the same segment");

    /* --- two attachments in one process --- */
    char *r = shmat(id, NULL, SHM_RDONLY);
    CHECK(r != (void *)-1 && r != p, "a second, read-only attachment");
    p[300] = 'x';
    CHECK(r[300] == 'x', "both attachments show the same bytes");
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2, "nattch 2 with two attachments");
    pid = fork();
    if (pid == 0) {
        r[0] = 1;                       /* read-only: SIGSEGV */
        _exit(0);
    }
    st = child_status(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a write to the SHM_RDONLY attachment is SIGSEGV");
    CHECK(shmdt(r) == 0, "shmdt of the second attachment");
    CHECK_ERR(shmdt(r), EINVAL, "shmdt twice is EINVAL");
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1 && ds.shm_dtime > 0, "nattch 1, dtime set");

    /* --- fixed addresses --- */
    char *area = mmap(NULL, 8 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK_ERR(shmat(id, area + 4 * page, 0), EINVAL, "shmat over an existing mapping is EINVAL");
    CHECK_ERR(shmat(id, NULL, SHM_REMAP), EINVAL, "SHM_REMAP without an address is EINVAL");
    munmap(area, 8 * page);
    CHECK_ERR(shmat(id, area + 100, 0), EINVAL, "an unaligned address without SHM_RND is EINVAL");
    char *f = shmat(id, area + page + 100, SHM_RND);
    CHECK(f == area + page, "SHM_RND rounds the address down");
    CHECK(f != (void *)-1 && strcmp(f, "parent") == 0, "the fixed attachment shows the segment");
    CHECK(shmdt(f) == 0, "shmdt of the fixed attachment");

    /* --- munmap detaches --- */
    char *u = shmat(id, NULL, 0);
    CHECK(u != (void *)-1 && munmap(u, page) == 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2,
          "munmap of part of an attachment keeps it");
    CHECK(munmap(u + page, 2 * page) == 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1,
          "munmap of its last page detaches it");
    CHECK_ERR(shmdt(u), EINVAL, "shmdt of the unmapped attachment is EINVAL");
    u = shmat(id, NULL, 0);
    CHECK(u != (void *)-1 && mmap(u, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == u
          && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "a MAP_FIXED mapping over an attachment detaches it");
    munmap(u, 3 * page);

    /* --- keys --- */
    int kid = shmget(key, 5000, IPC_CREAT | IPC_EXCL | 0640);
    CHECK(kid >= 0 && kid != id, "shmget(key, IPC_CREAT|IPC_EXCL)");
    CHECK_ERR(shmget(key, 5000, IPC_CREAT | IPC_EXCL | 0640), EEXIST, "IPC_EXCL on an existing key is EEXIST");
    CHECK(shmget(key, 0, 0) == kid && shmget(key, 4000, IPC_CREAT | 0600) == kid, "the key finds the same id");
    CHECK_ERR(shmget(key, 6000, 0), EINVAL, "a larger size than the segment's is EINVAL");
    CHECK(shmctl(kid, IPC_STAT, &ds) == 0 && ds.shm_perm.PERM_KEY == key && (ds.shm_perm.mode & 0777) == 0640,
          "IPC_STAT shows the key and mode");
    perms(kid, key);
    ds.shm_perm.mode = 0604;
    CHECK(shmctl(kid, IPC_SET, &ds) == 0, "IPC_SET");
    CHECK(shmctl(kid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0604, "IPC_SET changed the mode");

    /* --- IPC_RMID while attached --- */
    char *k = shmat(kid, NULL, 0);
    CHECK(k != (void *)-1, "attach the keyed segment");
    CHECK(shmctl(kid, IPC_RMID, NULL) == 0, "IPC_RMID while attached");
    CHECK(shmctl(kid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST) && ds.shm_perm.PERM_KEY == IPC_PRIVATE
          && ds.shm_nattch == 1, "the removed segment lives on: SHM_DEST, key private, nattch 1");
    CHECK_ERR(shmget(key, 0, 0), ENOENT, "its key no longer finds it");
    strcpy(k, "still here");
    CHECK(strcmp(k, "still here") == 0, "its memory still works");
    CHECK(shmdt(k) == 0, "the last detach");
    CHECK_ERR(shmctl(kid, IPC_STAT, &ds), EINVAL, "then it is gone: EINVAL");

    /* --- info --- */
    struct shminfo info;
    int maxidx = shmctl(0, IPC_INFO, (struct shmid_ds *)&info);
    CHECK(maxidx >= 0 && info.shmmni == 4096 && info.shmmin == 1 && info.shmmax >= 0x7fffffff,
          "IPC_INFO: the limits");
    struct shm_info sinfo;
    CHECK(shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo) >= 0 && sinfo.used_ids >= 1, "SHM_INFO: used ids");
    int found = 0;
    for (int i = 0; i <= maxidx; i++)
        if (shmctl(i, SHM_STAT, &ds) == id && ds.shm_segsz == 10000) found = 1;
    CHECK(found, "SHM_STAT by index finds the segment's id");
    CHECK_ERR(shmctl(0x7fff, SHM_STAT, &ds), EINVAL, "SHM_STAT of an unused index is EINVAL");

    /* --- /proc/sysvipc/shm --- */
    FILE *fp = fopen("/proc/sysvipc/shm", "r");
    char line[512], want[32];
    int seen = 0, header = 0;
    snprintf(want, sizeof want, " %d ", id);
    if (fp) {
        while (fgets(line, sizeof line, fp)) {
            if (strstr(line, "key") && strstr(line, "shmid") && strstr(line, "nattch")) header = 1;
            long long skey, sid, ssize;
            unsigned mode;
            if (sscanf(line, "%lld %lld %o %lld", &skey, &sid, &mode, &ssize) == 4 && sid == id
                && ssize == 10000 && (mode & 0777) == 0600)
                seen = 1;
        }
        fclose(fp);
    }
    CHECK(header && seen, "/proc/sysvipc/shm lists the segment");

    CHECK(shmctl(id, IPC_RMID, NULL) == 0 && shmdt(p) == 0, "remove and detach");
    CHECK_ERR(shmctl(id, IPC_STAT, &ds), EINVAL, "the removed segment is gone");
    DONE();
}
