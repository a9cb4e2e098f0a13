/*
 * exec.c - run a command on the instance and hand each line of its
 * stdout and stderr to a callback the moment it arrives (Jenkins shows
 * provisioning live), then collect the exit status.
 *
 * Commands are never logged or put in error messages: they may carry
 * environment_vars with secrets.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ssh_internal.h"

#define READ_CHUNK 16384
#define ABANDON_GRACE_S 0.3      /* cancel must return well within 1s */

/* ---- channel steps -------------------------------------------------- */

static int fail_wait(bk_ssh *s, int w, double timeout_s)
{
	if (w == BAKEAMI_ECANCELLED)
		return bk_err(w, "cancelled while running a command on %s:%d", s->host, s->port);
	return bk_err(w, "command on %s:%d timed out after %gs", s->host, s->port, timeout_s);
}

static int open_channel(bk_ssh *s, LIBSSH2_CHANNEL **ch, double deadline, double timeout_s)
{
	int w;

	while (!(*ch = libssh2_channel_open_session(s->session))) {
		int err = libssh2_session_last_errno(s->session);
		if (err != LIBSSH2_ERROR_EAGAIN) {
			if (bk_ssh__is_drop(err))
				return bk_ssh__drop(s, "opening a channel");
			return bk_err(BAKEAMI_ESSH, "cannot open an SSH channel to %s:%d: %s",
				      s->host, s->port, bk_ssh__errmsg(s));
		}
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	}
	return 0;
}

/* Packer's ssh_pty: an xterm of 80x40 with echo off (RFC 4254 terminal
 * modes: ECHO=0, then TTY_OP_END), so what the command prints is all that
 * comes back; stderr then arrives on stdout, as on a terminal. */
