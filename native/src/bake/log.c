/*
 * log.c - bake events for the caller: console lines an ops engineer can
 * read in Jenkins, the same as JSON, secrets masked in both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bake.h"

/* Secrets shorter than this are not masked: masking "a" would garble
 * every line and hide nothing. */
#define BK_MIN_SECRET 4

static int add_one(bakeami_bake *b, const char *s, size_t n)
{
	char *copy;
	int rc = 0;

	if (n < BK_MIN_SECRET)
		return 0;
	if (!(copy = bk_strndup(s, n)))
		return bk_oom();
	pthread_mutex_lock(&b->secrets_mu);
	for (size_t i = 0; i < b->secrets.count && copy; i++)
		if (!strcmp(b->secrets.items[i], copy)) {
			free(copy);
			copy = NULL;
		}
	if (copy)
		rc = bk_strv_push(&b->secrets, copy);
	pthread_mutex_unlock(&b->secrets_mu);
	free(copy);
	return rc;
}

/* Output reaches the log a line at a time: a secret of several lines (a
 * private key) is masked line by line too, or a line of it would show. */
int bk_add_secret(bakeami_bake *b, const char *s)
{
	int rc;

	if (!s)
		return 0;
	rc = add_one(b, s, strlen(s));
	for (const char *p = s; rc == 0 && strpbrk(s, "\r\n") && *p;) {
		size_t n = strcspn(p, "\r\n");
		rc = add_one(b, p, n);
		p += n;
		p += strspn(p, "\r\n");
	}
	return rc;
}

/* Every byte of text inside an occurrence of a secret, occurrences that
 * overlap or nest included. */
static int mark_secrets(unsigned char *hidden, const bakeami_bake *b, const char *text)
{
	/* The lease's thread (lease.c) masks while a stage may add a secret. */
	pthread_mutex_t *mu = (pthread_mutex_t *)&b->secrets_mu;
	int any = 0;

	pthread_mutex_lock(mu);
	for (size_t i = 0; i < b->secrets.count; i++) {
		const char *secret = b->secrets.items[i], *hit = text;
		size_t n = strlen(secret);
		while ((hit = strstr(hit, secret))) {
			memset(hidden + (hit - text), 1, n);
			any = 1;
			hit++;
		}
	}
	pthread_mutex_unlock(mu);
	return any;
}

/* Each run of hidden bytes becomes one "<sensitive>". */
char *bk_mask(const bakeami_bake *b, const char *text)
{
	size_t len;
	unsigned char *hidden;
	bk_buf out = BK_BUF_INIT;
	int rc = 0;

	text = text ? text : "";
	len = strlen(text);
	if (!(hidden = calloc(len + 1, 1)))
		return NULL;
	if (!mark_secrets(hidden, b, text)) {
		free(hidden);
		return bk_strdup(text);
	}
	for (size_t i = 0; rc == 0 && i < len; i++) {
		if (!hidden[i])
			rc = bk_buf_putc(&out, text[i]);
		else if (i == 0 || !hidden[i - 1])
			rc = bk_buf_puts(&out, "<sensitive>");
	}
	free(hidden);
	if (rc < 0) {
		bk_buf_free(&out);
		return NULL;
	}
	return bk_buf_detach(&out);
}

/* "==> 01:03.2 launch: i-0abc running" or "    | output" */
static char *console_line(const bakeami_event *ev)
{
	int min = (int)(ev->elapsed / 60);
	double sec = ev->elapsed - min * 60;

	switch (ev->kind) {
	case BAKEAMI_EVENT_OUTPUT:
		return bk_sprintf("    %s %s", ev->stream == 2 ? "!" : "|", ev->text);
	case BAKEAMI_EVENT_WARN:
		return bk_sprintf("==> %02d:%04.1f %s: WARNING: %s", min, sec, ev->stage, ev->text);
	case BAKEAMI_EVENT_ERROR:
		return bk_sprintf("==> %02d:%04.1f %s: ERROR: %s", min, sec, ev->stage, ev->text);
	case BAKEAMI_EVENT_STATE:
	case BAKEAMI_EVENT_DEBUG:
		return bk_sprintf("    %02d:%04.1f %s", min, sec, ev->text);
	case BAKEAMI_EVENT_SUMMARY:
		return bk_strdup(ev->text);
	case BAKEAMI_EVENT_STEP:
		break;
	}
	return bk_sprintf("==> %02d:%04.1f %s: %s", min, sec, ev->stage, ev->text);
}

static const char *kind_name(bakeami_event_kind k)
{
	switch (k) {
	case BAKEAMI_EVENT_STEP: return "step";
	case BAKEAMI_EVENT_OUTPUT: return "output";
	case BAKEAMI_EVENT_STATE: return "state";
	case BAKEAMI_EVENT_WARN: return "warn";
	case BAKEAMI_EVENT_ERROR: return "error";
	case BAKEAMI_EVENT_SUMMARY: return "summary";
	case BAKEAMI_EVENT_DEBUG: return "debug";
	}
	return "?";
}

