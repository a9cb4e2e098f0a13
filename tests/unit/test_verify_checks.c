/*
 * test_verify_checks.c - the native checks without SSH: the generated
 * commands (quoted, injection-proof, actually run through sh here) and the
 * judges on recorded output of Debian, Ubuntu, RHEL, Amazon Linux, CentOS 7
 * and minimal images (the .out files in tests/unit/samples/verify/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "verify/verify.h"
#include "verify/verify_int.h"

#define SAMPLES "tests/unit/samples/verify/"

/* ---- helpers ------------------------------------------------------------ */

static char *read_sample(const char *name)
{
	char *path = bk_sprintf(SAMPLES "%s", name), *text = NULL;

	if (bk_file_read(&text, NULL, path) < 0)
		fail_msg("cannot read sample %s (run from the repository root): %s", path,
			 bk_err_msg());
	free(path);
	return text;
}

/* One check read by bk_verify_parse, as a bake reads it; NULL (message
 * set, its code in *rc) when refused. */
static bk_test_plan *try_parse(const char *check_json, int *rc)
{
	char *json = bk_sprintf("{\"checks\": [%s]}", check_json);
	cJSON *tests = cJSON_Parse(json);
	bk_test_plan *plan = NULL;

	if (!tests)
		fail_msg("bad JSON in the test: %s", check_json);
	*rc = bk_verify_parse(&plan, tests, "t.json", ".");
	cJSON_Delete(tests);
	free(json);
	return plan;
}

static bk_test_plan *parse_check(const char *check_json)
{
	int rc;
	bk_test_plan *plan = try_parse(check_json, &rc);

	if (!plan)
		fail_msg("refused: %s\n  %s", check_json, bk_err_msg());
	assert_int_equal(plan->checks_count, 1);
	return plan;
}

/* "<status>: <message>" for a check judged on out/err/status. */
static char *judge_text(const char *check_json, const char *out, const char *err, int status)
{
	bk_test_plan *plan = parse_check(check_json);
	bk_check_output o = {out, strlen(out), err, strlen(err), status};
	bk_verdict v = BK_VERDICT_INIT;
	static const char *const names[] = {"passed", "failed", "error", "skipped"};
	char *s;

	assert_int_equal(bk_check_judge(&v, &plan->checks[0], &o), 0);
	s = bk_sprintf("%s: %s", names[v.status], v.why.ptr ? v.why.ptr : "");
	bk_verdict_free(&v);
	bk_test_plan_free(plan);
	return s;
}

static void expect_sample(const char *check_json, const char *sample, const char *want)
{
	char *out = read_sample(sample), *got = judge_text(check_json, out, "", 0);

	if (strcmp(got, want) != 0)
		fail_msg("%s on %s:\n  got:  %s\n  want: %s", check_json, sample, got, want);
	free(got);
	free(out);
}

static void expect_output(const char *check_json, const char *out, const char *err, int status,
			  const char *want)
{
	char *got = judge_text(check_json, out, err, status);

	if (strcmp(got, want) != 0)
		fail_msg("%s:\n  got:  %s\n  want: %s", check_json, got, want);
	free(got);
}

static char *command_for(const char *check_json)
{
	bk_test_plan *plan = parse_check(check_json);
	char *cmd = bk_check_command(&plan->checks[0]);

	assert_non_null(cmd);
	bk_test_plan_free(plan);
	return cmd;
}

/* A check bk_verify_parse would refuse (its subject is no name): the
 * command must quote the subject all the same. */
static char *command_unchecked(const bk_check_type *t, const char *subject)
{
	bk_check c;
	char *cmd;

	bk_check_init(&c, t);
	c.subject = bk_strdup(subject);
	cmd = bk_check_command(&c);
	assert_non_null(cmd);
	bk_check_free(&c);
	return cmd;
}

