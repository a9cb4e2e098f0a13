/*
 * gotime.c - Go's time layouts ("2006-01-02T15:04:05Z07:00": the reference
 * time written the way you want yours) and Go durations ("1h30m"), because
 * Packer templates use both. Times are always UTC, as Packer's isotime.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "template_int.h"

enum {
	T_LITERAL_UNDERSCORE, T_LONG_MONTH, T_MONTH, T_NUM_MONTH, T_ZERO_MONTH,
	T_LONG_WEEKDAY, T_WEEKDAY, T_DAY, T_UNDER_DAY, T_ZERO_DAY, T_UNDER_YDAY,
	T_ZERO_YDAY, T_HOUR, T_HOUR12, T_ZERO_HOUR12, T_MINUTE, T_ZERO_MINUTE,
	T_SECOND, T_ZERO_SECOND, T_LONG_YEAR, T_YEAR, T_PM_UPPER, T_PM_LOWER,
	T_TZ_NAME, T_TZ_NUM, T_TZ_ISO
};

/* In the order Go's nextStdChunk tries them: the first prefix that matches
 * wins, so longer forms come before their prefixes. */
static const struct {
	const char *tok;
	int kind;
} tokens[] = {
	{"January", T_LONG_MONTH}, {"Jan", T_MONTH},
	{"Monday", T_LONG_WEEKDAY}, {"Mon", T_WEEKDAY}, {"MST", T_TZ_NAME},
	{"01", T_ZERO_MONTH}, {"02", T_ZERO_DAY}, {"03", T_ZERO_HOUR12},
	{"04", T_ZERO_MINUTE}, {"05", T_ZERO_SECOND}, {"06", T_YEAR}, {"002", T_ZERO_YDAY},
	{"15", T_HOUR}, {"1", T_NUM_MONTH}, {"2006", T_LONG_YEAR}, {"2", T_DAY},
	{"_2006", T_LITERAL_UNDERSCORE}, {"_2", T_UNDER_DAY}, {"__2", T_UNDER_YDAY},
	{"3", T_HOUR12}, {"4", T_MINUTE}, {"5", T_SECOND},
	{"PM", T_PM_UPPER}, {"pm", T_PM_LOWER},
	{"-070000", T_TZ_NUM}, {"-07:00:00", T_TZ_NUM}, {"-0700", T_TZ_NUM},
	{"-07:00", T_TZ_NUM}, {"-07", T_TZ_NUM},
	{"Z070000", T_TZ_ISO}, {"Z07:00:00", T_TZ_ISO}, {"Z0700", T_TZ_ISO},
	{"Z07:00", T_TZ_ISO}, {"Z07", T_TZ_ISO},
};

static const char *const months[] = {"January", "February", "March", "April", "May",
	"June", "July", "August", "September", "October", "November", "December"};
static const char *const days[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
	"Thursday", "Friday", "Saturday"};

static int hour12(const struct tm *tm)
{
	return tm->tm_hour % 12 == 0 ? 12 : tm->tm_hour % 12;
}

static void put_num(bk_buf *b, int kind, const struct tm *tm)
{
	switch (kind) {
	case T_NUM_MONTH: bk_buf_printf(b, "%d", tm->tm_mon + 1); break;
	case T_ZERO_MONTH: bk_buf_printf(b, "%02d", tm->tm_mon + 1); break;
	case T_DAY: bk_buf_printf(b, "%d", tm->tm_mday); break;
	case T_UNDER_DAY: bk_buf_printf(b, "%2d", tm->tm_mday); break;
	case T_ZERO_DAY: bk_buf_printf(b, "%02d", tm->tm_mday); break;
	case T_UNDER_YDAY: bk_buf_printf(b, "%3d", tm->tm_yday + 1); break;
	case T_ZERO_YDAY: bk_buf_printf(b, "%03d", tm->tm_yday + 1); break;
	case T_HOUR: bk_buf_printf(b, "%02d", tm->tm_hour); break;
	case T_HOUR12: bk_buf_printf(b, "%d", hour12(tm)); break;
	case T_ZERO_HOUR12: bk_buf_printf(b, "%02d", hour12(tm)); break;
	case T_MINUTE: bk_buf_printf(b, "%d", tm->tm_min); break;
	case T_ZERO_MINUTE: bk_buf_printf(b, "%02d", tm->tm_min); break;
	case T_SECOND: bk_buf_printf(b, "%d", tm->tm_sec); break;
	case T_ZERO_SECOND: bk_buf_printf(b, "%02d", tm->tm_sec); break;
	case T_LONG_YEAR: bk_buf_printf(b, "%04d", tm->tm_year + 1900); break;
	case T_YEAR: bk_buf_printf(b, "%02d", (tm->tm_year + 1900) % 100); break;
	default: break;
	}
}

