/*
 * check_sys.c - the `command`, `user`, `group`, `process` and
 * `kernel_param` checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

#define SNIPPET_MAX 120   /* bytes of output quoted in a failure */

/* ---- command ---------------------------------------------------------- */

/* The user's command is shell code by design: it is the check's code as it
 * stands, run as the SSH user by BK_CHECK_SHELL. */
static int command_command(bk_buf *cmd, const bk_check *check)
{
	return bk_buf_puts(cmd, check->subject);
}

static char *snippet(const char *text, size_t len)
{
	char *line;

	if (!text || len == 0)
		return bk_strdup("nothing");
	line = bk_first_line(text, SNIPPET_MAX);
	if (!line)
		return NULL;
	char *s = bk_sprintf("\"%s%s\"", line, strlen(line) < len ? "..." : "");
	free(line);
	return s;
}

static int stream_expect(bk_verdict *v, const char *want, const char *re, const char *stream,
			 const char *text, size_t len)
{
	char *exp, *found;
	int rc = 0, m;

	if (!(found = snippet(text, len)))
		return bk_oom();
	if (want && !bk_contains(text, len, want)) {
		exp = bk_sprintf("%s containing \"%s\"", stream, want);
		rc = bk_verdict_fail(v, exp, "%s", found);
		free(exp);
	}
	if (rc == 0 && re && (m = bk_regex_search(re, text)) <= 0) {
		exp = bk_sprintf("%s matching /%s/", stream, re);
		rc = m < 0 ? bk_verdict_error(v, "%s", bk_err_msg()) : bk_verdict_fail(v, exp, "%s", found);
		free(exp);
	}
	free(found);
	return rc;
}

static int command_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	const bk_check_command_cfg *c = &check->u.command;
	long want = c->exit_status;
	char exp[48], *err;
	int rc = 0;

	if (want >= 0 && want != o->status) {
		snprintf(exp, sizeof(exp), "exit status %ld", want);
		err = bk_first_line(o->err, SNIPPET_MAX);
		rc = bk_verdict_fail(v, exp, "%d%s%s%s", o->status, err && *err ? " (stderr: " : "",
				     err && *err ? err : "", err && *err ? ")" : "");
		free(err);
	}
	rc = rc ? rc : stream_expect(v, c->stdout_contains, c->stdout_matches, "stdout",
				     o->out ? o->out : "", o->out_len);
	return rc ? rc : stream_expect(v, c->stderr_contains, c->stderr_matches, "stderr",
				       o->err ? o->err : "", o->err_len);
}

static const bk_field COMMAND_FIELDS[] = {
	BK_FIELD("exit_status", BK_F_INT, true, u.command.exit_status),
	BK_FIELD("stdout_contains", BK_F_TEXT, true, u.command.stdout_contains),
	BK_FIELD("stdout_matches", BK_F_REGEX, true, u.command.stdout_matches),
	BK_FIELD("stderr_contains", BK_F_TEXT, true, u.command.stderr_contains),
	BK_FIELD("stderr_matches", BK_F_REGEX, true, u.command.stderr_matches),
	BK_FIELDS_END,
};

const bk_check_type bk_check_command_type = {
	BK_CHECK_COMMAND, "command", BK_SUBJ_COMMAND, COMMAND_FIELDS,
	"give exit_status, stdout_contains, stdout_matches, stderr_contains or stderr_matches",
	300, command_command, command_judge,
};

/* ---- user and group --------------------------------------------------- */

/* getent also sees LDAP/SSSD accounts; minimal images may lack it. */
static const char USER_SH[] =
	"if bk_have getent; then bk_run passwd getent passwd \"$1\"\n"
	"else while IFS= read -r l; do case $l in \"$1\":*) echo \"passwd=$l\";; esac\n"
	"  done </etc/passwd; fi\n"
	"bk_run groups id -Gn \"$1\"\n";

static const char GROUP_SH[] =
	"if bk_have getent; then bk_run group getent group \"$1\"\n"
	"else while IFS= read -r l; do case $l in \"$1\":*) echo \"group=$l\";; esac\n"
	"  done </etc/group; fi\n";

static int user_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, USER_SH, &subject, 1);
}

static int group_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, GROUP_SH, &subject, 1);
}

/* Field n (0-based) of a colon-separated database line, copied. */
static char *db_field(const char *line, int n)
{
	const char *end;

	for (; line && n > 0; n--)
		line = (line = strchr(line, ':')) ? line + 1 : NULL;
	if (!line)
		return bk_strdup("");
	end = strchr(line, ':');
	return end ? bk_strndup(line, (size_t)(end - line)) : bk_strdup(line);
}

