/*
 * check_net.c - the `port` check (ss, else netstat, else /proc/net) and
 * the `http` check (a URL fetched on the instance with curl or wget).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify_int.h"

#define PORTS_LISTED_MAX 12   /* listening ports named in a failure */

/* ---- port ------------------------------------------------------------- */

/* Older ss has no -H (no header); the judge skips headers either way. */
static const char PORT_SH[] =
	"echo \"port=$1\"\n"
	"if bk_have ss; then\n"
	"  echo tool=ss\n"
	"  o=$(ss -H -ltun 2>/dev/null) || o=$(ss -ltun 2>&1)\n"
	"  bk_emit ss \"$o\"\n"
	"elif bk_have netstat; then\n"
	"  echo tool=netstat\n"
	"  bk_run netstat netstat -ltun\n"
	"else\n"
	"  echo tool=proc\n"
	"  for f in tcp tcp6 udp udp6; do\n"
	"    [ -r \"/proc/net/$f\" ] && bk_emit \"$f\" \"$(cat \"/proc/net/$f\")\"\n"
	"  done\n"
	"fi\n";

static int port_command(bk_buf *cmd, const bk_check *check)
{
	const char *subject = check->subject;

	return bk_sh_script(cmd, PORT_SH, &subject, 1);
}

typedef struct {
	char proto[8];     /* "tcp" or "udp" */
	char addr[64];     /* "0.0.0.0", "::", "127.0.0.1", "*" */
	long port;
} listener;

typedef struct {
	listener *items;
	size_t count, cap;
} listeners;

static int listeners_add(listeners *ls, const char *proto, const char *addr, long port)
{
	if (ls->count == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 16;
		listener *p = realloc(ls->items, cap * sizeof(*p));
		if (!p)
			return bk_oom();
		ls->items = p;
		ls->cap = cap;
	}
	snprintf(ls->items[ls->count].proto, sizeof(ls->items->proto), "%s", proto);
	snprintf(ls->items[ls->count].addr, sizeof(ls->items->addr), "%s", addr);
	ls->items[ls->count++].port = port;
	return 0;
}

/* "[::ffff:10.0.0.1]:80", "127.0.0.53%lo:53", "*:22", ":::22" */
static int add_endpoint(listeners *ls, const char *proto, const char *ep)
{
	const char *colon = strrchr(ep, ':');
	char addr[64], *end;
	size_t n;
	long port;

	if (!colon || !*(colon + 1))
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0)
		return 0;
	n = (size_t)(colon - ep);
	if (n >= 2 && ep[0] == '[' && ep[n - 1] == ']') {
		ep++;
		n -= 2;
	}
	snprintf(addr, sizeof(addr), "%.*s", (int)(n < sizeof(addr) ? n : sizeof(addr) - 1), ep);
	if ((end = strchr(addr, '%')))
		*end = '\0';
	return listeners_add(ls, proto, addr, port);
}

static size_t split_words(char *line, char **w, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	/* strtok_r: many bakes may judge checks at once. */
	for (char *tok = strtok_r(line, " \t", &save); tok && n < max;
	     tok = strtok_r(NULL, " \t", &save))
		w[n++] = tok;
	return n;
}

/* ss: [Netid] State Recv-Q Send-Q Local Peer [Process]. Netid is left out
 * when only one protocol was asked for. */
static int ss_line(listeners *ls, const char *text)
{
	char *line = bk_strdup(text), *w[8];
	size_t n = line ? split_words(line, w, 8) : 0;
	int rc = 0;

	if (n >= 5 && (strcmp(w[0], "tcp") == 0 || strcmp(w[0], "udp") == 0))
		rc = add_endpoint(ls, w[0], w[4]);
	else if (n >= 4 && strcmp(w[0], "LISTEN") == 0)
		rc = add_endpoint(ls, "tcp", w[3]);
	else if (n >= 4 && strcmp(w[0], "UNCONN") == 0)
		rc = add_endpoint(ls, "udp", w[3]);
	free(line);
	return line ? rc : bk_oom();
}

/* netstat: Proto Recv-Q Send-Q Local Foreign [State]; proto tcp6 is tcp. */
static int netstat_line(listeners *ls, const char *text)
{
	char *line = bk_strdup(text), *w[8];
	size_t n = line ? split_words(line, w, 8) : 0;
	int rc = 0;

	if (n >= 4 && bk_str_starts(w[0], "tcp"))
		rc = add_endpoint(ls, "tcp", w[3]);
	else if (n >= 4 && bk_str_starts(w[0], "udp"))
		rc = add_endpoint(ls, "udp", w[3]);
	free(line);
	return line ? rc : bk_oom();
}

