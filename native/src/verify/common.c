/*
 * common.c - what every check type shares: shell quoting and the script
 * prologue, the key=value protocol, verdicts, small JSON and text helpers.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

/*
 * Runs before every check script. LC_ALL=C keeps tool messages in English
 * for the judges; sbin is added because non-root users often lack it and
 * sysctl, ss and service live there. bk_run records a tool's output and
 * status; bk_root does the same but retries with passwordless sudo (never
 * prompting: -n) when the plain attempt failed and we are not root.
 */
static const char PROLOGUE[] =
	"LC_ALL=C; export LC_ALL\n"
	"PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\"; export PATH\n"
	"bk_have() { command -v \"$1\" >/dev/null 2>&1; }\n"
	"bk_emit() { [ -n \"$2\" ] && printf '%s\\n' \"$2\" | sed \"s/^/$1=/\"; return 0; }\n"
	"bk_run() { bk_k=$1; shift; bk_o=$(\"$@\" 2>&1); bk_r=$?\n"
	"  bk_emit \"$bk_k\" \"$bk_o\"; echo \"${bk_k}_rc=$bk_r\"; }\n"
	"bk_root() { bk_k=$1; shift; bk_o=$(\"$@\" 2>&1); bk_r=$?\n"
	"  if [ \"$bk_r\" -ne 0 ] && [ \"$(id -u)\" != 0 ] && sudo -n true >/dev/null 2>&1; then\n"
	"    bk_o=$(sudo -n \"$@\" 2>&1); bk_r=$?; echo \"${bk_k}_sudo=1\"; fi\n"
	"  bk_emit \"$bk_k\" \"$bk_o\"; echo \"${bk_k}_rc=$bk_r\"; }\n"
	"echo bk=1\n";

int bk_sh_script(bk_buf *cmd, const char *body, const char *const *args, size_t nargs)
{
	bk_buf script = BK_BUF_INIT;
	int rc;

	/* sh -c keeps the check independent of the login shell; $0 names it in
	 * error messages, the user values arrive as $1.. only. */
	rc = bk_buf_puts(&script, PROLOGUE);
	rc = rc ? rc : bk_buf_puts(&script, body);
	rc = rc ? rc : bk_buf_puts(cmd, "sh -c ");
	rc = rc ? rc : bk_sh_quote(cmd, script.ptr);
	rc = rc ? rc : bk_buf_puts(cmd, " bakeami-check");
	for (size_t i = 0; rc == 0 && i < nargs; i++) {
		rc = bk_buf_putc(cmd, ' ');
		rc = rc ? rc : bk_sh_quote(cmd, args[i] ? args[i] : "");
	}
	bk_buf_free(&script);
	return rc;
}

/* ---- the key=value protocol ------------------------------------------ */

static bool valid_key(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static int kv_line(bk_check_kv *p, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	char *key, *val;
	int rc;

	/* Stray lines (a tool writing to our stdout) are not protocol. */
	if (!eq || !valid_key(line, (size_t)(eq - line)))
		return 0;
	key = bk_strndup(line, (size_t)(eq - line));
	val = bk_strndup(eq + 1, len - (size_t)(eq - line) - 1);
	rc = key && val ? bk_kv_add(&p->kv, key, val) : bk_oom();
	free(key);
	free(val);
	return rc;
}

int bk_check_kv_parse(bk_check_kv *p, const bk_check_output *o)
{
	const char *s = o->out ? o->out : "", *end = s + (o->out ? o->out_len : 0);
	size_t mlen = strlen(BK_CONTENT_MARKER);
	int rc = 0;

	memset(p, 0, sizeof(*p));
	while (s < end && rc == 0) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);

		if (len == mlen && memcmp(s, BK_CONTENT_MARKER, mlen) == 0) {
			p->content = nl ? nl + 1 : end;
			p->content_len = (size_t)(end - p->content);
			break;
		}
		rc = kv_line(p, s, len);
		s += len + (nl ? 1 : 0);
	}
	if (rc == 0 && !bk_kv_get(&p->kv, "bk"))
		rc = bk_err(BAKEAMI_ERROR, "the check script did not run");
	return rc;
}

