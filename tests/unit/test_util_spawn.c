/*
 * test_util_spawn.c - the one local process spawner (util/spawn.c) with
 * real programs: exit codes, death by signal (also when this process
 * blocks or ignores the signal, as a JVM may), environment, working
 * directory, stdin from /dev/null, no leaked descriptors, a large output
 * on both pipes at once without deadlock, cancel stopping the whole
 * group, timeout, a background child holding the pipes, and programs or
 * directories that do not exist. Only POSIX shell syntax is used.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/util.h"

#include "proc_wait.h"

#define BIG_LINES 200000       /* 400 KB a stream, far over a pipe's 64 KB */

typedef struct {
	bk_strv out, err;          /* first lines of each stream */
	size_t n_out, n_err;       /* all lines */
	bool bad_big;              /* a line of the big output was wrong */
	const char *cancel_on;     /* set cancel when stdout shows this line */
	bk_cancel cancel;
} seen;

static void on_line(int stream, const char *line, size_t len, void *payload)
{
	seen *s = payload;
	char *copy = bk_strndup(line, len);

	assert_non_null(copy);
	assert_true(stream == 1 || stream == 2);
	if (stream == 1 && s->cancel_on && strcmp(copy, s->cancel_on) == 0)
		bk_cancel_set(&s->cancel);
	if (stream == 1 ? s->n_out++ < 16 : s->n_err++ < 16)
		assert_int_equal(bk_strv_push(stream == 1 ? &s->out : &s->err, copy), 0);
	if (strcmp(copy, stream == 1 ? "o" : "e") != 0)
		s->bad_big = true;
	free(copy);
}

static void seen_free(seen *s)
{
	bk_strv_free(&s->out);
	bk_strv_free(&s->err);
}

/* Run `/bin/sh -c script` with envp, cwd and timeout. */
static int sh(int *status, seen *s, const char *script, char *const *envp, const char *cwd,
	      double timeout_s)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	bk_spawn_opts o = {"/bin/sh", argv, envp, cwd, &s->cancel, timeout_s, on_line, s};

	return bk_spawn_run(status, &o);
}

static const char *line(const bk_strv *v, size_t i)
{
	return i < v->count ? v->items[i] : "(none)";
}

/* ---- exit status ------------------------------------------------------ */

static void test_spawn__exit_codes(void **state)
{
	seen s = {0};
	int status = -1;

	(void)state;
	assert_int_equal(sh(&status, &s, "exit 0", NULL, NULL, 30), 0);
	assert_int_equal(status, 0);
	assert_int_equal(sh(&status, &s, "echo failing >&2; exit 3", NULL, NULL, 30), 0);
	assert_int_equal(status, 3);
	assert_string_equal(line(&s.err, 0), "failing");
	seen_free(&s);
}

/* A JVM blocks and ignores signals in its threads; the child must not
 * inherit either, or it could not be stopped. The teardown puts ours
 * back even when an assertion fails. */
typedef struct {
	struct sigaction term, pipe;
	sigset_t mask;
} saved_signals;

static int block_and_ignore(void **state)
{
	static saved_signals saved;
	struct sigaction ign = {0};
	sigset_t block;

	ign.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &ign, &saved.term);
	sigaction(SIGPIPE, &ign, &saved.pipe);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &saved.mask);
	*state = &saved;
	return 0;
}

static int restore_signals(void **state)
{
	saved_signals *saved = *state;

	pthread_sigmask(SIG_SETMASK, &saved->mask, NULL);
	sigaction(SIGTERM, &saved->term, NULL);
	sigaction(SIGPIPE, &saved->pipe, NULL);
	return 0;
}

static void test_spawn__signal_is_128_plus_n(void **state)
{
	seen s = {0};
	int status = -1;

	(void)state;
	assert_int_equal(sh(&status, &s, "kill -TERM $$; sleep 5", NULL, NULL, 30), 0);
	assert_int_equal(status, 128 + SIGTERM);
	seen_free(&s);
}