/* Run a command through sh, as sshd would; its stdout, or NULL. */
/* Runs a check's code as the instance does: BK_CHECK_SHELL reading it on stdin. */
static char *run_sh(const char *cmd)
{
	char input[64], *shell;
	bk_buf b = BK_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *p;

	snprintf(input, sizeof(input), "/tmp/bakeami-check-code-%d", (int)getpid());
	assert_int_equal(bk_file_write(input, cmd, strlen(cmd), 0600), 0);
	shell = bk_sprintf("%s <%s", BK_CHECK_SHELL, input);
	assert_non_null(p = popen(shell, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		bk_buf_put(&b, chunk, n);
	pclose(p);
	unlink(input);
	free(shell);
	return bk_buf_detach(&b);
}

/* ---- quoting and injection ----------------------------------------------- */

static void test_quote__single_quotes_escaped(void **state)
{
	bk_buf b = BK_BUF_INIT;

	(void)state;
	assert_int_equal(bk_sh_quote(&b, "x'; rm -rf / #"), 0);
	assert_string_equal(b.ptr, "'x'\\''; rm -rf / #'");
	bk_buf_clear(&b);
	assert_int_equal(bk_sh_quote(&b, ""), 0);
	assert_string_equal(b.ptr, "''");
	bk_buf_free(&b);
}

static const char *const NASTY[] = {
	"x'; touch %s; #",
	"$(touch %s)",
	"`touch %s`",
	"x\"; touch %s; \"",
	"x\ntouch %s",
	"x' \"'\" '; touch %s #",
	"\\'; touch %s; echo '",
};

/* The values arrive in the script exactly as given, and nothing runs. */
static void test_quote__values_reach_sh_intact(void **state)
{
	char pwned[64], out[64];

	(void)state;
	snprintf(pwned, sizeof(pwned), "/tmp/bakeami-pwned-%d", (int)getpid());
	snprintf(out, sizeof(out), "/tmp/bakeami-arg-%d", (int)getpid());
	for (size_t i = 0; i < BK_ARRAY_SIZE(NASTY); i++) {
		char *value = bk_sprintf(NASTY[i], pwned), *got = NULL;
		const char *args[] = {value, out};
		bk_buf cmd = BK_BUF_INIT;

		assert_int_equal(bk_sh_script(&cmd, "printf '%s' \"$1\" > \"$2\"\n", args, 2), 0);
		free(run_sh(cmd.ptr));
		assert_int_equal(bk_file_read(&got, NULL, out), 0);
		assert_string_equal(got, value);
		assert_int_not_equal(access(pwned, F_OK), 0);
		free(got);
		free(value);
		bk_buf_free(&cmd);
	}
	unlink(out);
}

/* Every check type with a hostile subject: the command carries it quoted,
 * and running the command here creates nothing. */
static void test_commands__every_type_quotes_its_subject(void **state)
{
	static const char *const types[] = {"package", "service", "file", "user", "group",
					    "process", "kernel_param", "http"};
	char pwned[64];

	(void)state;
	snprintf(pwned, sizeof(pwned), "/tmp/bakeami-pwned-%d", (int)getpid());
	for (size_t t = 0; t < BK_ARRAY_SIZE(types); t++) {
		for (size_t i = 0; i < BK_ARRAY_SIZE(NASTY); i++) {
			char *value = bk_sprintf(NASTY[i], pwned);
			bk_buf quoted = BK_BUF_INIT;
			char *cmd = command_unchecked(bk_check_type_find(types[t]), value);

			bk_sh_quote(&quoted, value);
			if (!strstr(cmd, quoted.ptr))
				fail_msg("%s: %s not in the command", types[t], quoted.ptr);
			assert_true(bk_str_starts(cmd, "sh -c '"));
			free(run_sh(cmd));
			if (access(pwned, F_OK) == 0) {
				unlink(pwned);
				fail_msg("%s check with %s ran an injected command", types[t], value);
			}
			free(cmd);
			bk_buf_free(&quoted);
			free(value);
		}
	}
}

/* The issue's example value, for every type whose subject is data (not a
 * port, nor a command, which is shell code by design): quoted, never run here. */
static void test_commands__rm_rf_value_is_one_quoted_word(void **state)
{
	static const char word[] = "'x'\\''; rm -rf / #'";
	size_t n;
	const bk_check_type *const *types = bk_check_types(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char *cmd, *at;

		if (types[i]->subject == BK_SUBJ_PORT || types[i]->subject == BK_SUBJ_COMMAND)
			continue;
		cmd = command_unchecked(types[i], "x'; rm -rf / #");
		at = strstr(cmd, word);
		if (!at)
			fail_msg("%s: %s", types[i]->type, cmd);
		/* The value appears once, as that quoted word, nowhere else. */
		assert_true(strstr(cmd, "rm -rf / #") > at);
		assert_null(strstr(at + strlen(word), "rm -rf / #"));
		free(cmd);
	}
}

static void test_commands__port_and_options(void **state)
{
	char *cmd;

	(void)state;
	cmd = command_for("{\"port\": 8080, \"listening\": true}");
	assert_true(bk_str_ends(cmd, " bakeami-check '8080'"));
	assert_non_null(strstr(cmd, "ss -H -ltun"));
	assert_non_null(strstr(cmd, "netstat -ltun"));
	free(cmd);
	cmd = command_for("{\"http\": \"https://localhost/\", \"status\": 200, \"insecure\": true, "
			  "\"follow_redirects\": true, \"timeout\": 7}");
	assert_true(bk_str_ends(cmd, " bakeami-check 'https://localhost/' 'kf' '7'"));
	free(cmd);
	cmd = command_for("{\"file\": \"/etc/a b\", \"contains\": \"x\", \"sha256\": "
			  "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}");
	assert_true(bk_str_ends(cmd, " bakeami-check '/etc/a b' 'cs'"));
	free(cmd);
	cmd = command_for("{\"file\": \"/etc/hosts\", \"mode\": \"0644\"}");
	assert_true(bk_str_ends(cmd, " bakeami-check '/etc/hosts' ''"));
	free(cmd);
}

/* The user's command is shell code by design: it runs as written, in sh,
 * with its stdin at EOF (it reads nothing of ours). */
static void test_commands__command_runs_as_written(void **state)
{
	char *cmd, *out;

	(void)state;
	cmd = command_for("{\"command\": \"printf '%s|' \\\"it's\\\" $((1+2)); "
			  "cat; read x || echo eof\", \"exit_status\": 0}");
	assert_string_equal(cmd, "printf '%s|' \"it's\" $((1+2)); cat; read x || echo eof");
	out = run_sh(cmd);
	assert_string_equal(out, "it's|3|eof\n");
	free(out);
	free(cmd);
}

/* Real local runs of the generated scripts: they speak the protocol. */
static void test_commands__scripts_run_locally(void **state)
{
	char *cmd = command_for("{\"kernel_param\": \"kernel.ostype\", \"value\": \"Linux\"}");
	char *out = run_sh(cmd), *got;

	(void)state;
	assert_true(bk_str_starts(out, "bk=1\n"));
	got = judge_text("{\"kernel_param\": \"kernel.ostype\", \"value\": \"Linux\"}", out, "", 0);
	assert_string_equal(got, "passed: ");
	free(got);
	free(out);
	free(cmd);
	cmd = command_for("{\"user\": \"root\", \"uid\": 0}");
	out = run_sh(cmd);
	got = judge_text("{\"user\": \"root\", \"uid\": 0}", out, "", 0);
	assert_string_equal(got, "passed: ");
	free(got);
	free(out);
	free(cmd);
}

/* ---- package ---------------------------------------------------------------- */

static void test_package__debian_dpkg(void **state)
{
	(void)state;
	expect_sample("{\"package\": \"nginx\", \"installed\": true}",
		      "package-debian12-installed.out", "passed: ");
	expect_sample("{\"package\": \"nginx\", \"version\": \"1.22.1\"}",
		      "package-debian12-installed.out", "passed: ");
	expect_sample("{\"package\": \"nginx\", \"version\": \"1.22\"}",
		      "package-debian12-installed.out", "passed: ");
	expect_sample("{\"package\": \"nginx\", \"version\": \"1.2\"}",
		      "package-debian12-installed.out",
		      "failed: package nginx: expected version 1.2, found version 1.22.1-9");
	expect_sample("{\"package\": \"nginx\", \"installed\": false}",
		      "package-debian12-installed.out",
		      "failed: package nginx: expected not installed, found installed (version 1.22.1-9)");
	expect_sample("{\"package\": \"nginx\", \"installed\": true}",
		      "package-debian12-missing.out",
		      "failed: package nginx: expected installed, found not installed");
	expect_sample("{\"package\": \"nginx\", \"installed\": false}",
		      "package-debian12-missing.out", "passed: ");
}

/* Removed but not purged: dpkg-query succeeds, yet nothing is installed. */
static void test_package__debian_config_files_is_not_installed(void **state)
{
	(void)state;
	expect_sample("{\"package\": \"nginx\", \"installed\": true}",
		      "package-debian12-config-files.out",
		      "failed: package nginx: expected installed, found not installed "
		      "(dpkg status \"deinstall ok config-files\")");
	expect_sample("{\"package\": \"nginx\", \"version\": \"1.22.1\"}",
		      "package-debian12-config-files.out",
		      "failed: package nginx: expected version 1.22.1, found not installed "
		      "(dpkg status \"deinstall ok config-files\")");
}

static void test_package__epoch(void **state)
{
	(void)state;
	expect_sample("{\"package\": \"openssh-server\", \"version\": \"8.9p1\"}",
		      "package-ubuntu22-epoch.out", "passed: ");
	expect_sample("{\"package\": \"openssh-server\", \"version\": \"1:8.9p1-3ubuntu0.10\"}",
		      "package-ubuntu22-epoch.out", "passed: ");
	expect_sample("{\"package\": \"openssh-server\", \"version\": \"2:8.9p1\"}",
		      "package-ubuntu22-epoch.out",
		      "failed: package openssh-server: expected version 2:8.9p1, found version "
		      "1:8.9p1-3ubuntu0.10");
}

static void test_package__rhel_rpm(void **state)
{
	(void)state;
	expect_sample("{\"package\": \"nginx\", \"installed\": true, \"version\": \"1.20.1\"}",
		      "package-rhel9-installed.out", "passed: ");
	expect_sample("{\"package\": \"nginx\", \"version\": \"1.20.2\"}",
		      "package-rhel9-installed.out",
		      "failed: package nginx: expected version 1.20.2, found version 1.20.1-14.el9_2.1");
	expect_sample("{\"package\": \"nginx\", \"installed\": true}", "package-rhel9-missing.out",
		      "failed: package nginx: expected installed, found not installed");
	/* Several kernels installed: any one matching will do. */
	expect_sample("{\"package\": \"kernel\", \"version\": \"6.1.79\"}",
		      "package-al2023-kernel-multi.out", "passed: ");
	expect_sample("{\"package\": \"kernel\", \"version\": \"6.2\"}",
		      "package-al2023-kernel-multi.out",
		      "failed: package kernel: expected version 6.2, found version "
		      "6.1.72-96.166.amzn2023, 6.1.79-99.164.amzn2023");
}

static void test_package__both_managers_and_none(void **state)
{
	(void)state;
	expect_sample("{\"package\": \"nginx\", \"installed\": true}",
		      "package-debian-with-rpm-tool.out", "passed: ");
	expect_sample("{\"package\": \"nginx\", \"installed\": true}", "package-none.out",
		      "failed: package nginx: expected installed, found no package manager (dpkg or rpm)");
}

/* ---- service ---------------------------------------------------------------- */

static void test_service__systemd(void **state)
{
	(void)state;
	expect_sample("{\"service\": \"nginx\", \"running\": true, \"enabled\": true}",
		      "service-systemd-active-enabled.out", "passed: ");
	expect_sample("{\"service\": \"nginx\", \"running\": true, \"enabled\": true}",
		      "service-systemd-failed-disabled.out",
		      "failed: service nginx: expected running, found failed; "
		      "expected enabled, found disabled");
	expect_sample("{\"service\": \"nginx\", \"running\": false}",
		      "service-systemd-active-enabled.out",
		      "failed: service nginx: expected not running, found active");
	expect_sample("{\"service\": \"nginx\", \"running\": true}",
		      "service-systemd-inactive-static.out",
		      "failed: service nginx: expected running, found inactive");
	expect_sample("{\"service\": \"nosuch\", \"enabled\": true}", "service-systemd-notfound.out",
		      "failed: service nosuch: expected enabled, found not-found (no such unit)");
}

static void test_service__sysv(void **state)
{
	(void)state;
	expect_sample("{\"service\": \"nginx\", \"running\": true, \"enabled\": true}",
		      "service-rhel6-sysv-running.out", "passed: ");
	expect_sample("{\"service\": \"ssh\", \"running\": true, \"enabled\": true}",
		      "service-debian-sysv-stopped.out",
		      "failed: service ssh: expected running, found not running "
		      "(service status exited 3: sshd is not running ... failed!)");
	expect_sample("{\"service\": \"nosuch\", \"running\": true, \"enabled\": false}",
		      "service-debian-sysv-unrecognized.out",
		      "failed: service nosuch: expected running, found no such service "
		      "(no init script; nosuch: unrecognized service)");
	expect_sample("{\"service\": \"nosuch\", \"enabled\": true}",
		      "service-debian-sysv-unrecognized.out",
		      "failed: service nosuch: expected enabled, found disabled (no S link in /etc/rc[2-5].d)");
	expect_sample("{\"service\": \"ssh\", \"running\": true}",
		      "service-ubuntu14-upstart-running.out", "passed: ");
}

static void test_service__no_service_manager(void **state)
{
	(void)state;
	expect_sample("{\"service\": \"nginx\", \"running\": true}", "service-none.out",
		      "failed: service nginx: expected running, found no service manager "
		      "(neither systemd nor SysV init)");
}

/* ---- port ------------------------------------------------------------------- */

static void test_port__ss(void **state)
{
	(void)state;
	expect_sample("{\"port\": 80, \"listening\": true}", "port-ubuntu22-ss-H.out", "passed: ");
	expect_sample("{\"port\": 80, \"listening\": true, \"address\": \"::\"}",
		      "port-ubuntu22-ss-H.out", "passed: ");
	expect_sample("{\"port\": 53, \"listening\": true, \"address\": \"127.0.0.53\", "
		      "\"protocol\": \"udp\"}", "port-ubuntu22-ss-H.out", "passed: ");
	expect_sample("{\"port\": 80, \"listening\": true, \"protocol\": \"udp\"}",
		      "port-ubuntu22-ss-H.out",
		      "failed: port 80: expected listening over udp, found listening on 0.0.0.0 (tcp), "
		      ":: (tcp)");
	expect_sample("{\"port\": 443, \"listening\": true}", "port-ubuntu22-ss-H.out",
		      "failed: port 443: expected listening, found not listening "
		      "(listening: udp 53, udp 68, tcp 53, tcp 80, tcp 22)");
	expect_sample("{\"port\": 22, \"listening\": false}", "port-al2023-ss-H.out",
		      "failed: port 22: expected not listening, found listening on 0.0.0.0 (tcp), :: (tcp)");
	expect_sample("{\"port\": 8080, \"listening\": true, \"address\": \"::ffff:127.0.0.1\"}",
		      "port-al2023-ss-H.out", "passed: ");
	expect_sample("{\"port\": 323, \"listening\": true, \"address\": \"::1\"}",
		      "port-al2023-ss-H.out", "passed: ");
}

/* CentOS 7's ss has no -H: a header, and "*" for any address. */
static void test_port__old_ss(void **state)
{
	(void)state;
	expect_sample("{\"port\": 22, \"listening\": true, \"address\": \"0.0.0.0\"}",
		      "port-centos7-old-ss.out", "passed: ");
	expect_sample("{\"port\": 25, \"listening\": true, \"address\": \"0.0.0.0\"}",
		      "port-centos7-old-ss.out",
		      "failed: port 25: expected listening on 0.0.0.0, found listening on 127.0.0.1 (tcp)");
	expect_sample("{\"port\": 123, \"listening\": true, \"protocol\": \"udp\"}",
		      "port-centos7-old-ss.out", "passed: ");
}

static void test_port__netstat(void **state)
{
	(void)state;
	expect_sample("{\"port\": 111, \"listening\": true, \"protocol\": \"udp\", \"address\": \"::\"}",
		      "port-al2-netstat.out", "passed: ");
	expect_sample("{\"port\": 25, \"listening\": true, \"address\": \"127.0.0.1\"}",
		      "port-al2-netstat.out", "passed: ");
	expect_sample("{\"port\": 80, \"listening\": true}", "port-al2-netstat.out",
		      "failed: port 80: expected listening, found not listening "
		      "(listening: tcp 111, tcp 22, tcp 25, udp 68, udp 111)");
}

static void test_port__proc_net(void **state)
{
	(void)state;
	expect_sample("{\"port\": 22, \"listening\": true, \"address\": \"0.0.0.0\"}",
		      "port-minimal-proc.out", "passed: ");
	expect_sample("{\"port\": 3306, \"listening\": true, \"address\": \"127.0.0.1\"}",
		      "port-minimal-proc.out", "passed: ");
	expect_sample("{\"port\": 8080, \"listening\": true, \"address\": \"::1\"}",
		      "port-minimal-proc.out", "passed: ");
	expect_sample("{\"port\": 68, \"listening\": true, \"protocol\": \"udp\"}",
		      "port-minimal-proc.out", "passed: ");
	/* An established connection from port 22 is not a listener. */
	expect_sample("{\"port\": 22, \"listening\": true, \"address\": \"127.0.0.1\"}",
		      "port-minimal-proc.out",
		      "failed: port 22: expected listening on 127.0.0.1, found listening on 0.0.0.0 (tcp)");
}

/* ---- file ------------------------------------------------------------------- */

static void test_file__attributes_and_content(void **state)
{
	(void)state;
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"exists\": true, \"mode\": \"0644\", "
		      "\"owner\": \"root\", \"group\": \"0\", \"type\": \"file\", "
		      "\"contains\": \"worker_processes\", \"matches\": \"^events \\\\{$\"}",
		      "file-debian-nginx-conf.out", "passed: ");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"mode\": \"600\", \"owner\": \"www-data\"}",
		      "file-debian-nginx-conf.out",
		      "failed: file /etc/nginx/nginx.conf: expected mode 0600, found 0644; "
		      "expected owner www-data, found root");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"contains\": \"worker_rlimit\"}",
		      "file-debian-nginx-conf.out",
		      "failed: file /etc/nginx/nginx.conf: expected content containing \"worker_rlimit\", "
		      "found a 95-byte file without it");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"matches\": \"^worker_processes [0-9]+;\"}",
		      "file-debian-nginx-conf.out",
		      "failed: file /etc/nginx/nginx.conf: expected content matching "
		      "/^worker_processes [0-9]+;/, found a 95-byte file without a match");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"type\": \"directory\"}",
		      "file-debian-nginx-conf.out",
		      "failed: file /etc/nginx/nginx.conf: expected type directory, found file");
}

