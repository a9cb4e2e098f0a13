/*
 * session.c - connecting to the build instance: TCP with retries while it
 * boots, the SSH handshake, the host-key policy (pin or trust on first
 * use) and publickey auth from memory. libssh2 runs non-blocking and every
 * wait is a poll() of at most BK_SSH_SLICE_MS, so a cancel is seen fast.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ssh_internal.h"

#define DEFAULT_TIMEOUT_S 300.0
#define TCP_ATTEMPT_S 10.0       /* one TCP connect attempt */
#define HANDSHAKE_ATTEMPT_S 30.0 /* handshake + auth of one attempt */
#define INTERVAL_MIN_S 0.5
#define INTERVAL_MAX_S 5.0
#define LOG_EVERY_S 5.0
#define KEEPALIVE_S 5            /* Packer's default */
#define CLOSE_GRACE_S 1.0        /* disconnect is not cancellable; bound it */

enum { ATTEMPT_RETRY = BK_SSH_ATTEMPT_RETRY, ATTEMPT_AUTH = BK_SSH_ATTEMPT_AUTH };

typedef struct {
	bk_poller wait;              /* between attempts; holds the deadline */
	double last_log;
	int n;
	int last;                    /* ATTEMPT_RETRY or ATTEMPT_AUTH */
	char reason[256];
} retry_state;

/* ---- process-wide init ---------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void global_init(void)
{
	init_rc = libssh2_init(0);
}

int bk_ssh_global_init(void)
{
	pthread_once(&init_once, global_init);
	return init_rc == 0 ? 0 : bk_err(BAKEAMI_ESSH, "libssh2_init failed (%d)", init_rc);
}

/* ---- helpers shared with exec.c and sftp.c -------------------------- */

/* sshd sends a non-interactive session's replies with Nagle on: a reply
 * written in two parts waits for our ACK of the first, which Linux delays
 * up to 40 ms when we have nothing to send. Each channel open, exec and
 * auth step paid that. Quick-ack mode lapses, so it is asked for again
 * before every wait for a reply. */
static void quick_ack(int fd)
{
	int on = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
}

int bk_ssh__wait(bk_ssh *s, double deadline)
{
	int dir = libssh2_session_block_directions(s->session);
	struct pollfd pfd = {s->sock, 0, 0};
	double now = bk_now();
	int ms = BK_SSH_SLICE_MS;

	if (bk_cancelled(s->cancel))
		return BAKEAMI_ECANCELLED;
	if (deadline > 0 && now >= deadline)
		return BAKEAMI_ETIMEOUT;
	if (deadline > 0 && (deadline - now) * 1000 < ms)
		ms = (int)((deadline - now) * 1000) + 1;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	/* No direction: libssh2 wants another call soon; a short nap avoids
	 * spinning. */
	if (pfd.events == 0)
		ms = 10;
	quick_ack(s->sock);
	poll(&pfd, 1, ms);
	return bk_cancelled(s->cancel) ? BAKEAMI_ECANCELLED : 0;
}

void bk_ssh__nap(bk_ssh *s)
{
	struct pollfd pfd = {s->sock, POLLIN, 0};
	int dir = s->session ? libssh2_session_block_directions(s->session) : 0;

	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	poll(&pfd, s->sock >= 0 ? 1 : 0, 10);
}

