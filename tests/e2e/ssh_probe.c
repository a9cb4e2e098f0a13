/*
 * ssh_probe.c - drives the SSH layer and the provisioners for
 * tests/e2e/test_ssh_layer.py. Prints one event per line, flushed at once,
 * so the test sees output live:
 *
 *   ssh_probe [options] HOST PORT USER STEP...
 *   options: --key FILE | --genkey COMMENT (prints "PUBKEY <line>", then
 *            waits for a line on stdin), --pin FP, --timeout S, --retry S,
 *            --cancel-after S, --exec-timeout S, --template-dir DIR
 *   steps:   exec CMD | upload LOCAL REMOTE | download REMOTE LOCAL |
 *            put REMOTE TEXT OCTAL_MODE | prov JSON | reconnect
 *   ssh_probe keygen COMMENT   (prints PUBKEY, FP and the private key)
 *   ssh_probe pubkey FILE      (prints PUBKEY and KEYFP, or KEY <error>)
 *
 * Events: "LOG <level> <msg>", "FP <fp>", "OUT|ERR <t> <line>",
 * "EXIT <status> <rc>", "RC <step> <rc> <msg>", "CONNECT <rc> <msg>".
 * t is seconds on the monotonic clock. Exit 0 when every step returned 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "provision/provision.h"
#include "ssh/ssh.h"

typedef struct {
	const char *key_path, *gen_comment, *pin, *template_dir;
	double timeout_s, retry_s, cancel_after_s, exec_timeout_s;
	int first_step;
} probe_opts;

static bk_cancel cancel_flag;

static void on_log(bk_log_level level, const char *msg, void *payload)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	(void)payload;
	printf("LOG %s %s\n", names[level], msg);
	fflush(stdout);
}

static void on_line(int stream, const char *line, size_t len, void *payload)
{
	(void)payload;
	printf("%s %.3f %.*s\n", stream == 2 ? "ERR" : "OUT", bk_now(), (int)len, line);
	fflush(stdout);
}

static void *cancel_later(void *arg)
{
	double s = *(double *)arg;
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
	bk_cancel_set(&cancel_flag);
	return NULL;
}

static int parse_opts(probe_opts *o, int argc, char **argv)
{
	int i = 1;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--key")) o->key_path = v;
		else if (!strcmp(k, "--genkey")) o->gen_comment = v;
		else if (!strcmp(k, "--pin")) o->pin = v;
		else if (!strcmp(k, "--template-dir")) o->template_dir = v;
		else if (!strcmp(k, "--timeout")) o->timeout_s = atof(v);
		else if (!strcmp(k, "--retry")) o->retry_s = atof(v);
		else if (!strcmp(k, "--cancel-after")) o->cancel_after_s = atof(v);
		else if (!strcmp(k, "--exec-timeout")) o->exec_timeout_s = atof(v);
		else return -1;
	}
	o->first_step = i;
	return 0;
}

static int keygen(const char *comment)
{
	bk_ssh_key *key;

	if (bk_ssh_key_generate(&key, comment) < 0) {
		fprintf(stderr, "keygen: %s\n", bk_err_msg());
		return 1;
	}
	printf("PUBKEY %s\nFP %s\n%s", bk_ssh_key_public_line(key), bk_ssh_key_fingerprint(key),
	       bk_ssh_key_private_pem(key));
	bk_ssh_key_free(key);
	return 0;
}

static int pubkey(const char *path)
{
	bk_ssh_key *key;

	if (bk_ssh_key_load(&key, path) < 0) {
		printf("KEY %s\n", bk_err_msg());
		return 1;
	}
	printf("PUBKEY %s\nKEYFP %s\n", bk_ssh_key_public_line(key), bk_ssh_key_fingerprint(key));
	bk_ssh_key_free(key);
	return 0;
}

static int get_key(bk_ssh_key **key, const probe_opts *o)
{
	char line[256];

	if (o->key_path) {
		if (bk_ssh_key_load(key, o->key_path) < 0)
			return -1;
		printf("PUBKEY %s\nKEYFP %s\n", bk_ssh_key_public_line(*key),
		       bk_ssh_key_fingerprint(*key));
		return 0;
	}
	if (bk_ssh_key_generate(key, o->gen_comment ? o->gen_comment : "probe") < 0)
		return -1;
	printf("PUBKEY %s\n", bk_ssh_key_public_line(*key));
	fflush(stdout);
	/* The test installs the key, then says go. */
	if (!fgets(line, sizeof(line), stdin))
		return -1;
	return 0;
}

