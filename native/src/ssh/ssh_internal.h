/*
 * ssh_internal.h - what key.c, session.c, exec.c and sftp.c share: the
 * session struct and the non-blocking wait helper. Not for other layers.
 */
#ifndef BK_SSH_INTERNAL_H
#define BK_SSH_INTERNAL_H

#include <stdbool.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "ssh.h"

/* "SHA256:" + 43 base64 characters + NUL, with room to spare. */
#define BK_SSH_FP_MAX 64

struct bk_ssh {
	int sock;                    /* -1 when closed */
	LIBSSH2_SESSION *session;    /* non-blocking; NULL when closed */
	LIBSSH2_SFTP *sftp;          /* opened on the first transfer */
	bool alive;                  /* false once the connection dropped */
	/* the options, copied, for messages and bk_ssh_reconnect() */
	char *host, *user, *pin;
	int port;
	const bk_ssh_key *key;
	bool agent_auth, settled;
	bool pty;                    /* bk_ssh_set_pty: commands get a terminal */
	char *dial_host, *known_hosts;   /* NULL: host, trust on first use */
	char *ciphers, *kex;             /* comma lists for method_pref; NULL: libssh2's */
	int dial_port;
	double timeout_s, retry_interval_s;
	const bk_cancel *cancel;
	bk_logger log;
	char fingerprint[BK_SSH_FP_MAX];
	char *host_key_line;         /* "ssh-ed25519 AAAA...", of the key checked */
};

/* What one connect attempt tells the retry loop, besides error codes. */
enum { BK_SSH_ATTEMPT_RETRY = 1, BK_SSH_ATTEMPT_AUTH = 2 };

/* auth.c: userauth with the agent's identities, one by one; 0 when one is
 * accepted, BK_SSH_ATTEMPT_* (reason set) or an error code. */
int bk_ssh__agent_auth(bk_ssh *s, double until, char *reason, size_t cap);
/* auth.c: the host key checked against s->known_hosts: 0 if listed for
 * host:port, else BAKEAMI_ESSH saying what to do. */
int bk_ssh__known_host(bk_ssh *s);
/* "connection refused": a reason reads well mid-sentence. */
void bk_ssh__set_reason(char *reason, size_t cap, const char *what);

/* How long a libssh2 call may wait on the socket before we look at the
 * cancel flag and the deadline again. */
#define BK_SSH_SLICE_MS 100

/* Wait until the socket is ready in the directions libssh2 is blocked on,
 * at most one slice. deadline 0: none. Returns 0, BAKEAMI_ECANCELLED or
 * BAKEAMI_ETIMEOUT (without setting a message: the caller knows what
 * timed out). */
int bk_ssh__wait(bk_ssh *s, double deadline);

/* Teardown's wait: at most 10 ms on the socket, deaf to cancel (closing
 * after a cancel must not spin). */
void bk_ssh__nap(bk_ssh *s);

/* libssh2's last error text for the session. */
const char *bk_ssh__errmsg(bk_ssh *s);

/* True for libssh2 errors that mean the TCP connection is gone. */
bool bk_ssh__is_drop(int rc);

/* Mark the connection dead and set a BAKEAMI_ESSH error naming what was
 * being done. */
int bk_ssh__drop(bk_ssh *s, const char *doing);

/* The key's private text and its public line, for userauth. */
const char *bk_ssh__key_private(const bk_ssh_key *key, size_t *len);

/* "SHA256:<base64 without padding>" of a 32-byte digest. */
void bk_ssh__fp_format(char out[BK_SSH_FP_MAX], const unsigned char md[32]);

/* Close the SFTP channel, if open (bounded, not cancellable). */
void bk_ssh__sftp_close(bk_ssh *s);

#endif
