/* journal.c - the ledger and its append-only JSON-lines file (journal.h).
 * Every line carries the whole entry with its index, so reading the file
 * back is: each line overwrites entry n. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "journal.h"

struct bk_journal {
	int fd;
	char *path;
	pthread_mutex_t mu;    /* the copy threads of a promotion write too */
	bk_ledger ledger;
};

static const char *const state_events[] = {"intent", "created", "kept", "deleted"};

const char *bk_entry_state_name(bk_entry_state st)
{
	return st <= BK_DELETED ? state_events[st] : "?";
}

bool bk_entry_live(const bk_entry *e)
{
	return e->state == BK_INTENDED || e->state == BK_CREATED;
}

/* ---- lines -------------------------------------------------------------- */

static bool add_str(cJSON *o, const char *k, const char *v)
{
	return !v || cJSON_AddStringToObject(o, k, v);
}

static cJSON *undo_json(const bk_kv *undo)
{
	cJSON *u = cJSON_CreateObject();

	for (size_t i = 0; u && i < undo->count; i++)
		if (!cJSON_AddStringToObject(u, undo->keys[i], undo->vals[i])) {
			cJSON_Delete(u);
			return NULL;
		}
	return u;
}

static cJSON *entry_json(const bk_entry *e, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *u;
	char ts[32];

	bk_iso8601(ts, bk_wall());
	if (!o || !add_str(o, "t", ts) || !cJSON_AddNumberToObject(o, "n", (double)n) ||
	    !add_str(o, "event", bk_entry_state_name(e->state)) || !add_str(o, "kind", e->kind) ||
	    !add_str(o, "id", e->id) || !add_str(o, "name", e->name) ||
	    !add_str(o, "region", e->region) || !add_str(o, "parent", e->parent) ||
	    !add_str(o, "at", e->at)) {
		cJSON_Delete(o);
		return NULL;
	}
	if (e->undo.count && (!(u = undo_json(&e->undo)) || !cJSON_AddItemToObject(o, "undo", u))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* One write() per record so a kill can only tear the last line. */
static int append(bk_journal *j, cJSON *o)
{
	char *line = o ? cJSON_PrintUnformatted(o) : NULL;
	int rc = 0;

	cJSON_Delete(o);
	if (!line)
		return bk_oom();
	size_t n = strlen(line);
	line[n] = '\n';
	if (write(j->fd, line, n + 1) != (ssize_t)(n + 1) || fsync(j->fd) < 0)
		rc = bk_err(BAKEAMI_EIO, "journal %s: %s", j->path, strerror(errno));
	free(line);
	return rc;
}

static int append_plain(bk_journal *j, const char *event, const char *k1, const char *v1,
			const char *k2, const char *v2)
{
	cJSON *o = cJSON_CreateObject();
	char ts[32];

	bk_iso8601(ts, bk_wall());
	if (!o || !add_str(o, "t", ts) || !add_str(o, "event", event) || !add_str(o, k1, v1) ||
	    !add_str(o, k2, v2)) {
		cJSON_Delete(o);
		return bk_oom();
	}
	return append(j, o);
}

/* ---- the in-memory ledger ---------------------------------------------- */

static void entry_free(bk_entry *e)
{
	free(e->kind);
	free(e->id);
	free(e->name);
	free(e->region);
	free(e->parent);
	free(e->at);
	bk_kv_free(&e->undo);
	memset(e, 0, sizeof(*e));
}

static int set_str(char **dst, const char *v)
{
	char *copy = v ? bk_strdup(v) : NULL;

	if (v && !copy)
		return bk_oom();
	free(*dst);
	*dst = copy;
	return 0;
}

static int entry_fill(bk_entry *e, const bk_entry_spec *s)
{
	int rc = set_str(&e->kind, s->kind);

	if (rc == 0)
		rc = set_str(&e->id, s->id);
	if (rc == 0)
		rc = set_str(&e->name, s->name);
	if (rc == 0)
		rc = set_str(&e->region, s->region);
	if (rc == 0)
		rc = set_str(&e->parent, s->parent);
	bk_kv_free(&e->undo);
	for (size_t i = 0; rc == 0 && s->undo && i < s->undo->count; i++)
		rc = bk_kv_add(&e->undo, s->undo->keys[i], s->undo->vals[i]);
	return rc;
}

/* Entry n, made (zeroed) when n is the next one. */
static bk_entry *ledger_slot(bk_ledger *l, size_t n)
{
	bk_entry *p;

	if (n < l->count)
		return &l->items[n];
	if (n != l->count || !(p = realloc(l->items, (l->count + 1) * sizeof(*p))))
		return NULL;
	l->items = p;
	memset(&p[n], 0, sizeof(p[n]));
	l->count++;
	return &p[n];
}

void bk_ledger_free(bk_ledger *l)
{
	for (size_t i = 0; i < l->count; i++)
		entry_free(&l->items[i]);
	free(l->items);
	free(l->run_id);
	free(l->region);
	free(l->endpoint);
	free(l->role_arn);
	free(l->role_external_id);
	memset(l, 0, sizeof(*l));
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

long bk_ledger_find(const bk_ledger *l, const char *kind, const char *region, const char *id)
{
	for (size_t i = l->count; i-- > 0;) {
		const bk_entry *e = &l->items[i];
		if (bk_entry_live(e) && !strcmp(e->kind, kind) && same(e->region, region) &&
		    same(e->id, id))
			return (long)i;
	}
	return -1;
}

bool bk_ledger_knows(const bk_ledger *l, const char *kind, const char *region, const char *id)
{
	for (size_t i = 0; i < l->count; i++) {
		const bk_entry *e = &l->items[i];
		if (!strcmp(e->kind, kind) && same(e->region, region) && same(e->id, id))
			return true;
	}
	return false;
}

size_t bk_ledger_count(const bk_ledger *l, bk_entry_state st)
{
	size_t n = 0;

	for (size_t i = 0; i < l->count; i++)
		n += l->items[i].state == st;
	return n;
}

/* ---- writing ------------------------------------------------------------ */

static int parent_dirs(const char *path)
{
	char *dir = bk_strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return bk_oom();
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		rc = bk_mkdirs(dir, 0700);
	}
	free(dir);
	return rc;
}

static int journal_new(bk_journal **out, const char *path)
{
	bk_journal *j;
	int rc;

	*out = NULL;
	if ((rc = parent_dirs(path)) < 0)
		return rc;
	if (!(j = calloc(1, sizeof(*j))) || !(j->path = bk_strdup(path))) {
		free(j);
		return bk_oom();
	}
	pthread_mutex_init(&j->mu, NULL);
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		rc = bk_err(BAKEAMI_EIO, "journal %s: %s", path, strerror(errno));
		bk_journal_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

int bk_journal_open(bk_journal **out, const char *path, const char *run_id,
		    const char *region)
{
	int rc = journal_new(out, path);

	if (rc == 0 && ((rc = set_str(&(*out)->ledger.run_id, run_id)) < 0 ||
			(rc = set_str(&(*out)->ledger.region, region)) < 0 ||
			(rc = append_plain(*out, "start", "id", run_id, "region", region)) < 0)) {
		bk_journal_free(*out);
		*out = NULL;
	}
	return rc;
}

/* A kill mid-write leaves a torn last line: what is appended starts on a
 * line of its own, or it would be torn too. */
static int end_torn_line(bk_journal *j)
{
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);
	char last = '\n';
	int rc = 0;

	if (fd >= 0 && lseek(fd, -1, SEEK_END) >= 0 && read(fd, &last, 1) != 1)
		last = '\n';
	if (fd >= 0)
		close(fd);
	if (last != '\n' && (write(j->fd, "\n", 1) != 1 || fsync(j->fd) < 0))
		rc = bk_err(BAKEAMI_EIO, "journal %s: %s", j->path, strerror(errno));
	return rc;
}

int bk_journal_reopen(bk_journal **out, const char *path)
{
	bk_ledger l;
	int rc = bk_journal_read(&l, path);

	*out = NULL;
	if (rc == 0 && (rc = journal_new(out, path)) == 0) {
		(*out)->ledger = l;
		if ((rc = end_torn_line(*out)) < 0) {
			bk_journal_free(*out);
			*out = NULL;
		}
	} else if (rc == 0) {
		bk_ledger_free(&l);
	}
	return rc;
}

int bk_journal_add(bk_journal *j, size_t *n, const bk_entry_spec *spec, bk_entry_state st)
{
	bk_entry *e;
	int rc;

	pthread_mutex_lock(&j->mu);
	if (!(e = ledger_slot(&j->ledger, j->ledger.count))) {
		pthread_mutex_unlock(&j->mu);
		return bk_oom();
	}
	char now[32];

	bk_iso8601(now, bk_wall());
	e->state = st;
	if ((rc = entry_fill(e, spec)) == 0)
		rc = set_str(&e->at, now);
	if (rc == 0)
		rc = append(j, entry_json(e, j->ledger.count - 1));
	if (rc == 0 && n)
		*n = j->ledger.count - 1;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int bk_journal_set(bk_journal *j, size_t n, bk_entry_state st, const char *id)
{
	int rc = 0;

	pthread_mutex_lock(&j->mu);
	if (n >= j->ledger.count)
		rc = bk_err(BAKEAMI_ERROR, "internal error: no ledger entry %zu", n);
	if (rc == 0 && id)
		rc = set_str(&j->ledger.items[n].id, id);
	if (rc == 0) {
		j->ledger.items[n].state = st;
		rc = append(j, entry_json(&j->ledger.items[n], n));
	}
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int bk_journal_intent(bk_journal *j, const char *kind, const char *name)
{
	bk_entry_spec s = {.kind = kind, .name = name};

	return bk_journal_add(j, NULL, &s, BK_INTENDED);
}

int bk_journal_created(bk_journal *j, const char *kind, const char *id)
{
	long n = -1;

	pthread_mutex_lock(&j->mu);
	for (size_t i = j->ledger.count; n < 0 && i-- > 0;) {
		const bk_entry *e = &j->ledger.items[i];
		if (e->state == BK_INTENDED && !e->id && !e->region && !strcmp(e->kind, kind))
			n = (long)i;
	}
	pthread_mutex_unlock(&j->mu);
	if (n < 0) {   /* created without an intent: an entry of its own */
		bk_entry_spec s = {.kind = kind, .id = id};
		return bk_journal_add(j, NULL, &s, BK_CREATED);
	}
	return bk_journal_set(j, (size_t)n, BK_CREATED, id);
}

static int settle(bk_journal *j, const char *kind, const char *id, bk_entry_state st)
{
	long n;

	pthread_mutex_lock(&j->mu);
	n = bk_ledger_find(&j->ledger, kind, NULL, id);
	pthread_mutex_unlock(&j->mu);
	if (n < 0)
		return bk_err(BAKEAMI_ERROR, "internal error: %s %s is not in the ledger", kind, id);
	return bk_journal_set(j, (size_t)n, st, NULL);
}

int bk_journal_deleted(bk_journal *j, const char *kind, const char *id)
{
	return settle(j, kind, id, BK_DELETED);
}

int bk_journal_kept(bk_journal *j, const char *kind, const char *id)
{
	return settle(j, kind, id, BK_KEPT);
}

static int access_json(cJSON **out, const bk_run_access *a)
{
	char ts[32];
	cJSON *o = cJSON_CreateObject();

	bk_iso8601(ts, bk_wall());
	if (!o || !add_str(o, "t", ts) || !add_str(o, "event", "access") ||
	    !add_str(o, "endpoint", a->endpoint) ||
	    (a->skip_tls_verify && !cJSON_AddTrueToObject(o, "skip_tls_verify")) ||
	    !add_str(o, "role_arn", a->role_arn) || !add_str(o, "role_external_id", a->role_external_id)) {
		cJSON_Delete(o);
		return bk_oom();
	}
	*out = o;
	return 0;
}

static int ledger_access(bk_ledger *l, const char *endpoint, bool skip_tls_verify,
			 const char *role_arn, const char *external_id)
{
	int rc = set_str(&l->endpoint, endpoint);

	if (rc == 0)
		rc = set_str(&l->role_arn, role_arn);
	if (rc == 0)
		rc = set_str(&l->role_external_id, external_id);
	l->skip_tls_verify = skip_tls_verify;
	return rc;
}

int bk_journal_access(bk_journal *j, const bk_run_access *a)
{
	cJSON *o = NULL;
	int rc = access_json(&o, a);

	pthread_mutex_lock(&j->mu);
	if (rc == 0 && (rc = append(j, o)) == 0)
		rc = ledger_access(&j->ledger, a->endpoint, a->skip_tls_verify, a->role_arn,
				   a->role_external_id);
	pthread_mutex_unlock(&j->mu);
	return rc;
}

int bk_journal_done(bk_journal *j, const char *status)
{
	int rc;

	pthread_mutex_lock(&j->mu);
	rc = append_plain(j, "done", "status", status, NULL, NULL);
	if (rc == 0)
		j->ledger.done = 1;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

const char *bk_journal_path(const bk_journal *j)
{
	return j ? j->path : NULL;
}

const bk_ledger *bk_journal_ledger(const bk_journal *j)
{
	return &j->ledger;
}

void bk_journal_free(bk_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	bk_ledger_free(&j->ledger);
	pthread_mutex_destroy(&j->mu);
	free(j->path);
	free(j);
}

/* ---- reading ------------------------------------------------------------ */

static const char *str_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int state_of(bk_entry_state *out, const char *event)
{
	for (size_t i = 0; event && i < BK_ARRAY_SIZE(state_events); i++)
		if (!strcmp(event, state_events[i])) {
			*out = (bk_entry_state)i;
			return 0;
		}
	return -1;
}

static int apply_entry(bk_ledger *l, const cJSON *o, bk_entry_state st)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "n"), *it;
	bk_entry_spec s = {str_field(o, "kind"), str_field(o, "id"), str_field(o, "name"),
			   str_field(o, "region"), str_field(o, "parent"), NULL};
	bk_kv undo = BK_KV_INIT;
	bk_entry *e;
	int rc = 0;

	if (!cJSON_IsNumber(n) || n->valuedouble < 0 || !s.kind)
		return 0;   /* not ours: skipped like a torn line */
	/* Past the next slot is a gap; checked before the cast, which is
	 * undefined for a double beyond size_t (a hand-edited "n": 1e300). */
	if (n->valuedouble > (double)l->count || !(e = ledger_slot(l, (size_t)n->valuedouble)))
		return 0;   /* a gap: an entry whose line was torn */
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "undo"))
		if (rc == 0 && cJSON_IsString(it))
			rc = bk_kv_add(&undo, it->string, it->valuestring);
	s.undo = &undo;
	if (rc == 0)
		rc = entry_fill(e, &s);
	if (rc == 0 && !e->at)
		rc = set_str(&e->at, str_field(o, "at") ? str_field(o, "at") : str_field(o, "t"));
	e->state = st;
	bk_kv_free(&undo);
	return rc;
}

static int apply_record(bk_ledger *l, const cJSON *o)
{
	const char *ev = str_field(o, "event");
	bk_entry_state st;

	if (!ev)
		return 0;
	if (!strcmp(ev, "start")) {
		int rc = set_str(&l->run_id, str_field(o, "id"));
		return rc ? rc : set_str(&l->region, str_field(o, "region"));
	}
	if (!strcmp(ev, "access"))
		return ledger_access(l, str_field(o, "endpoint"),
				     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "skip_tls_verify")),
				     str_field(o, "role_arn"), str_field(o, "role_external_id"));
	if (!strcmp(ev, "done")) {
		l->done = 1;
		return 0;
	}
	return state_of(&st, ev) == 0 ? apply_entry(l, o, st) : 0;
}

int bk_journal_read(bk_ledger *out, const char *path)
{
	char *data, *line, *save = NULL;
	int rc = 0, lineno = 0;

	memset(out, 0, sizeof(*out));
	if ((rc = bk_file_read(&data, NULL, path)) < 0)
		return bk_err_wrap(rc, "journal");
	for (line = strtok_r(data, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		lineno++;
		if (!o) /* torn write from a kill: only the last line can be */
			continue;
		rc = apply_record(out, o);
		cJSON_Delete(o);
	}
	free(data);
	if (rc == 0 && !out->run_id)
		rc = bk_err(BAKEAMI_EINVALID, "journal %s: no start record (%d lines)", path, lineno);
	if (rc < 0)
		bk_ledger_free(out);
	return rc;
}
