/*
 * local.c - Packer's "shell-local" provisioner: run `command`, `inline`
 * (under inline_shebang, as "<shebang> -c <lines>") or each of `script(s)`
 * on the agent, with the provisioner's environment added, streaming
 * output lines live. posix_spawn, not fork: the JVM hosting us is
 * multi-threaded. A cancel or timeout stops the whole process group.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "provision_internal.h"

extern char **environ;

#define LINE_MAX_BYTES 65536
#define KILL_GRACE_S 2.0
#define ORPHAN_PIPE_S 1.0   /* output a background grandchild keeps open */

typedef struct {
	pid_t pid;
	int fd[2];                   /* stdout, stderr; -1 at EOF */
	bool exited;
	int status;
	double exited_at;
} child;

/* ---- output lines --------------------------------------------------- */

typedef struct {
	bk_buf part[2];
	const bk_provision_ctx *ctx;
} lines;

static void emit(lines *l, int idx, const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (l->ctx->output)
		l->ctx->output(idx + 1, s, n, l->ctx->output_payload);
}

static int feed(lines *l, int idx, const char *data, size_t n)
{
	bk_buf *b = &l->part[idx];
	size_t start = 0;
	char *nl;

	if (bk_buf_put(b, data, n) < 0)
		return BAKEAMI_ENOMEM;
	while ((nl = memchr(b->ptr + start, '\n', b->len - start))) {
		emit(l, idx, b->ptr + start, (size_t)(nl - b->ptr) - start);
		start = (size_t)(nl - b->ptr) + 1;
	}
	if (b->len - start >= LINE_MAX_BYTES) {
		emit(l, idx, b->ptr + start, b->len - start);
		start = b->len;
	}
	memmove(b->ptr, b->ptr + start, b->len - start);
	b->len -= start;
	return 0;
}

static void lines_finish(lines *l)
{
	for (int i = 0; i < 2; i++) {
		if (l->part[i].len > 0)
			emit(l, i, l->part[i].ptr, l->part[i].len);
		bk_buf_free(&l->part[i]);
	}
}

/* ---- what to run ---------------------------------------------------- */

/* "/usr/bin/env bash -e" -> argv words, then "-c", text. */
static int shebang_argv(bk_strv *argv, const char *shebang, const char *text)
{
	char *copy = bk_strdup(shebang), *save = NULL;
	int rc = copy ? 0 : BAKEAMI_ENOMEM;

	for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w && rc == 0;
	     w = strtok_r(NULL, " \t", &save))
		rc = bk_strv_push(argv, w);
	free(copy);
	rc = rc ? rc : bk_strv_push(argv, "-c");
	return rc ? rc : bk_strv_push(argv, text);
}

static int inline_text(const cJSON *cfg, bk_buf *text)
{
	bk_strv cmds = BK_STRV_INIT;
	int rc = bk_prov_strv(cfg, "command", &cmds);

	rc = rc ? rc : bk_prov_strv(cfg, "inline", &cmds);
	for (size_t i = 0; rc == 0 && i < cmds.count; i++)
		rc = bk_buf_printf(text, "%s\n", cmds.items[i]);
	bk_strv_free(&cmds);
	return rc;
}

/* Scripts run through /bin/sh -c '<path>', as Packer's execute_command. */
static int script_argv(const bk_provision_ctx *ctx, bk_strv *argv, const char *path)
{
	char *local = bk_prov_local_path(ctx->cfg, path);
	bk_buf q = BK_BUF_INIT;
	int rc = local ? bk_prov_shell_quote(&q, local) : BAKEAMI_ENOMEM;

	rc = rc ? rc : bk_strv_push(argv, "/bin/sh");
	rc = rc ? rc : bk_strv_push(argv, "-c");
	rc = rc ? rc : bk_strv_push(argv, q.ptr);
	free(local);
	bk_buf_free(&q);
	return rc;
}