const char *bk_ssh__errmsg(bk_ssh *s)
{
	char *msg = NULL;

	if (!s->session)
		return "not connected";
	libssh2_session_last_error(s->session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown libssh2 error";
}

bool bk_ssh__is_drop(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	       rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	       rc == LIBSSH2_ERROR_TIMEOUT;
}

int bk_ssh__drop(bk_ssh *s, const char *doing)
{
	s->alive = false;
	return bk_err(BAKEAMI_ESSH, "connection to %s:%d lost while %s: %s",
		      s->host, s->port, doing, bk_ssh__errmsg(s));
}

/* ---- TCP ------------------------------------------------------------ */

/* "Connection refused" -> "connection refused", to read well mid-sentence. */
void bk_ssh__set_reason(char *reason, size_t cap, const char *what)
{
	snprintf(reason, cap, "%s", what);
	if (reason[0] >= 'A' && reason[0] <= 'Z' && !(reason[1] >= 'A' && reason[1] <= 'Z'))
		reason[0] = (char)(reason[0] - 'A' + 'a');
}

/* Notice a dead instance within a minute or two instead of TCP's ~15. */
static void tune_socket(int fd)
{
	int on = 1, idle = 30, intvl = 10, cnt = 6;
	unsigned int user_timeout_ms = 120000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Wait for a non-blocking connect; 0, ATTEMPT_RETRY or ECANCELLED. */
static int tcp_wait(bk_ssh *s, int fd, double until, char *reason, size_t cap)
{
	int err = 0;
	socklen_t len = sizeof(err);

	for (;;) {
		struct pollfd pfd = {fd, POLLOUT, 0};
		if (poll(&pfd, 1, BK_SSH_SLICE_MS) > 0)
			break;
		if (bk_cancelled(s->cancel))
			return BAKEAMI_ECANCELLED;
		if (bk_now() >= until) {
			bk_ssh__set_reason(reason, cap, "TCP connect timed out");
			return ATTEMPT_RETRY;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		bk_ssh__set_reason(reason, cap, strerror(err));
		return ATTEMPT_RETRY;
	}
	return 0;
}

static int tcp_try_addr(bk_ssh *s, const struct addrinfo *ai, double until,
			char *reason, size_t cap)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	int rc = 0;

	if (fd < 0) {
		bk_ssh__set_reason(reason, cap, strerror(errno));
		return ATTEMPT_RETRY;
	}
	tune_socket(fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno == EINPROGRESS)
			rc = tcp_wait(s, fd, until, reason, cap);
		else {
			bk_ssh__set_reason(reason, cap, strerror(errno));
			rc = ATTEMPT_RETRY;
		}
	}
	if (rc != 0) {
		close(fd);
		return rc;
	}
	s->sock = fd;
	return 0;
}

/* Resolve every attempt: the address may change while the instance boots. */
static int tcp_connect(bk_ssh *s, double deadline, char *reason, size_t cap)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[16];
	double until = fmin(deadline, bk_now() + TCP_ATTEMPT_S);
	int rc = ATTEMPT_RETRY, g;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	const char *host = s->dial_host ? s->dial_host : s->host;

	snprintf(port, sizeof(port), "%d", s->dial_host ? s->dial_port : s->port);
	if ((g = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(reason, cap, "cannot resolve %s: %s", host, gai_strerror(g));
		return ATTEMPT_RETRY;
	}
	for (struct addrinfo *ai = res; ai && rc == ATTEMPT_RETRY; ai = ai->ai_next)
		rc = tcp_try_addr(s, ai, until, reason, cap);
	freeaddrinfo(res);
	return rc;
}

/* ---- SSH ------------------------------------------------------------ */

/* Bounded and not cancellable: a cancelled bake still says goodbye. */
static void session_close(bk_ssh *s)
{
	double until = bk_now() + CLOSE_GRACE_S;

	bk_ssh__sftp_close(s);
	if (s->session && s->alive)
		while (libssh2_session_disconnect(s->session, "bakeami done") ==
			       LIBSSH2_ERROR_EAGAIN && bk_now() < until)
			bk_ssh__nap(s);
	/* With the socket shut down libssh2's frees fail fast instead of
	 * waiting for replies that will not come. */
	if (s->sock >= 0)
		shutdown(s->sock, SHUT_RDWR);
	if (s->session)
		while (libssh2_session_free(s->session) == LIBSSH2_ERROR_EAGAIN &&
		       bk_now() < until + CLOSE_GRACE_S)
			bk_ssh__nap(s);
	if (s->sock >= 0)
		close(s->sock);
	s->session = NULL;
	s->sock = -1;
	s->alive = false;
}

/* ---- ciphers and key exchanges ------------------------------------------ */

static int method_type(const char *kind)
{
	return strcmp(kind, "kex") == 0 ? LIBSSH2_METHOD_KEX : LIBSSH2_METHOD_CRYPT_CS;
}

static bool listed(const char *const *algs, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(algs[i], name) == 0)
			return true;
	return false;
}

static int list_of(char **out, const char *const *algs, int n)
{
	bk_buf b = BK_BUF_INIT;

	for (int i = 0; i < n; i++)
		if (bk_buf_printf(&b, "%s%s", i ? ", " : "", algs[i]) < 0) {
			bk_buf_free(&b);
			return bk_oom();
		}
	return (*out = b.ptr ? b.ptr : bk_strdup("")) ? 0 : bk_oom();
}

int bk_ssh_methods_missing(bk_strv *missing, char **have, const char *kind, const bk_strv *names)
{
	LIBSSH2_SESSION *session;
	const char **algs = NULL;
	int n, rc = bk_ssh_global_init();

	*have = NULL;
	if (rc < 0)
		return rc;
	if (!(session = libssh2_session_init()))
		return bk_oom();
	if ((n = libssh2_session_supported_algs(session, method_type(kind), &algs)) < 0)
		rc = bk_err(BAKEAMI_ESSH, "libssh2 lists no %s algorithms (%d)", kind, n);
	for (size_t i = 0; rc == 0 && i < names->count; i++)
		if (!listed(algs, n, names->items[i]))
			rc = bk_strv_push(missing, names->items[i]);
	if (rc == 0)
		rc = list_of(have, algs, n);
	if (n > 0)
		libssh2_free(session, algs);
	libssh2_session_free(session);
	return rc;
}