/* /proc/net addresses are 32-bit words printed in the (little-endian)
 * instance's byte order. */
static bool proc_addr(const char *hex, size_t len, char *out, size_t cap)
{
	unsigned char b[16];
	char word[9];

	if (len != 8 && len != 32)
		return false;
	for (size_t i = 0; i < len / 8; i++) {
		unsigned long w;
		memcpy(word, hex + i * 8, 8);
		word[8] = '\0';
		w = strtoul(word, NULL, 16);
		for (int k = 0; k < 4; k++)
			b[i * 4 + (size_t)k] = (unsigned char)(w >> (8 * k));
	}
	return inet_ntop(len == 8 ? AF_INET : AF_INET6, b, out, (socklen_t)cap) != NULL;
}

/* "  0: 0100007F:0CEA 00000000:0000 0A ..." ; LISTEN is 0A, UNCONN 07. */
static int proc_line(listeners *ls, const char *proto, const char *text)
{
	char *line = bk_strdup(text), *w[5], addr[64], *colon;
	size_t n = line ? split_words(line, w, 5) : 0;
	bool tcp = strcmp(proto, "tcp") == 0;
	int rc = 0;

	if (n >= 4 && (colon = strchr(w[1], ':')) &&
	    strcmp(w[3], tcp ? "0A" : "07") == 0 &&
	    proc_addr(w[1], (size_t)(colon - w[1]), addr, sizeof(addr)))
		rc = listeners_add(ls, proto, addr, strtol(colon + 1, NULL, 16));
	free(line);
	return line ? rc : bk_oom();
}

static int port_scan(listeners *ls, const bk_check_kv *p)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->kv.count; i++) {
		const char *k = p->kv.keys[i], *v = p->kv.vals[i];
		if (strcmp(k, "ss") == 0)
			rc = ss_line(ls, v);
		else if (strcmp(k, "netstat") == 0)
			rc = netstat_line(ls, v);
		else if (strcmp(k, "tcp") == 0 || strcmp(k, "tcp6") == 0)
			rc = proc_line(ls, "tcp", v);
		else if (strcmp(k, "udp") == 0 || strcmp(k, "udp6") == 0)
			rc = proc_line(ls, "udp", v);
	}
	return rc;
}

/* "*" (old ss) is any address; otherwise compare as addresses, so "::0"
 * equals "::". */
static bool addr_matches(const char *want, const char *have)
{
	unsigned char a[16], b[16];

	if (strcmp(have, "*") == 0)
		return strcmp(want, "0.0.0.0") == 0 || strcmp(want, "::") == 0 ||
		       strcmp(want, "*") == 0;
	if (inet_pton(AF_INET, want, a) == 1 && inet_pton(AF_INET, have, b) == 1)
		return memcmp(a, b, 4) == 0;
	if (inet_pton(AF_INET6, want, a) == 1 && inet_pton(AF_INET6, have, b) == 1)
		return memcmp(a, b, 16) == 0;
	return strcmp(want, have) == 0;
}

typedef struct {
	long port;
	const char *proto;   /* NULL: any */
	const char *addr;    /* NULL: any */
} port_want;

static bool listener_matches(const listener *l, const port_want *w)
{
	return l->port == w->port && (!w->proto || strcmp(w->proto, l->proto) == 0) &&
	       (!w->addr || addr_matches(w->addr, l->addr));
}

/* "listening on 0.0.0.0 (tcp), :: (tcp)" for this port, or the ports that
 * do listen: "not listening (listening: tcp 22, udp 68)". */
static char *port_found(const listeners *ls, const port_want *w)
{
	bk_buf b = BK_BUF_INIT;
	size_t named = 0;

	for (size_t i = 0; i < ls->count; i++)
		if (ls->items[i].port == w->port)
			bk_buf_printf(&b, "%s%s (%s)", named++ ? ", " : "listening on ",
				      ls->items[i].addr, ls->items[i].proto);
	if (named)
		return bk_buf_detach(&b);
	bk_buf_puts(&b, ls->count ? "not listening (listening:" : "not listening (no listening sockets");
	for (size_t i = 0; i < ls->count; i++) {
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup = dup || (ls->items[j].port == ls->items[i].port &&
				      strcmp(ls->items[j].proto, ls->items[i].proto) == 0);
		if (!dup && named++ < PORTS_LISTED_MAX)
			bk_buf_printf(&b, "%s %s %ld", named > 1 ? "," : "", ls->items[i].proto,
				      ls->items[i].port);
	}
	bk_buf_puts(&b, named > PORTS_LISTED_MAX ? ", ...)" : ")");
	return bk_buf_detach(&b);
}

