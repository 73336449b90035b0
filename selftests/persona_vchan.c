// SPDX-License-Identifier: GPL-2.0
/*
 * persona_vchan: the guest side of the two-guest exchange (scripts/
 * vchan-check.sh), run by the demo guest's init when its command line
 * says persona.vchan=1.  A static program for unmodified Linux guests: it
 * uses only the Xen drivers' device files, /dev/xen/gntalloc,
 * /dev/xen/evtchn and /dev/xen/gntdev.
 *
 * It reads one command from its standard input (the console, which the
 * host writes to) and prints "PERSONA-FACT key=value" lines:
 *
 *   offer PEER            grant a page to domain PEER (filled with
 *                         pattern A) and offer it an event channel port;
 *                         print "PERSONA-VCHAN offer REF PORT"; wait for
 *                         the peer's notification, check that the peer
 *                         wrote pattern B into the second half of the
 *                         page, notify back, then echo every further
 *                         notification until the peer's last one.
 *   bind PEER REF PORT    bind to PEER's PORT, copy its page REF (pattern
 *                         A must arrive), copy pattern B into its second
 *                         half, notify, wait for the answer; then time
 *                         notification round trips and grant copy
 *                         throughput, and notify the peer that it is done;
 *                         then wait for the peer's grant to end (its
 *                         program exits: GNTST_general_error) and its VM
 *                         to go (GNTST_bad_domain), and notify once more
 *                         (an unbound port: the event is dropped).
 */
#include <errno.h>
#include <linux/types.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s16 s16;

#define PAGE		4096
#define RTT_ROUNDS	2000
#define WAIT_MS		120000

/* The drivers' ABI (Linux include/uapi/xen/). */
struct gntalloc_alloc {
	u16 domid;
	u16 flags;
	u32 count;
	u64 index;
	u32 gref_ids[1];
};

#define GNTALLOC_FLAG_WRITABLE		1
#define IOCTL_GNTALLOC_ALLOC_GREF	\
	_IOC(_IOC_NONE, 'G', 5, sizeof(struct gntalloc_alloc))

struct evtchn_bind_interdomain {
	unsigned int remote_domain, remote_port;
};

struct evtchn_bind_unbound {
	unsigned int remote_domain;
};

struct evtchn_notify {
	unsigned int port;
};

#define IOCTL_EVTCHN_BIND_INTERDOMAIN	\
	_IOC(_IOC_NONE, 'E', 1, sizeof(struct evtchn_bind_interdomain))
#define IOCTL_EVTCHN_BIND_UNBOUND_PORT	\
	_IOC(_IOC_NONE, 'E', 2, sizeof(struct evtchn_bind_unbound))
#define IOCTL_EVTCHN_NOTIFY		\
	_IOC(_IOC_NONE, 'E', 4, sizeof(struct evtchn_notify))

struct copy_seg {
	union {
		void *virt;
		struct {
			u32 ref;
			u16 offset;
			u16 domid;
		} foreign;
	} source, dest;
	u16 len;
	u16 flags;
	s16 status;
};

struct grant_copy {
	unsigned int count;
	struct copy_seg *segments;
};

#define GNTCOPY_source_gref		1
#define GNTCOPY_dest_gref		2
#define IOCTL_GNTDEV_GRANT_COPY		\
	_IOC(_IOC_NONE, 'G', 8, sizeof(struct grant_copy))

static int evtchn_fd;

