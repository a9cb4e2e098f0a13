/*
 * check_pkg.c - the `package` and `service` checks. Portable across
 * Debian/Ubuntu (dpkg) and RHEL/Amazon Linux (rpm), and across systemd
 * and SysV init (also Upstart and containers, through `service`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

/* ---- package ---------------------------------------------------------- */

/* Both managers are asked when both exist (Debian can carry an rpm tool). */
static const char PACKAGE_SH[] =
	"m=\n"
	"if bk_have dpkg-query; then m=1; echo manager=dpkg\n"
	"  bk_run dpkg dpkg-query -W -f='${Status} ${Version}\\n' \"$1\"; fi\n"
	"if bk_have rpm; then m=1; echo manager=rpm\n"
	"  bk_run rpm rpm -q --qf '%{VERSION}-%{RELEASE}\\n' \"$1\"; fi\n"
	"[ -n \"$m\" ] || echo manager=none\n";

static int package_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, PACKAGE_SH, &subject, 1);
}

typedef struct {
	bool manager;        /* some package manager answered */
	bool installed;
	bk_strv versions;    /* installed versions */
	bk_buf state;        /* why it counts as not installed */
} pkg_state;

/* dpkg's ${Status} is "want eflag status": only these states mean the
 * package is configured on disk ("deinstall ok config-files" is not). */
static bool dpkg_installed(const char *status)
{
	return strcmp(status, "installed") == 0 || strcmp(status, "triggers-pending") == 0 ||
	       strcmp(status, "triggers-awaited") == 0;
}

static int dpkg_line(pkg_state *st, const char *line)
{
	char want[32], eflag[32], status[32];
	int used = 0;

	if (sscanf(line, "%31s %31s %31s %n", want, eflag, status, &used) < 3 || used == 0)
		return 0;   /* "dpkg-query: no packages found matching x" */
	if (dpkg_installed(status)) {
		st->installed = true;
		return bk_strv_push(&st->versions, line + used);
	}
	return bk_buf_printf(&st->state, "%sdpkg status \"%s %s %s\"", st->state.len ? ", " : "",
			     want, eflag, status);
}

static int pkg_scan(pkg_state *st, const bk_check_kv *p)
{
	bool dpkg_ok = bk_check_kv_int(p, "dpkg_rc", 1) == 0;
	bool rpm_ok = bk_check_kv_int(p, "rpm_rc", 1) == 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->kv.count; i++) {
		const char *k = p->kv.keys[i], *v = p->kv.vals[i];
		if (strcmp(k, "manager") == 0 && strcmp(v, "none") != 0)
			st->manager = true;
		else if (strcmp(k, "dpkg") == 0 && dpkg_ok)
			rc = dpkg_line(st, v);
		else if (strcmp(k, "rpm") == 0 && rpm_ok && *v) {
			st->installed = true;
			rc = bk_strv_push(&st->versions, v);
		}
	}
	return rc;
}

/* "1.18" matches "1.18", "1.18.0-6ubuntu14", "1:1.18.0"; not "1.180". */
static bool version_matches(const char *want, const char *have)
{
	size_t n = strlen(want);
	const char *colon = strchr(have, ':');

	if (!strchr(want, ':') && colon)
		have = colon + 1;
	if (strncmp(want, have, n) != 0)
		return false;
	return have[n] == '\0' || strchr("-.+~_", have[n]) != NULL;
}

static char *versions_text(const bk_strv *v)
{
	bk_buf b = BK_BUF_INIT;

	for (size_t i = 0; i < v->count; i++)
		if (bk_buf_printf(&b, "%s%s", i ? ", " : "", v->items[i]) < 0)
			break;
	return bk_buf_detach(&b);
}

static int pkg_not_installed(bk_verdict *v, const pkg_state *st, const char *expected)
{
	if (!st->manager)
		return bk_verdict_fail(v, expected, "no package manager (dpkg or rpm)");
	if (st->state.len)
		return bk_verdict_fail(v, expected, "not installed (%s)", st->state.ptr);
	return bk_verdict_fail(v, expected, "not installed");
}

static int pkg_expect(bk_verdict *v, const bk_check *check, const pkg_state *st)
{
	int installed = check->u.package.installed;
	const char *want = check->u.package.version;
	char *have = versions_text(&st->versions), *exp;
	int rc = 0;
	bool ok = false;

	if (installed == 1 && !st->installed)
		rc = pkg_not_installed(v, st, "installed");
	if (installed == 0 && st->installed)
		rc = bk_verdict_fail(v, "not installed", "installed (version %s)", have);
	if (rc == 0 && want && installed != 0) {
		for (size_t i = 0; i < st->versions.count; i++)
			ok = ok || version_matches(want, st->versions.items[i]);
		exp = bk_sprintf("version %s", want);
		if (!st->installed && installed != 1)
			rc = pkg_not_installed(v, st, exp);
		else if (st->installed && !ok)
			rc = bk_verdict_fail(v, exp, "version %s", have);
		free(exp);
	}
	free(have);
	return rc;
}

static int pkg_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	pkg_state st = {false, false, BK_STRV_INIT, BK_BUF_INIT};
	int rc = pkg_scan(&st, p);

	rc = rc ? rc : pkg_expect(v, check, &st);
	bk_strv_free(&st.versions);
	bk_buf_free(&st.state);
	return rc;
}

static int package_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, pkg_verdict);
}

static const bk_field PACKAGE_FIELDS[] = {
	BK_FIELD("installed", BK_F_BOOL, true, u.package.installed),
	BK_FIELD("version", BK_F_STRING, true, u.package.version),
	BK_FIELDS_END,
};