static int port_expect(bk_verdict *v, const bk_check *check, const listeners *ls)
{
	const bk_check_port_cfg *c = &check->u.port;
	int listening = c->listening;
	port_want w = {c->number, c->protocol, c->address};
	char *found, *exp;
	bool any = false;
	int rc;

	for (size_t i = 0; i < ls->count; i++)
		any = any || listener_matches(&ls->items[i], &w);
	if (listening < 0 || (listening == 1) == any)
		return 0;
	exp = bk_sprintf("%slistening%s%s%s%s", listening ? "" : "not ", w.addr ? " on " : "",
			 w.addr ? w.addr : "", w.proto ? " over " : "", w.proto ? w.proto : "");
	found = port_found(ls, &w);
	rc = bk_verdict_fail(v, exp ? exp : "listening", "%s", found ? found : "?");
	free(exp);
	free(found);
	return rc;
}

static int port_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	listeners ls = {NULL, 0, 0};
	int rc = port_scan(&ls, p);

	rc = rc ? rc : port_expect(v, check, &ls);
	free(ls.items);
	return rc;
}

static int port_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, port_verdict);
}

static const bk_field PORT_FIELDS[] = {
	BK_FIELD("listening", BK_F_BOOL, true, u.port.listening),
	BK_FIELD("protocol", BK_F_PROTOCOL, false, u.port.protocol),
	BK_FIELD("address", BK_F_STRING, false, u.port.address),
	BK_FIELDS_END,
};

const bk_check_type bk_check_port = {
	BK_CHECK_PORT, "port", BK_SUBJ_PORT, PORT_FIELDS, "give listening", 60, port_command, port_judge,
};

/* ---- http ------------------------------------------------------------- */

/* $1 url, $2 flags (k: insecure TLS, f: follow redirects), $3 timeout s.
 * The body goes to a private temp dir, then after the content marker. */
static const char HTTP_SH[] =
	"u=$1; f=$2; t=$3\n"
	"d=$(mktemp -d 2>/dev/null) || { d=/tmp/bakeami-http.$$; mkdir -m 700 \"$d\" || exit 1; }\n"
	"trap 'rm -rf \"$d\"' EXIT\n"
	"if bk_have curl; then\n"
	"  echo tool=curl\n"
	"  set -- -sS -o \"$d/body\" -w '%{http_code}' --max-time \"$t\"\n"
	"  case $f in *k*) set -- \"$@\" -k;; esac\n"
	"  case $f in *f*) set -- \"$@\" -L;; esac\n"
	"  s=$(curl \"$@\" \"$u\" 2>\"$d/err\"); r=$?\n"
	"  echo \"status=$s\"; echo \"rc=$r\"; bk_emit err \"$(cat \"$d/err\")\"\n"
	"elif bk_have wget; then\n"
	"  echo tool=wget\n"
	"  set -- -q -S -O \"$d/body\" -T \"$t\"\n"
	"  case $f in *k*) set -- \"$@\" --no-check-certificate;; esac\n"
	"  case $f in *f*) ;; *) wget --version 2>/dev/null | grep -q 'GNU Wget' &&\n"
	"    set -- \"$@\" --max-redirect=0;; esac\n"
	"  wget \"$@\" \"$u\" 2>\"$d/err\"; r=$?\n"
	"  echo \"rc=$r\"; bk_emit wget \"$(cat \"$d/err\")\"\n"
	"else\n"
	"  echo tool=none; exit 0\n"
	"fi\n"
	"echo '" BK_CONTENT_MARKER "'\n"
	"[ -f \"$d/body\" ] && head -c 4194305 \"$d/body\"\n"
	"exit 0\n";

