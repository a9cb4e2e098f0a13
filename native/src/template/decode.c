/*
 * decode.c - Packer 1.6.6's decoding of a rendered option into its field:
 * mapstructure's WeaklyTypedInput rules plus the SDK's decode hooks
 * (StringToSliceHookFunc(","), StringToTimeDurationHookFunc(), the
 * Trilean hook), as packer-plugin-sdk/template/config/decode.go sets them
 * up. One function does it for every kind of field, so every option of
 * every builder, provisioner and post-processor table decodes alike.
 * The result is a new JSON item holding the value as Packer leaves it
 * (see the README's "Decoding" section for the table of rules).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_int.h"

static void zeros(bk_buf *b, int n)
{
	while (n-- > 0)
		bk_buf_printf(b, "0");
}

/* Go's strconv.FormatFloat(d, 'f', -1, 64): the fewest digits that read
 * back as d, written without an exponent (1e21 -> "1000...0"). */
char *bk_tpl_go_float(double d)
{
	char e[40], digits[24];
	const char *p;
	int prec, exp, nd = 0;
	bk_buf out = BK_BUF_INIT;

	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	p = e;
	if (*p == '-')
		bk_buf_printf(&out, "-"), p++;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp = atoi(p + 1);
	if (digits[0] == '0') {
		bk_buf_printf(&out, "0");
	} else if (exp >= nd - 1) {
		bk_buf_printf(&out, "%s", digits);
		zeros(&out, exp - (nd - 1));
	} else if (exp >= 0) {
		bk_buf_printf(&out, "%.*s.%s", exp + 1, digits, digits + exp + 1);
	} else {
		bk_buf_printf(&out, "0.");
		zeros(&out, -exp - 1);
		bk_buf_printf(&out, "%s", digits);
	}
	return bk_buf_detach(&out);
}

