/* journal.c - append-only JSON-lines record of what a bake created. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "journal.h"

struct bk_journal {
	int fd;
	char *path;
};

static int journal_append(bk_journal *j, const char *event, const char *type,
			  const char *id, const char *extra_key, const char *extra)
{
	cJSON *o = cJSON_CreateObject();
	char ts[32], *line;
	int rc = 0;

	bk_iso8601(ts, bk_wall());
	if (!o || !cJSON_AddStringToObject(o, "t", ts) ||
	    !cJSON_AddStringToObject(o, "event", event) ||
	    (type && !cJSON_AddStringToObject(o, "type", type)) ||
	    (id && !cJSON_AddStringToObject(o, "id", id)) ||
	    (extra_key && !cJSON_AddStringToObject(o, extra_key, extra))) {
		cJSON_Delete(o);
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	}
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	/* One write() per record so a kill can only tear the last line. */
	size_t n = strlen(line);
	line[n] = '\n';
	if (write(j->fd, line, n + 1) != (ssize_t)(n + 1) || fsync(j->fd) < 0)
		rc = bk_err(BAKEAMI_EIO, "journal %s: %s", j->path, strerror(errno));
	free(line);
	return rc;
}

static int parent_dirs(const char *path)
{
	char *dir = bk_strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		rc = bk_mkdirs(dir, 0700);
	}
	free(dir);
	return rc;
}

int bk_journal_open(bk_journal **out, const char *path, const char *run_id,
		    const char *region)
{
	bk_journal *j;
	int rc;

	*out = NULL;
	if ((rc = parent_dirs(path)) < 0)
		return rc;
	if (!(j = calloc(1, sizeof(*j))) || !(j->path = bk_strdup(path))) {
		free(j);
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	}
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		rc = bk_err(BAKEAMI_EIO, "journal %s: %s", path, strerror(errno));
		bk_journal_free(j);
		return rc;
	}
	if ((rc = journal_append(j, "start", NULL, run_id, "region", region)) < 0) {
		bk_journal_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

int bk_journal_intent(bk_journal *j, const char *type, const char *name)
{
	return journal_append(j, "intent", type, NULL, "name", name);
}

int bk_journal_created(bk_journal *j, const char *type, const char *id)
{
	return journal_append(j, "created", type, id, NULL, NULL);
}

int bk_journal_deleted(bk_journal *j, const char *type, const char *id)
{
	return journal_append(j, "deleted", type, id, NULL, NULL);
}

int bk_journal_kept(bk_journal *j, const char *type, const char *id)
{
	return journal_append(j, "kept", type, id, NULL, NULL);
}

int bk_journal_done(bk_journal *j, const char *status)
{
	return journal_append(j, "done", NULL, NULL, "status", status);
}

const char *bk_journal_path(const bk_journal *j)
{
	return j ? j->path : NULL;
}

void bk_journal_free(bk_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}

/* ---- reading ------------------------------------------------------------ */

static int state_add(bk_journal_state *st, const char *type, const char *id)
{
	bk_journal_item *p = realloc(st->items, (st->count + 1) * sizeof(*p));

	if (!p)
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	st->items = p;
	p[st->count].type = bk_strdup(type);
	p[st->count].id = bk_strdup(id);
	if (!p[st->count].type || !p[st->count].id) {
		free(p[st->count].type);
		free(p[st->count].id);
		return bk_err(BAKEAMI_ENOMEM, "out of memory");
	}
	st->count++;
	return 0;
}

static void state_remove(bk_journal_state *st, const char *type, const char *id)
{
	for (size_t i = 0; i < st->count; i++) {
		if (strcmp(st->items[i].type, type) || strcmp(st->items[i].id, id))
			continue;
		free(st->items[i].type);
		free(st->items[i].id);
		memmove(&st->items[i], &st->items[i + 1],
			(st->count - i - 1) * sizeof(st->items[0]));
		st->count--;
		return;
	}
}

/* An intent is settled once a created record of its type follows it. */
static void intent_settle(bk_journal_state *st, const char *type)
{
	for (size_t i = 0; i < st->pending_intents.count; i++) {
		char *it = st->pending_intents.items[i];
		size_t n = strlen(type);
		if (strncmp(it, type, n) == 0 && it[n] == ' ') {
			free(it);
			memmove(&st->pending_intents.items[i], &st->pending_intents.items[i + 1],
				(st->pending_intents.count - i) * sizeof(char *));
			st->pending_intents.count--;
			return;
		}
	}
}

static const char *str_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int apply_record(bk_journal_state *st, const cJSON *o)
{
	const char *ev = str_field(o, "event"), *type = str_field(o, "type");
	const char *id = str_field(o, "id");

	if (!ev)
		return 0;
	if (!strcmp(ev, "start")) {
		free(st->run_id);
		free(st->region);
		st->run_id = bk_strdup(id);
		st->region = bk_strdup(str_field(o, "region"));
	} else if (!strcmp(ev, "intent") && type) {
		char *s = bk_sprintf("%s %s", type, str_field(o, "name") ? str_field(o, "name") : "");
		int rc = s ? bk_strv_push(&st->pending_intents, s) : BAKEAMI_ENOMEM;
		free(s);
		return rc;
	} else if (!strcmp(ev, "created") && type && id) {
		intent_settle(st, type);
		return state_add(st, type, id);
	} else if ((!strcmp(ev, "deleted") || !strcmp(ev, "kept")) && type && id) {
		state_remove(st, type, id);
	} else if (!strcmp(ev, "done")) {
		st->done = 1;
	}
	return 0;
}

int bk_journal_read(bk_journal_state *out, const char *path)
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
		bk_journal_state_free(out);
	return rc;
}

void bk_journal_state_free(bk_journal_state *st)
{
	for (size_t i = 0; i < st->count; i++) {
		free(st->items[i].type);
		free(st->items[i].id);
	}
	free(st->items);
	free(st->run_id);
	free(st->region);
	bk_strv_free(&st->pending_intents);
	memset(st, 0, sizeof(*st));
}