const bk_check_type bk_check_package = {
	BK_CHECK_PACKAGE, "package", BK_SUBJ_NAME, PACKAGE_FIELDS, "give installed or version", 60,
	package_command, package_judge,
};

/* ---- service ---------------------------------------------------------- */

/*
 * systemd only when it is the running init (sd_booted's test): a container
 * may have systemctl without systemd. Otherwise SysV through `service`
 * (which also speaks Upstart), enabled meaning an S link in a runlevel.
 */
static const char SERVICE_SH[] =
	"if [ -d /run/systemd/system ] && bk_have systemctl; then\n"
	"  echo manager=systemd\n"
	"  bk_run active systemctl is-active \"$1\"\n"
	"  bk_run enabled systemctl is-enabled \"$1\"\n"
	"elif bk_have service || [ -d /etc/init.d ] || [ -d /etc/rc.d/init.d ]; then\n"
	"  echo manager=sysv\n"
	"  if [ -f \"/etc/init.d/$1\" ] || [ -f \"/etc/rc.d/init.d/$1\" ]; then\n"
	"    echo initscript=yes; else echo initscript=no; fi\n"
	"  if bk_have service; then bk_root status service \"$1\" status\n"
	"  elif [ -f \"/etc/init.d/$1\" ]; then bk_root status \"/etc/init.d/$1\" status\n"
	"  else bk_root status \"/etc/rc.d/init.d/$1\" status; fi\n"
	"  for l in /etc/rc[2345].d/S[0-9][0-9]\"$1\" /etc/rc.d/rc[2345].d/S[0-9][0-9]\"$1\"; do\n"
	"    [ -e \"$l\" ] && echo \"link=$l\"\n"
	"  done\n"
	"else\n"
	"  echo manager=none\n"
	"fi\n";

static int service_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, SERVICE_SH, &subject, 1);
}

typedef struct {
	bool running, enabled;
	char *running_found;   /* what to say when running is not as expected */
	char *enabled_found;
} svc_state;

static char *systemd_word(const bk_check_kv *p, const char *key)
{
	const char *w = bk_kv_get(&p->kv, key);

	if (!w || !*w)
		return bk_strdup("unknown");
	if (bk_str_starts(w, "Failed to get unit file state"))
		return bk_strdup("not-found (no such unit)");
	return bk_first_line(w, 120);
}

static int systemd_scan(svc_state *st, const bk_check_kv *p)
{
	st->running = bk_check_kv_int(p, "active_rc", 1) == 0;
	st->enabled = bk_check_kv_int(p, "enabled_rc", 1) == 0;
	st->running_found = systemd_word(p, "active");
	st->enabled_found = systemd_word(p, "enabled");
	return st->running_found && st->enabled_found ? 0 : bk_oom();
}

static int sysv_scan(svc_state *st, const bk_check_kv *p)
{
	int status = bk_check_kv_int(p, "status_rc", -1);
	const char *init = bk_kv_get(&p->kv, "initscript");
	char *line = bk_first_line(bk_kv_get(&p->kv, "status"), 160);

	st->running = status == 0;
	st->enabled = bk_kv_get(&p->kv, "link") != NULL;
	if (st->running)
		st->running_found = bk_sprintf("running (service status: %s)", line ? line : "");
	else if (init && strcmp(init, "no") == 0)
		st->running_found = bk_sprintf("no such service (no init script; %s)",
					       line && *line ? line : "service status failed");
	else
		st->running_found = bk_sprintf("not running (service status exited %d: %s)",
					       status, line ? line : "");
	st->enabled_found = bk_strdup(st->enabled ? "enabled (S link in /etc/rc?.d)"
						  : "disabled (no S link in /etc/rc[2-5].d)");
	free(line);
	return st->running_found && st->enabled_found ? 0 : bk_oom();
}

static int svc_expect(bk_verdict *v, int want, bool have, const char *what, const char *found)
{
	char *exp;
	int rc;

	if (want < 0 || (want == 1) == have)
		return 0;
	exp = bk_sprintf("%s%s", want ? "" : "not ", what);
	rc = bk_verdict_fail(v, exp ? exp : what, "%s", found);
	free(exp);
	return rc;
}

static int svc_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	const char *mgr = bk_kv_get(&p->kv, "manager");
	svc_state st = {false, false, NULL, NULL};
	int rc;

	if (!mgr || strcmp(mgr, "none") == 0) {
		const char *none = "no service manager (neither systemd nor SysV init)";
		st.running_found = bk_strdup(none);
		st.enabled_found = bk_strdup(none);
		rc = st.running_found && st.enabled_found ? 0 : bk_oom();
	} else {
		rc = strcmp(mgr, "systemd") == 0 ? systemd_scan(&st, p) : sysv_scan(&st, p);
	}
	rc = rc ? rc : svc_expect(v, check->u.service.running, st.running, "running",
				  st.running_found);
	rc = rc ? rc : svc_expect(v, check->u.service.enabled, st.enabled, "enabled",
				  st.enabled_found);
	free(st.running_found);
	free(st.enabled_found);
	return rc;
}

static int service_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, svc_verdict);
}

static const bk_field SERVICE_FIELDS[] = {
	BK_FIELD("running", BK_F_BOOL, true, u.service.running),
	BK_FIELD("enabled", BK_F_BOOL, true, u.service.enabled),
	BK_FIELDS_END,
};

const bk_check_type bk_check_service = {
	BK_CHECK_SERVICE, "service", BK_SUBJ_NAME, SERVICE_FIELDS, "give running or enabled", 60,
	service_command, service_judge,
};
