/* qemu-differs: qemu-user's netlink translation drops message types it does not know (no answer to type 200) */
/* Netlink route sockets and the libc interfaces built on them: getifaddrs,
 * if_nameindex, if_nametoindex/if_indextoname (SIOCGIFINDEX/SIOCGIFNAME), and
 * a raw RTM_GETLINK / RTM_GETADDR dump with nlmsghdr framing, NLM_F_MULTI and
 * NLMSG_DONE, acks and errors, MSG_PEEK|MSG_TRUNC, poll readiness, names and
 * options.  Output is the same on any host: only facts are printed. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static char buf[65536];
static unsigned seq = 100;

static int send_req(int fd, int type, int flags, const void *body, size_t blen) {
    struct { struct nlmsghdr h; char b[64]; } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(blen);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = flags;
    req.h.nlmsg_seq = ++seq;
    memcpy(req.b, body, blen);
    struct sockaddr_nl k = { .nl_family = AF_NETLINK };
    return sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof k);
}

/* Read a whole dump; count messages of `type`; -1 on a framing/sequence error. */
static int dump(int fd, int type, unsigned mypid, int *multi_ok, int *saw_lo, int *v4, int *v6) {
    int count = 0;
    *multi_ok = 1;
    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = { buf, sizeof buf };
        struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n = recvmsg(fd, &mh, 0);
        if (n <= 0) return -1;
        if (mh.msg_namelen != sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0) return -2;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq || h->nlmsg_pid != mypid) return -3;
            if (!(h->nlmsg_flags & NLM_F_MULTI)) *multi_ok = 0;
            if (h->nlmsg_type == NLMSG_DONE) return count;
            if (h->nlmsg_type == NLMSG_ERROR) return -4;
            if (h->nlmsg_type != type) return -5;
            count++;
            if (type == RTM_NEWLINK) {
                struct ifinfomsg *ifi = NLMSG_DATA(h);
                int len = IFLA_PAYLOAD(h);
                for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
                    if (a->rta_type == IFLA_IFNAME && !strcmp(RTA_DATA(a), "lo") &&
                        (ifi->ifi_flags & IFF_LOOPBACK) && (ifi->ifi_flags & IFF_UP) &&
                        ifi->ifi_index == (int)if_nametoindex("lo"))
                        *saw_lo = 1;
            } else {
                struct ifaddrmsg *ifa = NLMSG_DATA(h);
                if (ifa->ifa_family == AF_INET) (*v4)++;
                else if (ifa->ifa_family == AF_INET6) (*v6)++;
                int len = IFA_PAYLOAD(h);
                for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
                    if (a->rta_type == IFA_LOCAL && ifa->ifa_family == AF_INET &&
                        *(uint32_t *)RTA_DATA(a) == htonl(INADDR_LOOPBACK) && ifa->ifa_prefixlen == 8 &&
                        ifa->ifa_scope == RT_SCOPE_HOST)
                        *saw_lo = 1;
            }
        }
    }
}

static int answered(int fd) {
    struct pollfd pf = { fd, POLLIN, 0 };
    return poll(&pf, 1, 5000) == 1;        /* a missing answer fails the check, never hangs */
}

static int ack_error(int fd, int *errp) {
    if (!answered(fd)) return -1;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq != seq)
        return -1;
    struct nlmsgerr *e = NLMSG_DATA(h);
    *errp = e->error;
    return e->msg.nlmsg_seq == seq ? 0 : -1;
}

/* A dump that failed: NLMSG_DONE carrying the error (netlink_dump's dump_done_errno). */
static int done_error(int fd, int *errp) {
    if (!answered(fd)) return -1;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n < (ssize_t)NLMSG_LENGTH(sizeof(int)) || h->nlmsg_type != NLMSG_DONE || h->nlmsg_seq != seq)
        return -1;
    *errp = *(int *)NLMSG_DATA(h);
    return 0;
}