static bk_prov_type prov_type(const char *name)
{
	if (!strcmp(name, "shell")) return BK_PROV_SHELL;
	if (!strcmp(name, "file")) return BK_PROV_FILE;
	if (!strcmp(name, "shell-local")) return BK_PROV_SHELL_LOCAL;
	if (!strcmp(name, "puppet-server")) return BK_PROV_PUPPET_SERVER;
	if (!strcmp(name, "ansible-local")) return BK_PROV_ANSIBLE_LOCAL;
	if (!strcmp(name, "puppet-masterless")) return BK_PROV_PUPPET_MASTERLESS;
	/* A type no runner has (chef-solo): what a caller that skipped the
	 * validation pass gets from bk_provision_run. */
	return (bk_prov_type)99;
}

static double num(const cJSON *cfg, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* ---- the probe's JSON to the typed provisioner template/ hands over ---- */

static char *str(const cJSON *cfg, const char *k)
{
	return bk_strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, k)));
}

static int flag(const cJSON *cfg, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, k));
}

/* A string or an array of strings, appended. */
static void strs(bk_strv *out, const cJSON *cfg, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k), *e;

	if (cJSON_IsString(v))
		bk_strv_push(out, v->valuestring);
	cJSON_ArrayForEach(e, (cJSON_IsArray(v) ? v : NULL))
		bk_strv_push(out, cJSON_GetStringValue(e));
}

static void ints(bk_intv *out, const cJSON *cfg, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, k), *e;

	out->items = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(int));
	cJSON_ArrayForEach(e, (cJSON_IsArray(v) ? v : NULL))
		out->items[out->count++] = e->valueint;
}

static void typed(bk_provisioner *p, const cJSON *cfg)
{
	bk_prov_shell_cfg *sh = &p->u.shell;
	bk_prov_file_cfg *f = &p->u.file;
	bk_prov_local_cfg *l = &p->u.local;

	if (p->type == BK_PROV_SHELL) {
		strs(&sh->inline_lines, cfg, "inline");
		strs(&sh->scripts, cfg, "script");
		strs(&sh->scripts, cfg, "scripts");
		strs(&sh->environment_vars, cfg, "environment_vars");
		sh->execute_command = str(cfg, "execute_command");
		sh->remote_folder = str(cfg, "remote_folder");
		sh->remote_file = str(cfg, "remote_file");
		sh->expect_disconnect = flag(cfg, "expect_disconnect");
		sh->use_env_var_file = flag(cfg, "use_env_var_file");
		ints(&sh->valid_exit_codes, cfg, "valid_exit_codes");
		sh->start_retry_timeout_s = 300;
	} else if (p->type == BK_PROV_FILE) {
		strs(&f->sources, cfg, "source");
		strs(&f->sources, cfg, "sources");
		f->destination = str(cfg, "destination");
		f->content = str(cfg, "content");
		f->download = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cfg, "direction")) &&
			      !strcmp(cJSON_GetObjectItemCaseSensitive(cfg, "direction")->valuestring,
				      "download");
	} else if (p->type == BK_PROV_SHELL_LOCAL) {
		strs(&l->inline_lines, cfg, "command");
		strs(&l->inline_lines, cfg, "inline");
		strs(&l->environment_vars, cfg, "environment_vars");
		ints(&l->valid_exit_codes, cfg, "valid_exit_codes");
	}
}

static void typed_free(bk_provisioner *p)
{
	bk_prov_shell_cfg *sh = &p->u.shell;
	bk_prov_file_cfg *f = &p->u.file;
	bk_prov_local_cfg *l = &p->u.local;

	if (p->type == BK_PROV_SHELL) {
		bk_strv_free(&sh->inline_lines);
		bk_strv_free(&sh->scripts);
		bk_strv_free(&sh->environment_vars);
		free(sh->execute_command);
		free(sh->remote_folder);
		free(sh->remote_file);
		free(sh->valid_exit_codes.items);
	} else if (p->type == BK_PROV_FILE) {
		bk_strv_free(&f->sources);
		free(f->destination);
		free(f->content);
	} else if (p->type == BK_PROV_SHELL_LOCAL) {
		bk_strv_free(&l->inline_lines);
		bk_strv_free(&l->environment_vars);
		free(l->valid_exit_codes.items);
	}
}

/* A provisioner as template/ would hand it over (typed; checks of its
 * shape are template/'s, tested there): the numeric meta keys stand in for
 * the parsed pause_before/timeout/max_retries. */
