/*
 * provision.h - provisioners run over an SSH session: shell, file (and,
 * in later issues, puppet and ansible). They talk to the instance only
 * through ssh.h.
 */
#ifndef BK_PROVISION_H
#define BK_PROVISION_H

#include "../ssh/ssh.h"
#include "../template/template.h"

typedef struct {
	bk_ssh *ssh;
	const bk_provisioner *prov;      /* typed and checked by template/ */
	const bk_build_config *cfg;      /* whole build (template_dir, names, ...) */
	const bk_cancel *cancel;
	bk_ssh_line_cb output;           /* each remote output line, live */
	void *output_payload;
	bk_logger log;                   /* "uploading x to y", "running script z" */
	const bk_kv *env;                /* PACKER_BUILD_NAME, PACKER_BUILDER_TYPE, ... */
	/* how the bake reaches the instance, for tools run on the agent (ansible);
	 * the host key is the session's (bk_ssh_host_key_line) */
	const char *host;
	int port;
	const char *user;
	const char *private_key_pem;
	/* Remote files a provisioner is done with (its uploaded scripts), kept
	 * here to be deleted in one command when provisioning ends, with our
	 * key: one round trip fewer per script. NULL: each is deleted at once. */
	bk_strv *remove_later;
	int agent_auth;                  /* no private_key_pem: the SSH agent's keys */
} bk_provision_ctx;

/* Whether this build can run provisioners of that type: the validation
 * pass asks, so a template never names one the bake would fail on. */
bool bk_provision_supported(bk_prov_type type);

/* Run one provisioner (honouring pause_before, timeout and max_retries).
 * A non-zero remote exit is BAKEAMI_EPROVISION with a message naming the
 * provisioner, e.g. "provisioners[1] (shell): script 2 of 3 (setup.sh)
 * exited with status 3". */
int bk_provision_run(const bk_provision_ctx *ctx);

/* "rm -f -- 'a' 'b'" for the paths, quoted for the remote shell; "" when
 * there are none. */
int bk_provision_rm_command(char **out, const bk_strv *paths);

#endif
