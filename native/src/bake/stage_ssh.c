/* stage_ssh.c - WAIT_SSH: connect with retries until ssh_timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake.h"

/* What the SSH layer's last reason most likely means for an instance. */
static const char *diagnosis(const char *why)
{
	if (strcasestr(why, "connection refused"))
		return "the address answers, but nothing listens on the port: sshd is not up "
		       "(yet), or ssh_port is not its port";
	if (strcasestr(why, "TCP connect timed out") || strcasestr(why, "unreachable"))
		return "nothing answers at the address: a security group, network ACL, route or "
		       "firewall drops the packets, or it is not the instance's reachable address "
		       "(ssh_interface, associate_public_ip_address)";
	if (strcasestr(why, "exchange encryption keys"))
		return "sshd and the bake have no key exchange or cipher in common "
		       "(ssh_key_exchange_algorithms, ssh_ciphers)";
	if (strcasestr(why, "handshake"))
		return "the port takes connections but no SSH server answers on it in time";
	if (strcasestr(why, "authentication"))
		return "sshd did not accept the key in time: the key is not installed (yet), or "
		       "ssh_username is not the image's user";
	return NULL;
}

/* The layer's timeout, said in the template's words with a diagnosis. */
static int timed_out(const bakeami_bake *b, int rc)
{
	char why[1024];
	const char *hint;

	snprintf(why, sizeof(why), "%s", bk_err_msg());
	hint = diagnosis(why);
	/* VALIDATE made ssh_timeout positive (default 5m). */
	return bk_err(rc, "ssh_timeout (%gs) passed: %s%s%s", b->cfg->ssh_timeout_s, why,
		      hint ? "; " : "", hint ? hint : "");
}

/* ---- the bastion hop ------------------------------------------------ */

static int tunnel_index(const bakeami_bake *b, const char *host)
{
	for (int i = 0; i < BK_MAX_TUNNELS; i++)
		if (b->tunnels[i] && strcmp(b->tunnel_hosts[i], host) == 0)
			return i;
	return -1;
}

/* Its key is checked against the pin, else the user's known_hosts (Packer
 * checks no bastion key at all: a bastion is long-lived, its key known). */
static char *bastion_known_hosts(const bk_build_config *c)
{
	const char *home = getenv("HOME");

	if (c->ssh_bastion_host_key_fingerprint || !home || !*home)
		return NULL;
	return bk_sprintf("%s/.ssh/known_hosts", home);
}

static int open_tunnel(bakeami_bake *b, const char *host, double timeout_s, int *index)
{
	const bk_build_config *c = b->cfg;
	bk_ssh_options o = {0};
	int i = 0, rc;

	while (i < BK_MAX_TUNNELS && b->tunnels[i])
		i++;
	if (i == BK_MAX_TUNNELS)
		return bk_err(BAKEAMI_ERROR, "more than %d bastion tunnels", BK_MAX_TUNNELS);
	o.host = c->ssh_bastion_host;
	o.port = c->ssh_bastion_port;
	o.user = c->ssh_bastion_username ? c->ssh_bastion_username : "";
	o.key = b->bastion_key;
	o.agent_auth = c->ssh_bastion_agent_auth;
	o.host_key_fingerprint = c->ssh_bastion_host_key_fingerprint;
	o.known_hosts = bastion_known_hosts(c);
	o.settled = 1;
	o.timeout_s = timeout_s;
	o.cancel = &b->work_cancel;
	o.log = bk_bake_logger(b);
	if (!c->ssh_bastion_host_key_fingerprint && !o.known_hosts)
		rc = bk_err(BAKEAMI_EINVALID, "bastion %s:%d: no ssh_bastion_host_key_fingerprint and "
			    "no HOME for ~/.ssh/known_hosts: its host key cannot be checked",
			    o.host, o.port);
	else if ((rc = bk_ssh_tunnel_open(&b->tunnels[i], &o, host, c->ssh_port)) == 0 &&
		 !(b->tunnel_hosts[i] = bk_strdup(host)))
		rc = bk_oom();
	free((char *)o.known_hosts);
	if (rc == 0)
		bk_step(b, "tunnel to %s:%d through bastion %s:%d at 127.0.0.1:%d", host,
			c->ssh_port, o.host, o.port, bk_ssh_tunnel_port(b->tunnels[i]));
	*index = i;
	return rc;
}

