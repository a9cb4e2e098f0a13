/* result.c - the run's outcome: result JSON, console summary, and the
 * Packer-format manifest. */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../verify/verify.h"
#include "bake.h"

static const char *status_of(int rc)
{
	switch (rc) {
	case 0: return "succeeded";
	case BAKEAMI_ECANCELLED: return "cancelled";
	case BAKEAMI_ETESTFAIL: return "tests_failed";
	case BAKEAMI_EINVALID: return "invalid";
	default: return "failed";
	}
}

/* cJSON gives NULL for an empty list; the result keeps every key. */
static cJSON *string_array(const bk_strv *v)
{
	return v->count ? cJSON_CreateStringArray((const char *const *)v->items, (int)v->count)
			: cJSON_CreateArray();
}

static cJSON *timings(const bakeami_bake *b)
{
	cJSON *t = cJSON_CreateObject();

	for (int s = 0; t && s < BK_STATE_LAST; s++)
		if (b->stage_secs[s] > 0)
			cJSON_AddNumberToObject(t, bk_state_name((bk_state)s),
						(double)(long)(b->stage_secs[s] * 1000) / 1000);
	if (t)
		cJSON_AddNumberToObject(t, "total", (double)(long)((bk_now() - b->t0) * 1000) / 1000);
	return t;
}

static cJSON *cleanup_report(const bakeami_bake *b)
{
	cJSON *c = cJSON_CreateObject();

	if (c) {
		cJSON_AddItemToObject(c, "deleted", string_array(&b->cleaned));
		cJSON_AddItemToObject(c, "already_gone", string_array(&b->gone));
		cJSON_AddItemToObject(c, "failed", string_array(&b->cleanup_failed));
		cJSON_AddItemToObject(c, "left", string_array(&b->left));
		cJSON_AddItemToObject(c, "rolled_back", string_array(&b->rolled_back));
	}
	return c;
}

static cJSON *tests_summary(const bk_test_report *r)
{
	cJSON *t = cJSON_CreateObject();

	if (t) {
		cJSON_AddNumberToObject(t, "passed", (double)bk_test_report_count(r, BK_TEST_PASSED));
		cJSON_AddNumberToObject(t, "failed", (double)bk_test_report_count(r, BK_TEST_FAILED));
		cJSON_AddNumberToObject(t, "errors", (double)bk_test_report_count(r, BK_TEST_ERROR));
		cJSON_AddNumberToObject(t, "skipped", (double)bk_test_report_count(r, BK_TEST_SKIPPED));
	}
	return t;
}

static cJSON *result_object(const bakeami_bake *b)
{
	cJSON *o = cJSON_CreateObject(), *amis = cJSON_CreateObject();
	const char *region = b->aws ? bk_aws_region(b->aws) : NULL;

	if (!o || !amis) {
		cJSON_Delete(o);
		cJSON_Delete(amis);
		return NULL;
	}
	cJSON_AddStringToObject(o, "run_id", b->run_id);
	cJSON_AddStringToObject(o, "status", status_of(b->rc));
	cJSON_AddNumberToObject(o, "exit_code", bakeami_exit_code(b->rc));
	if (b->error)
		cJSON_AddStringToObject(o, "error", b->error);
	if (region)
		cJSON_AddStringToObject(o, "build_region", region);
	if (b->source) {
		cJSON_AddStringToObject(o, "source_ami", b->source->id);
		if (b->source->name)
			cJSON_AddStringToObject(o, "source_ami_name", b->source->name);
	}
	for (size_t i = 0; i < b->amis.count; i++)
		cJSON_AddStringToObject(amis, b->amis.keys[i], b->amis.vals[i]);
	cJSON_AddItemToObject(o, "amis", amis);
	if (b->instance.id)
		cJSON_AddStringToObject(o, "instance_id", b->instance.id);
	if (b->tests_report)
		cJSON_AddItemToObject(o, "tests", tests_summary(b->tests_report));
	if (b->have_inputs)
		cJSON_AddStringToObject(o, "inputs", b->inputs.digest);
	if (b->reused) {
		const char *run = bk_kv_get(&b->reused->tags, "bakeami:run-id");
		cJSON_AddStringToObject(o, "reused", b->reused->id);
		cJSON_AddStringToObject(o, "reused_run_id", run ? run : "");
		cJSON_AddBoolToObject(o, "retested", b->kind == BK_RUN_RETEST);
	}
	cJSON_AddItemToObject(o, "timings", timings(b));
	cJSON_AddItemToObject(o, "cleanup", cleanup_report(b));
	if (b->aws)
		cJSON_AddNumberToObject(o, "ec2_calls", (double)bk_aws_call_count(b->aws, "ec2"));
	if (b->journal)
		cJSON_AddStringToObject(o, "journal", bk_journal_path(b->journal));
	if (b->logs_dir)
		cJSON_AddStringToObject(o, "logs", b->logs_dir);
	return o;
}

