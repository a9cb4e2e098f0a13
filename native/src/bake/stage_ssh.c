/* stage_ssh.c - WAIT_SSH: connect with retries until ssh_timeout. */
#include "bake.h"

int bk_connect(bakeami_bake *b, bk_ssh **out, const char *host)
{
	bk_ssh_options o = {0};

	o.host = host;
	o.port = b->cfg->ssh_port;
	o.user = b->cfg->ssh_username;
	o.key = b->key;
	o.timeout_s = b->cfg->ssh_timeout_s;
	o.host_key_fingerprint = b->cfg->ssh_host_key_fingerprint;
	o.cancel = &b->work_cancel;
	o.log = bk_bake_logger(b);
	/* The SSH layer logs the attempts, the host key and the connection. */
	return bk_ssh_connect(out, &o);
}

int bk_stage_wait_ssh(bakeami_bake *b)
{
	return bk_connect(b, &b->ssh, b->ssh_host);
}
