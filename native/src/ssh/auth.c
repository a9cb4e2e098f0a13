/*
 * auth.c - the two checks a bastion needs beyond the instance's: login with
 * the user's SSH agent (libssh2's agent API on SSH_AUTH_SOCK) and a host key
 * looked up in a known_hosts file (libssh2's knownhost API), since a bastion
 * is a long-lived host whose key the user already knows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh_internal.h"

/* ---- agent ---------------------------------------------------------- */

static int agent_fail(LIBSSH2_AGENT *agent, int rc)
{
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return rc;
}

static int agent_open(bk_ssh *s, LIBSSH2_AGENT **out, const char *sock)
{
	LIBSSH2_AGENT *agent = libssh2_agent_init(s->session);

	if (!agent)
		return bk_oom();
	libssh2_agent_set_identity_path(agent, sock);
	if (libssh2_agent_connect(agent) != 0)
		return agent_fail(agent, bk_err(BAKEAMI_ESSH, "ssh_agent_auth: cannot connect to "
						"the SSH agent at SSH_AUTH_SOCK=%s", sock));
	if (libssh2_agent_list_identities(agent) != 0)
		return agent_fail(agent, bk_err(BAKEAMI_ESSH, "ssh_agent_auth: the SSH agent at %s "
						"did not list its identities", sock));
	*out = agent;
	return 0;
}

/* One identity offered: 0 accepted, 1 refused, or an error code. */
static int agent_try(bk_ssh *s, LIBSSH2_AGENT *agent, struct libssh2_agent_publickey *id,
		     double until)
{
	int rc, w;

	while ((rc = libssh2_agent_userauth(agent, s->user, id)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = bk_ssh__wait(s, until)) < 0)
			return w;
	if (rc == 0)
		return 0;
	if (bk_ssh__is_drop(rc))
		return LIBSSH2_ERROR_SOCKET_DISCONNECT;
	return 1;
}

int bk_ssh__agent_auth(bk_ssh *s, double until, char *reason, size_t cap)
{
	const char *sock = getenv("SSH_AUTH_SOCK");
	struct libssh2_agent_publickey *id = NULL;
	LIBSSH2_AGENT *agent = NULL;
	int rc, n = 0, r = 1;

	if (!sock || !*sock)
		return bk_err(BAKEAMI_ESSH, "ssh_agent_auth: SSH_AUTH_SOCK is not set: start "
			      "ssh-agent and add the key (ssh-add) in the bake's environment");
	if ((rc = agent_open(s, &agent, sock)) < 0)
		return rc;
	while (r == 1 && libssh2_agent_get_identity(agent, &id, id) == 0 && ++n)
		r = agent_try(s, agent, id, until);
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	if (r == 0)
		return 0;
	if (r == BAKEAMI_ETIMEOUT) {
		bk_ssh__set_reason(reason, cap, "SSH authentication timed out");
		return BK_SSH_ATTEMPT_RETRY;
	}
	if (r == LIBSSH2_ERROR_SOCKET_DISCONNECT) {
		snprintf(reason, cap, "connection lost during authentication: %s",
			 bk_ssh__errmsg(s));
		return BK_SSH_ATTEMPT_RETRY;
	}
	if (r < 0)
		return r;
	if (n == 0)
		return bk_err(BAKEAMI_ESSH, "ssh_agent_auth: the SSH agent at %s holds no "
			      "identity (ssh-add the key)", sock);
	snprintf(reason, cap, "authentication failed for %s@%s:%d: the server refused the "
		 "%d identit%s of the SSH agent", s->user, s->host, s->port, n, n == 1 ? "y" : "ies");
	return BK_SSH_ATTEMPT_AUTH;
}

/* ---- known_hosts ---------------------------------------------------- */

static int key_type_mask(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
	}
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* libssh2's answer for the session's key at host:port (port 22: plain). */
static int lookup(bk_ssh *s, LIBSSH2_KNOWNHOSTS *kh)
{
	size_t len = 0;
	int type = 0;
	const char *key = libssh2_session_hostkey(s->session, &len, &type);

	if (!key)
		return LIBSSH2_KNOWNHOST_CHECK_FAILURE;
	/* A missing or unreadable file lists nothing: NOTFOUND says what to do. */
	libssh2_knownhost_readfile(kh, s->known_hosts, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	return libssh2_knownhost_checkp(kh, s->host, s->port, key, len,
					LIBSSH2_KNOWNHOST_TYPE_PLAIN |
					LIBSSH2_KNOWNHOST_KEYENC_RAW | key_type_mask(type), NULL);
}

int bk_ssh__known_host(bk_ssh *s)
{
	LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->session);
	int r;

	if (!kh)
		return bk_oom();
	r = lookup(s, kh);
	libssh2_knownhost_free(kh);
	if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return 0;
	if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		return bk_err(BAKEAMI_ESSH, "host key mismatch: %s:%d offers %s, which is not the "
			      "key %s lists for it", s->host, s->port, s->fingerprint, s->known_hosts);
	return bk_err(BAKEAMI_ESSH, "host key %s of %s:%d is not in %s: add it there once "
		      "you have checked it (ssh-keyscan -p %d %s), or pin it with "
		      "ssh_bastion_host_key_fingerprint", s->fingerprint, s->host, s->port,
		      s->known_hosts, s->port, s->host);
}