/* An entry exists when the database printed a line for it. */
static const char *db_entry(const bk_check_kv *p, const char *key)
{
	char rc_key[32];
	const char *line = bk_kv_get(&p->kv, key);

	snprintf(rc_key, sizeof(rc_key), "%s_rc", key);
	if (!line || !strchr(line, ':') || bk_check_kv_int(p, rc_key, 0) != 0)
		return NULL;
	return line;
}

static int expect_field(bk_verdict *v, const char *what, const char *want, const char *line,
			int n)
{
	char *have, *exp;
	int rc = 0;

	if (!want)
		return 0;
	if (!(have = db_field(line, n)))
		return bk_oom();
	if (strcmp(want, have) != 0) {
		exp = bk_sprintf("%s %s", what, want);
		rc = bk_verdict_fail(v, exp ? exp : what, "%s", *have ? have : "none");
		free(exp);
	}
	free(have);
	return rc;
}

static int expect_id(bk_verdict *v, long want, const char *key, const char *line)
{
	char text[32];

	if (want < 0)
		return 0;
	snprintf(text, sizeof(text), "%ld", want);
	return expect_field(v, key, text, line, 2);
}

static bool word_in(const char *words, const char *w)
{
	size_t n = strlen(w);

	for (const char *s = words; s && *s;) {
		while (*s == ' ')
			s++;
		if (strncmp(s, w, n) == 0 && (s[n] == ' ' || s[n] == '\0'))
			return true;
		s = strchr(s, ' ');
	}
	return false;
}

static int expect_groups(bk_verdict *v, const bk_strv *want, const bk_check_kv *p)
{
	const char *have = bk_check_kv_int(p, "groups_rc", 1) == 0 ? bk_kv_get(&p->kv, "groups") : NULL;
	bk_buf missing = BK_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < want->count; i++)
		if (!word_in(have, want->items[i]))
			rc = bk_buf_printf(&missing, "%s%s", missing.len ? ", " : "", want->items[i]);
	if (rc == 0 && missing.len) {
		char *exp = bk_sprintf("member of %s", missing.ptr);
		rc = bk_verdict_fail(v, exp ? exp : "groups", "groups %s", have && *have ? have : "none");
		free(exp);
	}
	bk_buf_free(&missing);
	return rc;
}

static int entry_missing(bk_verdict *v, int exists, const char *what)
{
	if (exists == 0)
		return 0;
	return bk_verdict_fail(v, "exists", "no such %s", what);
}

static int user_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	const bk_check_user_cfg *u = &check->u.user;
	const char *line = db_entry(p, "passwd");
	int rc;

	if (!line)
		return entry_missing(v, u->exists, "user");
	if (u->exists == 0)
		return bk_verdict_fail(v, "no such user", "%s", line);
	rc = expect_id(v, u->uid, "uid", line);
	rc = rc ? rc : expect_groups(v, &u->groups, p);
	rc = rc ? rc : expect_field(v, "home", u->home, line, 5);
	return rc ? rc : expect_field(v, "shell", u->shell, line, 6);
}

static int group_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	const bk_check_group_cfg *g = &check->u.group;
	const char *line = db_entry(p, "group");

	if (!line)
		return entry_missing(v, g->exists, "group");
	if (g->exists == 0)
		return bk_verdict_fail(v, "no such group", "%s", line);
	return expect_id(v, g->gid, "gid", line);
}

static int user_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, user_verdict);
}

static int group_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, group_verdict);
}

static const bk_field USER_FIELDS[] = {
	BK_FIELD("exists", BK_F_BOOL, true, u.user.exists),
	BK_FIELD("uid", BK_F_INT, true, u.user.uid),
	BK_FIELD("groups", BK_F_STRINGS, true, u.user.groups),
	BK_FIELD("home", BK_F_STRING, true, u.user.home),
	BK_FIELD("shell", BK_F_STRING, true, u.user.shell),
	BK_FIELDS_END,
};

const bk_check_type bk_check_user = {
	BK_CHECK_USER, "user", BK_SUBJ_NAME, USER_FIELDS, "give exists, uid, groups, home or shell", 60,
	user_command, user_judge,
};

static const bk_field GROUP_FIELDS[] = {
	BK_FIELD("exists", BK_F_BOOL, true, u.group.exists),
	BK_FIELD("gid", BK_F_INT, true, u.group.gid),
	BK_FIELDS_END,
};

const bk_check_type bk_check_group = {
	BK_CHECK_GROUP, "group", BK_SUBJ_NAME, GROUP_FIELDS, "give exists or gid", 60, group_command, group_judge,
};

/* ---- process ---------------------------------------------------------- */

/* Process names as ps -C / pgrep -x see them (the kernel's comm, at most
 * 15 bytes); /proc when ps is missing (busybox images). */