/* A 0600 root file read through sudo -n; sha256sum's '\' escape for odd names
 * (a backslash here: a newline in a path is refused before any judge). */
static void test_file__root_only_through_sudo(void **state)
{
	(void)state;
	expect_sample("{\"file\": \"/etc/secret\\\\file\", \"mode\": \"0600\", \"contains\": \"test\", "
		      "\"sha256\": \"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\"}",
		      "file-rhel-secret-sudo.out", "passed: ");
	expect_sample("{\"file\": \"/etc/secret\", \"sha256\": "
		      "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		      "file-rhel-secret-sudo.out",
		      "failed: file /etc/secret: expected sha256 "
		      "0000000000000000000000000000000000000000000000000000000000000000, found "
		      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

static void test_file__symlink_directory_missing(void **state)
{
	(void)state;
	expect_sample("{\"file\": \"/etc/nginx/sites-enabled/default\", \"type\": \"symlink\", "
		      "\"mode\": \"0644\", \"owner\": \"www-data\"}", "file-symlink.out", "passed: ");
	expect_sample("{\"file\": \"/var/www\", \"type\": \"directory\", \"mode\": \"0755\"}",
		      "file-directory.out", "passed: ");
	expect_sample("{\"file\": \"/var/www\", \"contains\": \"x\"}", "file-directory.out",
		      "failed: file /var/www: expected a regular file to search, found directory");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"exists\": true, \"mode\": \"0644\"}",
		      "file-missing.out",
		      "failed: file /etc/nginx/nginx.conf: expected exists, found no such file or directory");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"contains\": \"x\"}",
		      "file-missing-old-coreutils.out",
		      "failed: file /etc/nginx/nginx.conf: expected exists, found no such file or directory");
	expect_sample("{\"file\": \"/etc/nginx/nginx.conf\", \"exists\": false}", "file-missing.out",
		      "passed: ");
	expect_sample("{\"file\": \"/var/www\", \"exists\": false}", "file-directory.out",
		      "failed: file /var/www: expected no such file, found a directory");
}