static char *joined(const bk_strv *v)
{
	bk_buf b = BK_BUF_INIT;

	for (size_t i = 0; v && i < v->count; i++)
		if (bk_buf_printf(&b, "%s%s", i ? "," : "", v->items[i]) < 0) {
			bk_buf_free(&b);
			return NULL;
		}
	return b.ptr;
}

static void prefer(bk_ssh *s)
{
	if (s->ciphers) {
		libssh2_session_method_pref(s->session, LIBSSH2_METHOD_CRYPT_CS, s->ciphers);
		libssh2_session_method_pref(s->session, LIBSSH2_METHOD_CRYPT_SC, s->ciphers);
	}
	if (s->kex)
		libssh2_session_method_pref(s->session, LIBSSH2_METHOD_KEX, s->kex);
}

static int session_open(bk_ssh *s)
{
	if (!(s->session = libssh2_session_init_ex(NULL, NULL, NULL, s)))
		return bk_err(BAKEAMI_ENOMEM, "libssh2_session_init failed");
	libssh2_session_set_blocking(s->session, 0);
	/* ed25519 first, so the fingerprint is the one users usually pin
	 * (ssh-keygen -lf ssh_host_ed25519_key.pub); libssh2 drops the
	 * names it does not support. */
	libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY,
				    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
				    "ecdsa-sha2-nistp521,ssh-rsa");
	prefer(s);
	libssh2_keepalive_config(s->session, 1, KEEPALIVE_S);
	return 0;
}

static int handshake(bk_ssh *s, double until, char *reason, size_t cap)
{
	int rc;

	while ((rc = libssh2_session_handshake(s->session, s->sock)) == LIBSSH2_ERROR_EAGAIN) {
		int w = bk_ssh__wait(s, until);
		if (w == BAKEAMI_ETIMEOUT) {
			bk_ssh__set_reason(reason, cap, "SSH handshake timed out");
			return ATTEMPT_RETRY;
		}
		if (w < 0)
			return w;
	}
	if (rc < 0) {
		snprintf(reason, cap, "SSH handshake failed: %s", bk_ssh__errmsg(s));
		return ATTEMPT_RETRY;
	}
	return 0;
}

/* Compare ignoring the "SHA256:" prefix and base64 padding. */
static bool fp_equal(const char *want, const char *got)
{
	size_t n;

	if (bk_str_starts(want, "SHA256:"))
		want += 7;
	got += 7;
	n = strlen(want);
	while (n > 0 && want[n - 1] == '=')
		n--;
	return n == strlen(got) && strncmp(want, got, n) == 0;
}

static const char *host_key_type(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519";
	}
	return NULL;
}

/* The key itself, as a known_hosts line's "type base64": for tools run on
 * the agent (ansible) to check the host against the key we trusted. */
static int keep_host_key(bk_ssh *s)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->session, &len, &type);
	const char *name = host_key_type(type);
	char *b64;

	free(s->host_key_line);
	s->host_key_line = NULL;
	if (!key || !name || len > INT_MAX / 2)
		return 0;   /* a type OpenSSH has no name for: no line, no tool may use it */
	if (!(b64 = malloc(4 * ((len + 2) / 3) + 1)))
		return bk_oom();
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)key, (int)len);
	s->host_key_line = bk_sprintf("%s %s", name, b64);
	free(b64);
	return s->host_key_line ? 0 : bk_oom();
}

static int check_host_key(bk_ssh *s)
{
	const char *md = libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA256);
	int rc;

	if (!md)
		return bk_err(BAKEAMI_ESSH, "no host key from %s:%d", s->host, s->port);
	bk_ssh__fp_format(s->fingerprint, (const unsigned char *)md);
	if (s->pin && *s->pin && !fp_equal(s->pin, s->fingerprint))
		return bk_err(BAKEAMI_ESSH, "host key mismatch: expected %s, got %s from %s:%d",
			      s->pin, s->fingerprint, s->host, s->port);
	if (!s->pin && s->known_hosts && (rc = bk_ssh__known_host(s)) < 0)
		return rc;
	return keep_host_key(s);
}

