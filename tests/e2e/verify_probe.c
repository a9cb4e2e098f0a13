/*
 * verify_probe.c - drives the test stage (native/src/verify) against a
 * real sshd for tests/e2e/test_verify_layer.py.
 *
 *   verify_probe [--phase P] [--template-dir D] [--junit FILE]
 *                [--cancel-after SECONDS] HOST PORT USER KEYFILE TESTS.json
 *
 * Prints one event per line, flushed at once:
 *   VALIDATE <rc> <message>         when bk_verify_validate refuses
 *   CONNECT <rc> <message>
 *   LOG <message>                   the per-check log lines
 *   OUT <stream> <seconds> <line>   Serverspec's live output
 *   TABLE <line>                    bk_test_report_table
 *   JUNIT <rc> <message>
 *   RC <rc> <message>               bk_verify_run
 * and exits with bakeami_exit_code(rc).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bakeami.h"
#include "verify/verify.h"

typedef struct {
	const char *phase, *template_dir, *junit;
	double cancel_after;
	int first;              /* index of HOST */
} options;

typedef struct {
	bk_cancel *cancel;
	double after;
} canceller;

static double t0;

static void on_log(bk_log_level level, const char *msg, void *payload)
{
	(void)level;
	(void)payload;
	printf("LOG %s\n", msg);
	fflush(stdout);
}

static void on_output(int stream, const char *line, size_t len, void *payload)
{
	(void)payload;
	printf("OUT %d %.3f %.*s\n", stream, bk_now() - t0, (int)len, line);
	fflush(stdout);
}

static void on_table(const char *line, void *payload)
{
	(void)payload;
	printf("TABLE %s\n", line);
}

static void *cancel_later(void *arg)
{
	canceller *c = arg;

	usleep((useconds_t)(c->after * 1e6));
	bk_cancel_set(c->cancel);
	return NULL;
}

static int parse_options(options *o, int argc, char **argv)
{
	int i = 1;

	memset(o, 0, sizeof(*o));
	o->phase = "before_image";
	o->template_dir = ".";
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (!strcmp(argv[i], "--phase"))
			o->phase = argv[i + 1];
		else if (!strcmp(argv[i], "--template-dir"))
			o->template_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--junit"))
			o->junit = argv[i + 1];
		else if (!strcmp(argv[i], "--cancel-after"))
			o->cancel_after = atof(argv[i + 1]);
		else
			return -1;
	}
	o->first = i;
	return argc - i == 5 ? 0 : -1;
}

static cJSON *load_tests(const char *path)
{
	char *text = NULL;
	cJSON *tests;

	if (bk_file_read(&text, NULL, path) < 0) {
		printf("VALIDATE %d %s\n", BAKEAMI_EIO, bk_err_msg());
		return NULL;
	}
	tests = cJSON_Parse(text);
	free(text);
	if (!tests)
		printf("VALIDATE %d %s: not JSON\n", BAKEAMI_EINVALID, path);
	return tests;
}

static int run(const options *o, char **argv, const bk_test_plan *tests, bk_ssh_key *key)
{
	bk_cancel cancel = {0};
	bk_logger log = {on_log, NULL};
	bk_ssh_options so = {argv[o->first], atoi(argv[o->first + 1]), argv[o->first + 2], key,
			     20, 0, NULL, &cancel, log, 0, NULL, 0, NULL, 0, NULL, NULL};
	bk_test_report report = {0};
	canceller c = {&cancel, o->cancel_after};
	pthread_t th;
	bk_ssh *ssh = NULL;
	int rc = bk_ssh_connect(&ssh, &so);

	printf("CONNECT %d %s\n", rc, rc ? bk_err_msg() : "ok");
	fflush(stdout);
	if (rc < 0)
		return rc;
	bk_verify_ctx ctx = {ssh, tests, o->template_dir, o->phase, so.host, so.port, so.user,
			     bk_ssh_key_private_pem(key), &cancel, log, on_output, NULL, 0, 0};
	if (o->cancel_after > 0)
		pthread_create(&th, NULL, cancel_later, &c);
	rc = bk_verify_run(&report, &ctx);
	printf("RC %d %s\n", rc, rc ? bk_err_msg() : "ok");
	if (o->cancel_after > 0)
		pthread_join(th, NULL);
	bk_test_report_table(&report, on_table, NULL);
	if (o->junit) {
		int jrc = bk_junit_write(&report, o->junit);
		printf("JUNIT %d %s\n", jrc, jrc ? bk_err_msg() : o->junit);
	}
	fflush(stdout);
	bk_test_report_free(&report);
	bk_ssh_free(ssh);
	return rc;
}

int main(int argc, char **argv)
{
	options o;
	bk_ssh_key *key = NULL;
	cJSON *tests;
	bk_test_plan *plan = NULL;
	int rc;

	t0 = bk_now();
	if (parse_options(&o, argc, argv) < 0) {
		fprintf(stderr, "usage: verify_probe [--phase P] [--template-dir D] [--junit F] "
				"[--cancel-after S] HOST PORT USER KEYFILE TESTS.json\n");
		return 2;
	}
	if (!(tests = load_tests(argv[o.first + 4])))
		return 2;
	if ((rc = bk_verify_parse(&plan, tests, argv[o.first + 4], o.template_dir)) < 0) {
		printf("VALIDATE %d %s\n", rc, bk_err_msg());
		cJSON_Delete(tests);
		return bakeami_exit_code(rc);
	}
	if ((rc = bk_ssh_key_load(&key, argv[o.first + 3])) < 0)
		printf("CONNECT %d %s\n", rc, bk_err_msg());
	else
		rc = run(&o, argv, plan, key);
	bk_ssh_key_free(key);
	bk_test_plan_free(plan);
	cJSON_Delete(tests);
	fflush(stdout);
	return bakeami_exit_code(rc);
}