int main(void) {
    /* libc views */
    struct ifaddrs *ifa = NULL, *p;
    CHECK(getifaddrs(&ifa) == 0, "getifaddrs");
    int lo4 = 0, lo_link = 0, any4 = 0;
    for (p = ifa; p; p = p->ifa_next) {
        if (!p->ifa_addr) continue;
        if (p->ifa_addr->sa_family == AF_INET) {
            any4++;
            struct sockaddr_in *s = (struct sockaddr_in *)p->ifa_addr;
            struct sockaddr_in *m = (struct sockaddr_in *)p->ifa_netmask;
            if (!strcmp(p->ifa_name, "lo") && s->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
                m && m->sin_addr.s_addr == htonl(0xff000000) && (p->ifa_flags & IFF_LOOPBACK))
                lo4 = 1;
        }
        if (p->ifa_addr->sa_family == AF_PACKET && !strcmp(p->ifa_name, "lo")) lo_link = 1;
    }
    if (ifa) freeifaddrs(ifa);
    CHECK(lo4, "getifaddrs: lo 127.0.0.1/8 IFF_LOOPBACK");
    CHECK(lo_link, "getifaddrs: lo AF_PACKET entry");
    CHECK(any4 >= 1, "getifaddrs: IPv4 addresses");

    struct if_nameindex *ni = if_nameindex();
    int nlinks = 0, consistent = ni != NULL;
    for (struct if_nameindex *q = ni; q && q->if_index; q++) {
        char name[IF_NAMESIZE];
        nlinks++;
        if (if_nametoindex(q->if_name) != q->if_index) consistent = 0;
        if (!if_indextoname(q->if_index, name) || strcmp(name, q->if_name)) consistent = 0;
    }
    if (ni) if_freenameindex(ni);
    CHECK(nlinks >= 1 && consistent, "if_nameindex agrees with if_nametoindex/if_indextoname");
    CHECK(if_nametoindex("no-such-if0") == 0 && errno == ENODEV, "if_nametoindex unknown: ENODEV");
    {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct ifreq r;
        memset(&r, 0, sizeof r);
        strcpy(r.ifr_name, "lo");
        CHECK(ioctl(s, SIOCGIFFLAGS, &r) == 0 && (r.ifr_flags & IFF_LOOPBACK) && (r.ifr_flags & IFF_UP),
              "SIOCGIFFLAGS lo");
        CHECK(ioctl(s, SIOCGIFMTU, &r) == 0 && r.ifr_mtu > 0, "SIOCGIFMTU lo");
        CHECK(ioctl(s, SIOCGIFADDR, &r) == 0 &&
              ((struct sockaddr_in *)&r.ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK), "SIOCGIFADDR lo");
        CHECK_ERR(ioctl(-1, SIOCGIFINDEX, &r), EBADF, "SIOCGIFINDEX on a bad fd: EBADF");
        close(s);
    }

    /* socket() checks */
    CHECK_ERR(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ESOCKTNOSUPPORT, "netlink SOCK_STREAM: ESOCKTNOSUPPORT");
    CHECK_ERR(socket(AF_NETLINK, SOCK_RAW, 40), EPROTONOSUPPORT, "netlink protocol 40: EPROTONOSUPPORT");
    int sv[2];
    CHECK_ERR(socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sv), EOPNOTSUPP, "netlink socketpair: EOPNOTSUPP");

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    CHECK(fd >= 0, "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
    int v = -1;
    socklen_t l = sizeof v;
    CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == SOCK_RAW, "SO_TYPE SOCK_RAW");
    l = sizeof v;
    CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0 && v == AF_NETLINK, "SO_DOMAIN AF_NETLINK");
    l = sizeof v;
    CHECK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) == 0 && v == NETLINK_ROUTE, "SO_PROTOCOL NETLINK_ROUTE");
    v = 32768;
    CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0, "SO_SNDBUF");
    v = 1 << 20;
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0, "SO_RCVBUF");
    v = 1;
    CHECK(setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, sizeof v) == 0, "NETLINK_EXT_ACK");
    v = -1;
    l = sizeof v;
    CHECK(getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &l) == 0 && v == 1, "getsockopt NETLINK_EXT_ACK");

    struct sockaddr_nl sa = { .nl_family = AF_NETLINK }, got;
    l = sizeof got;
    CHECK(getsockname(fd, (struct sockaddr *)&got, &l) == 0 && l == sizeof got && got.nl_pid == 0,
          "getsockname before bind: nl_pid 0");
    CHECK_ERR(bind(fd, (struct sockaddr *)&sa, 4), EINVAL, "bind short address: EINVAL");
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind nl_pid 0 (autobind)");
    l = sizeof got;
    CHECK(getsockname(fd, (struct sockaddr *)&got, &l) == 0 && got.nl_family == AF_NETLINK &&
          got.nl_pid == (unsigned)getpid(), "getsockname: nl_pid is the pid");
    unsigned mypid = got.nl_pid;
    int fd2 = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
    CHECK(fd2 >= 0 && bind(fd2, (struct sockaddr *)&sa, sizeof sa) == 0, "second socket autobinds");
    l = sizeof got;
    CHECK(getsockname(fd2, (struct sockaddr *)&got, &l) == 0 && got.nl_pid != mypid && got.nl_pid != 0,
          "second socket gets another nl_pid");
    sa.nl_pid = mypid;
    CHECK_ERR(bind(socket(AF_NETLINK, SOCK_RAW, 0), (struct sockaddr *)&sa, sizeof sa), EADDRINUSE,
              "bind to a taken nl_pid: EADDRINUSE");

    /* link dump */
    struct pollfd pf = { fd, POLLIN, 0 };
    CHECK(poll(&pf, 1, 0) == 0, "poll: nothing queued before a request");
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    CHECK(send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi) == (int)NLMSG_LENGTH(sizeof ifi),
          "send RTM_GETLINK dump");
    CHECK(poll(&pf, 1, 1000) == 1 && (pf.revents & POLLIN), "poll: POLLIN once the answer is queued");
    ssize_t want = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
    CHECK(want >= (ssize_t)NLMSG_LENGTH(sizeof ifi), "MSG_PEEK|MSG_TRUNC gives the datagram length");
    int multi, lo = 0, v4 = 0, v6 = 0;
    int n = dump(fd, RTM_NEWLINK, mypid, &multi, &lo, &v4, &v6);
    CHECK(n == nlinks, "RTM_NEWLINK for every interface, then NLMSG_DONE");
    CHECK(multi, "every part NLM_F_MULTI");
    CHECK(lo, "lo: IFLA_IFNAME, IFF_UP|IFF_LOOPBACK, ifi_index as if_nametoindex");

    /* address dumps */
    struct ifaddrmsg am = { .ifa_family = AF_INET };
    lo = v4 = v6 = 0;
    send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &am, sizeof am);
    n = dump(fd, RTM_NEWADDR, mypid, &multi, &lo, &v4, &v6);
    CHECK(n >= 1 && v4 == n && v6 == 0 && n == any4, "RTM_GETADDR AF_INET: IPv4 only, as getifaddrs");
    CHECK(lo, "127.0.0.1/8 scope host as IFA_LOCAL");
    int all4 = v4;
    am.ifa_family = AF_UNSPEC;
    lo = v4 = v6 = 0;
    send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &am, sizeof am);
    n = dump(fd, RTM_NEWADDR, mypid, &multi, &lo, &v4, &v6);
    CHECK(n == v4 + v6 && v4 == all4, "RTM_GETADDR AF_UNSPEC: both families");
    int all6 = v6;
    am.ifa_family = AF_INET6;
    lo = v4 = v6 = 0;
    send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &am, sizeof am);
    n = dump(fd, RTM_NEWADDR, mypid, &multi, &lo, &v4, &v6);
    CHECK(n == all6 && v4 == 0, "RTM_GETADDR AF_INET6: IPv6 only");

    /* single link by index, with an ACK */
    ifi.ifi_index = if_nametoindex("lo");
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi);
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    CHECK(r > 0 && h->nlmsg_type == RTM_NEWLINK && !(h->nlmsg_flags & NLM_F_MULTI) &&
          ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index == ifi.ifi_index, "RTM_GETLINK by index");
    int e = 1;
    CHECK(ack_error(fd, &e) == 0 && e == 0, "NLM_F_ACK: NLMSG_ERROR with error 0");
    ifi.ifi_index = 0x7ffffff0;
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi);
    CHECK(ack_error(fd, &e) == 0 && e == -ENODEV, "RTM_GETLINK unknown index: -ENODEV");

    /* errors and acks */
    send_req(fd, 200, NLM_F_REQUEST, &ifi, sizeof ifi);
    CHECK(ack_error(fd, &e) == 0 && e == -EOPNOTSUPP, "unknown message type: -EOPNOTSUPP");
    send_req(fd, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, NULL, 0);
    CHECK(ack_error(fd, &e) == 0 && e == 0, "NLMSG_NOOP with NLM_F_ACK: ack");
    send_req(fd, RTM_GETLINK, 0, &ifi, sizeof ifi);        /* not a request: ignored */
    CHECK(recv(fd, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "a non-request gets no answer");

    /* strict checking: a dump request with a filter Linux refuses */
    v = 1;
    CHECK(setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &v, sizeof v) == 0, "NETLINK_GET_STRICT_CHK");
    ifi.ifi_index = 0;
    ifi.ifi_change = 1;
    send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi);
    CHECK(done_error(fd, &e) == 0 && e == -EINVAL, "strict link dump with ifi_change set: NLMSG_DONE -EINVAL");
    ifi.ifi_change = 0;
    am.ifa_family = AF_INET;
    am.ifa_prefixlen = 8;
    send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &am, sizeof am);
    CHECK(done_error(fd, &e) == 0 && e == -EINVAL, "strict address dump with a prefix length: NLMSG_DONE -EINVAL");
    am.ifa_prefixlen = 0;
    am.ifa_index = if_nametoindex("lo");
    lo = v4 = v6 = 0;
    send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &am, sizeof am);
    n = dump(fd, RTM_NEWADDR, mypid, &multi, &lo, &v4, &v6);
    CHECK(n == 1 && lo, "strict address dump filtered by index: lo's 127.0.0.1 only");

    /* read/write framing and MSG_TRUNC */
    struct { struct nlmsghdr h; struct rtgenmsg g; } rq = {
        { NLMSG_LENGTH(sizeof(struct rtgenmsg)), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ++seq, 0 }, { AF_UNSPEC } };
    CHECK(write(fd2, &rq, rq.h.nlmsg_len) == (ssize_t)rq.h.nlmsg_len, "write() a request");
    char small[16];
    r = recv(fd2, small, sizeof small, MSG_TRUNC);
    CHECK(r > (ssize_t)sizeof small, "recv MSG_TRUNC: the real length");
    r = read(fd2, buf, sizeof buf);
    CHECK(r > 0, "read() the next datagram");
    CHECK(sendto(fd, &rq, 4, 0, NULL, 0) == 4, "a runt message is taken and ignored");
    sa.nl_pid = 12345;
    CHECK_ERR(sendto(fd, &rq, rq.h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa), ECONNREFUSED,
              "sendto another nl_pid: ECONNREFUSED");
    CHECK_ERR(sendto(fd, &rq, rq.h.nlmsg_len, 0, (struct sockaddr *)&sa, 4), EINVAL,
              "sendto short sockaddr_nl: EINVAL");
    close(fd2);
    close(fd);
    DONE();
}