/* strconv.ParseBool. */
static int go_parse_bool(int *out, const char *s)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

	for (size_t i = 0; i < BK_ARRAY_SIZE(t); i++) {
		if (strcmp(s, t[i]) == 0)
			return *out = 1, 0;
		if (strcmp(s, f[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* strconv.ParseInt(s, 0, 64): a sign, then 0x, 0o, 0b or a leading 0
 * (octal) picks the base; '_' may separate digits. */
static int go_parse_int(long long *out, const char *s)
{
	char clean[80], *end;
	const char *p = s;
	size_t n = 0;
	int base = 10;

	if (*p == '+' || *p == '-')
		clean[n++] = *p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	else if (p[0] == '0' && p[1])
		base = 8, p++;
	for (; *p && n < sizeof(clean) - 1; p++) {
		if (*p == '_' && p[1] && p[1] != '_' && p != s)
			continue;
		if (*p == ' ' || *p == '+' || *p == '-')
			return -1;
		clean[n++] = *p;
	}
	clean[n] = '\0';
	if (*p || n == 0 || clean[n - 1] == '+' || clean[n - 1] == '-')
		return -1;
	errno = 0;
	*out = strtoll(clean, &end, base);
	return (*end || errno) ? -1 : 0;
}

static int type_err(const bk_cfg_ctx *c, const cJSON *v, const char *path, const char *want)
{
	return bk_tpl_err(c->file, path, "expected %s, got %s", want, bk_tpl_json_type(v));
}

static int to_string(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	char *s;

	if (cJSON_IsString(v))
		*out = cJSON_CreateString(v->valuestring);
	else if (cJSON_IsBool(v))
		*out = cJSON_CreateString(cJSON_IsTrue(v) ? "1" : "0");
	else if (cJSON_IsNumber(v)) {
		if (!(s = bk_tpl_go_float(v->valuedouble)))
			return bk_oom();
		*out = cJSON_CreateString(s);
		free(s);
	} else if (cJSON_IsNull(v))
		*out = cJSON_CreateString("");   /* a null element or map value */
	else
		return type_err(c, v, path, "a string");
	return *out ? 0 : bk_oom();
}

static int to_bool(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path,
		   bool trilean)
{
	int b = 0;

	if (cJSON_IsBool(v))
		b = cJSON_IsTrue(v);
	else if (cJSON_IsNumber(v) && trilean) {
		/* A Trilean is an int underneath: 0 unset, 1 true, any other false. */
		if (v->valuedouble == 0)
			return 0;
		b = v->valuedouble == 1;
	} else if (cJSON_IsNumber(v))
		b = v->valuedouble != 0;
	else if (cJSON_IsString(v) && !*v->valuestring && trilean)
		return 0;   /* "" leaves a Trilean unset */
	else if (cJSON_IsString(v) && *v->valuestring && go_parse_bool(&b, v->valuestring) < 0)
		return bk_tpl_err(c->file, path, "expected true or false, got \"%s\" (Packer "
				  "reads 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False, "
				  "and \"\" as false)", v->valuestring);
	else if (!cJSON_IsString(v))
		return type_err(c, v, path, "true or false");
	*out = cJSON_CreateBool(b);
	return *out ? 0 : bk_oom();
}

static int to_int(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	long long n = 0;

	if (cJSON_IsNumber(v)) {
		if (fabs(v->valuedouble) >= 9.2e18)
			return bk_tpl_err(c->file, path, "%s is out of range for an integer",
					  "the number");
		n = (long long)v->valuedouble;   /* Go's int(f) truncates: 2.9 -> 2 */
	} else if (cJSON_IsBool(v))
		n = cJSON_IsTrue(v);
	else if (cJSON_IsString(v) && *v->valuestring && go_parse_int(&n, v->valuestring) < 0)
		return bk_tpl_err(c->file, path, "expected an integer, got \"%s\"", v->valuestring);
	else if (!cJSON_IsString(v))
		return type_err(c, v, path, "an integer");
	*out = cJSON_CreateNumber((double)n);
	return *out ? 0 : bk_oom();
}

/* A Duration: a string through time.ParseDuration; a number (or a bool,
 * weakly an int) is nanoseconds, as Go's time.Duration is. Kept as
 * seconds. */
static int to_duration(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	double secs;

	if (cJSON_IsString(v)) {
		if (bk_go_duration(&secs, v->valuestring) < 0)
			return bk_tpl_err(c->file, path, "invalid duration \"%s\" (use Go durations "
					  "like 30s, 5m or 1h30m)", v->valuestring);
	} else if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
		secs = cJSON_IsBool(v) ? cJSON_IsTrue(v) * 1e-9 : trunc(v->valuedouble) / 1e9;
		bk_tpl_warn(c->warnings, "%s: %s: a number is a count of nanoseconds in Packer "
			"(%s ns); write a duration string like \"5m\"", c->file, path,
			cJSON_IsBool(v) ? (cJSON_IsTrue(v) ? "1" : "0") : "that many");
	} else
		return bk_tpl_err(c->file, path, "expected a duration string like \"5m\", got %s",
				  bk_tpl_json_type(v));
	*out = cJSON_CreateNumber(secs);
	return *out ? 0 : bk_oom();
}

static int to_scalar(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path,
		     char kind)
{
	*out = NULL;
	switch (kind) {
	case 's': return to_string(out, c, v, path);
	case 'b': return to_bool(out, c, v, path, false);
	case 't': return to_bool(out, c, v, path, true);
	case 'i': return to_int(out, c, v, path);
	case 'd': return to_duration(out, c, v, path);
	}
	return bk_err(BAKEAMI_ERROR, "internal: bad kind '%c'", kind);
}

/* One element of a list; null is the element type's zero value. */
static int element(cJSON *list, const bk_cfg_ctx *c, const cJSON *it, const char *path,
		   size_t i, char kind)
{
	char *sub = bk_tpl_jpath_index(path, i);
	cJSON *e = NULL;
	int rc;

	if (!sub)
		return bk_oom();
	if (cJSON_IsNull(it))
		e = kind == 's' ? cJSON_CreateString("") : cJSON_CreateNumber(0);
	rc = e ? 0 : to_scalar(&e, c, it, sub, kind);
	free(sub);
	if (rc == 0 && !e)
		rc = bk_oom();
	if (rc == 0)
		cJSON_AddItemToArray(list, e);
	return rc;
}

/* StringToSliceHookFunc(","): no trimming; "" is the empty list. */
static cJSON *split_commas(const char *s)
{
	cJSON *list = cJSON_CreateArray();

	for (const char *p = s, *q; list && *s; p = q + 1) {
		char *part = bk_strndup(p, (q = strchr(p, ',')) ? (size_t)(q - p) : strlen(p));
		cJSON *e = part ? cJSON_CreateString(part) : NULL;
		free(part);
		if (!e) {
			cJSON_Delete(list);
			return NULL;
		}
		cJSON_AddItemToArray(list, e);
		if (!q)
			break;
	}
	return list;
}

/* Any other single value becomes a list of one. */
static cJSON *lift(const cJSON *v)
{
	cJSON *list = cJSON_CreateArray(), *e = cJSON_Duplicate(v, 1);

	if (!list || !e) {
		cJSON_Delete(list);
		cJSON_Delete(e);
		return NULL;
	}
	cJSON_AddItemToArray(list, e);
	return list;
}

/* []T: a string is split on ","; {} is the empty list; another single
 * value is lifted into a list of one; then each element is decoded. */
static int to_list(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path,
		   char elem)
{
	cJSON *list = cJSON_CreateArray(), *tmp = NULL;
	const cJSON *src = v;
	size_t i = 0;
	int rc = 0;

	if (!list)
		return bk_oom();
	if (cJSON_IsObject(v) && !v->child)
		src = NULL;
	else if (!cJSON_IsArray(v) && !(src = tmp = cJSON_IsString(v) ? split_commas(v->valuestring)
						       : lift(v)))
		rc = bk_oom();
	for (const cJSON *it = src ? src->child : NULL; it && rc == 0; it = it->next, i++)
		rc = element(list, c, it, path, i, elem);
	cJSON_Delete(tmp);
	if (rc != 0) {
		cJSON_Delete(list);
		return rc;
	}
	*out = list;
	return 0;
}

/* One map's entries into `map`, values as strings (null is "", the key
 * kept); a nested object or array is an error. */
static int map_entries(cJSON *map, const bk_cfg_ctx *c, const cJSON *obj, const char *path)
{
	int rc = 0;

	for (const cJSON *it = obj->child; it && rc == 0; it = it->next) {
		char *sub = bk_tpl_jpath_key(path, it->string);
		cJSON *s = NULL;

		if (!sub)
			return bk_oom();
		if (!*it->string)
			rc = bk_tpl_err(c->file, path, "a key must not be empty");
		else
			rc = to_string(&s, c, it, sub);
		if (rc == 0 && cJSON_GetObjectItemCaseSensitive(map, it->string))
			cJSON_ReplaceItemInObjectCaseSensitive(map, it->string, s);
		else if (rc == 0)
			cJSON_AddItemToObject(map, it->string, s);
		free(sub);
	}
	return rc;
}

/* map[string]string: an object; weakly, a list of objects is merged in
 * order (mapstructure's decodeMapFromSlice). */
static int to_map(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path)
{
	cJSON *map;
	size_t i = 0;
	int rc = 0;

	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return type_err(c, v, path, "an object of strings");
	if (!(map = cJSON_CreateObject()))
		return bk_oom();
	if (cJSON_IsObject(v))
		rc = map_entries(map, c, v, path);
	for (const cJSON *it = cJSON_IsArray(v) ? v->child : NULL; it && rc == 0; it = it->next, i++) {
		char *sub = bk_tpl_jpath_index(path, i);
		if (!sub)
			rc = bk_oom();
		else if (!cJSON_IsObject(it))
			rc = type_err(c, it, sub, "an object of strings");
		else
			rc = map_entries(map, c, it, sub);
		free(sub);
	}
	if (rc != 0) {
		cJSON_Delete(map);
		return rc;
	}
	*out = map;
	return 0;
}

int bk_tpl_decode(cJSON **out, const bk_cfg_ctx *c, const cJSON *v, const char *path, char kind)
{
	*out = NULL;
	if (cJSON_IsNull(v))
		return 0;   /* Packer: null sets nothing */
	switch (kind) {
	case 'v': return to_list(out, c, v, path, 's');
	case 'n': return to_list(out, c, v, path, 'i');
	case 'k': return to_map(out, c, v, path);
	}
	return to_scalar(out, c, v, path, kind);
}
