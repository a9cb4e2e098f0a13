/*
 * spawn.c - run a local program with its output streamed line by line
 * (see util.h). posix_spawn, not fork: a forked child of a multi-threaded
 * JVM may only call async-signal-safe functions until it execs, and
 * glibc's posix_spawn reports a failed chdir or exec back to us as an
 * error instead of a child exiting 127.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

#define POLL_MS 100
#define READ_CHUNK 8192
#define TERM_GRACE_S 2.0      /* SIGTERM, then SIGKILL after this */
#define DRAIN_S 1.0           /* output a background grandchild keeps open */

typedef struct {
	const bk_spawn_opts *o;
	pid_t pid;
	int fd[2];                /* stdout, stderr read ends; -1 at EOF */
	bk_lines lines[2];
	double deadline;          /* 0: none */
	double exited_at;         /* 0: not reaped yet */
	double stopped_at;        /* 0: not signalled */
	int status;
	int why;                  /* why it was stopped: ECANCELLED, ETIMEOUT, ENOMEM */
} child;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- start ----------------------------------------------------------- */

static int file_actions(posix_spawn_file_actions_t *fa, const char *cwd, int out_w, int err_w)
{
	int rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);

	rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out_w, 1);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, err_w, 2);
	/* Descriptors other threads opened without O_CLOEXEC stay ours. */
	rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(fa, 3);
	return rc ? rc : cwd ? posix_spawn_file_actions_addchdir_np(fa, cwd) : 0;
}

/* Its own process group, so a stop reaches its children too; no blocked
 * signals and default dispositions whatever the host changed (an ignored
 * SIGPIPE, for one, survives exec). */
static int attributes(posix_spawnattr_t *attr)
{
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				      POSIX_SPAWN_SETSIGDEF);
	rc = rc ? rc : posix_spawnattr_setpgroup(attr, 0);
	rc = rc ? rc : posix_spawnattr_setsigmask(attr, &none);
	return rc ? rc : posix_spawnattr_setsigdefault(attr, &all);
}

/* 0 or an errno value. */
static int spawn_with(child *c, int out_w, int err_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc;

	if (posix_spawn_file_actions_init(&fa))
		return ENOMEM;
	if (posix_spawnattr_init(&attr)) {
		posix_spawn_file_actions_destroy(&fa);
		return ENOMEM;
	}
	rc = file_actions(&fa, c->o->cwd, out_w, err_w);
	rc = rc ? rc : attributes(&attr);
	rc = rc ? rc : posix_spawnp(&c->pid, c->o->path, &fa, &attr, c->o->argv,
				    c->o->envp ? c->o->envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

static int start(child *c)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, rc;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		rc = errno;
	else
		rc = spawn_with(c, out[1], err[1]);
	/* Our copies of the write ends must go, or we never see EOF. */
	close_fd(&out[1]);
	close_fd(&err[1]);
	c->fd[0] = out[0];
	c->fd[1] = err[0];
	if (rc == 0)
		return 0;
	close_fd(&c->fd[0]);
	close_fd(&c->fd[1]);
	if (rc == ENOMEM)
		return bk_oom();
	if (c->o->cwd)
		return bk_err(BAKEAMI_EIO, "cannot run %s in %s: %s", c->o->path, c->o->cwd,
			      strerror(rc));
	return bk_err(BAKEAMI_EIO, "cannot run %s: %s", c->o->path, strerror(rc));
}

/* ---- watch ----------------------------------------------------------- */

static void reap(child *c, int flags)
{
	int st = 0;
	pid_t w;

	if (c->exited_at > 0)
		return;
	while ((w = waitpid(c->pid, &st, flags)) < 0 && errno == EINTR)
		;
	if (w == 0)
		return;
	c->exited_at = bk_now();
	/* w < 0: a host that ignores SIGCHLD had it reaped for us. */
	c->status = w < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st)
		  : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* SIGTERM to the group first, SIGKILL once the grace is over. The group
 * is only signalled while its leader is unreaped: after that its id may
 * belong to someone else. */
static void stop(child *c, int why)
{
	double now = bk_now();

	if (c->exited_at > 0)
		return;
	if (c->stopped_at == 0) {
		c->why = why;
		c->stopped_at = now;
		kill(-c->pid, SIGTERM);
	} else if (now - c->stopped_at > TERM_GRACE_S) {
		kill(-c->pid, SIGKILL);
	}
}

static void watch(child *c)
{
	if (bk_cancelled(c->o->cancel))
		stop(c, BAKEAMI_ECANCELLED);
	else if (c->deadline > 0 && bk_now() >= c->deadline)
		stop(c, BAKEAMI_ETIMEOUT);
	else if (c->stopped_at > 0)
		stop(c, c->why);
}

/* Both pipes at once: a child that fills one while we wait on the other
 * would block for ever. */
static void read_ready(child *c)
{
	struct pollfd p[2] = {{c->fd[0], POLLIN, 0}, {c->fd[1], POLLIN, 0}};
	char buf[READ_CHUNK];

	if (poll(p, 2, POLL_MS) <= 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] < 0 || !p[i].revents)
			continue;
		ssize_t n = read(c->fd[i], buf, sizeof(buf));
		if (n > 0 && bk_lines_feed(&c->lines[i], buf, (size_t)n) < 0)
			stop(c, BAKEAMI_ENOMEM);
		else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			close_fd(&c->fd[i]);
	}
}

static void pump(child *c)
{
	while (c->fd[0] >= 0 || c->fd[1] >= 0) {
		read_ready(c);
		reap(c, WNOHANG);
		watch(c);
		if (c->exited_at > 0 && bk_now() - c->exited_at > DRAIN_S)
			break;
	}
}

/* The child closed its output but may still run. */
static void wait_exit(child *c)
{
	for (reap(c, WNOHANG); c->exited_at == 0; reap(c, WNOHANG)) {
		watch(c);
		poll(NULL, 0, 20);
	}
}

static int outcome(const child *c)
{
	if (c->why == BAKEAMI_ECANCELLED)
		return bk_err(BAKEAMI_ECANCELLED, "cancelled: stopped %s", c->o->path);
	if (c->why == BAKEAMI_ETIMEOUT)
		return bk_err(BAKEAMI_ETIMEOUT, "%s did not finish within %gs", c->o->path,
			      c->o->timeout_s);
	if (c->why == BAKEAMI_ENOMEM)
		return bk_oom();
	return c->status < 0 ? bk_err(BAKEAMI_ERROR, "lost track of %s", c->o->path) : 0;
}

int bk_spawn_run(int *status, const bk_spawn_opts *o)
{
	child c = {o, -1, {-1, -1}, {BK_LINES_INIT(1, o->cb, o->payload),
				     BK_LINES_INIT(2, o->cb, o->payload)}, 0, 0, 0, -1, 0};
	int rc;

	*status = -1;
	c.deadline = o->timeout_s > 0 ? bk_now() + o->timeout_s : 0;
	if ((rc = start(&c)) < 0)
		return rc;
	pump(&c);
	bk_lines_finish(&c.lines[0]);
	bk_lines_finish(&c.lines[1]);
	close_fd(&c.fd[0]);
	close_fd(&c.fd[1]);
	wait_exit(&c);
	*status = c.status;
	return outcome(&c);
}
