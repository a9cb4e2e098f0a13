/*
 * spawn.c - run a local program (rspec) with fork/execve, no shell, in
 * its own process group, streaming each line of its output as it comes,
 * and killing the whole group on cancel or timeout.
 *
 * Many bakes share the process: pipes are O_CLOEXEC so no other bake's
 * child inherits them, and the child calls only async-signal-safe
 * functions between fork and execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "verify_int.h"

#define POLL_MS 100
#define TERM_GRACE_S 3.0      /* SIGTERM, then SIGKILL after this */
#define KILL_GIVE_UP_S 5.0    /* stop reading a group that will not die */
#define LINE_MAX_BYTES 65536
#define MAX_FD_SCAN 65536     /* descriptors marked close-on-exec without close_range */

typedef struct {
	int fd[2];                /* stdout, stderr read ends; -1 once closed */
	bk_buf part[2];           /* unfinished lines */
	const bk_spawn_opts *o;
	pid_t pid;
	double deadline;          /* 0: none */
	double killed_at;         /* 0: not killed */
	int why;                  /* BAKEAMI_ECANCELLED / ETIMEOUT once killed */
} child_io;

/* ---- the child ------------------------------------------------------- */

static void child(const bk_spawn_opts *o, int in, int out, int err, int report, int maxfd)
{
	sigset_t none;
	int e;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);   /* a JVM thread may block signals */
	signal(SIGPIPE, SIG_DFL);                /* an ignored SIGPIPE survives exec */
	if (chdir(o->cwd) == 0 && dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(err, 2) >= 0) {
		/* Descriptors other threads opened without O_CLOEXEC stay ours
		 * (fcntl loop: kernels before 5.11 lack CLOSE_RANGE_CLOEXEC). */
		if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			for (int fd = 3; fd < maxfd; fd++)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
		execve(o->path, o->argv, o->envp);
	}
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* ---- output lines ---------------------------------------------------- */

static void emit(child_io *c, int idx, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (c->o->cb)
		c->o->cb(idx + 1, line, len, c->o->payload);
}

static void emit_complete(child_io *c, int idx)
{
	bk_buf *b = &c->part[idx];
	size_t start = 0;
	char *nl;

	while ((nl = memchr(b->ptr + start, '\n', b->len - start))) {
		emit(c, idx, b->ptr + start, (size_t)(nl - (b->ptr + start)));
		start = (size_t)(nl - b->ptr) + 1;
	}
	if (b->len - start >= LINE_MAX_BYTES) {
		emit(c, idx, b->ptr + start, b->len - start);
		start = b->len;
	}
	memmove(b->ptr, b->ptr + start, b->len - start);
	b->len -= start;
	b->ptr[b->len] = '\0';
}

static void read_ready(child_io *c, int idx)
{
	char buf[8192];
	ssize_t n = read(c->fd[idx], buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (c->part[idx].len)
			emit(c, idx, c->part[idx].ptr, c->part[idx].len);
		bk_buf_clear(&c->part[idx]);
		close(c->fd[idx]);
		c->fd[idx] = -1;
		return;
	}
	if (bk_buf_put(&c->part[idx], buf, (size_t)n) == 0)
		emit_complete(c, idx);
}

/* ---- cancel and timeout ---------------------------------------------- */

static void kill_group(child_io *c, int why, double now)
{
	if (c->killed_at == 0) {
		c->why = why;
		c->killed_at = now;
		kill(-c->pid, SIGTERM);
	} else if (now - c->killed_at > TERM_GRACE_S) {
		kill(-c->pid, SIGKILL);
	}
}

static void watch(child_io *c)
{
	double now = bk_now();

	if (bk_cancelled(c->o->cancel))
		kill_group(c, BAKEAMI_ECANCELLED, now);
	else if (c->deadline > 0 && now > c->deadline)
		kill_group(c, BAKEAMI_ETIMEOUT, now);
	else if (c->killed_at > 0)
		kill_group(c, c->why, now);
}