static int request_pty(bk_ssh *s, LIBSSH2_CHANNEL *ch, double deadline, double timeout_s)
{
	static const char modes[] = {53, 0, 0, 0, 0, 0};
	int rc, w;

	while ((rc = libssh2_channel_request_pty_ex(ch, "xterm", 5, modes, sizeof(modes), 80, 40,
						    0, 0)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	if (rc == 0)
		return 0;
	if (bk_ssh__is_drop(rc))
		return bk_ssh__drop(s, "asking for a terminal");
	return bk_err(BAKEAMI_ESSH, "%s:%d refused a terminal (ssh_pty): %s", s->host, s->port,
		      bk_ssh__errmsg(s));
}

static int start_command(bk_ssh *s, LIBSSH2_CHANNEL *ch, const char *cmd, double deadline,
			 double timeout_s)
{
	int rc, w;

	while ((rc = libssh2_channel_exec(ch, cmd)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	if (rc == 0)
		return 0;
	if (bk_ssh__is_drop(rc))
		return bk_ssh__drop(s, "starting a command");
	return bk_err(BAKEAMI_ESSH, "cannot start a command on %s:%d: %s", s->host, s->port,
		      bk_ssh__errmsg(s));
}

static int input_error(bk_ssh *s, int rc)
{
	if (bk_ssh__is_drop(rc) || rc == LIBSSH2_ERROR_CHANNEL_CLOSED)
		return bk_ssh__drop(s, "sending a command its input");
	return bk_err(BAKEAMI_ESSH, "sending a command its input on %s:%d: %s", s->host, s->port,
		      bk_ssh__errmsg(s));
}

/* Inputs are small (a check's shell code, read whole by the command before
 * it prints anything), so writing all of it before reading cannot stall. */
static int send_input(bk_ssh *s, LIBSSH2_CHANNEL *ch, const char *input, double deadline,
		      double timeout_s)
{
	size_t len = strlen(input), off = 0;
	ssize_t n = 0;
	int w;

	while (off < len || (n = libssh2_channel_send_eof(ch)) != 0) {
		if (off < len && (n = libssh2_channel_write(ch, input + off, len - off)) >= 0) {
			off += (size_t)n;
			continue;
		}
		if (n != LIBSSH2_ERROR_EAGAIN)
			return input_error(s, (int)n);
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	}
	return 0;
}

/* Read one chunk of a stream: 1 data, 0 none now, <0 libssh2 error. */
static int read_chunk(LIBSSH2_CHANNEL *ch, bk_lines *lines, int idx)
{
	char buf[READ_CHUNK];
	ssize_t n = libssh2_channel_read_ex(ch, idx, buf, sizeof(buf));

	if (n > 0)
		return bk_lines_feed(&lines[idx], buf, (size_t)n) < 0 ? bk_oom() : 1;
	return n == 0 || n == LIBSSH2_ERROR_EAGAIN ? 0 : (int)n;
}

/* A keepalive when one is due; its failure means the link is gone. */
static int keepalive(bk_ssh *s)
{
	int next = 0, rc = libssh2_keepalive_send(s->session, &next);

	return rc == 0 || rc == LIBSSH2_ERROR_EAGAIN ? 0 : rc;
}

static int pump_error(bk_ssh *s, int rc)
{
	if (rc == BAKEAMI_ENOMEM)
		return rc;
	if (bk_ssh__is_drop(rc) || rc == LIBSSH2_ERROR_CHANNEL_CLOSED)
		return bk_ssh__drop(s, "running a command");
	return bk_err(BAKEAMI_ESSH, "reading command output from %s:%d: %s", s->host, s->port,
		      bk_ssh__errmsg(s));
}

/* Stream output until the remote end sends EOF. */
static int pump(bk_ssh *s, LIBSSH2_CHANNEL *ch, bk_lines *lines, double deadline,
		double timeout_s)
{
	for (;;) {
		int out = read_chunk(ch, lines, 0), err = out < 0 ? 0 : read_chunk(ch, lines, 1), w;
		if (out < 0 || err < 0)
			return pump_error(s, out < 0 ? out : err);
		if (out > 0 || err > 0)
			continue;
		if (libssh2_channel_eof(ch))
			return 0;
		if ((w = keepalive(s)) < 0)
			return pump_error(s, w);
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	}
}

static int signal_number(const char *name)
{
	static const struct { const char *name; int num; } sigs[] = {
		{"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"FPE", SIGFPE}, {"HUP", SIGHUP},
		{"ILL", SIGILL}, {"INT", SIGINT}, {"KILL", SIGKILL}, {"PIPE", SIGPIPE},
		{"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
		{"USR2", SIGUSR2}};

	for (size_t i = 0; i < BK_ARRAY_SIZE(sigs); i++)
		if (strcmp(name, sigs[i].name) == 0)
			return sigs[i].num;
	return 0;
}

/* A command killed by a signal reports 128+N, as a shell would. */
static int exit_status(bk_ssh *s, LIBSSH2_CHANNEL *ch)
{
	char *sig = NULL;
	size_t len = 0;
	int status = libssh2_channel_get_exit_status(ch);

	if (libssh2_channel_get_exit_signal(ch, &sig, &len, NULL, NULL, NULL, NULL) == 0 && sig) {
		bk_logf(&s->log, BK_LOG_INFO, "remote command killed by signal %s", sig);
		status = 128 + signal_number(sig);
		libssh2_free(s->session, sig);
	}
	return status;
}

/* Close after EOF; the exit status is only certain once closed. */
static int finish(bk_ssh *s, LIBSSH2_CHANNEL *ch, int *status, double deadline, double timeout_s)
{
	int rc, w;

	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	while (rc == 0 && (rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((w = bk_ssh__wait(s, deadline)) < 0)
			return fail_wait(s, w, timeout_s);
	if (rc < 0)
		return pump_error(s, rc);
	*status = exit_status(s, ch);
	return 0;
}

/* Free the channel, trying to close it for a short while only: on cancel
 * or timeout the remote end may never answer. If it stays busy, libssh2
 * frees it with the session. */
static void channel_release(bk_ssh *s, LIBSSH2_CHANNEL *ch)
{
	double until = bk_now() + ABANDON_GRACE_S;

	if (!s->alive)
		shutdown(s->sock, SHUT_RDWR);
	while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN && bk_now() < until)
		bk_ssh__nap(s);
}

int bk_ssh_exec(int *exit_status_out, bk_ssh *s, const char *cmd, double timeout_s,
		bk_ssh_line_cb cb, void *payload)
{
	return bk_ssh_exec_input(exit_status_out, s, cmd, NULL, timeout_s, cb, payload);
}

int bk_ssh_exec_input(int *exit_status_out, bk_ssh *s, const char *cmd, const char *input,
		      double timeout_s, bk_ssh_line_cb cb, void *payload)
{
	bk_lines lines[2] = {BK_LINES_INIT(1, cb, payload), BK_LINES_INIT(2, cb, payload)};
	double deadline = timeout_s > 0 ? bk_now() + timeout_s : 0;
	LIBSSH2_CHANNEL *ch = NULL;
	int rc;

	*exit_status_out = -1;
	if (!bk_ssh_connected(s))
		return bk_err(BAKEAMI_ESSH, "not connected to %s:%d", s ? s->host : "?",
			      s ? s->port : 0);
	rc = open_channel(s, &ch, deadline, timeout_s);
	/* Input goes to a pipe: a terminal would echo it and never see its end. */
	if (rc == 0 && s->pty && !input)
		rc = request_pty(s, ch, deadline, timeout_s);
	rc = rc ? rc : start_command(s, ch, cmd, deadline, timeout_s);
	if (rc == 0 && input)
		rc = send_input(s, ch, input, deadline, timeout_s);
	rc = rc ? rc : pump(s, ch, lines, deadline, timeout_s);
	bk_lines_finish(&lines[0]);
	bk_lines_finish(&lines[1]);
	rc = rc ? rc : finish(s, ch, exit_status_out, deadline, timeout_s);
	if (ch)
		channel_release(s, ch);
	return rc;
}

void bk_ssh_set_pty(bk_ssh *s, bool on)
{
	if (s)
		s->pty = on;
}
