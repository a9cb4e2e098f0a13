/*
 * funcs.c - the template functions (packer-plugin-sdk interpolate/funcs.go
 * plus the amazon builder's clean_resource_name) and the build variables.
 * Each returns a new string; argument counts and types are checked by the
 * caller against the signature in the table.
 */
#include <stdio.h>
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "template_int.h"

#define OOM() bk_oom()

static int ret(char **out, const char *s)
{
	*out = bk_strdup(s ? s : "");
	return *out ? 0 : OOM();
}

static int fn_user(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	const char *v = NULL;
	int rc = ps->in->user ? ps->in->user(&v, a[0].s, ps->in->user_payload)
			      : BAKEAMI_ENOTFOUND;

	(void)n;
	/* In the variables section (where env is allowed) an unknown name is
	 * an error, as Packer's last pass; elsewhere Packer renders "". */
	if (rc == BAKEAMI_ENOTFOUND && ps->in->allow_env)
		return bk_tpl_iperr(ps, "undefined variable '%s' (declare it under \"variables\")",
				a[0].s);
	if (rc == BAKEAMI_ENOTFOUND)
		bk_tpl_warn(ps->in->warnings, "%s: %s: variable '%s' is not declared under "
			"\"variables\" and not set with -var: it renders \"\", as in Packer",
			ps->in->file, ps->path, a[0].s);
	return rc != 0 && rc != BAKEAMI_ENOTFOUND ? rc : ret(out, v);
}

static int fn_env(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)n;
	/* As Packer: the environment is read only where variables are set. */
	if (!ps->in->allow_env)
		return bk_tpl_iperr(ps, "env is only allowed in variable defaults: declare a "
				"variable with the default \"{{env `%s`}}\" and use "
				"{{user `name`}} here", a[0].s);
	return ret(out, getenv(a[0].s));
}

static int fn_isotime(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	*out = bk_go_time_format(n ? a[0].s : "2006-01-02T15:04:05Z07:00", ps->in->start);
	return *out ? 0 : OOM();
}

static int fn_strftime(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	time_t t = (time_t)floor(ps->in->start);
	struct tm tm;
	char buf[512];

	(void)n;
	gmtime_r(&t, &tm);
	buf[0] = '\0';
	if (*a[0].s && strftime(buf, sizeof(buf), a[0].s, &tm) == 0)
		return bk_tpl_iperr(ps, "strftime: the result is empty or too long");
	return ret(out, buf);
}

static int fn_timestamp(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)a, (void)n;
	*out = bk_sprintf("%lld", (long long)floor(ps->in->start));
	return *out ? 0 : OOM();
}

static int fn_uuid(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	char u[37];

	(void)ps, (void)a, (void)n;
	bk_uuid4(u);
	return ret(out, u);
}

static int fn_clean(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)ps, (void)n;
	*out = bk_clean_resource_name(a[0].s);
	return *out ? 0 : OOM();
}

static int fn_clean_ami(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	bk_tpl_warn(ps->in->warnings, "%s: %s: clean_ami_name is the old name of "
		"clean_resource_name (Packer removed it in 1.5); accepted",
		ps->in->file, ps->path);
	return fn_clean(out, ps, a, n);
}

static int fn_build_name(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)a, (void)n;
	return ret(out, ps->in->build_name);
}

static int fn_build_type(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)a, (void)n;
	return ret(out, ps->in->build_type);
}

static int fn_template_dir(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)a, (void)n;
	return ret(out, ps->in->template_dir);
}

static int fn_pwd(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)a, (void)n;
	return ret(out, ps->in->pwd);
}

static int fn_packer_version(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)ps, (void)a, (void)n;
	return ret(out, BAKEAMI_VERSION);
}

/* ASCII only: Go's strings.ToLower also folds other scripts. */
static int fn_case(char **out, const char *s, int upper)
{
	if (!(*out = bk_strdup(s)))
		return OOM();
	for (char *p = *out; *p; p++)
		*p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
	return 0;
}