void bk_check_kv_free(bk_check_kv *p)
{
	bk_kv_free(&p->kv);
	p->content = NULL;
}

int bk_check_kv_int(const bk_check_kv *p, const char *key, int def)
{
	const char *v = bk_kv_get(&p->kv, key);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end == '\0' ? (int)n : def;
}

/* ---- verdicts --------------------------------------------------------- */

int bk_verdict_fail(bk_verdict *v, const char *expected, const char *found_fmt, ...)
{
	va_list ap;
	int rc;

	if (v->status == BK_TEST_PASSED)
		v->status = BK_TEST_FAILED;
	rc = v->why.len ? bk_buf_puts(&v->why, "; ") : 0;
	rc = rc ? rc : bk_buf_printf(&v->why, "expected %s, found ", expected);
	va_start(ap, found_fmt);
	rc = rc ? rc : bk_buf_vprintf(&v->why, found_fmt, ap);
	va_end(ap);
	return rc;
}

int bk_verdict_error(bk_verdict *v, const char *fmt, ...)
{
	va_list ap;
	int rc;

	v->status = BK_TEST_ERROR;
	rc = v->why.len ? bk_buf_puts(&v->why, "; ") : 0;
	va_start(ap, fmt);
	rc = rc ? rc : bk_buf_vprintf(&v->why, fmt, ap);
	va_end(ap);
	return rc;
}

int bk_verdict_broken(bk_verdict *v, const bk_check_output *o)
{
	char *line = bk_first_line(o->err && o->err_len ? o->err : o->out, 200);
	int rc;

	rc = bk_verdict_error(v, "could not run the check (exit status %d%s%s)", o->status,
			      line && *line ? ": " : "", line ? line : "");
	free(line);
	return rc;
}

int bk_judge_kv(bk_verdict *v, const bk_check *check, const bk_check_output *o, bk_kv_judge fn)
{
	bk_check_kv p;
	int rc = bk_check_kv_parse(&p, o);

	if (rc == BAKEAMI_ERROR)
		rc = bk_verdict_broken(v, o);
	else if (rc == 0)
		rc = fn(v, check, &p);
	bk_check_kv_free(&p);
	return rc;
}

void bk_verdict_free(bk_verdict *v)
{
	bk_buf_free(&v->why);
	v->status = BK_TEST_PASSED;
}

/* ---- JSON ------------------------------------------------------------- */

char *bk_json_text(const cJSON *item)
{
	double d;

	if (cJSON_IsString(item))
		return bk_strdup(item->valuestring);
	if (cJSON_IsBool(item))
		return bk_strdup(cJSON_IsTrue(item) ? "true" : "false");
	if (!cJSON_IsNumber(item))
		return NULL;
	d = item->valuedouble;
	if (d == (double)(long long)d)
		return bk_sprintf("%lld", (long long)d);
	return bk_sprintf("%g", d);
}

const char *bk_json_str(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

bool bk_json_int(const cJSON *obj, const char *key, long *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	/* The cast is undefined for a double beyond long (a report's "line_number": 1e30). */
	if (!cJSON_IsNumber(it) || !(it->valuedouble > -9.2e18 && it->valuedouble < 9.2e18))
		return false;
	*out = (long)it->valuedouble;
	return true;
}

/* ---- text ------------------------------------------------------------- */

int bk_regex_search(const char *pattern, const char *text)
{
	regex_t re;
	char msg[256];
	int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);

	if (rc != 0) {
		regerror(rc, &re, msg, sizeof(msg));
		regfree(&re);
		return bk_err(BAKEAMI_EINVALID, "bad regular expression \"%s\": %s", pattern, msg);
	}
	rc = regexec(&re, text ? text : "", 0, NULL, 0) == 0;
	regfree(&re);
	return rc;
}

bool bk_contains(const char *hay, size_t hay_len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	return hay && memmem(hay, hay_len, needle, n) != NULL;
}

char *bk_first_line(const char *s, size_t max)
{
	size_t n = 0;

	if (!s)
		return bk_strdup("");
	while (s[n] && s[n] != '\n' && n < max)
		n++;
	return bk_strndup(s, n);
}

long bk_mode_parse(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	long v = 0;

	if (n < 3 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (s[i] - '0');
	}
	return v;
}