static void test_file__permission_denied_is_an_error(void **state)
{
	(void)state;
	expect_sample("{\"file\": \"/root/.ssh/authorized_keys\", \"exists\": true}",
		      "file-denied-no-sudo.out",
		      "error: file /root/.ssh/authorized_keys: cannot stat /root/.ssh/authorized_keys: "
		      "stat: cannot statx '/root/.ssh/authorized_keys': Permission denied "
		      "(and no passwordless sudo)");
	expect_sample("{\"file\": \"/etc/shadow\", \"contains\": \"root:\"}",
		      "file-unreadable-content.out",
		      "error: file /etc/shadow: cannot read /etc/shadow: permission denied "
		      "(and no passwordless sudo)");
}

/* ---- command ---------------------------------------------------------------- */

static void test_command__exit_and_streams(void **state)
{
	(void)state;
	expect_output("{\"command\": \"curl -s localhost\", \"exit_status\": 0, "
		      "\"stdout_matches\": \"Welcome\"}", "<h1>Welcome to nginx!</h1>\n", "", 0,
		      "passed: ");
	expect_output("{\"command\": \"curl -s localhost\", \"exit_status\": 0}", "",
		      "curl: (7) Failed to connect\n", 7,
		      "failed: command \"curl -s localhost\": expected exit status 0, found 7 "
		      "(stderr: curl: (7) Failed to connect)");
	expect_output("{\"command\": \"nginx -v\", \"stderr_contains\": \"nginx/1.22\"}", "",
		      "nginx version: nginx/1.22.1\n", 0, "passed: ");
	expect_output("{\"command\": \"nginx -v\", \"stderr_matches\": \"nginx/1\\\\.24\"}", "",
		      "nginx version: nginx/1.22.1\n", 0,
		      "failed: command \"nginx -v\": expected stderr matching /nginx/1\\.24/, found "
		      "\"nginx version: nginx/1.22.1...\"");
	expect_output("{\"command\": \"true\", \"stdout_contains\": \"x\"}", "", "", 0,
		      "failed: command \"true\": expected stdout containing \"x\", found nothing");
}

