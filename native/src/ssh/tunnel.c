/*
 * tunnel.c - reaching the instance through a bastion. The bastion session
 * is made like any (bk_ssh_connect: retries, host-key policy, key or agent),
 * then a listener on 127.0.0.1:<ephemeral> takes each local connection and
 * carries it in a direct-tcpip channel of that session to the target.
 *
 * Why a local listener rather than a socketpair per session: the bake's own
 * SSH connection, Serverspec and ansible (programs on the agent) all reach
 * the instance the same way, at one address, and each still checks the
 * instance's own host key end to end (the bastion only relays bytes).
 *
 * One thread owns the bastion session from then on: libssh2 sessions are
 * not thread-safe, and all channels share the one socket. It polls the
 * listener, the bastion socket and each local socket, and moves bytes both
 * ways; EOFs are passed on in both directions so sessions end cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh_internal.h"

#define PUMP_BUF 32768
#define MAX_PAIRS 16             /* the bake, a test instance's, Serverspec, ansible... */
#define IDLE_POLL_MS 100         /* keepalives and the stop flag are seen this often */
#define FREE_GRACE_S 1.0

typedef struct {
	int fd;                      /* the accepted local socket; -1: slot free */
	LIBSSH2_CHANNEL *ch;         /* NULL until the bastion opened it */
	char up[PUMP_BUF];           /* local -> channel */
	size_t up_len, up_off;
	char down[PUMP_BUF];         /* channel -> local */
	size_t down_len, down_off;
	bool local_eof, eof_sent, chan_eof, shut_wr;
} pair;

struct bk_ssh_tunnel {
	bk_ssh *bastion;             /* the pump thread's alone once it runs */
	char *target;
	int target_port;
	int listen_fd, port;
	int wake[2];                 /* close() writes here to stop the thread */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	bool dead;                   /* the bastion's connection is gone: nothing more opens */
	int opening;                 /* the pair whose channel open is under way; -1 none */
	pair *pairs;
	pthread_mutex_t mu;          /* guards last_error and opened */
	char last_error[512];
	int opened;
};

/* ---- what the bake asks from its thread ----------------------------- */

static void set_last(bk_ssh_tunnel *t, const char *fmt, ...) BK_PRINTF(2, 3);

static void set_last(bk_ssh_tunnel *t, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t->mu);
	va_start(ap, fmt);
	vsnprintf(t->last_error, sizeof(t->last_error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t->mu);
}

void bk_ssh_tunnel_last_error(bk_ssh_tunnel *t, char *buf, size_t cap)
{
	pthread_mutex_lock(&t->mu);
	snprintf(buf, cap, "%s", t->last_error);
	pthread_mutex_unlock(&t->mu);
}

int bk_ssh_tunnel_opened(bk_ssh_tunnel *t)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = t->opened;
	pthread_mutex_unlock(&t->mu);
	return n;
}

int bk_ssh_tunnel_port(const bk_ssh_tunnel *t)
{
	return t->port;
}

/* ---- one local connection and its channel --------------------------- */

