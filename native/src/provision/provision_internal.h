/*
 * provision_internal.h - what provision.c shares with the provisioners
 * (shell.c, file.c, local.c): one run's context, config readers and
 * message helpers. Not for other layers.
 */
#ifndef BK_PROVISION_INTERNAL_H
#define BK_PROVISION_INTERNAL_H

#include <stdbool.h>

#include "provision.h"

/* One try of one provisioner. */
typedef struct {
	const bk_provision_ctx *ctx;
	double deadline;             /* from the provisioner's timeout; 0: none */
} bk_prov_run;

int bk_prov_shell(const bk_prov_run *r);
int bk_prov_file(const bk_prov_run *r);
int bk_prov_shell_local(const bk_prov_run *r);
int bk_prov_puppet_masterless(const bk_prov_run *r);
int bk_prov_puppet_server(const bk_prov_run *r);
int bk_prov_ansible_local(const bk_prov_run *r);
int bk_prov_ansible(const bk_prov_run *r);

/* ---- messages: "provisioners[N] (type): ..." ------------------------- */
int bk_prov_fail(const bk_provision_ctx *ctx, int code, const char *fmt, ...) BK_PRINTF(3, 4);
/* Prefix the current error message with "provisioners[N] (type)". */
int bk_prov_wrap(const bk_provision_ctx *ctx, int code);
void bk_prov_log(const bk_provision_ctx *ctx, const char *fmt, ...) BK_PRINTF(2, 3);

/* ---- time ------------------------------------------------------------ */
/* Seconds left before the deadline for a command (0: no deadline), or
 * BAKEAMI_ETIMEOUT with a message once it has passed. */
int bk_prov_time_left(const bk_prov_run *r, double *left);

/* True when status is in codes (empty: only 0 is valid). */
bool bk_prov_valid_exit(const bk_intv *codes, int status);

/* A local path: relative ones resolve against the template's directory. */
char *bk_prov_local_path(const bk_build_config *cfg, const char *path);
/* The environment for commands: ctx->env, then environment_vars ("K=V")
 * and env ({"K": "V"}), later keys replacing earlier ones. */
int bk_prov_env(const bk_provision_ctx *ctx, bk_kv *out);

/* Reconnect when the connection dropped (e.g. after a reboot), waiting up
 * to timeout_s for the instance to come back. */
int bk_prov_ensure_connected(const bk_provision_ctx *ctx, double timeout_s);

#endif