static int fn_lower(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)ps, (void)n;
	return fn_case(out, a[0].s, 0);
}

static int fn_upper(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)ps, (void)n;
	return fn_case(out, a[0].s, 1);
}

/* Bytes in the UTF-8 sequence starting at s (1 for stray bytes). */
static size_t utf8_step(const char *s)
{
	size_t n = 1;

	while (s[n] && ((unsigned char)s[n] & 0xC0) == 0x80)
		n++;
	return n;
}

/* Go's strings.Replace: n < 0 replaces all; an empty `old` matches before
 * every character and at the end. */
static char *go_replace(const char *s, const char *old, const char *new, long long n)
{
	bk_buf b = BK_BUF_INIT;
	size_t lo = strlen(old);
	long long done = 0;

	while (n < 0 || done < n) {
		const char *hit = lo ? strstr(s, old) : s;
		if (!hit)
			break;
		bk_buf_put(&b, s, (size_t)(hit - s));
		bk_buf_puts(&b, new);
		done++;
		s = hit + lo;
		if (!lo) {
			if (!*s)
				break;
			bk_buf_put(&b, s, utf8_step(s));
			s += utf8_step(s);
		}
	}
	bk_buf_puts(&b, s);
	return bk_buf_detach(&b);
}

static int fn_replace(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)ps, (void)n;
	*out = go_replace(a[3].s, a[0].s, a[1].s, a[2].n);
	return *out ? 0 : OOM();
}

static int fn_replace_all(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)ps, (void)n;
	*out = go_replace(a[2].s, a[0].s, a[1].s, -1);
	return *out ? 0 : OOM();
}

/* Go's strings.Split(s, sep)[index]; an empty sep splits into characters. */
static int fn_split(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	const char *s = a[0].s, *sep = a[1].s;
	size_t ls = strlen(sep);
	long long idx = a[2].n, count = 0;

	(void)n;
	for (const char *p = s;; count++) {
		const char *hit = ls ? strstr(p, sep) : (*p && p[utf8_step(p)] ? p + utf8_step(p) : NULL);
		size_t len = hit ? (size_t)(hit - p) : strlen(p);
		if (count == idx) {
			*out = bk_strndup(p, len);
			return *out ? 0 : OOM();
		}
		if (!hit)
			break;
		p = hit + ls;
	}
	return bk_tpl_iperr(ps, "the substring %lld was unavailable using the separator value, "
			"%s, only %lld values were found", idx, sep, count + 1);
}

/* ---- secret stores -------------------------------------------------- */

/* A JSON secret must be an object of strings; *n its entries. */
static int secret_object(const cJSON *j, const char *name, int *n)
{
	*n = 0;
	if (!cJSON_IsObject(j))
		return bk_err(BAKEAMI_EINVALID, "aws_secretsmanager: secret %s is JSON but not an "
			      "object of strings", name);
	for (const cJSON *it = j->child; it; it = it->next, (*n)++)
		if (!cJSON_IsString(it))
			return bk_err(BAKEAMI_EINVALID, "aws_secretsmanager: secret %s: \"%s\" is "
				      "not a string", name, it->string);
	return 0;
}

int bk_tpl_secret_pick(char **out, const char *secret, const char *name, const char *key)
{
	cJSON *j = cJSON_ParseWithOpts(secret, NULL, 1);
	const cJSON *hit = NULL;
	int n, rc;

	*out = NULL;
	if (!j)   /* plain text (Go's json.Valid fails): the value itself */
		return ret(out, secret);
	rc = secret_object(j, name, &n);
	if (rc == 0 && !*key && n > 1)
		rc = bk_err(BAKEAMI_EINVALID, "aws_secretsmanager: secret %s has %d values and no "
			    "key was given (e.g. {{aws_secretsmanager `%s` `%s`}})", name, n, name,
			    j->child->string);
	else if (rc == 0 && !(hit = *key ? cJSON_GetObjectItemCaseSensitive(j, key) : j->child))
		rc = bk_err(BAKEAMI_EINVALID, "aws_secretsmanager: no secret found for key \"%s\" "
			    "in %s", key, name);
	if (rc == 0)
		rc = ret(out, hit->valuestring);
	cJSON_Delete(j);
	return rc;
}