static char *event_json(const bakeami_event *ev, const char *run_id)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddNumberToObject(o, "t", (double)(long)(ev->elapsed * 1000) / 1000) &&
	    (!run_id || cJSON_AddStringToObject(o, "run_id", run_id)) &&
	    cJSON_AddStringToObject(o, "kind", kind_name(ev->kind)) &&
	    cJSON_AddStringToObject(o, "stage", ev->stage) &&
	    cJSON_AddStringToObject(o, "text", ev->text) &&
	    (!ev->build || cJSON_AddStringToObject(o, "build", ev->build)) &&
	    (ev->kind != BAKEAMI_EVENT_OUTPUT ||
	     cJSON_AddStringToObject(o, "stream", ev->stream == 2 ? "stderr" : "stdout")))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int bk_event_render(bakeami_event *ev, const char *run_id, char **line, char **json)
{
	*line = console_line(ev);
	*json = *line ? event_json(ev, run_id) : NULL;
	if (!*json) {
		free(*line);
		*line = NULL;
		return bk_oom();
	}
	ev->line = *line;
	ev->json = *json;
	return 0;
}

bakeami_event_kind bk_event_kind_of(bk_log_level level)
{
	switch (level) {
	case BK_LOG_DEBUG: return BAKEAMI_EVENT_DEBUG;
	case BK_LOG_INFO: return BAKEAMI_EVENT_STEP;
	case BK_LOG_WARN: return BAKEAMI_EVENT_WARN;
	case BK_LOG_ERROR: return BAKEAMI_EVENT_ERROR;
	}
	return BAKEAMI_EVENT_STEP;
}

static double elapsed(const bakeami_bake *b)
{
	return b->t0 > 0 ? bk_now() - b->t0 : 0;
}

static bk_state current_state(bakeami_bake *b)
{
	bk_state s;

	pthread_mutex_lock(&b->mu);
	s = b->state;
	pthread_mutex_unlock(&b->mu);
	return s;
}

/* One of several builds: "==> web: ..." and "    web: ...", Packer's
 * prefixes, so interleaved lines stay readable. */
static char *prefixed_line(const bakeami_bake *b, const char *line)
{
	size_t lead = strspn(line, " ");
	const char *name = b->opts.build;

	if (bk_str_starts(line, "==> "))
		lead = 4;
	else if (lead > 4)
		lead = 4;
	return bk_sprintf("%.*s%s: %s", (int)lead, line, name, line + lead);
}


/* ---- the provisioning log file ------------------------------------- */

/* Output lines as the program printed them; our own lines as on the
 * console. Flushed at once: a bake killed mid-run leaves its log whole. */
static void file_write(FILE *f, const bakeami_event *ev)
{
	if (!f)
		return;
	fprintf(f, "%s\n", ev->kind == BAKEAMI_EVENT_OUTPUT ? ev->text : ev->line);
	fflush(f);
}

void bk_log_file_set(bakeami_bake *b, FILE *f)
{
	pthread_mutex_lock(&b->emit_mu);
	if (b->prov_log)
		fclose(b->prov_log);
	b->prov_log = f;
	pthread_mutex_unlock(&b->emit_mu);
}

void bk_log_file_note(bakeami_bake *b, const char *text)
{
	char *masked = bk_mask(b, text);

	pthread_mutex_lock(&b->emit_mu);
	if (b->prov_log && masked) {
		fprintf(b->prov_log, "%s\n", masked);
		fflush(b->prov_log);
	}
	pthread_mutex_unlock(&b->emit_mu);
	free(masked);
}

/* The one way events reach log_cb (and the provisioning log): under the
 * run's emit lock, so the events of one run are serialized whichever
 * thread makes them (a promotion's copy threads do). */
static void deliver(bakeami_bake *b, bakeami_event_kind kind, int stream, const char *raw)
{
	bakeami_event ev = {BAKEAMI_EVENT_VERSION, kind, elapsed(b),
			    bk_state_stage(current_state(b)), NULL, NULL, NULL, stream,
			    b->opts.build};
	char *line = NULL, *json = NULL, *pre = NULL;

	if ((ev.text = bk_mask(b, raw)) &&
	    bk_event_render(&ev, b->run_id, &line, &json) == 0 &&
	    (!b->prefixed || (ev.line = pre = prefixed_line(b, line)))) {
		pthread_mutex_lock(&b->emit_mu);
		file_write(b->prov_log, &ev);
		if (b->opts.log_cb)
			b->opts.log_cb(&ev, b->opts.log_payload);
		pthread_mutex_unlock(&b->emit_mu);
	}
	free((char *)ev.text);
	free(line);
	free(json);
	free(pre);
}

void bk_emit(bakeami_bake *b, bakeami_event_kind kind, int stream, const char *fmt, ...)
{
	bk_buf raw = BK_BUF_INIT;
	va_list ap;

	/* Without log_cb an event may still be for the provisioning log. */
	if (kind == BAKEAMI_EVENT_DEBUG && !b->opts.debug)
		return;
	va_start(ap, fmt);
	if (bk_buf_vprintf(&raw, fmt, ap) == 0)
		deliver(b, kind, stream, raw.ptr);
	va_end(ap);
	bk_buf_free(&raw);
}

static void layer_log(bk_log_level level, const char *msg, void *payload)
{
	bk_emit(payload, bk_event_kind_of(level), 0, "%s", msg);
}

bk_logger bk_bake_logger(bakeami_bake *b)
{
	return (bk_logger){layer_log, b};
}

void bk_output_line(int stream, const char *line, size_t len, void *payload)
{
	bk_emit(payload, BAKEAMI_EVENT_OUTPUT, stream, "%.*s", (int)len, line);
}
