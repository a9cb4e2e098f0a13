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

int bk_add_secret(bakeami_bake *b, const char *s)
{
	if (!s || strlen(s) < BK_MIN_SECRET)
		return 0;
	for (size_t i = 0; i < b->secrets.count; i++)
		if (!strcmp(b->secrets.items[i], s))
			return 0;
	return bk_strv_push(&b->secrets, s);
}

static int mask_one(bk_buf *out, const char *text, const char *secret)
{
	size_t n = strlen(secret);
	const char *p = text, *hit;

	bk_buf_clear(out);
	while ((hit = strstr(p, secret))) {
		if (bk_buf_put(out, p, (size_t)(hit - p)) < 0 ||
		    bk_buf_puts(out, "<sensitive>") < 0)
			return BAKEAMI_ENOMEM;
		p = hit + n;
	}
	return bk_buf_puts(out, p);
}

char *bk_mask(const bakeami_bake *b, const char *text)
{
	char *cur = bk_strdup(text ? text : "");

	for (size_t i = 0; cur && i < b->secrets.count; i++) {
		bk_buf out = BK_BUF_INIT;
		if (!strstr(cur, b->secrets.items[i]))
			continue;
		if (mask_one(&out, cur, b->secrets.items[i]) < 0) {
			bk_buf_free(&out);
			free(cur);
			return NULL;
		}
		free(cur);
		cur = bk_buf_detach(&out);
	}
	return cur;
}

static double elapsed(const bakeami_bake *b)
{
	return b->t0 > 0 ? bk_now() - b->t0 : 0;
}

/* "==> 01:03.2 launch: i-0abc running" or "    | output" */
static char *console_line(const bakeami_bake *b, bakeami_event_kind kind,
			  int stream, double t, const char *text)
{
	int min = (int)(t / 60);
	double sec = t - min * 60;
	const char *stage = bk_state_stage(b->state);

	switch (kind) {
	case BAKEAMI_EVENT_OUTPUT:
		return bk_sprintf("    %s %s", stream == 2 ? "!" : "|", text);
	case BAKEAMI_EVENT_WARN:
		return bk_sprintf("==> %02d:%04.1f %s: WARNING: %s", min, sec, stage, text);
	case BAKEAMI_EVENT_ERROR:
		return bk_sprintf("==> %02d:%04.1f %s: ERROR: %s", min, sec, stage, text);
	case BAKEAMI_EVENT_STATE:
	case BAKEAMI_EVENT_DEBUG:
		return bk_sprintf("    %02d:%04.1f %s", min, sec, text);
	case BAKEAMI_EVENT_SUMMARY:
		return bk_strdup(text);
	case BAKEAMI_EVENT_STEP:
		break;
	}
	return bk_sprintf("==> %02d:%04.1f %s: %s", min, sec, stage, text);
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

static char *event_json(const bakeami_bake *b, const bakeami_event *ev)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddNumberToObject(o, "t", (double)(long)(ev->elapsed * 1000) / 1000) &&
	    cJSON_AddStringToObject(o, "run_id", b->run_id) &&
	    cJSON_AddStringToObject(o, "kind", kind_name(ev->kind)) &&
	    cJSON_AddStringToObject(o, "stage", ev->stage) &&
	    cJSON_AddStringToObject(o, "text", ev->text) &&
	    (ev->kind != BAKEAMI_EVENT_OUTPUT ||
	     cJSON_AddStringToObject(o, "stream", ev->stream == 2 ? "stderr" : "stdout")))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void deliver(bakeami_bake *b, bakeami_event_kind kind, int stream, const char *raw)
{
	bakeami_event ev = {BAKEAMI_EVENT_VERSION, kind, elapsed(b), bk_state_stage(b->state),
			    NULL, NULL, NULL, stream};
	char *text = bk_mask(b, raw), *line = NULL, *json = NULL;

	if (text && (line = console_line(b, kind, stream, ev.elapsed, text))) {
		ev.text = text;
		ev.line = line;
		ev.json = json = event_json(b, &ev);
		if (json)
			b->opts.log_cb(&ev, b->opts.log_payload);
	}
	free(text);
	free(line);
	free(json);
}

void bk_emit(bakeami_bake *b, bakeami_event_kind kind, int stream, const char *fmt, ...)
{
	bk_buf raw = BK_BUF_INIT;
	va_list ap;

	if (!b->opts.log_cb || (kind == BAKEAMI_EVENT_DEBUG && !b->opts.debug))
		return;
	va_start(ap, fmt);
	if (bk_buf_vprintf(&raw, fmt, ap) == 0)
		deliver(b, kind, stream, raw.ptr);
	va_end(ap);
	bk_buf_free(&raw);
}

static void layer_log(bk_log_level level, const char *msg, void *payload)
{
	bakeami_bake *b = payload;

	switch (level) {
	case BK_LOG_DEBUG: bk_emit(b, BAKEAMI_EVENT_DEBUG, 0, "%s", msg); break;
	case BK_LOG_INFO: bk_emit(b, BAKEAMI_EVENT_STEP, 0, "%s", msg); break;
	case BK_LOG_WARN: bk_emit(b, BAKEAMI_EVENT_WARN, 0, "%s", msg); break;
	case BK_LOG_ERROR: bk_emit(b, BAKEAMI_EVENT_ERROR, 0, "%s", msg); break;
	}
}

bk_logger bk_bake_logger(bakeami_bake *b)
{
	return (bk_logger){layer_log, b};
}

void bk_output_line(int stream, const char *line, size_t len, void *payload)
{
	bk_emit(payload, BAKEAMI_EVENT_OUTPUT, stream, "%.*s", (int)len, line);
}