/* The target failed through the tunnel: what the bastion said, if anything. */
static int name_bastion(bakeami_bake *b, int i, int rc)
{
	char why[600];

	bk_ssh_tunnel_last_error(b->tunnels[i], why, sizeof(why));
	if (!*why)
		return bk_err_wrap(rc, "through bastion %s:%d", b->cfg->ssh_bastion_host,
				   b->cfg->ssh_bastion_port);
	return bk_err_wrap(rc, "%s; then", why);
}

void bk_reach(const bakeami_bake *b, const char *host, const char **dial_host, int *dial_port)
{
	int i = host ? tunnel_index(b, host) : -1;

	*dial_host = i >= 0 ? "127.0.0.1" : host;
	*dial_port = i >= 0 ? bk_ssh_tunnel_port(b->tunnels[i]) : b->cfg->ssh_port;
}

int bk_tunnel_port(const bakeami_bake *b, const char *host)
{
	int i = host ? tunnel_index(b, host) : -1;

	return i >= 0 ? bk_ssh_tunnel_port(b->tunnels[i]) : 0;
}

void bk_tunnels_close(bakeami_bake *b)
{
	for (int i = 0; i < BK_MAX_TUNNELS; i++) {
		bk_ssh_tunnel_close(b->tunnels[i]);
		free(b->tunnel_hosts[i]);
		b->tunnels[i] = NULL;
		b->tunnel_hosts[i] = NULL;
	}
}

/* ---- connecting ----------------------------------------------------- */

int bk_connect(bakeami_bake *b, bk_ssh **out, const char *host)
{
	const bk_build_config *c = b->cfg;
	bk_ssh_options o = {0};
	double start = bk_now();
	int rc = 0, t = -1;

	o.host = host;
	o.port = c->ssh_port;
	o.user = c->ssh_username;
	o.key = b->key;
	o.agent_auth = c->ssh_agent_auth;
	o.timeout_s = c->ssh_timeout_s;
	o.host_key_fingerprint = c->ssh_host_key_fingerprint;
	o.ciphers = &c->ssh_ciphers;
	o.kex = &c->ssh_kex;
	o.cancel = &b->work_cancel;
	o.log = bk_bake_logger(b);
	if (c->ssh_bastion_host && (t = tunnel_index(b, host)) < 0)
		rc = open_tunnel(b, host, c->ssh_timeout_s, &t);
	if (rc == 0 && t >= 0) {
		o.dial_host = "127.0.0.1";
		o.dial_port = bk_ssh_tunnel_port(b->tunnels[t]);
		/* one ssh_timeout for both hops; a last second to say why */
		o.timeout_s = c->ssh_timeout_s - (bk_now() - start);
		if (o.timeout_s < 1)
			o.timeout_s = 1;
	}
	/* The SSH layer logs the attempts, the host key and the connection. */
	rc = rc ? rc : bk_ssh_connect(out, &o);
	if (rc < 0 && t >= 0 && b->tunnels[t] && rc != BAKEAMI_ECANCELLED)
		rc = name_bastion(b, t, rc);
	return rc == BAKEAMI_ETIMEOUT ? timed_out(b, rc) : rc;
}

/* Packer's pause_before_connecting: once the instance answers, wait, then
 * connect afresh, to the same host key (its boot may restart sshd yet). */
static int pause_then_reconnect(bakeami_bake *b)
{
	double pause = b->cfg->pause_before_connecting_s;
	int rc;

	bk_step(b, "pausing %gs before connecting (pause_before_connecting)", pause);
	if ((rc = bk_sleep_ms(&b->work_cancel, (long)(pause * 1000))) < 0)
		return rc;
	rc = bk_ssh_reconnect(b->ssh, 0);
	return rc == BAKEAMI_ETIMEOUT ? timed_out(b, rc) : rc;
}

int bk_stage_wait_ssh(bakeami_bake *b)
{
	int rc = bk_connect(b, &b->ssh, b->ssh_host);

	if (rc == 0 && b->cfg->pause_before_connecting_s > 0)
		rc = pause_then_reconnect(b);
	return rc;
}