/* ---- the environment ------------------------------------------------- */

static bool overridden(const bk_kv *env, const char *entry)
{
	const char *eq = strchr(entry, '=');

	for (size_t i = 0; eq && i < env->count; i++)
		if (strlen(env->keys[i]) == (size_t)(eq - entry) &&
		    strncmp(env->keys[i], entry, (size_t)(eq - entry)) == 0)
			return true;
	return false;
}

static int build_envp(const bk_provision_ctx *ctx, bk_strv *envp)
{
	bk_kv env = BK_KV_INIT;
	int rc = bk_prov_env(ctx, &env);

	for (char **e = environ; rc == 0 && e && *e; e++)
		if (!overridden(&env, *e))
			rc = bk_strv_push(envp, *e);
	for (size_t i = 0; rc == 0 && i < env.count; i++) {
		char *kv = bk_sprintf("%s=%s", env.keys[i], env.vals[i]);
		rc = kv ? bk_strv_push(envp, kv) : BAKEAMI_ENOMEM;
		free(kv);
	}
	bk_kv_free(&env);
	return rc;
}

/* ---- the child process ---------------------------------------------- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* posix_spawn with stdin from /dev/null and the pipes as stdout/stderr,
 * in its own process group (a cancel stops its children too) and with
 * default signal handling whatever the host process changed. Returns 0
 * or an errno value. */
static int spawn_with(child *c, char *const argv[], char *const envp[], int out_w, int err_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawn_file_actions_init(&fa))
		return ENOMEM;
	if (posix_spawnattr_init(&attr)) {
		posix_spawn_file_actions_destroy(&fa);
		return ENOMEM;
	}
	rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	rc = rc ? rc : posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = rc ? rc : posix_spawnattr_setpgroup(&attr, 0);
	rc = rc ? rc : posix_spawnattr_setsigmask(&attr, &none);
	rc = rc ? rc : posix_spawnattr_setsigdefault(&attr, &all);
	rc = rc ? rc : posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

static int spawn(child *c, char *const argv[], char *const envp[])
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, rc;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		rc = errno;
	else
		rc = spawn_with(c, argv, envp, out[1], err[1]);
	/* Our copies of the write ends must go, or we never see EOF. */
	close_fd(&out[1]);
	close_fd(&err[1]);
	c->fd[0] = out[0];
	c->fd[1] = err[0];
	if (rc != 0) {
		close_fd(&c->fd[0]);
		close_fd(&c->fd[1]);
		return bk_err(BAKEAMI_EIO, "cannot run %s: %s", argv[0], strerror(rc));
	}
	return 0;
}

static void reap(child *c, int flags)
{
	int st;

	if (!c->exited && waitpid(c->pid, &st, flags) == c->pid) {
		c->exited = true;
		c->exited_at = bk_now();
		c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}

static void stop_child(child *c)
{
	double until = bk_now() + KILL_GRACE_S;

	kill(-c->pid, SIGTERM);
	for (reap(c, WNOHANG); !c->exited && bk_now() < until; reap(c, WNOHANG))
		bk_sleep_ms(NULL, 20);
	if (!c->exited) {
		kill(-c->pid, SIGKILL);
		reap(c, 0);
	}
}

/* Read what is there on both pipes; closes a pipe at EOF. */
static int read_pipes(child *c, lines *l)
{
	struct pollfd p[2] = {{c->fd[0], POLLIN, 0}, {c->fd[1], POLLIN, 0}};
	char buf[8192];

	if (poll(p, 2, 100) <= 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(c->fd[i], buf, sizeof(buf));
		if (n > 0 && feed(l, i, buf, (size_t)n) < 0)
			return BAKEAMI_ENOMEM;
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			close(c->fd[i]);
			c->fd[i] = -1;
		}
	}
	return 0;
}