/* ---- user and group ----------------------------------------------------------- */

static void test_user__getent_and_id(void **state)
{
	(void)state;
	expect_sample("{\"user\": \"deploy\", \"exists\": true, \"uid\": 1001, "
		      "\"groups\": [\"www-data\", \"docker\"], \"shell\": \"/bin/bash\", "
		      "\"home\": \"/home/deploy\"}", "user-debian-deploy.out", "passed: ");
	expect_sample("{\"user\": \"deploy\", \"groups\": [\"www-data\", \"sudo\", \"adm\"], "
		      "\"shell\": \"/bin/sh\"}", "user-debian-deploy.out",
		      "failed: user deploy: expected member of sudo, adm, found groups deploy www-data "
		      "docker; expected shell /bin/sh, found /bin/bash");
	expect_sample("{\"user\": \"deploy\", \"uid\": 1000}", "user-debian-deploy.out",
		      "failed: user deploy: expected uid 1000, found 1001");
	expect_sample("{\"user\": \"nosuch\", \"exists\": true, \"uid\": 1}", "user-rhel-missing.out",
		      "failed: user nosuch: expected exists, found no such user");
	expect_sample("{\"user\": \"nosuch\", \"exists\": false}", "user-rhel-missing.out", "passed: ");
	expect_sample("{\"user\": \"deploy\", \"groups\": \"wheel\", \"shell\": \"/bin/ash\"}",
		      "user-busybox-no-getent.out", "passed: ");
}

static void test_group__getent(void **state)
{
	(void)state;
	expect_sample("{\"group\": \"www-data\", \"exists\": true, \"gid\": 33}",
		      "group-debian-www-data.out", "passed: ");
	expect_sample("{\"group\": \"www-data\", \"gid\": 48}", "group-debian-www-data.out",
		      "failed: group www-data: expected gid 48, found 33");
	expect_sample("{\"group\": \"nginx\", \"exists\": true}", "group-missing.out",
		      "failed: group nginx: expected exists, found no such group");
}

/* ---- process ---------------------------------------------------------------- */

static void test_process__ps_and_proc(void **state)
{
	(void)state;
	expect_sample("{\"process\": \"nginx\", \"running\": true, \"count\": 3}", "process-ps.out",
		      "passed: ");
	expect_sample("{\"process\": \"nginx\", \"count\": 4}", "process-ps.out",
		      "failed: process nginx: expected 4 running, found 3");
	expect_sample("{\"process\": \"httpd\", \"running\": true}", "process-ps.out",
		      "failed: process httpd: expected running, found no process named httpd");
	expect_sample("{\"process\": \"sshd\", \"running\": false}", "process-ps.out",
		      "failed: process sshd: expected not running, found 1 running");
	/* The kernel keeps 15 bytes of a process name. */
	expect_sample("{\"process\": \"containerd-shim-runc-v2\", \"running\": true}",
		      "process-proc-long-name.out", "passed: ");
}

/* ---- kernel_param ----------------------------------------------------------- */

static void test_kernel_param__sysctl(void **state)
{
	(void)state;
	expect_sample("{\"kernel_param\": \"net.ipv4.tcp_rmem\", \"value\": \"4096 131072  6291456\"}",
		      "kernel-param-tcp-rmem.out", "passed: ");
	expect_sample("{\"kernel_param\": \"net.ipv4.tcp_rmem\", \"value\": \"4096 87380 6291456\"}",
		      "kernel-param-tcp-rmem.out",
		      "failed: kernel_param net.ipv4.tcp_rmem: expected value 4096 87380 6291456, "
		      "found 4096 131072 6291456");
	expect_sample("{\"kernel_param\": \"net.ipv4.ip_forward\", \"value\": 0}",
		      "kernel-param-ip-forward.out", "passed: ");
	expect_sample("{\"kernel_param\": \"net.ipv4.ip_forward\", \"value\": \"1\"}",
		      "kernel-param-ip-forward.out",
		      "failed: kernel_param net.ipv4.ip_forward: expected value 1, found 0");
	expect_sample("{\"kernel_param\": \"net.ipv4.nope\", \"value\": \"1\"}",
		      "kernel-param-missing.out",
		      "failed: kernel_param net.ipv4.nope: expected value 1, found no readable parameter "
		      "(sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory)");
}

/* ---- http ------------------------------------------------------------------- */

static void test_http__curl(void **state)
{
	(void)state;
	expect_sample("{\"http\": \"http://localhost/\", \"status\": 200, "
		      "\"body_contains\": \"Welcome\"}", "http-curl-200.out", "passed: ");
	expect_sample("{\"http\": \"http://localhost/\", \"status\": 200, \"body_contains\": "
		      "\"Welcome\"}", "http-curl-404.out",
		      "failed: http http://localhost/: expected status 200, found 404; expected body "
		      "containing \"Welcome\", found a 40-byte body without it");
	expect_sample("{\"http\": \"http://localhost:8080/\", \"status\": 200}",
		      "http-curl-refused.out",
		      "failed: http http://localhost:8080/: expected a response, found no response "
		      "(curl: (7) Failed to connect to localhost port 8080 after 0 ms: Couldn't connect "
		      "to server)");
	expect_sample("{\"http\": \"http://localhost/\", \"body_matches\": \"<title>Welcome .*</title>\"}",
		      "http-curl-200.out", "passed: ");
}