static void emit_summary(bakeami_bake *b)
{
	bk_buf stages = BK_BUF_INIT;

	for (int s = 0; s < BK_STATE_LAST; s++)
		if (b->stage_secs[s] >= 0.05)
			bk_buf_printf(&stages, "%s%s %.1fs", stages.len ? ", " : "",
				      bk_state_stage((bk_state)s), b->stage_secs[s]);
	bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "==> summary: %s in %.1fs (run %s)",
		status_of(b->rc), bk_now() - b->t0, b->run_id);
	for (size_t i = 0; i < b->amis.count; i++)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "    AMI %s: %s (%s)", b->amis.keys[i],
			b->amis.vals[i], b->cfg->ami_name);
	if (b->error)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "    error: %s", b->error);
	if (stages.len)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "    stages: %s", stages.ptr);
	if (b->logs_dir)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "    provisioning logs: %s", b->logs_dir);
	bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "    cleaned up: %zu deleted, %zu already gone, "
		"%zu failed, %zu left", b->cleaned.count, b->gone.count, b->cleanup_failed.count,
		b->left.count);
	for (size_t i = 0; i < b->cleaned.count; i++)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "      - %s", b->cleaned.items[i]);
	for (size_t i = 0; i < b->gone.count; i++)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "      ~ %s (already gone)", b->gone.items[i]);
	for (size_t i = 0; i < b->cleanup_failed.count; i++)
		bk_emit(b, BAKEAMI_EVENT_SUMMARY, 0, "      ! %s", b->cleanup_failed.items[i]);
	bk_buf_free(&stages);
}

int bk_result_build(bakeami_bake *b)
{
	cJSON *o = result_object(b);
	char *masked;

	emit_summary(b);
	free(b->result_json);
	b->result_json = NULL;
	if (!o || !(masked = cJSON_Print(o))) {
		cJSON_Delete(o);
		return bk_oom();
	}
	cJSON_Delete(o);
	b->result_json = bk_mask(b, masked);
	free(masked);
	return b->result_json ? 0 : bk_oom();
}

/* ---- Packer's manifest: builds appended across runs ------------------ */

/* Packer's form: sorted "region:ami" pairs joined by commas. */
static int by_string(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

char *bk_artifact_id(const bakeami_bake *b)
{
	bk_strv pairs = BK_STRV_INIT;
	bk_buf out = BK_BUF_INIT;

	for (size_t i = 0; i < b->amis.count; i++) {
		char *pair = bk_sprintf("%s:%s", b->amis.keys[i], b->amis.vals[i]);
		if (!pair || bk_strv_push(&pairs, pair) < 0) {
			free(pair);
			bk_strv_free(&pairs);
			return NULL;
		}
		free(pair);
	}
	qsort(pairs.items, pairs.count, sizeof(char *), by_string);
	for (size_t i = 0; i < pairs.count; i++)
		bk_buf_printf(&out, "%s%s", i ? "," : "", pairs.items[i]);
	bk_strv_free(&pairs);
	return bk_buf_detach(&out);
}

/* custom_data as Packer writes it: the map, or null when there is none. */
static cJSON *custom_data(const bk_manifest_cfg *m)
{
	cJSON *o;

	if (!m || !m->custom_data.count)
		return cJSON_CreateNull();
	if (!(o = cJSON_CreateObject()))
		return NULL;
	for (size_t i = 0; i < m->custom_data.count; i++)
		cJSON_AddStringToObject(o, m->custom_data.keys[i], m->custom_data.vals[i]);
	return o;
}

/* One build's entry. An amazon artifact has no files, so strip_path
 * changes nothing; strip_time leaves build_time out (Packer's 0,
 * omitempty). */
static cJSON *manifest_build(const bakeami_bake *b, const bk_manifest_cfg *m)
{
	cJSON *e = cJSON_CreateObject();
	char *artifact = bk_artifact_id(b);

	if (e && artifact) {
		cJSON_AddStringToObject(e, "name", b->cfg->build_name);
		cJSON_AddStringToObject(e, "builder_type", b->cfg->builder_type);
		if (!m || !m->strip_time)
			cJSON_AddNumberToObject(e, "build_time", (double)(long)bk_wall());
		cJSON_AddNullToObject(e, "files");
		cJSON_AddStringToObject(e, "artifact_id", artifact);
		cJSON_AddStringToObject(e, "packer_run_uuid", b->run_id);
		cJSON_AddItemToObject(e, "custom_data", custom_data(m));
	}
	free(artifact);
	return e;
}

static cJSON *manifest_load(const char *path)
{
	char *data = NULL;
	cJSON *m = NULL;

	if (bk_file_read(&data, NULL, path) == 0)
		m = cJSON_Parse(data);
	free(data);
	if (!m || !cJSON_IsArray(cJSON_GetObjectItem(m, "builds"))) {
		cJSON_Delete(m);
		m = cJSON_CreateObject();
		if (m)
			cJSON_AddItemToObject(m, "builds", cJSON_CreateArray());
	}
	bk_err_clear();
	return m;
}

int bk_manifest_write(bakeami_bake *b, const char *path, const bk_manifest_cfg *cfg)
{
	cJSON *m = manifest_load(path), *build = manifest_build(b, cfg);
	char *text, *masked;
	int rc;

	if (!m || !build) {
		cJSON_Delete(m);
		cJSON_Delete(build);
		return bk_oom();
	}
	cJSON_AddItemToArray(cJSON_GetObjectItem(m, "builds"), build);
	cJSON_DeleteItemFromObject(m, "last_run_uuid");
	cJSON_AddStringToObject(m, "last_run_uuid", b->run_id);
	text = cJSON_Print(m);
	cJSON_Delete(m);
	masked = text ? bk_mask(b, text) : NULL;   /* custom_data may quote a secret */
	free(text);
	if (!masked)
		return bk_oom();
	rc = bk_file_write(path, masked, strlen(masked), 0644);
	free(masked);
	return rc;
}