/* Stream until the child is done with its output. */
static int pump(const bk_prov_run *r, child *c, lines *l)
{
	double left;
	int rc;

	while (c->fd[0] >= 0 || c->fd[1] >= 0) {
		if ((rc = read_pipes(c, l)) < 0)
			return rc;
		if (bk_cancelled(r->ctx->cancel))
			return bk_prov_fail(r->ctx, BAKEAMI_ECANCELLED, "cancelled");
		if ((rc = bk_prov_time_left(r, &left)) < 0)
			return rc;
		reap(c, WNOHANG);
		if (c->exited && bk_now() - c->exited_at > ORPHAN_PIPE_S)
			break;
	}
	return 0;
}

static int run_argv(const bk_prov_run *r, const bk_strv *argv, const bk_strv *envp,
		    const char *name, size_t i, size_t n)
{
	child c = {0};
	lines l = {{BK_BUF_INIT, BK_BUF_INIT}, r->ctx};
	int rc;

	bk_prov_log(r->ctx, "running %s locally", name);
	if ((rc = spawn(&c, argv->items, envp->items)) < 0)
		return bk_prov_wrap(r->ctx, rc);
	rc = pump(r, &c, &l);
	lines_finish(&l);
	close_fd(&c.fd[0]);
	close_fd(&c.fd[1]);
	if (rc < 0)
		stop_child(&c);
	else
		reap(&c, 0);
	if (rc == 0 && !bk_prov_valid_exit(r->ctx->prov->cfg, c.status))
		rc = bk_prov_fail(r->ctx, BAKEAMI_EPROVISION, "%s (%zu of %zu) exited with status %d",
				  name, i + 1, n, c.status);
	return rc;
}

static int run_inline(const bk_prov_run *r, const bk_strv *envp)
{
	const cJSON *cfg = r->ctx->prov->cfg;
	const char *shebang = bk_prov_str(cfg, "inline_shebang");
	bk_buf text = BK_BUF_INIT;
	bk_strv argv = BK_STRV_INIT;
	int rc = inline_text(cfg, &text);

	if (rc == 0 && text.len > 0) {
		rc = shebang_argv(&argv, shebang && *shebang ? shebang : "/bin/sh -e", text.ptr);
		rc = rc ? rc : run_argv(r, &argv, envp, "inline command", 0, 1);
	}
	bk_buf_free(&text);
	bk_strv_free(&argv);
	return rc;
}

static int run_scripts(const bk_prov_run *r, const bk_strv *envp)
{
	bk_strv files = BK_STRV_INIT;
	int rc = bk_prov_strv(r->ctx->prov->cfg, "script", &files);

	rc = rc ? rc : bk_prov_strv(r->ctx->prov->cfg, "scripts", &files);
	for (size_t i = 0; rc == 0 && i < files.count; i++) {
		bk_strv argv = BK_STRV_INIT;
		char *name = bk_sprintf("script %s", files.items[i]);
		rc = name ? script_argv(r->ctx, &argv, files.items[i]) : BAKEAMI_ENOMEM;
		rc = rc ? rc : run_argv(r, &argv, envp, name, i, files.count);
		bk_strv_free(&argv);
		free(name);
	}
	bk_strv_free(&files);
	return rc;
}

int bk_prov_shell_local(const bk_prov_run *r)
{
	const cJSON *cfg = r->ctx->prov->cfg;
	bk_strv envp = BK_STRV_INIT;
	int rc;

	if (!bk_prov_str(cfg, "command") && !cJSON_GetObjectItem(cfg, "inline") &&
	    !cJSON_GetObjectItem(cfg, "script") && !cJSON_GetObjectItem(cfg, "scripts"))
		return bk_prov_fail(r->ctx, BAKEAMI_EINVALID, "needs command, inline, script or "
				    "scripts");
	rc = build_envp(r->ctx, &envp);
	rc = rc ? rc : run_inline(r, &envp);
	rc = rc ? rc : run_scripts(r, &envp);
	bk_strv_free(&envp);
	return rc;
}