/* {{aws_secretsmanager `name` [`key`]}}: Secrets Manager's current
 * version, read where variables are set (as Packer); the value is then a
 * secret, masked wherever it would be printed. */
static int fn_secretsmanager(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	const char *key = n > 1 ? a[1].s : "";
	char *raw = NULL;
	int rc;

	if (!ps->in->allow_env)
		return bk_tpl_iperr(ps, "AWS Secrets Manager is only allowed in the variables "
				"section (as in Packer): declare a variable with the default "
				"\"{{aws_secretsmanager `%s`}}\" and use {{user `name`}} here", a[0].s);
	if (!ps->in->secret)
		return bk_tpl_iperr(ps, "aws_secretsmanager cannot be read here");
	if (!*a[0].s)
		return bk_tpl_iperr(ps, "aws_secretsmanager needs the secret's name or ARN");
	if ((rc = ps->in->secret(&raw, a[0].s, ps->in->secret_payload)) < 0)
		return bk_tpl_iperr(ps, "%s", bk_err_msg());
	rc = bk_tpl_secret_pick(out, raw, a[0].s, key);
	if (raw)
		memset(raw, 0, strlen(raw));
	free(raw);
	if (rc < 0)
		return bk_tpl_iperr(ps, "%s", bk_err_msg());
	if (ps->in->secrets && **out && bk_strv_push(ps->in->secrets, *out) < 0)
		return OOM();
	return 0;
}

/* Packer's functions bakeami does not have, each with the reason. */
static int fn_vault(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)out, (void)a, (void)n;
	return bk_tpl_iperr(ps, "vault is not supported by bakeami: it would need a Vault "
			"client and VAULT_TOKEN on every agent; read the secret in the job "
			"(Jenkins' withVault or the vault CLI) and pass it with -var, the variable "
			"listed in sensitive-variables");
}

static int fn_consul_key(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)out, (void)a, (void)n;
	return bk_tpl_iperr(ps, "consul_key is not supported by bakeami: it would need a "
			"Consul agent reachable from every agent; read the key in the job "
			"(consul kv get) and pass it with -var");
}

static int fn_sed(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	(void)out, (void)a, (void)n;
	return bk_tpl_iperr(ps, "template function `sed` was removed from Packer (1.6.6 "
			"refuses it too): use `replace` or `replace_all` instead");
}

/* {{build `Name`}}: what Packer gives provisioners. */
static int fn_build(char **out, const bk_iparser *ps, const bk_ival *a, size_t n)
{
	const bk_build_vars *bv = ps->in->bv;
	const char *k = a[0].s;

	(void)n;
	if (strcmp(k, "PackerRunUUID") == 0)
		return ret(out, ps->in->run_id);
	if (strcmp(k, "ID") == 0)
		return ret(out, bv ? bv->instance_id : NULL);
	if (strcmp(k, "Host") == 0)
		return ret(out, bv ? bv->ssh_host : NULL);
	if (strcmp(k, "User") == 0)
		return ret(out, bv ? bv->ssh_user : NULL);
	if (strcmp(k, "Port") == 0) {
		*out = bv && bv->ssh_port > 0 ? bk_sprintf("%d", bv->ssh_port) : bk_strdup("");
		return *out ? 0 : OOM();
	}
	if (strcmp(k, "ConnType") == 0)
		return ret(out, "ssh");
	if (!strcmp(k, "PackerHTTPIP") || !strcmp(k, "PackerHTTPPort") ||
	    !strcmp(k, "PackerHTTPAddr") || !strcmp(k, "Password") || !strcmp(k, "WinRMPassword"))
		return ret(out, "");   /* no HTTP server, no passwords: empty as in Packer */
	if (!strcmp(k, "SSHPrivateKey") || !strcmp(k, "SSHPublicKey"))
		return bk_tpl_iperr(ps, "build `%s` is not available: the temporary key stays "
				"out of templates", k);
	return bk_tpl_build_field(out, ps, k) == 0 ? 0 : bk_tpl_iperr(ps, "unknown build value `%s`", k);
}

