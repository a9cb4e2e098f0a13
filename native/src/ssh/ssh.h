/*
 * ssh.h - libssh2 sessions to the build instance: keys, connect with
 * retries and a host-key policy, exec with live line output, SFTP.
 * Knows nothing of AWS or bakes. Every blocking wait honours `cancel`.
 */
#ifndef BK_SSH_H
#define BK_SSH_H

#include "../util/util.h"

typedef struct bk_ssh_key bk_ssh_key;

/* libssh2_init(0), once per process (pthread_once); bk_ssh_connect calls it. */
int bk_ssh_global_init(void);

/* A fresh ed25519 key made in memory with OpenSSL; never written to disk. */
int bk_ssh_key_generate(bk_ssh_key **out, const char *comment);
/* A user-supplied private key file (OpenSSH or PEM; RSA, ECDSA, ed25519). */
int bk_ssh_key_load(bk_ssh_key **out, const char *path);
/* "ssh-ed25519 AAAA... comment" */
const char *bk_ssh_key_public_line(const bk_ssh_key *key);
/* The private key as OpenSSH PEM text (for Serverspec's TARGET_KEY file). */
const char *bk_ssh_key_private_pem(const bk_ssh_key *key);
/* "SHA256:..." of the public key, as ssh-keygen -l prints it. */
const char *bk_ssh_key_fingerprint(const bk_ssh_key *key);
void bk_ssh_key_free(bk_ssh_key *key);

typedef struct {
	const char *host;
	int port;                    /* 0: 22 */
	const char *user;
	const bk_ssh_key *key;       /* may be NULL with agent_auth */
	double timeout_s;            /* overall deadline for connect retries; 0: 300 */
	double retry_interval_s;     /* 0: adaptive, 0.5s rising to 5s */
	const char *host_key_fingerprint; /* "SHA256:..." pins the host key; NULL: trust first */
	const bk_cancel *cancel;
	bk_logger log;               /* attempts and the fingerprint are logged */
	/* Authenticate with the identities of the SSH agent at SSH_AUTH_SOCK,
	 * tried before key (Packer's order). */
	int agent_auth;
	/* Where to dial instead of host:port (a tunnel's local end); messages
	 * and the host-key policy still name host:port. NULL: host:port. */
	const char *dial_host;
	int dial_port;
	/* With no pin: the host key must be listed for host:port in this
	 * known_hosts file (OpenSSH's format, hashed names too). NULL: trust
	 * on first use. */
	const char *known_hosts;
	/* The host is up and set up (a bastion, not a booting instance): a
	 * refused login is final instead of retried until the deadline. */
	int settled;
	/* The only ciphers and key exchanges to offer, most preferred first
	 * (Packer's ssh_ciphers, ssh_key_exchange_algorithms); NULL or empty:
	 * libssh2's own. */
	const bk_strv *ciphers;
	const bk_strv *kex;
} bk_ssh_options;

/* The names libssh2 does not offer as a cipher ("cipher") or key exchange
 * ("kex"), into *missing, and what it does offer, comma-separated, into
 * *have (a new string). It drops the missing ones from what it offers. */
int bk_ssh_methods_missing(bk_strv *missing, char **have, const char *kind, const bk_strv *names);

typedef struct bk_ssh bk_ssh;

int bk_ssh_connect(bk_ssh **out, const bk_ssh_options *opts);
/* "SHA256:<base64 without padding>", as ssh-keygen -l prints it. */
const char *bk_ssh_host_fingerprint(const bk_ssh *s);
/* The host key checked, as known_hosts writes it: "ssh-ed25519 AAAA...";
 * NULL before a connection. */
const char *bk_ssh_host_key_line(const bk_ssh *s);
void bk_ssh_free(bk_ssh *s);  /* disconnects */
/* False once the connection dropped (e.g. the instance rebooted). */
int bk_ssh_connected(const bk_ssh *s);
/* Drop the connection and connect again with the same options, the host
 * key pinned to the one seen first; timeout_s 0: the options' timeout.
 * The key given to bk_ssh_connect must still be alive. */
int bk_ssh_reconnect(bk_ssh *s, double timeout_s);
/* From now on (reconnects too) each command without input runs in a
 * terminal, as Packer's ssh_pty: its stderr arrives as stdout. */
void bk_ssh_set_pty(bk_ssh *s, bool on);

/* Called once per line as output arrives, split as bk_lines does (util.h);
 * a trailing partial line is flushed at the end. stream: 1 stdout, 2 stderr. */
typedef bk_line_cb bk_ssh_line_cb;

/* Run cmd; *exit_status gets its status (or -1 when the connection dropped
 * before a status arrived: BAKEAMI_ESSH is returned then). timeout_s 0: none. */
int bk_ssh_exec(int *exit_status, bk_ssh *s, const char *cmd, double timeout_s,
		bk_ssh_line_cb cb, void *payload);
/* The same, with input (a C string) sent as the command's stdin, then EOF. */
int bk_ssh_exec_input(int *exit_status, bk_ssh *s, const char *cmd, const char *input,
		      double timeout_s, bk_ssh_line_cb cb, void *payload);

/* ---- tunnel.c: reaching a host through a bastion ------------------- */

typedef struct bk_ssh_tunnel bk_ssh_tunnel;

/* Connect to the bastion with opts (its host-key policy and auth), then
 * listen on 127.0.0.1 at an ephemeral port: each connection accepted there
 * is carried to target_host:target_port in a direct-tcpip channel of the
 * bastion's session. One thread owns that session (libssh2 sessions are
 * not thread-safe) and pumps every channel. Errors name the bastion. */
int bk_ssh_tunnel_open(bk_ssh_tunnel **out, const bk_ssh_options *bastion,
		       const char *target_host, int target_port);
/* The local port to dial (on 127.0.0.1). */
int bk_ssh_tunnel_port(const bk_ssh_tunnel *t);
/* The last channel the bastion refused or lost, as a sentence naming it
 * ("" when none); copied into buf. */
void bk_ssh_tunnel_last_error(bk_ssh_tunnel *t, char *buf, size_t cap);
/* How many channels the bastion opened (for the console's summary). */
int bk_ssh_tunnel_opened(bk_ssh_tunnel *t);
void bk_ssh_tunnel_close(bk_ssh_tunnel *t);

/* Upload a local file or directory. Packer's rule: a directory source ending
 * in '/' uploads its contents into dst; without it, the directory itself is
 * created inside dst. A file goes to dst (or dst/<name> if dst ends in '/'). */
int bk_ssh_upload(bk_ssh *s, const char *local, const char *remote);
/* Download a remote file or directory (same trailing-slash rule). */
int bk_ssh_download(bk_ssh *s, const char *remote, const char *local);
/* Upload bytes to a remote file with a mode. */
int bk_ssh_put(bk_ssh *s, const char *remote, const void *data, size_t len, int mode);

#endif