static int run_prov(bk_ssh *s, const probe_opts *o, const char *json, int index)
{
	bk_build_config cfg = {0};
	bk_provisioner prov = {0};
	bk_kv env = BK_KV_INIT;
	cJSON *raw;
	char path[32];
	int rc;

	if (!(raw = cJSON_Parse(json)))
		return bk_err(BAKEAMI_EINVALID, "bad JSON");
	snprintf(path, sizeof(path), "provisioners[%d]", index);
	prov.path = path;
	prov.type_name = cJSON_GetStringValue(cJSON_GetObjectItem(raw, "type"));
	prov.type = prov_type(prov.type_name ? prov.type_name : "");
	prov.pause_before_s = num(raw, "pause_before_s");
	prov.timeout_s = num(raw, "timeout_s");
	prov.max_retries = (int)num(raw, "max_retries");
	typed(&prov, raw);
	cfg.template_dir = (char *)(o->template_dir ? o->template_dir : ".");
	cfg.build_name = "probe";
	cfg.builder_type = "amazon-ebs";
	bk_kv_add(&env, "PACKER_BUILD_NAME", "probe");
	bk_kv_add(&env, "PACKER_BUILDER_TYPE", "amazon-ebs");
	bk_provision_ctx ctx = {s, &prov, &cfg, &cancel_flag, on_line, NULL,
				{on_log, NULL}, &env, NULL, 0, NULL, NULL, NULL, 0};
	rc = bk_provision_run(&ctx);
	bk_kv_free(&env);
	typed_free(&prov);
	cJSON_Delete(raw);
	return rc;
}

/* Runs the step at argv[*i], advancing *i past its arguments. */
static int run_step(bk_ssh *s, const probe_opts *o, int argc, char **argv, int *i)
{
	const char *step = argv[(*i)++];
	int need = !strcmp(step, "reconnect") ? 0
		 : !strcmp(step, "exec") || !strcmp(step, "prov") ? 1
		 : !strcmp(step, "put") ? 3 : 2;
	char **a = argv + *i;
	int status = -1, rc;

	if (*i + need > argc)
		return bk_err(BAKEAMI_EINVALID, "%s: missing arguments", step);
	*i += need;
	if (!strcmp(step, "exec")) {
		rc = bk_ssh_exec(&status, s, a[0], o->exec_timeout_s, on_line, NULL);
		printf("EXIT %d %d\n", status, rc);
		return rc;
	}
	if (!strcmp(step, "upload"))
		return bk_ssh_upload(s, a[0], a[1]);
	if (!strcmp(step, "download"))
		return bk_ssh_download(s, a[0], a[1]);
	if (!strcmp(step, "put"))
		return bk_ssh_put(s, a[0], a[1], strlen(a[1]), (int)strtol(a[2], NULL, 8));
	if (!strcmp(step, "prov"))
		return run_prov(s, o, a[0], *i);
	if (!strcmp(step, "reconnect"))
		return bk_ssh_reconnect(s, o->timeout_s);
	return bk_err(BAKEAMI_EINVALID, "unknown step %s", step);
}

static int run_steps(bk_ssh *s, const probe_opts *o, int argc, char **argv)
{
	int failed = 0;

	for (int i = o->first_step + 3; i < argc;) {
		const char *name = argv[i];
		bk_err_clear();
		int rc = run_step(s, o, argc, argv, &i);
		printf("RC %s %d %s\n", name, rc, rc ? bk_err_msg() : "");
		fflush(stdout);
		failed |= rc != 0;
	}
	return failed;
}

int main(int argc, char **argv)
{
	probe_opts o = {0};
	bk_ssh_key *key = NULL;
	bk_ssh *s = NULL;
	pthread_t th;
	int rc;

	if (argc == 3 && !strcmp(argv[1], "keygen"))
		return keygen(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "pubkey"))
		return pubkey(argv[2]);
	if (parse_opts(&o, argc, argv) < 0 || o.first_step + 3 > argc) {
		fprintf(stderr, "usage: ssh_probe [options] HOST PORT USER STEP...\n");
		return 2;
	}
	if (get_key(&key, &o) < 0) {
		printf("KEY %s\n", bk_err_msg());
		return 1;
	}
	if (o.cancel_after_s > 0)
		pthread_create(&th, NULL, cancel_later, &o.cancel_after_s);
	bk_ssh_options so = {argv[o.first_step], atoi(argv[o.first_step + 1]),
			     argv[o.first_step + 2], key, o.timeout_s, o.retry_s, o.pin,
			     &cancel_flag, {on_log, NULL}, 0, NULL, 0, NULL, 0, NULL, NULL};
	rc = bk_ssh_connect(&s, &so);
	printf("CONNECT %d %s\n", rc, rc ? bk_err_msg() : "");
	if (rc == 0)
		printf("FP %s\n", bk_ssh_host_fingerprint(s));
	fflush(stdout);
	if (rc == 0)
		rc = run_steps(s, &o, argc, argv);
	bk_ssh_free(s);
	bk_ssh_key_free(key);
	if (o.cancel_after_s > 0)
		pthread_join(th, NULL);
	printf("DONE %d %.3f\n", rc, bk_now());
	return rc ? 1 : 0;
}