static void test_http__wget_and_none(void **state)
{
	(void)state;
	expect_sample("{\"http\": \"http://localhost/\", \"status\": 200, \"body_contains\": "
		      "\"Welcome\"}", "http-wget-301-then-200.out", "passed: ");
	expect_sample("{\"http\": \"http://localhost/\", \"status\": 301}",
		      "http-wget-301-then-200.out",
		      "failed: http http://localhost/: expected status 301, found 200");
	expect_sample("{\"http\": \"http://localhost/\", \"status\": 200}", "http-wget-refused.out",
		      "failed: http http://localhost/: expected a response, found no response "
		      "(wget exited 4: network failure)");
	expect_sample("{\"http\": \"http://localhost/\", \"status\": 200}", "http-none.out",
		      "failed: http http://localhost/: expected a response, found no curl or wget on "
		      "the instance");
}

/* ---- generic ---------------------------------------------------------------- */

/* No "bk=1": sh itself failed (no sh, a broken login shell, sudo lecture). */
static void test_judge__script_that_did_not_run_is_an_error(void **state)
{
	(void)state;
	expect_output("{\"package\": \"nginx\", \"installed\": true}", "",
		      "bash: sh: command not found\n", 127,
		      "error: package nginx: could not run the check (exit status 127: "
		      "bash: sh: command not found)");
	expect_output("{\"service\": \"nginx\", \"running\": true}", "Welcome to the instance\n", "",
		      1, "error: service nginx: could not run the check (exit status 1: "
		      "Welcome to the instance)");
}

static void test_names__generated_and_given(void **state)
{
	static const struct { const char *json, *name; } cases[] = {
		{"{\"package\": \"nginx\", \"installed\": true}", "package nginx installed"},
		{"{\"service\": \"nginx\", \"running\": true, \"enabled\": false}",
		 "service nginx running, not enabled"},
		{"{\"port\": 80, \"listening\": true, \"protocol\": \"tcp\"}", "port 80 listening"},
		{"{\"file\": \"/etc/x\", \"mode\": \"0644\", \"contains\": \"a\\nb\"}",
		 "file /etc/x mode 0644, contains a b"},
		{"{\"command\": \"uptime\", \"exit_status\": 0}", "command \"uptime\" exit_status 0"},
		{"{\"user\": \"deploy\", \"groups\": [\"a\", \"b\"]}", "user deploy groups a,b"},
		{"{\"kernel_param\": \"vm.swappiness\", \"value\": 10}", "kernel_param vm.swappiness value 10"},
		{"{\"package\": \"nginx\", \"installed\": true, \"name\": \"web server\"}", "web server"},
		/* "group" names a type and is a file check's field: the file check wins. */
		{"{\"group\": \"shadow\", \"file\": \"/etc/shadow\", \"mode\": \"0640\"}",
		 "file /etc/shadow mode 0640, group shadow"},
	};

	(void)state;
	for (size_t i = 0; i < BK_ARRAY_SIZE(cases); i++) {
		bk_test_plan *plan = parse_check(cases[i].json);
		assert_string_equal(plan->checks[0].name, cases[i].name);
		bk_test_plan_free(plan);
	}
}

/* ---- the typed plan ---------------------------------------------------------- */

/* One check of every type in one tests object: each read into its kind's
 * fields, unset ones left -1 or NULL. */
static const char EVERY_TYPE[] =
	"{\"checks\": ["
	" {\"package\": \"nginx\", \"installed\": true, \"version\": \"1.22\"},"
	" {\"service\": \"nginx\", \"running\": true, \"enabled\": false, \"timeout\": 5},"
	" {\"port\": \"8080\", \"listening\": true, \"protocol\": \"udp\", \"address\": \"::\"},"
	" {\"file\": \"/etc/shadow\", \"exists\": true, \"type\": \"file\", \"mode\": \"0640\","
	"  \"owner\": \"root\", \"group\": \"shadow\", \"contains\": \"\", \"matches\": \"^root:\","
	"  \"sha256\": \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"},"
	" {\"command\": \"uptime\", \"exit_status\": 0, \"stdout_contains\": \"up\","
	"  \"stdout_matches\": \"load\", \"stderr_contains\": \"\", \"stderr_matches\": \"^$\"},"
	" {\"user\": \"deploy\", \"exists\": true, \"uid\": 1001, \"groups\": [\"www-data\", \"docker\"],"
	"  \"home\": \"/home/deploy\", \"shell\": \"/bin/bash\"},"
	" {\"group\": \"www-data\", \"exists\": false, \"gid\": 33, \"name\": \"web group\"},"
	" {\"process\": \"nginx\", \"running\": true, \"count\": 3},"
	" {\"kernel_param\": \"vm.swappiness\", \"value\": 10},"
	" {\"http\": \"https://localhost/\", \"status\": 200, \"body_contains\": \"Welcome\","
	"  \"body_matches\": \"<title>\", \"insecure\": true, \"follow_redirects\": false}]}";

static bk_test_plan *parse_tests(const char *json)
{
	cJSON *tests = cJSON_Parse(json);
	bk_test_plan *plan = NULL;

	assert_non_null(tests);
	if (bk_verify_parse(&plan, tests, "t.json", ".") != 0)
		fail_msg("refused: %s", bk_err_msg());
	cJSON_Delete(tests);
	return plan;
}

static void expect_head(const bk_check *c, bk_check_kind kind, const char *type, size_t i,
			const char *subject, const char *name)
{
	char path[32];

	snprintf(path, sizeof(path), "tests.checks[%zu]", i);
	assert_int_equal(c->kind, kind);
	assert_ptr_equal(c->type, bk_check_type_find(type));
	assert_string_equal(c->path, path);
	assert_string_equal(c->subject, subject);
	assert_string_equal(c->name, name);
}