static const bk_ifunc funcs[] = {
	{"user", 1, "s", fn_user},
	{"env", 1, "s", fn_env},
	{"isotime", 0, "s", fn_isotime},
	{"strftime", 1, "s", fn_strftime},
	{"timestamp", 0, "", fn_timestamp},
	{"uuid", 0, "", fn_uuid},
	{"clean_resource_name", 1, "s", fn_clean},
	{"clean_ami_name", 1, "s", fn_clean_ami},
	{"build_name", 0, "", fn_build_name},
	{"build_type", 0, "", fn_build_type},
	{"template_dir", 0, "", fn_template_dir},
	{"pwd", 0, "", fn_pwd},
	{"lower", 1, "s", fn_lower},
	{"upper", 1, "s", fn_upper},
	{"replace", 4, "ssis", fn_replace},
	{"replace_all", 3, "sss", fn_replace_all},
	{"split", 3, "ssi", fn_split},
	{"build", 1, "s", fn_build},
	{"packer_version", 0, "", fn_packer_version},
	{"aws_secretsmanager", 1, "ss", fn_secretsmanager},
	/* Packer has these; bakeami refuses them, saying why. */
	{"vault", 0, "ss", fn_vault},
	{"consul_key", 0, "s", fn_consul_key},
	{"sed", 0, "ss", fn_sed},
};

const bk_ifunc *bk_tpl_ifunc_find(const char *name)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(funcs); i++)
		if (strcmp(funcs[i].name, name) == 0)
			return &funcs[i];
	return NULL;
}

/* Build variables by name; -1: known to Packer, always empty here. */
static const struct {
	const char *name;
	ptrdiff_t off;
} fields[] = {
	{"SourceAMI", offsetof(bk_build_vars, source_ami)},
	{"SourceAMIName", offsetof(bk_build_vars, source_ami_name)},
	{"SourceAMICreationDate", offsetof(bk_build_vars, source_ami_creation_date)},
	{"SourceAMIOwner", offsetof(bk_build_vars, source_ami_owner)},
	{"BuildRegion", offsetof(bk_build_vars, build_region)},
	{"SourceAMIOwnerName", -1},
};

static int source_tag(char **out, const bk_iparser *ps, const char *key)
{
	const bk_build_vars *bv = ps->in->bv;

	return ret(out, bv && bv->source_ami_tags ? bk_kv_get(bv->source_ami_tags, key) : NULL);
}

int bk_tpl_build_field(char **out, const bk_iparser *ps, const char *name)
{
	const bk_build_vars *bv = ps->in->bv;

	if (bk_str_starts(name, "SourceAMITags.") && name[14])
		return source_tag(out, ps, name + 14);
	for (size_t i = 0; i < BK_ARRAY_SIZE(fields); i++) {
		if (strcmp(fields[i].name, name) != 0)
			continue;
		if (!bv || fields[i].off < 0)
			return ret(out, "");
		return ret(out, *(const char *const *)((const char *)bv + fields[i].off));
	}
	if (ps->in->keep_unknown)
		return BK_KEEP;
	return bk_tpl_iperr(ps, "unknown build variable .%s (known: .SourceAMI, .SourceAMIName, "
			".SourceAMICreationDate, .SourceAMIOwner, .BuildRegion, "
			".SourceAMITags.KEY)", name);
}

char *bk_clean_resource_name(const char *s)
{
	char *out = bk_strdup(s);

	/* Byte by byte, as Packer: a multi-byte character becomes several '-'. */
	for (char *p = out; p && *p; p++)
		if (!isalnum((unsigned char)*p) || ((unsigned char)*p & 0x80))
			if (!strchr("()[] ./-'@_", *p))
				*p = '-';
	return out;
}