static void test_spawn__signal_defaults_whatever_we_block(void **state)
{
	seen s = {0};
	int status = -1;

	(void)state;
	assert_int_equal(sh(&status, &s, "kill -TERM $$; sleep 5", NULL, NULL, 30), 0);
	assert_int_equal(status, 128 + SIGTERM);
	assert_int_equal(sh(&status, &s, "kill -INT $$; sleep 5", NULL, NULL, 30), 0);
	assert_int_equal(status, 128 + SIGINT);
	seen_free(&s);
}

/* ---- what the child gets ---------------------------------------------- */

static void test_spawn__environment(void **state)
{
	char *envp[] = {"BK_SPAWN_T=hello world", "PATH=/usr/bin:/bin", NULL};
	seen s = {0};
	int status = -1;

	(void)state;
	setenv("BK_SPAWN_PARENT", "inherited", 1);
	assert_int_equal(sh(&status, &s, "echo \"$BK_SPAWN_T\"; echo \"[$BK_SPAWN_PARENT]\"",
			    envp, NULL, 30), 0);
	assert_string_equal(line(&s.out, 0), "hello world");
	assert_string_equal(line(&s.out, 1), "[]");        /* envp replaces ours */
	seen_free(&s);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sh(&status, &s, "echo \"[$BK_SPAWN_PARENT]\"", NULL, NULL, 30), 0);
	assert_string_equal(line(&s.out, 0), "[inherited]");   /* NULL: ours */
	unsetenv("BK_SPAWN_PARENT");
	seen_free(&s);
}

static void test_spawn__working_directory(void **state)
{
	char dir[] = "/tmp/bk-spawn-XXXXXX", real[PATH_MAX], *argv[] = {"pwd", "-P", NULL};
	seen s = {0};
	bk_spawn_opts o = {"pwd", argv, NULL, dir, NULL, 30, on_line, &s};
	int status = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(realpath(dir, real));
	assert_int_equal(bk_spawn_run(&status, &o), 0);     /* found in PATH */
	assert_int_equal(status, 0);
	assert_string_equal(line(&s.out, 0), real);
	rmdir(dir);
	seen_free(&s);
}

/* stdin is /dev/null (cat ends at once, not reading ours); a descriptor
 * this process opened without O_CLOEXEC does not reach the child. */
static void test_spawn__stdin_and_descriptors(void **state)
{
	int fd = open("/dev/null", O_RDONLY), high = fcntl(fd, F_DUPFD, 57);
	seen s = {0};
	int status = -1;
	char script[128];

	(void)state;
	assert_true(high >= 57);
	snprintf(script, sizeof(script),
		 "cat; [ -e /proc/$$/fd/%d ] && echo leaked || echo closed; printf end", high);
	assert_int_equal(sh(&status, &s, script, NULL, NULL, 30), 0);
	assert_int_equal(s.out.count, 2);
	assert_string_equal(line(&s.out, 0), "closed");
	assert_string_equal(line(&s.out, 1), "end");        /* the unfinished last line */
	close(high);
	close(fd);
	seen_free(&s);
}

/* ---- output ------------------------------------------------------------ */

/* All of stderr first, then all of stdout: reading one pipe to its end
 * before the other would block the child for ever (the timeout would end
 * the test). */
static void test_spawn__large_output_on_both_pipes(void **state)
{
	seen s = {0};
	int status = -1;
	char script[160];

	(void)state;
	snprintf(script, sizeof(script), "yes e | head -n %d >&2; yes o | head -n %d", BIG_LINES,
		 BIG_LINES);
	assert_int_equal(sh(&status, &s, script, NULL, NULL, 120), 0);
	assert_int_equal(status, 0);
	assert_int_equal(s.n_out, BIG_LINES);
	assert_int_equal(s.n_err, BIG_LINES);
	assert_false(s.bad_big);
	seen_free(&s);
}

/* ---- stopping it -------------------------------------------------------- */

static pid_t first_pid(const bk_strv *v)
{
	return v->count ? (pid_t)atoi(v->items[0]) : 0;
}

/* The cancel comes from the output callback once the child is known to
 * run; its background grandchild goes too (the whole group is stopped). */
