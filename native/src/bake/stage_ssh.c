/* stage_ssh.c - WAIT_SSH: connect with retries until ssh_timeout. */
#include <stdio.h>
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

int bk_connect(bakeami_bake *b, bk_ssh **out, const char *host)
{
	bk_ssh_options o = {0};
	int rc;

	o.host = host;
	o.port = b->cfg->ssh_port;
	o.user = b->cfg->ssh_username;
	o.key = b->key;
	o.timeout_s = b->cfg->ssh_timeout_s;
	o.host_key_fingerprint = b->cfg->ssh_host_key_fingerprint;
	o.cancel = &b->work_cancel;
	o.log = bk_bake_logger(b);
	/* The SSH layer logs the attempts, the host key and the connection. */
	rc = bk_ssh_connect(out, &o);
	return rc == BAKEAMI_ETIMEOUT ? timed_out(b, rc) : rc;
}

int bk_stage_wait_ssh(bakeami_bake *b)
{
	return bk_connect(b, &b->ssh, b->ssh_host);
}