static void fact(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("PERSONA-FACT %s=", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void fail(const char *what)
{
	fact("vchan", "fail %s: %s", what, strerror(errno));
	exit(1);
}

static u8 pattern(int b, unsigned int i)
{
	return b ? (u8)(i * 13 + 0x5b) : (u8)(i * 7 + 0xa5);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void notify(unsigned int port)
{
	struct evtchn_notify n = { .port = port };

	if (ioctl(evtchn_fd, IOCTL_EVTCHN_NOTIFY, &n))
		fail("notify");
}

/* Wait for an event on @port: 0, or -1 after WAIT_MS. */
static int wait_event(unsigned int port)
{
	struct pollfd p = { .fd = evtchn_fd, .events = POLLIN };
	u32 got;

	for (;;) {
		if (poll(&p, 1, WAIT_MS) <= 0)
			return -1;
		if (read(evtchn_fd, &got, sizeof(got)) != sizeof(got))
			fail("read evtchn");
		/* The driver masked it: unmask. */
		if (write(evtchn_fd, &got, sizeof(got)) != sizeof(got))
			fail("unmask evtchn");
		if (got == port)
			return 0;
	}
}

static int grant_copy(int gntdev, struct copy_seg *seg, unsigned int n)
{
	struct grant_copy c = { .count = n, .segments = seg };
	unsigned int i;

	if (ioctl(gntdev, IOCTL_GNTDEV_GRANT_COPY, &c))
		return -1;
	for (i = 0; i < n; i++)
		if (seg[i].status)
			return seg[i].status;
	return 0;
}

/*
 * The comparison: the same two guests over TCP, through a virtio-net NIC
 * that the host connected between the two QEMUs (a socket netdev).  Its
 * name, "" if there is none.
 */
static const char *virtio_nic(void)
{
	static char name[256];
	char path[320], link[320];
	struct dirent *d;
	DIR *dir = opendir("/sys/class/net");
	ssize_t n;

	name[0] = 0;
	while (dir && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver",
			 d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strstr(link, "virtio_net")) {
			snprintf(name, sizeof(name), "%s", d->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
	return name;
}

/* Give the virtio NIC 192.168.77.@host; false if there is none. */
static int tcp_setup(int host)
{
	const char *nic = virtio_nic();
	char cmd[640];

	if (!*nic)
		return 0;
	snprintf(cmd, sizeof(cmd),
		 "ip addr add 192.168.77.%d/24 dev %s && ip link set %s up",
		 host, nic, nic);
	return !system(cmd);
}

#define TCP_PORT	7777

/* A's side: echo the round trips, then take the bulk until EOF. */
static void tcp_server(void)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(TCP_PORT),
	};
	int s, c, one = 1;
	u64 bytes = 0;
	char buf[65536];
	ssize_t n;

	if (!tcp_setup(1))
		return;
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1))
		return;
	alarm(WAIT_MS / 1000);
	c = accept(s, NULL, NULL);
	if (c < 0)
		return;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (n = 0; n < RTT_ROUNDS; n++) {
		if (read(c, buf, 1) != 1 || write(c, buf, 1) != 1)
			return;
	}
	while ((n = read(c, buf, sizeof(buf))) > 0)
		bytes += n;
	fact("tcp_rx_bytes", "%llu", (unsigned long long)bytes);
}

/* B's side: 2000 one-byte round trips, then a second of bulk. */
static void tcp_client(void)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(TCP_PORT),
	};
	static char buf[65536];
	double t0, t1;
	u64 bytes = 0;
	int s = -1, one = 1, i;

	if (!tcp_setup(2)) {
		fact("tcp", "none");
		return;
	}
	inet_pton(AF_INET, "192.168.77.1", &sa.sin_addr);
	for (i = 0; i < 300; i++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		close(s);
		s = -1;
		usleep(100000);
	}
	if (s < 0) {
		fact("tcp", "fail connect: %s", strerror(errno));
		return;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t0 = now_us();
	for (i = 0; i < RTT_ROUNDS; i++)
		if (write(s, buf, 1) != 1 || read(s, buf, 1) != 1)
			break;
	t1 = now_us();
	fact("tcp_rtt_us", "%.1f", i ? (t1 - t0) / i : 0.0);
	fact("tcp_rtt_rounds", "%d", i);
	t0 = now_us();
	do {
		if (write(s, buf, sizeof(buf)) != sizeof(buf))
			break;
		bytes += sizeof(buf);
		t1 = now_us();
	} while (t1 - t0 < 1e6);
	fact("tcp_mbps", "%.1f", bytes / (t1 - t0));
	close(s);
}

static int guest_offer(unsigned int peer)
{
	struct gntalloc_alloc a = {
		.domid = peer, .flags = GNTALLOC_FLAG_WRITABLE, .count = 1,
	};
	struct evtchn_bind_unbound u = { .remote_domain = peer };
	unsigned int i, echoed = 0;
	int gntalloc, port, ok;
	pid_t tcp_pid;
	u8 *page;

	gntalloc = open("/dev/xen/gntalloc", O_RDWR);
	if (gntalloc < 0)
		fail("open gntalloc");
	if (ioctl(gntalloc, IOCTL_GNTALLOC_ALLOC_GREF, &a))
		fail("gntalloc");
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gntalloc,
		    a.index);
	if (page == MAP_FAILED)
		fail("mmap gntalloc");
	for (i = 0; i < PAGE; i++)
		page[i] = pattern(0, i);
	port = ioctl(evtchn_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &u);
	if (port < 0)
		fail("bind unbound port");
	printf("PERSONA-VCHAN offer %u %d\n", a.gref_ids[0], port);
	fflush(stdout);

	if (wait_event(port)) {
		fact("vchan", "fail no notification from the peer");
		return 1;
	}
	ok = 1;
	for (i = PAGE / 2; i < PAGE; i++)
		ok &= page[i] == pattern(1, i);
	fact("vchan_rx_data", ok ? "ok" : "fail");
	fact("vchan_rx_notify", "ok");
	/* The TCP comparison's server, meanwhile. */
	tcp_pid = fork();
	if (!tcp_pid) {
		tcp_server();
		_exit(0);
	}
	notify(port);

	/* Echo the round trips, then the last one says done. */
	while (echoed <= RTT_ROUNDS && !wait_event(port)) {
		if (echoed < RTT_ROUNDS)
			notify(port);
		echoed++;
	}
	fact("vchan_echoed", "%u", echoed);
	if (tcp_pid > 0) {
		/* The bulk ended with the peer's close; give it a moment. */
		sleep(2);
		kill(tcp_pid, SIGKILL);
		waitpid(tcp_pid, NULL, 0);
	}
	return !ok;
}