static void pair_close(bk_ssh_tunnel *t, pair *p)
{
	double until = bk_now() + FREE_GRACE_S;

	if (p->ch)
		while (libssh2_channel_free(p->ch) == LIBSSH2_ERROR_EAGAIN && bk_now() < until)
			bk_ssh__nap(t->bastion);
	close(p->fd);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

/* A channel the instance had already ended is no news; a dropped bastion
 * connection ends the tunnel (its socket would wake every poll). */
static void pair_fail(bk_ssh_tunnel *t, pair *p, const char *doing)
{
	if (bk_ssh__is_drop(libssh2_session_last_errno(t->bastion->session)))
		t->dead = true;
	if (t->dead)
		set_last(t, "bastion %s:%d: connection lost: %s", t->bastion->host,
			 t->bastion->port, bk_ssh__errmsg(t->bastion));
	else if (!p->chan_eof)
		set_last(t, "bastion %s:%d: %s the channel to %s:%d: %s", t->bastion->host,
			 t->bastion->port, doing, t->target, t->target_port,
			 bk_ssh__errmsg(t->bastion));
	pair_close(t, p);
}

/* libssh2 keeps one direct-tcpip open in progress per session: the same
 * call is repeated for the same pair until it is done. True on progress. */
static bool pair_open(bk_ssh_tunnel *t, int i)
{
	pair *p = &t->pairs[i];

	p->ch = libssh2_channel_direct_tcpip_ex(t->bastion->session, t->target, t->target_port,
						"127.0.0.1", t->port);
	if (p->ch) {
		t->opening = -1;
		pthread_mutex_lock(&t->mu);
		t->opened++;
		pthread_mutex_unlock(&t->mu);
		return true;
	}
	if (libssh2_session_last_errno(t->bastion->session) == LIBSSH2_ERROR_EAGAIN)
		return false;
	t->opening = -1;
	pair_fail(t, p, "refused");
	return true;
}

/* Local bytes into the channel; its EOF passed on once all is written. */
static int pump_up(pair *p, bool *busy)
{
	ssize_t n;

	if (p->up_len == 0 && !p->local_eof) {
		n = recv(p->fd, p->up, sizeof(p->up), 0);
		if (n > 0)
			p->up_len = (size_t)n, p->up_off = 0, *busy = true;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			p->local_eof = true;
	}
	while (p->up_off < p->up_len) {
		n = libssh2_channel_write(p->ch, p->up + p->up_off, p->up_len - p->up_off);
		if (n == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		p->up_off += (size_t)n, *busy = true;
	}
	p->up_len = p->up_off = 0;
	if (p->local_eof && !p->eof_sent) {
		n = libssh2_channel_send_eof(p->ch);
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN && !p->chan_eof)
			return (int)n;
		/* after the instance's EOF the channel may be closed already */
		p->eof_sent = n == 0 || p->chan_eof;
	}
	return 0;
}

/* Channel bytes to the local socket; the channel's EOF as a half-close. */
static int pump_down(pair *p, bool *busy)
{
	ssize_t n;

	if (p->down_len == 0 && !p->chan_eof) {
		n = libssh2_channel_read(p->ch, p->down, sizeof(p->down));
		if (n > 0)
			p->down_len = (size_t)n, p->down_off = 0, *busy = true;
		else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return (int)n;
		else if (libssh2_channel_eof(p->ch))
			p->chan_eof = true;
	}
	while (p->down_off < p->down_len) {
		n = send(p->fd, p->down + p->down_off, p->down_len - p->down_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)    /* the local end is gone: nothing more to carry */
			return LIBSSH2_ERROR_SOCKET_DISCONNECT;
		p->down_off += (size_t)n, *busy = true;
	}
	p->down_len = p->down_off = 0;
	if (p->chan_eof && !p->shut_wr) {
		shutdown(p->fd, SHUT_WR);
		p->shut_wr = true;
	}
	return 0;
}

static bool pair_service(bk_ssh_tunnel *t, int i)
{
	pair *p = &t->pairs[i];
	bool busy = false;
	int rc;

	if (!p->ch) {
		if (t->opening < 0)
			t->opening = i;
		return t->opening == i ? pair_open(t, i) : false;
	}
	rc = pump_up(p, &busy);
	rc = rc ? rc : pump_down(p, &busy);
	if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT && !bk_ssh__is_drop(
		    libssh2_session_last_errno(t->bastion->session)))
		pair_close(t, p);            /* the local client hung up */
	else if (rc < 0)
		pair_fail(t, p, "lost");
	else if (p->eof_sent && p->chan_eof && p->shut_wr)
		pair_close(t, p);
	else
		return busy;
	return true;
}

/* ---- the thread ----------------------------------------------------- */