static const char PROCESS_SH[] =
	"echo \"name=$1\"\n"
	"if o=$(ps -e -o comm= 2>/dev/null) && [ -n \"$o\" ]; then echo tool=ps\n"
	"else echo tool=proc; o=$(cat /proc/[0-9]*/comm 2>/dev/null); fi\n"
	"bk_emit comm \"$o\"\n";

#define COMM_MAX 15

static int process_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, PROCESS_SH, &subject, 1);
}

static long process_count(const bk_check_kv *p, const char *name)
{
	size_t n = strlen(name) > COMM_MAX ? COMM_MAX : strlen(name);
	long count = 0;

	for (size_t i = 0; i < p->kv.count; i++)
		if (strcmp(p->kv.keys[i], "comm") == 0 &&
		    (strcmp(p->kv.vals[i], name) == 0 ||
		     (strlen(p->kv.vals[i]) == n && strncmp(p->kv.vals[i], name, n) == 0)))
			count++;
	return count;
}

static int process_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	const char *name = check->subject;
	long have = process_count(p, name ? name : ""), want = check->u.process.count;
	int running = check->u.process.running;
	char exp[48];

	if (running == 1 && have == 0)
		return bk_verdict_fail(v, "running", "no process named %s", name);
	if (running == 0 && have > 0)
		return bk_verdict_fail(v, "not running", "%ld running", have);
	if (want >= 0 && want != have) {
		snprintf(exp, sizeof(exp), "%ld running", want);
		return bk_verdict_fail(v, exp, "%ld", have);
	}
	return 0;
}

static int process_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, process_verdict);
}

static const bk_field PROCESS_FIELDS[] = {
	BK_FIELD("running", BK_F_BOOL, true, u.process.running),
	BK_FIELD("count", BK_F_INT, true, u.process.count),
	BK_FIELDS_END,
};

const bk_check_type bk_check_process = {
	BK_CHECK_PROCESS, "process", BK_SUBJ_NAME, PROCESS_FIELDS, "give running or count", 60,
	process_command, process_judge,
};

/* ---- kernel_param ----------------------------------------------------- */

static const char KPARAM_SH[] =
	"if bk_have sysctl; then bk_root value sysctl -n \"$1\"\n"
	"else bk_root value cat \"/proc/sys/$(printf '%s' \"$1\" | tr . /)\"; fi\n";

static int kparam_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, KPARAM_SH, &subject, 1);
}

/* sysctl separates multi-valued parameters with tabs ("4096\t131072\t6291456");
 * compare with all whitespace runs as one space. */
static char *squeeze(const char *s)
{
	bk_buf b = BK_BUF_INIT;
	bool space = false;

	for (; s && *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			space = b.len > 0;
			continue;
		}
		if ((space && bk_buf_putc(&b, ' ') < 0) || bk_buf_putc(&b, *s) < 0) {
			bk_buf_free(&b);
			return NULL;
		}
		space = false;
	}
	return bk_buf_detach(&b);
}

static char *kparam_value(const bk_check_kv *p)
{
	bk_buf b = BK_BUF_INIT;

	for (size_t i = 0; i < p->kv.count; i++)
		if (strcmp(p->kv.keys[i], "value") == 0)
			bk_buf_printf(&b, "%s%s", b.len ? " " : "", p->kv.vals[i]);
	char *raw = bk_buf_detach(&b), *s = squeeze(raw);
	free(raw);
	return s;
}

static int kparam_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	char *want = squeeze(check->u.kernel_param.value), *have = kparam_value(p), *exp;
	int rc = 0;

	if (!want || !have)
		rc = bk_oom();
	else if (bk_check_kv_int(p, "value_rc", 1) != 0 || strcmp(want, have) != 0) {
		exp = bk_sprintf("value %s", want);
		if (bk_check_kv_int(p, "value_rc", 1) != 0)
			rc = bk_verdict_fail(v, exp ? exp : "value", "no readable parameter (%s)",
					     *have ? have : "sysctl failed");
		else
			rc = bk_verdict_fail(v, exp ? exp : "value", "%s", have);
		free(exp);
	}
	free(want);
	free(have);
	return rc;
}

static int kparam_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, kparam_verdict);
}

static const bk_field KPARAM_FIELDS[] = {
	BK_FIELD("value", BK_F_SCALAR, true, u.kernel_param.value),
	BK_FIELDS_END,
};

const bk_check_type bk_check_kernel_param = {
	BK_CHECK_KERNEL_PARAM, "kernel_param", BK_SUBJ_PARAM, KPARAM_FIELDS, "give value", 60,
	kparam_command, kparam_judge,
};