static int guest_bind(unsigned int peer, unsigned int ref, unsigned int rport)
{
	struct evtchn_bind_interdomain b = {
		.remote_domain = peer, .remote_port = rport,
	};
	static u8 buf[64][PAGE];
	struct copy_seg seg[64];
	unsigned int i, n;
	double t0, t1;
	int gntdev, port, ok, r;
	u64 bytes = 0;

	gntdev = open("/dev/xen/gntdev", O_RDWR);
	if (gntdev < 0)
		fail("open gntdev");
	port = ioctl(evtchn_fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &b);
	if (port < 0)
		fail("bind interdomain");
	/* Xen raises a new interdomain port once: take that event. */
	wait_event(port);

	/* The peer's page, whole. */
	memset(&seg[0], 0, sizeof(seg[0]));
	seg[0].source.foreign.ref = ref;
	seg[0].source.foreign.domid = peer;
	seg[0].dest.virt = buf[0];
	seg[0].len = PAGE;
	seg[0].flags = GNTCOPY_source_gref;
	r = grant_copy(gntdev, seg, 1);
	ok = !r;
	for (i = 0; ok && i < PAGE; i++)
		ok &= buf[0][i] == pattern(0, i);
	fact("vchan_copy_from_peer", ok ? "ok" : "fail %d", r);

	/* Pattern B into its second half. */
	for (i = 0; i < PAGE; i++)
		buf[1][i] = pattern(1, i);
	memset(&seg[0], 0, sizeof(seg[0]));
	seg[0].source.virt = buf[1] + PAGE / 2;
	seg[0].dest.foreign.ref = ref;
	seg[0].dest.foreign.offset = PAGE / 2;
	seg[0].dest.foreign.domid = peer;
	seg[0].len = PAGE / 2;
	seg[0].flags = GNTCOPY_dest_gref;
	r = grant_copy(gntdev, seg, 1);
	fact("vchan_copy_to_peer", r ? "fail %d" : "ok", r);

	notify(port);
	fact("vchan_notify_both_ways", wait_event(port) ? "fail" : "ok");

	t0 = now_us();
	for (i = 0; i < RTT_ROUNDS; i++) {
		notify(port);
		if (wait_event(port))
			break;
	}
	t1 = now_us();
	fact("vchan_rtt_us", "%.1f", i ? (t1 - t0) / i : 0.0);
	fact("vchan_rtt_rounds", "%u", i);

	/* Bulk: 64 pages a call, from the granted page, for ~1 s. */
	for (n = 0; n < 64; n++) {
		memset(&seg[n], 0, sizeof(seg[n]));
		seg[n].source.foreign.ref = ref;
		seg[n].source.foreign.domid = peer;
		seg[n].dest.virt = buf[n];
		seg[n].len = PAGE;
		seg[n].flags = GNTCOPY_source_gref;
	}
	t0 = now_us();
	do {
		if (grant_copy(gntdev, seg, 64))
			break;
		bytes += 64 * PAGE;
		t1 = now_us();
	} while (t1 - t0 < 1e6);
	fact("vchan_copy_mbps", "%.1f", bytes / (t1 - t0));
	fact("vchan_copy_bytes", "%llu", (unsigned long long)bytes);

	tcp_client();

	/* Done: the peer stops echoing, and shuts down. */
	notify(port);

	/*
	 * Its program ends the grant when it exits (GNTST_general_error
	 * from then on), and then its VM goes (GNTST_bad_domain); our port
	 * stays, unbound.
	 */
	for (i = 0, n = 0; i < WAIT_MS / 100; i++) {
		r = grant_copy(gntdev, seg, 1);
		if (r && !n++)
			fact("vchan_grant_ended", "%d", r);
		if (r == -2)
			break;
		usleep(100000);
	}
	fact("vchan_peer_gone", "%d", r);
	notify(port);
	fact("vchan_notify_after_peer_gone", "ok");
	return !ok;
}

int main(void)
{
	unsigned int peer, ref, port;
	char line[128];

	evtchn_fd = open("/dev/xen/evtchn", O_RDWR);
	if (evtchn_fd < 0)
		fail("open evtchn");
	printf("PERSONA-VCHAN ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		fail("no command");
	if (sscanf(line, "offer %u", &peer) == 1)
		return guest_offer(peer);
	if (sscanf(line, "bind %u %u %u", &peer, &ref, &port) == 3)
		return guest_bind(peer, ref, port);
	errno = EINVAL;
	fail("bad command");
	return 1;
}