static void test_spawn__cancel_stops_the_group(void **state)
{
	seen s = {0};
	int status = -1;
	double t0 = bk_now();
	pid_t grandchild;

	(void)state;
	s.cancel_on = "started";
	assert_int_equal(sh(&status, &s, "sleep 60 & echo $!; echo started; wait", NULL, NULL, 120),
			 BAKEAMI_ECANCELLED);
	assert_non_null(strstr(bk_err_msg(), "cancelled"));
	assert_true(bk_now() - t0 < 30);
	assert_true(status == 128 + SIGTERM || status == 128 + SIGKILL);
	grandchild = first_pid(&s.out);
	assert_true(grandchild > 0);
	assert_true(process_gone(grandchild, 250));
	seen_free(&s);
}

static void test_spawn__timeout(void **state)
{
	seen s = {0};
	int status = -1;

	(void)state;
	assert_int_equal(sh(&status, &s, "sleep 60", NULL, NULL, 0.2), BAKEAMI_ETIMEOUT);
	assert_non_null(strstr(bk_err_msg(), "/bin/sh did not finish within 0.2s"));
	assert_int_equal(status, 128 + SIGTERM);
	seen_free(&s);
}

/* The child is done but left a background process holding its output:
 * the run ends instead of waiting for that process. */
static void test_spawn__background_child_keeps_pipes(void **state)
{
	seen s = {0};
	int status = -1;
	double t0 = bk_now();
	pid_t bg;

	(void)state;
	assert_int_equal(sh(&status, &s, "sleep 60 & echo $!; exit 5", NULL, NULL, 120), 0);
	assert_int_equal(status, 5);
	assert_true(bk_now() - t0 < 30);
	bg = first_pid(&s.out);
	assert_true(bg > 0);
	kill(bg, SIGKILL);       /* leave nothing behind */
	seen_free(&s);
}

/* ---- what cannot start ------------------------------------------------- */

static void test_spawn__missing_program_or_directory(void **state)
{
	char *argv[] = {"x", NULL};
	seen s = {0};
	bk_spawn_opts abs = {"/nonexistent/bk-no-such-program", argv, NULL, NULL, NULL, 30,
			     on_line, &s};
	bk_spawn_opts path = {"bk-no-such-program", argv, NULL, NULL, NULL, 30, on_line, &s};
	int status = 0;

	(void)state;
	assert_int_equal(bk_spawn_run(&status, &abs), BAKEAMI_EIO);
	assert_int_equal(status, -1);
	assert_non_null(strstr(bk_err_msg(), "cannot run /nonexistent/bk-no-such-program: "));
	assert_non_null(strstr(bk_err_msg(), "No such file"));
	assert_int_equal(bk_spawn_run(&status, &path), BAKEAMI_EIO);
	assert_non_null(strstr(bk_err_msg(), "bk-no-such-program"));
	assert_int_equal(sh(&status, &s, "exit 0", NULL, "/nonexistent/dir", 30), BAKEAMI_EIO);
	assert_non_null(strstr(bk_err_msg(), "in /nonexistent/dir"));
	assert_int_equal(s.out.count + s.err.count, 0);
	seen_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn__exit_codes),
		cmocka_unit_test(test_spawn__signal_is_128_plus_n),
		cmocka_unit_test_setup_teardown(test_spawn__signal_defaults_whatever_we_block,
						block_and_ignore, restore_signals),
		cmocka_unit_test(test_spawn__environment),
		cmocka_unit_test(test_spawn__working_directory),
		cmocka_unit_test(test_spawn__stdin_and_descriptors),
		cmocka_unit_test(test_spawn__large_output_on_both_pipes),
		cmocka_unit_test(test_spawn__cancel_stops_the_group),
		cmocka_unit_test(test_spawn__timeout),
		cmocka_unit_test(test_spawn__background_child_keeps_pipes),
		cmocka_unit_test(test_spawn__missing_program_or_directory),
	};
	return cmocka_run_group_tests_name("util_spawn", tests, NULL, NULL);
}