static void expect_package_service_port(const bk_check *c)
{
	expect_head(&c[0], BK_CHECK_PACKAGE, "package", 0, "nginx", "package nginx installed, version 1.22");
	assert_int_equal(c[0].u.package.installed, 1);
	assert_string_equal(c[0].u.package.version, "1.22");
	assert_true(c[0].timeout_s == 0 && bk_check_timeout(&c[0]) == 60);
	expect_head(&c[1], BK_CHECK_SERVICE, "service", 1, "nginx", "service nginx running, not enabled");
	assert_int_equal(c[1].u.service.running, 1);
	assert_int_equal(c[1].u.service.enabled, 0);
	assert_true(c[1].timeout_s == 5 && bk_check_timeout(&c[1]) == 5);
	expect_head(&c[2], BK_CHECK_PORT, "port", 2, "8080", "port 8080 listening");
	assert_int_equal(c[2].u.port.number, 8080);
	assert_int_equal(c[2].u.port.listening, 1);
	assert_string_equal(c[2].u.port.protocol, "udp");
	assert_string_equal(c[2].u.port.address, "::");
}

static void expect_file_command(const bk_check *c)
{
	const bk_check_file_cfg *f = &c[3].u.file;
	const bk_check_command_cfg *k = &c[4].u.command;

	expect_head(&c[3], BK_CHECK_FILE, "file", 3, "/etc/shadow",
		    "file /etc/shadow exists, type file, mode 0640, owner root, group shadow, "
		    "contains , matches ^root:, sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b...");
	assert_int_equal(f->exists, 1);
	assert_string_equal(f->type, "file");
	assert_int_equal(f->mode, 0640);
	assert_string_equal(f->owner, "root");
	assert_string_equal(f->group, "shadow");
	assert_string_equal(f->contains, "");
	assert_string_equal(f->matches, "^root:");
	assert_string_equal(f->sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	expect_head(&c[4], BK_CHECK_COMMAND, "command", 4, "uptime",
		    "command \"uptime\" exit_status 0, stdout_contains up, stdout_matches load, "
		    "stderr_contains , stderr_matches ^$");
	assert_int_equal(k->exit_status, 0);
	assert_string_equal(k->stdout_contains, "up");
	assert_string_equal(k->stdout_matches, "load");
	assert_string_equal(k->stderr_contains, "");
	assert_string_equal(k->stderr_matches, "^$");
	assert_int_equal(bk_check_timeout(&c[4]), 300);
}

static void expect_user_group_process(const bk_check *c)
{
	const bk_check_user_cfg *u = &c[5].u.user;

	expect_head(&c[5], BK_CHECK_USER, "user", 5, "deploy",
		    "user deploy exists, uid 1001, groups www-data,docker, home /home/deploy, "
		    "shell /bin/bash");
	assert_int_equal(u->exists, 1);
	assert_int_equal(u->uid, 1001);
	assert_int_equal(u->groups.count, 2);
	assert_string_equal(u->groups.items[0], "www-data");
	assert_string_equal(u->groups.items[1], "docker");
	assert_string_equal(u->home, "/home/deploy");
	assert_string_equal(u->shell, "/bin/bash");
	expect_head(&c[6], BK_CHECK_GROUP, "group", 6, "www-data", "web group");
	assert_int_equal(c[6].u.group.exists, 0);
	assert_int_equal(c[6].u.group.gid, 33);
	expect_head(&c[7], BK_CHECK_PROCESS, "process", 7, "nginx", "process nginx running, count 3");
	assert_int_equal(c[7].u.process.running, 1);
	assert_int_equal(c[7].u.process.count, 3);
}

static void expect_kparam_http(const bk_check *c)
{
	const bk_check_http_cfg *h = &c[9].u.http;

	expect_head(&c[8], BK_CHECK_KERNEL_PARAM, "kernel_param", 8, "vm.swappiness",
		    "kernel_param vm.swappiness value 10");
	assert_string_equal(c[8].u.kernel_param.value, "10");   /* a number, as text */
	expect_head(&c[9], BK_CHECK_HTTP, "http", 9, "https://localhost/",
		    "http https://localhost/ status 200, body_contains Welcome, body_matches <title>");
	assert_int_equal(h->status, 200);
	assert_string_equal(h->body_contains, "Welcome");
	assert_string_equal(h->body_matches, "<title>");
	assert_int_equal(h->insecure, 1);
	assert_int_equal(h->follow_redirects, 0);
	assert_int_equal(bk_check_timeout(&c[9]), 30);
}

static void test_parse__every_type_typed(void **state)
{
	bk_test_plan *plan = parse_tests(EVERY_TYPE);
	size_t n;

	(void)state;
	bk_check_types(&n);
	assert_int_equal(plan->checks_count, n);
	expect_package_service_port(plan->checks);
	expect_file_command(plan->checks);
	expect_user_group_process(plan->checks);
	expect_kparam_http(plan->checks);
	bk_test_plan_free(plan);
}

/* What a check leaves out stays unset, not false or zero. */
static void test_parse__unset_expectations(void **state)
{
	bk_test_plan *plan = parse_tests(
		"{\"checks\": [{\"file\": \"/x\", \"mode\": \"644\"}, {\"user\": \"u\", \"groups\": \"adm\"},"
		" {\"http\": \"http://x/\", \"body_contains\": \"a\"}, {\"command\": \"true\", "
		"\"stdout_contains\": \"\"}, {\"port\": 22, \"listening\": false}]}");
	const bk_check *c = plan->checks;

	(void)state;
	assert_int_equal(c[0].u.file.mode, 0644);
	assert_int_equal(c[0].u.file.exists, -1);
	assert_null(c[0].u.file.type);
	assert_null(c[0].u.file.owner);
	assert_null(c[0].u.file.contains);
	assert_null(c[0].u.file.sha256);
	assert_int_equal(c[1].u.user.exists, -1);
	assert_int_equal(c[1].u.user.uid, -1);
	assert_int_equal(c[1].u.user.groups.count, 1);   /* one string is a list of one */
	assert_string_equal(c[1].u.user.groups.items[0], "adm");
	assert_null(c[1].u.user.home);
	assert_int_equal(c[2].u.http.status, -1);
	assert_int_equal(c[2].u.http.insecure, -1);
	assert_null(c[2].u.http.body_matches);
	assert_int_equal(c[3].u.command.exit_status, -1);
	assert_string_equal(c[3].u.command.stdout_contains, "");
	assert_int_equal(c[4].u.port.number, 22);
	assert_int_equal(c[4].u.port.listening, 0);
	assert_null(c[4].u.port.protocol);
	assert_null(c[4].u.port.address);
	bk_test_plan_free(plan);
}

/* Refused with the JSON path, and no plan: an unknown key, and a value of
 * the wrong kind for each kind a field can take. */
static void test_parse__unknown_key_and_wrong_kind_refused(void **state)
{
	static const struct { const char *check, *msg; } bad[] = {
		{"{\"package\": \"nginx\", \"installed\": true, \"running\": true}",
		 "t.json: tests.checks[0].running: unknown key for a package check "
		 "(expected installed, version, name or timeout)"},
		{"{\"package\": \"nginx\", \"installed\": \"yes\"}",
		 "t.json: tests.checks[0].installed: expected true or false"},
		{"{\"user\": \"u\", \"uid\": \"0\"}",
		 "t.json: tests.checks[0].uid: expected a non-negative integer"},
		{"{\"user\": \"u\", \"home\": \"\"}", "t.json: tests.checks[0].home: expected a non-empty string"},
		{"{\"file\": \"/x\", \"contains\": 3}", "t.json: tests.checks[0].contains: expected a string"},
		{"{\"kernel_param\": \"vm.x\", \"value\": true}",
		 "t.json: tests.checks[0].value: expected a string or a number"},
		{"{\"user\": \"u\", \"groups\": {}}", "t.json: tests.checks[0].groups: expected an array of strings"},
		{"{\"file\": \"/x\", \"mode\": \"9\"}", "t.json: tests.checks[0].mode: expected a string like \"0644\""},
		{"{\"command\": \"x\", \"stderr_matches\": \"[\"}",
		 "t.json: tests.checks[0].stderr_matches: bad regular expression \"[\": "},
		{"{\"file\": \"/x\", \"sha256\": 1}", "t.json: tests.checks[0].sha256: expected 64 hexadecimal digits"},
		{"{\"port\": 1, \"listening\": true, \"protocol\": \"TCP\"}",
		 "t.json: tests.checks[0].protocol: expected \"tcp\" or \"udp\""},
		{"{\"file\": \"/x\", \"type\": \"socket\"}",
		 "t.json: tests.checks[0].type: expected \"file\", \"directory\" or \"symlink\""},
		{"{\"http\": \"http://x/\", \"status\": 200, \"timeout\": \"5\"}",
		 "t.json: tests.checks[0].timeout: expected a number of seconds"},
		{"{\"group\": \"g\", \"gid\": 1.5}", "t.json: tests.checks[0].gid: expected a non-negative integer"},
	};

	(void)state;
	for (size_t i = 0; i < BK_ARRAY_SIZE(bad); i++) {
		int rc;
		bk_test_plan *plan = try_parse(bad[i].check, &rc);
		if (plan || rc != BAKEAMI_EINVALID || !bk_str_starts(bk_err_msg(), bad[i].msg))
			fail_msg("%s\n  got:  %d %s\n  want: %s", bad[i].check, rc,
				 plan ? "a plan" : bk_err_msg(), bad[i].msg);
	}
}

/* A bad check after good ones: its own index, and the good ones freed. */
static void test_parse__path_names_the_bad_check(void **state)
{
	cJSON *tests = cJSON_Parse("{\"checks\": [{\"package\": \"a\", \"installed\": true},"
				   " {\"user\": \"u\", \"groups\": [\"a\", \"b\"]},"
				   " {\"service\": \"s\", \"running\": true, \"enabld\": true}]}");
	bk_test_plan *plan = (bk_test_plan *)1;

	(void)state;
	assert_int_equal(bk_verify_parse(&plan, tests, "web.json", "."), BAKEAMI_EINVALID);
	assert_null(plan);
	assert_true(bk_str_starts(bk_err_msg(), "web.json: tests.checks[2].enabld: unknown key for a "
				  "service check (expected running, enabled, name or timeout)"));
	assert_int_equal(bk_verify_validate(tests, "web.json", "."), BAKEAMI_EINVALID);
	cJSON_Delete(tests);
}

static void test_helpers__mode_and_regex(void **state)
{
	(void)state;
	assert_int_equal(bk_mode_parse("0644"), 0644);
	assert_int_equal(bk_mode_parse("4755"), 04755);
	assert_int_equal(bk_mode_parse("755"), 0755);
	assert_int_equal(bk_mode_parse("0648"), -1);
	assert_int_equal(bk_mode_parse("64"), -1);
	assert_int_equal(bk_mode_parse("rw-r--r--"), -1);
	assert_int_equal(bk_regex_search("^b$", "a\nb\nc"), 1);
	assert_int_equal(bk_regex_search("a(", "a("), BAKEAMI_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote__single_quotes_escaped),
		cmocka_unit_test(test_quote__values_reach_sh_intact),
		cmocka_unit_test(test_commands__every_type_quotes_its_subject),
		cmocka_unit_test(test_commands__rm_rf_value_is_one_quoted_word),
		cmocka_unit_test(test_commands__port_and_options),
		cmocka_unit_test(test_commands__command_runs_as_written),
		cmocka_unit_test(test_commands__scripts_run_locally),
		cmocka_unit_test(test_package__debian_dpkg),
		cmocka_unit_test(test_package__debian_config_files_is_not_installed),
		cmocka_unit_test(test_package__epoch),
		cmocka_unit_test(test_package__rhel_rpm),
		cmocka_unit_test(test_package__both_managers_and_none),
		cmocka_unit_test(test_service__systemd),
		cmocka_unit_test(test_service__sysv),
		cmocka_unit_test(test_service__no_service_manager),
		cmocka_unit_test(test_port__ss),
		cmocka_unit_test(test_port__old_ss),
		cmocka_unit_test(test_port__netstat),
		cmocka_unit_test(test_port__proc_net),
		cmocka_unit_test(test_file__attributes_and_content),
		cmocka_unit_test(test_file__root_only_through_sudo),
		cmocka_unit_test(test_file__symlink_directory_missing),
		cmocka_unit_test(test_file__permission_denied_is_an_error),
		cmocka_unit_test(test_command__exit_and_streams),
		cmocka_unit_test(test_user__getent_and_id),
		cmocka_unit_test(test_group__getent),
		cmocka_unit_test(test_process__ps_and_proc),
		cmocka_unit_test(test_kernel_param__sysctl),
		cmocka_unit_test(test_http__curl),
		cmocka_unit_test(test_http__wget_and_none),
		cmocka_unit_test(test_judge__script_that_did_not_run_is_an_error),
		cmocka_unit_test(test_names__generated_and_given),
		cmocka_unit_test(test_parse__every_type_typed),
		cmocka_unit_test(test_parse__unset_expectations),
		cmocka_unit_test(test_parse__unknown_key_and_wrong_kind_refused),
		cmocka_unit_test(test_parse__path_names_the_bad_check),
		cmocka_unit_test(test_helpers__mode_and_regex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