static int key_auth(bk_ssh *s, double until, char *reason, size_t cap)
{
	const char *pub = bk_ssh_key_public_line(s->key);
	size_t privlen;
	const char *priv = bk_ssh__key_private(s->key, &privlen);
	int rc;

	while ((rc = libssh2_userauth_publickey_frommemory(
			s->session, s->user, strlen(s->user), pub, strlen(pub), priv,
			privlen, "")) == LIBSSH2_ERROR_EAGAIN) {
		int w = bk_ssh__wait(s, until);
		if (w == BAKEAMI_ETIMEOUT) {
			bk_ssh__set_reason(reason, cap, "SSH authentication timed out");
			return ATTEMPT_RETRY;
		}
		if (w < 0)
			return w;
	}
	if (rc == 0)
		return 0;
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
		/* cloud-init may not have installed the key yet: retry. */
		snprintf(reason, cap, "authentication failed for %s@%s:%d", s->user, s->host, s->port);
		return ATTEMPT_AUTH;
	}
	if (bk_ssh__is_drop(rc)) {
		snprintf(reason, cap, "connection lost during authentication: %s", bk_ssh__errmsg(s));
		return ATTEMPT_RETRY;
	}
	return bk_err(BAKEAMI_ESSH, "cannot authenticate %s@%s:%d with the key: %s",
		      s->user, s->host, s->port, bk_ssh__errmsg(s));
}

/* The agent's identities first, then the key, as Packer orders them. */
static int authenticate(bk_ssh *s, double until, char *reason, size_t cap)
{
	int rc = s->agent_auth ? bk_ssh__agent_auth(s, until, reason, cap) : ATTEMPT_AUTH;

	if (rc != ATTEMPT_AUTH || !s->key)
		return rc;
	return key_auth(s, until, reason, cap);
}

/* One full attempt: TCP, handshake, host key, auth. */
static int attempt(bk_ssh *s, double deadline, char *reason, size_t cap)
{
	double until;
	int rc = tcp_connect(s, deadline, reason, cap);

	if (rc != 0)
		return rc;
	until = fmin(deadline, bk_now() + HANDSHAKE_ATTEMPT_S);
	rc = session_open(s);
	rc = rc ? rc : handshake(s, until, reason, cap);
	rc = rc ? rc : check_host_key(s);
	rc = rc ? rc : authenticate(s, until, reason, cap);
	if (rc != 0)
		session_close(s);
	return rc;
}

/* ---- the retry loop ------------------------------------------------- */

static void log_attempt(bk_ssh *s, retry_state *r)
{
	double now = bk_now();
	bool info = r->n == 1 || now - r->last_log >= LOG_EVERY_S;

	bk_logf(&s->log, info ? BK_LOG_INFO : BK_LOG_DEBUG,
		"waiting for SSH on %s:%d (attempt %d: %s)", s->host, s->port, r->n, r->reason);
	if (info)
		r->last_log = now;
}

/* libssh2 before 1.11 signs RSA keys with SHA-1 only ("ssh-rsa"), which
 * OpenSSH 8.8 and later refuse by default: say so, or the failure is a
 * mystery. */
static const char *auth_hint(const bk_ssh *s)
{
	const char *pub = s->key ? bk_ssh_key_public_line(s->key) : "";

	if (LIBSSH2_VERSION_NUM < 0x010b00 && bk_str_starts(pub, "ssh-rsa "))
		return "; this libssh2 signs RSA keys with SHA-1 only, which OpenSSH 8.8 and "
		       "later refuse: use an ed25519 or ECDSA key";
	return "";
}

static int give_up(bk_ssh *s, const retry_state *r, double timeout_s)
{
	if (r->last == ATTEMPT_AUTH)
		return bk_err(BAKEAMI_ESSH, "%s (the server refused the key for %gs, %d attempts%s)",
			      r->reason, timeout_s, r->n, auth_hint(s));
	return bk_err(BAKEAMI_ETIMEOUT, "timed out after %gs waiting for SSH on %s:%d: %s",
		      timeout_s, s->host, s->port, r->reason);
}

static int cancelled(bk_ssh *s)
{
	return bk_err(BAKEAMI_ECANCELLED, "cancelled while waiting for SSH on %s:%d", s->host,
		      s->port);
}