static void put_std(bk_buf *b, int kind, const char *tok, const struct tm *tm)
{
	switch (kind) {
	case T_LITERAL_UNDERSCORE: bk_buf_putc(b, '_'); break;
	case T_LONG_MONTH: bk_buf_puts(b, months[tm->tm_mon]); break;
	case T_MONTH: bk_buf_put(b, months[tm->tm_mon], 3); break;
	case T_LONG_WEEKDAY: bk_buf_puts(b, days[tm->tm_wday]); break;
	case T_WEEKDAY: bk_buf_put(b, days[tm->tm_wday], 3); break;
	case T_PM_UPPER: bk_buf_puts(b, tm->tm_hour >= 12 ? "PM" : "AM"); break;
	case T_PM_LOWER: bk_buf_puts(b, tm->tm_hour >= 12 ? "pm" : "am"); break;
	case T_TZ_NAME: bk_buf_puts(b, "UTC"); break;
	case T_TZ_ISO: bk_buf_putc(b, 'Z'); break;
	case T_TZ_NUM:   /* "-07:00" -> "+00:00" */
		for (const char *p = tok; *p; p++)
			bk_buf_putc(b, *p == '-' ? '+' : *p == ':' ? ':' : '0');
		break;
	default: put_num(b, kind, tm); break;
	}
}

/* ".000" (fixed digits) or ".999" (trailing zeros dropped, and the dot too
 * when nothing is left); Go takes them only when no digit follows. */
static size_t put_frac(bk_buf *b, const char *s, long nanos)
{
	char digits[10];
	size_t n = 1;

	if ((s[0] != '.' && s[0] != ',') || (s[1] != '0' && s[1] != '9'))
		return 0;
	while (s[n] == s[1])
		n++;
	if (isdigit((unsigned char)s[n]))
		return 0;
	snprintf(digits, sizeof(digits), "%09ld", nanos);
	size_t keep = n - 1 > 9 ? 9 : n - 1;
	if (s[1] == '9')
		while (keep && digits[keep - 1] == '0')
			keep--;
	if (keep || s[1] == '0') {
		bk_buf_putc(b, s[0]);
		bk_buf_put(b, digits, keep);
	}
	return n;
}

static size_t put_chunk(bk_buf *b, const char *s, const struct tm *tm, long nanos)
{
	size_t n = put_frac(b, s, nanos);

	if (n)
		return n;
	for (size_t i = 0; i < BK_ARRAY_SIZE(tokens); i++) {
		size_t len = strlen(tokens[i].tok);
		if (strncmp(s, tokens[i].tok, len) != 0)
			continue;
		put_std(b, tokens[i].kind, tokens[i].tok, tm);
		return tokens[i].kind == T_LITERAL_UNDERSCORE ? 1 : len;
	}
	bk_buf_putc(b, *s);
	return 1;
}

char *bk_go_time_format(const char *layout, double epoch)
{
	double whole = floor(epoch);
	time_t t = (time_t)whole;
	long nanos = (long)((epoch - whole) * 1e9);
	bk_buf b = BK_BUF_INIT;
	struct tm tm;

	gmtime_r(&t, &tm);
	for (const char *s = layout; *s;)
		s += put_chunk(&b, s, &tm, nanos);
	return bk_buf_detach(&b);
}

static double unit_seconds(const char *u, size_t n)
{
	static const struct {
		const char *name;
		double secs;
	} units[] = {
		{"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"\xCE\xBCs", 1e-6},
		{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600},
	};

	for (size_t i = 0; i < BK_ARRAY_SIZE(units); i++)
		if (strlen(units[i].name) == n && strncmp(u, units[i].name, n) == 0)
			return units[i].secs;
	return -1;
}

/* One "1.5h" element; -1 when it is not one. */
static int duration_part(double *secs, const char **ps)
{
	const char *p = *ps, *u;
	double v = 0, scale = 0.1, unit;
	bool digits = false;

	for (; isdigit((unsigned char)*p); p++, digits = true)
		v = v * 10 + (*p - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10, digits = true)
			v += (*p - '0') * scale;
	if (!digits)
		return -1;
	for (u = p; *p && !isdigit((unsigned char)*p) && *p != '.'; p++)
		;
	if ((unit = unit_seconds(u, (size_t)(p - u))) < 0)
		return -1;
	*secs += v * unit;
	*ps = p;
	return 0;
}

int bk_go_duration(double *out, const char *s)
{
	double secs = 0;

	/* No '-': a negative timeout or pause is never meant. */
	if (*s == '+')
		s++;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s)
		if (duration_part(&secs, &s) < 0)
			return -1;
	*out = secs;
	return 0;
}