static void pump(child_io *c)
{
	while (c->fd[0] >= 0 || c->fd[1] >= 0) {
		struct pollfd p[2] = {{c->fd[0], POLLIN, 0}, {c->fd[1], POLLIN, 0}};
		if (poll(p, 2, POLL_MS) > 0)
			for (int i = 0; i < 2; i++)
				if (c->fd[i] >= 0 && p[i].revents)
					read_ready(c, i);
		watch(c);
		/* A grandchild that left the group may hold the pipes forever. */
		if (c->killed_at > 0 && bk_now() - c->killed_at > KILL_GIVE_UP_S)
			break;
	}
}

static int reap(child_io *c)
{
	int st = 0;

	for (;;) {
		pid_t w = waitpid(c->pid, &st, WNOHANG);
		if (w == c->pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		watch(c);
		poll(NULL, 0, 20);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* ---- start ----------------------------------------------------------- */

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* The child writes errno to this pipe if execve fails; EOF means it ran. */
static int exec_result(int fd)
{
	int e = 0;
	ssize_t n;

	while ((n = read(fd, &e, sizeof(e))) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(e) ? e : 0;
}

static int start(child_io *c, const bk_spawn_opts *o)
{
	int p[7] = {-1, -1, -1, -1, -1, -1, -1}, e;   /* out r/w, err r/w, report r/w, null */
	long open_max = sysconf(_SC_OPEN_MAX);
	int maxfd = open_max > 0 && open_max < MAX_FD_SCAN ? (int)open_max : MAX_FD_SCAN;

	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(p + 2, O_CLOEXEC) < 0 || pipe2(p + 4, O_CLOEXEC) < 0 ||
	    (p[6] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		close_all(p, 7);
		return bk_err(BAKEAMI_ERROR, "cannot start %s: %s", o->path, strerror(e));
	}
	if ((c->pid = fork()) == 0)
		child(o, p[6], p[1], p[3], p[5], maxfd);
	e = errno;
	close_all(p + 1, 1);
	close_all(p + 3, 1);
	close_all(p + 5, 2);
	if (c->pid < 0) {
		close_all(p, 5);
		return bk_err(BAKEAMI_ERROR, "cannot start %s: fork: %s", o->path, strerror(e));
	}
	setpgid(c->pid, c->pid);   /* also here: no window where a kill misses it */
	e = exec_result(p[4]);
	close_all(p + 4, 1);
	c->fd[0] = p[0];
	c->fd[1] = p[2];
	if (e == 0)
		return 0;
	close_all(c->fd, 2);
	waitpid(c->pid, NULL, 0);
	return bk_err(BAKEAMI_ERROR, "cannot run %s in %s: %s", o->path, o->cwd, strerror(e));
}

int bk_spawn_run(int *status, const bk_spawn_opts *o)
{
	child_io c = {{-1, -1}, {BK_BUF_INIT, BK_BUF_INIT}, o, -1, 0, 0, 0};
	int rc;

	*status = -1;
	c.deadline = o->timeout_s > 0 ? bk_now() + o->timeout_s : 0;
	if ((rc = start(&c, o)) < 0)
		return rc;
	pump(&c);
	close_all(c.fd, 2);
	*status = reap(&c);
	bk_buf_free(&c.part[0]);
	bk_buf_free(&c.part[1]);
	if (c.why == BAKEAMI_ECANCELLED)
		return bk_err(BAKEAMI_ECANCELLED, "cancelled: stopped %s", o->path);
	if (c.why == BAKEAMI_ETIMEOUT)
		return bk_err(BAKEAMI_ETIMEOUT, "%s did not finish within %gs", o->path, o->timeout_s);
	return *status < 0 ? bk_err(BAKEAMI_ERROR, "lost track of %s", o->path) : 0;
}
