/*
 * packer_ui.c - Packer 1.6.6's console, line for line (packer/ui.go):
 * TargetedUI's "==> name: " / "    name: " on every line, TimestampedUi's
 * RFC3339 stamp, ColoredUi's escapes, MachineReadableUi's
 * "timestamp,target,type,args" lines with its escaping, and durafmt's
 * durations. Pure text functions; packer.c prints them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* A growing string; NULL after a failed allocation (and stays NULL). */
typedef struct {
	char *s;
	size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
	if (!t->s && t->cap)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *p = realloc(t->s, cap);
		if (!p) {
			free(t->s);
			t->s = NULL;
			t->cap = 1;   /* marks the failure */
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void puts_(text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void text_fail(text *t)
{
	free(t->s);
	t->s = NULL;
	t->cap = 1;
}

static char *done(text *t)
{
	if (!t->s && !t->cap)
		put(t, "", 0);
	return t->s;
}

/* MachineReadableUi: "," -> "%!(PACKER_COMMA)", CR -> "\r", LF -> "\n". */
char *pui_escape(const char *arg)
{
	text t = {0};

	for (const char *p = arg; *p; p++) {
		if (*p == ',')
			puts_(&t, "%!(PACKER_COMMA)");
		else if (*p == '\r')
			puts_(&t, "\\r");
		else if (*p == '\n')
			puts_(&t, "\\n");
		else
			put(&t, p, 1);
	}
	return done(&t);
}

char *pui_machine_line(long long ts, const char *target, const char *type,
		       const char *const *args, size_t n)
{
	char head[32];
	text t = {0};

	snprintf(head, sizeof(head), "%lld,", ts);
	puts_(&t, head);
	puts_(&t, target ? target : "");
	puts_(&t, ",");
	puts_(&t, type);
	puts_(&t, ",");
	for (size_t i = 0; i < n; i++) {
		char *e = pui_escape(args[i]);
		if (i)
			puts_(&t, ",");
		if (e)
			puts_(&t, e);
		else
			text_fail(&t);
		free(e);
	}
	puts_(&t, "\n");
	return done(&t);
}

/* TargetedUI.prefixLines: every line "<arrow> <target>: <line>", the
 * whole right-trimmed. */
char *pui_prefix_lines(int arrow, const char *target, const char *msg)
{
	text t = {0};
	const char *p = msg;

	for (;;) {
		size_t n = strcspn(p, "\n");
		puts_(&t, arrow ? "==> " : "    ");
		puts_(&t, target);
		puts_(&t, ": ");
		put(&t, p, n);
		puts_(&t, "\n");
		if (!p[n])
			break;
		p += n + 1;
	}
	while (t.s && t.len && strchr(" \t\r\n\v\f", t.s[t.len - 1]))
		t.s[--t.len] = '\0';
	return done(&t);
}

/* ColoredUi.colorize: "\033[<bold>;<color>m<msg>\033[0m". */
char *pui_colorize(const char *msg, int color, int bold)
{
	char head[16];
	text t = {0};

	snprintf(head, sizeof(head), "\033[%d;%dm", bold ? 1 : 0, color);
	puts_(&t, head);
	puts_(&t, msg);
	puts_(&t, "\033[0m");
	return done(&t);
}

/* Go's time.RFC3339 of now, local time: "2006-01-02T15:04:05Z07:00" (Z at UTC). */
void pui_rfc3339(char out[40], long long when)
{
	time_t t = (time_t)when;
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff;
	if (off == 0) {
		strcat(out, "Z");
		return;
	}
	off = labs(off) % (24 * 3600);
	snprintf(out + strlen(out), 8, "%c%02d:%02d", tm.tm_gmtoff < 0 ? '-' : '+',
		 (int)(off / 3600), (int)(off % 3600 / 60));
}

/* durafmt.Parse(d).LimitFirstN(2): the first two non-zero units. */
char *pui_duration(double seconds)
{
	static const struct { const char *unit; long long us; } units[] = {
		{"years", 365LL * 24 * 3600 * 1000000}, {"weeks", 7LL * 24 * 3600 * 1000000},
		{"days", 24LL * 3600 * 1000000}, {"hours", 3600LL * 1000000},
		{"minutes", 60LL * 1000000}, {"seconds", 1000000}, {"milliseconds", 1000},
		{"microseconds", 1},
	};
	long long left = (long long)(seconds * 1e6);
	int shown = 0;
	text t = {0};
	char part[48];

	if (left <= 0)
		return done(&t);   /* durafmt prints nothing for a zero duration */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && shown < 2; i++) {
		long long v = left / units[i].us;
		left -= v * units[i].us;
		if (!v)
			continue;
		snprintf(part, sizeof(part), "%s%lld %.*s", shown ? " " : "", v,
			 (int)strlen(units[i].unit) - (v == 1), units[i].unit);
		puts_(&t, part);
		shown++;
	}
	return done(&t);
}