static void accept_new(bk_ssh_tunnel *t)
{
	int fd;

	while ((fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i = 0;
		if (t->dead) {      /* the last error says why */
			close(fd);
			continue;
		}
		while (i < MAX_PAIRS && t->pairs[i].fd >= 0)
			i++;
		if (i == MAX_PAIRS) {
			set_last(t, "bastion %s:%d: more than %d connections through it at once",
				 t->bastion->host, t->bastion->port, MAX_PAIRS);
			close(fd);
			continue;
		}
		t->pairs[i].fd = fd;
	}
}

static void wait_events(bk_ssh_tunnel *t, int ms)
{
	struct pollfd fds[3 + MAX_PAIRS];
	int n = 0, dir = libssh2_session_block_directions(t->bastion->session);

	fds[n++] = (struct pollfd){t->wake[0], POLLIN, 0};
	fds[n++] = (struct pollfd){t->listen_fd, POLLIN, 0};
	if (!t->dead)
		fds[n++] = (struct pollfd){t->bastion->sock, (short)(POLLIN |
					   (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND ? POLLOUT : 0)), 0};
	for (int i = 0; i < MAX_PAIRS; i++) {
		const pair *p = &t->pairs[i];
		short ev = (short)((p->ch && !p->up_len && !p->local_eof ? POLLIN : 0) |
				   (p->down_len ? POLLOUT : 0));
		if (p->fd >= 0 && ev)
			fds[n++] = (struct pollfd){p->fd, ev, 0};
	}
	poll(fds, (nfds_t)n, ms);
}

static void *pump_main(void *arg)
{
	bk_ssh_tunnel *t = arg;
	bool busy = false;
	int next = 0;

	while (!atomic_load(&t->stop)) {
		/* Data libssh2 already read for one channel shows on no socket:
		 * after progress, look again at once. */
		wait_events(t, busy ? 0 : IDLE_POLL_MS);
		accept_new(t);
		busy = false;
		for (int i = 0; i < MAX_PAIRS; i++)
			if (t->pairs[i].fd >= 0)
				busy |= pair_service(t, i);
		if (!t->dead && libssh2_keepalive_send(t->bastion->session, &next) < 0 &&
		    bk_ssh__is_drop(libssh2_session_last_errno(t->bastion->session))) {
			t->dead = true;
			set_last(t, "bastion %s:%d: connection lost: %s", t->bastion->host,
				 t->bastion->port, bk_ssh__errmsg(t->bastion));
		}
	}
	return NULL;
}

/* ---- open and close ------------------------------------------------- */

static int listen_local(bk_ssh_tunnel *t)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(t->listen_fd, MAX_PAIRS) < 0 ||
	    getsockname(t->listen_fd, (struct sockaddr *)&a, &len) < 0)
		return bk_err(BAKEAMI_ESSH, "cannot listen on 127.0.0.1 for the bastion tunnel: %s",
			      strerror(errno));
	t->port = ntohs(a.sin_port);
	return 0;
}

static int start(bk_ssh_tunnel *t)
{
	if (!(t->pairs = calloc(MAX_PAIRS, sizeof(*t->pairs))))
		return bk_oom();
	for (int i = 0; i < MAX_PAIRS; i++)
		t->pairs[i].fd = -1;
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return bk_err(BAKEAMI_ESSH, "pipe: %s", strerror(errno));
	if (pthread_create(&t->thread, NULL, pump_main, t) != 0)
		return bk_err(BAKEAMI_ESSH, "cannot start the bastion tunnel's thread");
	t->started = true;
	return 0;
}

/* "bastion host:port: <the SSH layer's message>", keeping its code. */
static int name_hop(const bk_ssh_options *o, int rc)
{
	return bk_err_wrap(rc, "bastion %s:%d", o->host, o->port > 0 ? o->port : 22);
}

int bk_ssh_tunnel_open(bk_ssh_tunnel **out, const bk_ssh_options *bastion,
		       const char *target_host, int target_port)
{
	bk_ssh_tunnel *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return bk_oom();
	t->listen_fd = t->wake[0] = t->wake[1] = -1;
	t->opening = -1;
	t->target_port = target_port;
	pthread_mutex_init(&t->mu, NULL);
	if (!(t->target = bk_strdup(target_host)))
		rc = bk_oom();
	else if ((rc = bk_ssh_connect(&t->bastion, bastion)) < 0)
		rc = name_hop(bastion, rc);
	rc = rc ? rc : listen_local(t);
	rc = rc ? rc : start(t);
	if (rc < 0) {
		bk_ssh_tunnel_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

void bk_ssh_tunnel_close(bk_ssh_tunnel *t)
{
	if (!t)
		return;
	if (t->started) {
		atomic_store(&t->stop, true);
		if (write(t->wake[1], "x", 1) < 0) {
			/* the thread sees the flag within IDLE_POLL_MS anyway */
		}
		pthread_join(t->thread, NULL);
	}
	for (int i = 0; t->pairs && i < MAX_PAIRS; i++)
		if (t->pairs[i].fd >= 0)
			pair_close(t, &t->pairs[i]);
	for (int i = 0; i < 2; i++)
		if (t->wake[i] >= 0)
			close(t->wake[i]);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	bk_ssh_free(t->bastion);
	pthread_mutex_destroy(&t->mu);
	free(t->pairs);
	free(t->target);
	free(t);
}
