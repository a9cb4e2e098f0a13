/* stage_ssh.c - WAIT_SSH: connect with retries until ssh_timeout. */
#include "bake.h"

int bk_stage_wait_ssh(bakeami_bake *b)
{
	bk_ssh_options o = {0};
	double t = bk_now();
	int rc;

	o.host = b->ssh_host;
	o.port = b->ssh_port;
	o.user = b->cfg->ssh_username;
	o.key = b->key;
	o.timeout_s = b->cfg->ssh_timeout_s;
	o.host_key_fingerprint = b->cfg->ssh_host_key_fingerprint;
	o.cancel = &b->work_cancel;
	o.log = bk_bake_logger(b);
	if ((rc = bk_ssh_connect(&b->ssh, &o)) < 0)
		return rc;
	bk_step(b, "connected as %s@%s:%d in %.1fs, host key %s", o.user, o.host, o.port,
		bk_now() - t, bk_ssh_host_fingerprint(b->ssh));
	return 0;
}