static int http_command(bk_buf *cmd, const bk_check *check)
{
	char flags[3] = "", timeout[32];
	const char *args[3] = {check->subject, flags, timeout};
	size_t n = 0;

	if (check->u.http.insecure == 1)
		flags[n++] = 'k';
	if (check->u.http.follow_redirects == 1)
		flags[n++] = 'f';
	flags[n] = '\0';
	snprintf(timeout, sizeof(timeout), "%ld", (long)bk_check_timeout(check));
	return bk_sh_script(cmd, HTTP_SH, args, 3);
}

/* wget -S prints each response's status line: "  HTTP/1.1 200 OK"; the
 * last one counts (after redirects). */
static int wget_status(const bk_check_kv *p)
{
	int status = 0;

	for (size_t i = 0; i < p->kv.count; i++) {
		const char *v = p->kv.vals[i];
		while (*v == ' ')
			v++;
		if (strcmp(p->kv.keys[i], "wget") == 0 && bk_str_starts(v, "HTTP/") && strchr(v, ' '))
			status = atoi(strchr(v, ' ') + 1);
	}
	return status;
}

/* wget -q says nothing on failure; its exit status is all there is. */
static const char *wget_reason(int rc)
{
	switch (rc) {
	case 4: return ": network failure";
	case 5: return ": TLS verification failed";
	case 6: return ": authentication required";
	case 7: return ": protocol error";
	default: return "";
	}
}

/* Why there is no status: curl's/wget's own message. */
static char *http_failure(const bk_check_kv *p)
{
	const char *tool = bk_kv_get(&p->kv, "tool");
	const char *err = bk_kv_get(&p->kv, "err");

	if (!tool || strcmp(tool, "none") == 0)
		return bk_strdup("no curl or wget on the instance");
	if (!err)
		err = bk_kv_get(&p->kv, "wget");
	if (err && *err)
		return bk_sprintf("no response (%s)", err);
	return bk_sprintf("no response (%s exited %d%s)", tool, bk_check_kv_int(p, "rc", -1),
			  wget_reason(bk_check_kv_int(p, "rc", -1)));
}

static int body_expect(bk_verdict *v, const bk_check_http_cfg *c, const bk_check_kv *p)
{
	const char *want = c->body_contains;
	const char *re = c->body_matches;
	size_t len = p->content_len > BK_CONTENT_CAP ? BK_CONTENT_CAP : p->content_len;
	char *body = bk_strndup(p->content ? p->content : "", len), *exp;
	int rc = body ? 0 : bk_oom(), m;

	if (rc == 0 && want && !bk_contains(body, len, want)) {
		exp = bk_sprintf("body containing \"%s\"", want);
		rc = bk_verdict_fail(v, exp, "a %zu-byte body without it", len);
		free(exp);
	}
	if (rc == 0 && re && (m = bk_regex_search(re, body)) <= 0) {
		exp = bk_sprintf("body matching /%s/", re);
		rc = m < 0 ? bk_verdict_error(v, "%s", bk_err_msg())
			   : bk_verdict_fail(v, exp, "a %zu-byte body without a match", len);
		free(exp);
	}
	free(body);
	return rc;
}

static int http_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	const char *tool = bk_kv_get(&p->kv, "tool");
	int status = tool && strcmp(tool, "wget") == 0 ? wget_status(p)
						       : bk_check_kv_int(p, "status", 0);
	long want = check->u.http.status;
	char *why, exp[32];
	int rc = 0;

	if (status <= 0) {
		why = http_failure(p);
		rc = bk_verdict_fail(v, "a response", "%s", why ? why : "no response");
		free(why);
		return rc;
	}
	if (want >= 0 && want != status) {
		snprintf(exp, sizeof(exp), "status %ld", want);
		rc = bk_verdict_fail(v, exp, "%d", status);
	}
	return rc ? rc : body_expect(v, &check->u.http, p);
}

static int http_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, http_verdict);
}

static const bk_field HTTP_FIELDS[] = {
	BK_FIELD("status", BK_F_INT, true, u.http.status),
	BK_FIELD("body_contains", BK_F_TEXT, true, u.http.body_contains),
	BK_FIELD("body_matches", BK_F_REGEX, true, u.http.body_matches),
	BK_FIELD("insecure", BK_F_BOOL, false, u.http.insecure),
	BK_FIELD("follow_redirects", BK_F_BOOL, false, u.http.follow_redirects),
	BK_FIELDS_END,
};

const bk_check_type bk_check_http = {
	BK_CHECK_HTTP, "http", BK_SUBJ_URL, HTTP_FIELDS, "give status, body_contains or body_matches", 30,
	http_command, http_judge,
};