static int dial(bk_ssh *s, double timeout_s)
{
	bool fixed = s->retry_interval_s > 0;
	bk_poll_opts po = {bk_now() + timeout_s, fixed ? s->retry_interval_s : INTERVAL_MIN_S,
			   INTERVAL_MAX_S, fixed ? 1 : 1.5, s->cancel, NULL, 0};
	retry_state r = {0};
	int rc;

	bk_poller_start(&r.wait, &po);
	for (;;) {
		rc = attempt(s, po.deadline, r.reason, sizeof(r.reason));
		if (rc == BAKEAMI_ECANCELLED)
			return cancelled(s);
		if (rc <= 0)
			return rc;
		r.n++;
		r.last = rc;
		if (rc == ATTEMPT_AUTH && s->settled)
			return bk_err(BAKEAMI_ESSH, "%s%s", r.reason, auth_hint(s));
		log_attempt(s, &r);
		rc = bk_poller_wait(&r.wait);
		if (rc == BAKEAMI_ECANCELLED)
			return cancelled(s);
		/* An attempt started at the deadline could only time out and
		 * would hide the real reason. */
		if (rc > 0 || bk_now() >= po.deadline)
			return give_up(s, &r, timeout_s);
	}
}

/* ---- public API ----------------------------------------------------- */

static int copy_options(bk_ssh *s, const bk_ssh_options *o)
{
	s->sock = -1;
	s->port = o->port > 0 ? o->port : 22;
	s->key = o->key;
	s->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
	s->retry_interval_s = o->retry_interval_s;
	s->cancel = o->cancel;
	s->log = o->log;
	s->host = bk_strdup(o->host);
	s->user = bk_strdup(o->user);
	s->pin = bk_strdup(o->host_key_fingerprint);
	s->agent_auth = o->agent_auth != 0;
	s->settled = o->settled != 0;
	s->dial_host = bk_strdup(o->dial_host);
	s->dial_port = o->dial_port;
	s->known_hosts = bk_strdup(o->known_hosts);
	s->ciphers = o->ciphers && o->ciphers->count ? joined(o->ciphers) : NULL;
	s->kex = o->kex && o->kex->count ? joined(o->kex) : NULL;
	if (!s->host || !s->user || (o->host_key_fingerprint && !s->pin) ||
	    (o->dial_host && !s->dial_host) || (o->known_hosts && !s->known_hosts) ||
	    (o->ciphers && o->ciphers->count && !s->ciphers) || (o->kex && o->kex->count && !s->kex))
		return bk_oom();
	return 0;
}

static int connected(bk_ssh *s)
{
	s->alive = true;
	bk_logf(&s->log, BK_LOG_INFO, "host key %s (%s)", s->fingerprint,
		s->pin ? "matches the pinned key" : s->known_hosts ? "listed in known_hosts"
		: "trusted on first use");
	/* Later reconnects must reach the same machine. */
	if (!s->pin && !(s->pin = bk_strdup(s->fingerprint)))
		return bk_oom();
	bk_logf(&s->log, BK_LOG_INFO, "connected to %s@%s:%d", s->user, s->host, s->port);
	return 0;
}

int bk_ssh_connect(bk_ssh **out, const bk_ssh_options *opts)
{
	bk_ssh *s;
	int rc;

	*out = NULL;
	/* An empty user is allowed: Packer sends one for an unset bastion user. */
	if (!opts || !opts->host || !*opts->host || !opts->user ||
	    (!opts->key && !opts->agent_auth))
		return bk_err(BAKEAMI_EINVALID, "SSH needs a host, a user and a key or the agent");
	if ((rc = bk_ssh_global_init()) < 0)
		return rc;
	if (!(s = calloc(1, sizeof(*s))))
		return bk_oom();
	rc = copy_options(s, opts);
	rc = rc ? rc : dial(s, s->timeout_s);
	rc = rc ? rc : connected(s);
	if (rc < 0) {
		bk_ssh_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int bk_ssh_reconnect(bk_ssh *s, double timeout_s)
{
	int rc;

	session_close(s);
	bk_logf(&s->log, BK_LOG_INFO, "reconnecting to %s@%s:%d", s->user, s->host, s->port);
	rc = dial(s, timeout_s > 0 ? timeout_s : s->timeout_s);
	return rc ? rc : connected(s);
}

int bk_ssh_connected(const bk_ssh *s)
{
	return s && s->alive && s->session;
}

const char *bk_ssh_host_fingerprint(const bk_ssh *s)
{
	return s ? s->fingerprint : NULL;
}

const char *bk_ssh_host_key_line(const bk_ssh *s)
{
	return s ? s->host_key_line : NULL;
}

void bk_ssh_free(bk_ssh *s)
{
	if (!s)
		return;
	session_close(s);
	free(s->host);
	free(s->user);
	free(s->pin);
	free(s->dial_host);
	free(s->known_hosts);
	free(s->ciphers);
	free(s->kex);
	free(s->host_key_line);
	free(s);
}
