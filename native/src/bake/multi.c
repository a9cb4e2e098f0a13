/*
 * multi.c - several builds of one template (Packer's builds): one bake per
 * selected builder, each with its own run id, journal, events and result,
 * run on worker threads parallel_builds at a time, as `packer build` does.
 * The bakes share nothing but the manifest's lock: the library keeps all
 * state per bake (DESIGN.md), and its one-time init ran in bakeami_init.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bake.h"

typedef struct {
	char *name, *type;
	bakeami_bake *bake;
	int rc;
	int started;
} one_build;

struct bakeami_builds {
	one_build *items;
	size_t count;
	unsigned int parallel;
	char *result_path;            /* several builds: the combined result goes here */
	pthread_mutex_t mu;           /* next, cancelled */
	pthread_mutex_t manifest_mu;
	size_t next;
	int cancelled;
	int ran;
	char *result_json;
};

/* "out/j.jsonl" -> "out/j.web.jsonl"; no extension: "out/j.web". */
static char *per_build_path(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');

	if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
		return bk_sprintf("%s.%s", path, name);
	return bk_sprintf("%.*s.%s%s", (int)(dot - path), path, name, dot);
}

/* One bake's options: the build named, per-build paths when several. */
static int make_bake(bakeami_builds *bs, one_build *ob, const bakeami_options *opts)
{
	bakeami_options o = *opts;
	char *journal = NULL, *junit = NULL;
	int rc, several = bs->count > 1;

	o.build = ob->name ? ob->name : opts->build;
	if (several && opts->journal_path && !(o.journal_path = journal =
					      per_build_path(opts->journal_path, ob->name)))
		return bk_oom();
	if (several && opts->junit_path && !(o.junit_path = junit =
					    per_build_path(opts->junit_path, ob->name))) {
		free(journal);
		return bk_oom();
	}
	if (several)
		o.result_path = NULL;   /* bakeami_builds_run writes the combined document */
	rc = bakeami_bake_new(&ob->bake, &o);
	free(journal);
	free(junit);
	if (rc == 0) {
		ob->bake->prefixed = several;
		ob->bake->manifest_mu = &bs->manifest_mu;
	}
	return rc;
}

static int fill(bakeami_builds *bs, const bakeami_options *opts)
{
	bk_build_list list;
	int rc;

	if ((rc = bk_bake_select(&list, opts)) < 0) {
		/* Builds that cannot be listed are baked as one build whose
		 * VALIDATE fails with the same message, events and result as a
		 * bake of a bad template always has. */
		if (!(bs->items = calloc(1, sizeof(*bs->items))))
			return bk_oom();
		bs->count = 1;
		return make_bake(bs, &bs->items[0], opts);
	}
	if (list.count && !(bs->items = calloc(list.count, sizeof(*bs->items))))
		rc = bk_oom();
	for (size_t i = 0; rc == 0 && i < list.count; i++) {
		bs->items[i].name = list.items[i].name;
		bs->items[i].type = list.items[i].type;
		list.items[i].name = list.items[i].type = NULL;
		bs->count++;
	}
	for (size_t i = 0; rc == 0 && i < bs->count; i++)
		rc = make_bake(bs, &bs->items[i], opts);
	bk_build_list_free(&list);
	return rc;
}

int bakeami_builds_new(bakeami_builds **out, const bakeami_options *caller)
{
	bakeami_options full;
	const bakeami_options *opts = &full;
	bakeami_builds *bs;
	int rc;

	*out = NULL;
	if (!caller || !bk_options_size(caller->version))
		return bk_err(BAKEAMI_EINVALID, "bakeami_options: missing or unsupported version");
	/* An older caller's struct is a prefix: the later fields are unset. */
	memset(&full, 0, sizeof(full));
	memcpy(&full, caller, bk_options_size(caller->version));
	full.version = BAKEAMI_OPTIONS_VERSION;
	if (!opts->template_path || !*opts->template_path)
		return bk_err(BAKEAMI_EINVALID, "no template given");
	if ((rc = bakeami_init()) < 0)
		return rc;
	if (!(bs = calloc(1, sizeof(*bs))))
		return bk_oom();
	pthread_mutex_init(&bs->mu, NULL);
	pthread_mutex_init(&bs->manifest_mu, NULL);
	bs->parallel = opts->parallel_builds;
	if ((opts->result_path && !(bs->result_path = bk_strdup(opts->result_path))) ||
	    (rc = fill(bs, opts)) < 0) {
		rc = rc < 0 ? rc : bk_oom();
		bakeami_builds_free(bs);
		return rc;
	}
	*out = bs;
	return 0;
}

size_t bakeami_builds_count(const bakeami_builds *bs)
{
	return bs ? bs->count : 0;
}

const char *bakeami_builds_name(const bakeami_builds *bs, size_t i)
{
	return bs && i < bs->count ? bs->items[i].name : NULL;
}

const char *bakeami_builds_type(const bakeami_builds *bs, size_t i)
{
	return bs && i < bs->count ? bs->items[i].type : NULL;
}

bakeami_bake *bakeami_builds_bake(const bakeami_builds *bs, size_t i)
{
	return bs && i < bs->count ? bs->items[i].bake : NULL;
}

/* ---- running --------------------------------------------------------- */

/* The next build to start, in name order; NULL when none is left or the
 * run is cancelled. */
static one_build *take(bakeami_builds *bs)
{
	one_build *ob = NULL;

	pthread_mutex_lock(&bs->mu);
	if (!bs->cancelled && bs->next < bs->count) {
		ob = &bs->items[bs->next++];
		ob->started = 1;
	}
	pthread_mutex_unlock(&bs->mu);
	return ob;
}

static void *worker(void *arg)
{
	bakeami_builds *bs = arg;
	one_build *ob;

	while ((ob = take(bs)))
		ob->rc = bakeami_bake_run(ob->bake);
	return NULL;
}

/* Packer's "worst of the builds": the failure with the highest exit code. */
static int worst(const bakeami_builds *bs)
{
	int rc = 0;

	for (size_t i = 0; i < bs->count; i++)
		if (bakeami_exit_code(bs->items[i].rc) > bakeami_exit_code(rc))
			rc = bs->items[i].rc;
	return rc;
}

static int run_all(bakeami_builds *bs)
{
	size_t n = bs->parallel && bs->parallel < bs->count ? bs->parallel : bs->count;
	pthread_t *tids;
	size_t started = 0;

	if (n <= 1) {   /* one at a time: on the calling thread, as one bake runs */
		worker(bs);
		return 0;
	}
	if (!(tids = calloc(n, sizeof(*tids))))
		return bk_oom();
	for (; started < n; started++)
		if (pthread_create(&tids[started], NULL, worker, bs) != 0)
			break;
	if (!started)
		worker(bs);   /* no thread to be had: one after the other, here */
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return 0;
}

static void not_started(bakeami_builds *bs)
{
	for (size_t i = 0; i < bs->count; i++)
		if (!bs->items[i].started)
			bs->items[i].rc = BAKEAMI_ECANCELLED;
}

static int write_result(bakeami_builds *bs);

int bakeami_builds_run(bakeami_builds *bs)
{
	int rc;

	if (!bs)
		return bk_err(BAKEAMI_EINVALID, "bakeami_builds_run: builds is NULL");
	if (bs->ran)
		return bk_err(BAKEAMI_EINVALID, "bakeami_builds_run: the builds run once");
	bs->ran = 1;
	if ((rc = run_all(bs)) < 0)
		return rc;
	not_started(bs);
	if ((rc = write_result(bs)) < 0)
		return rc;
	rc = worst(bs);
	for (size_t i = 0; rc < 0 && i < bs->count; i++)
		if (bs->items[i].rc == rc) {
			const char *e = bakeami_bake_error(bs->items[i].bake);
			if (bs->count == 1)
				bk_err(rc, "%s", e ? e : bakeami_strerror(rc));
			else
				bk_err(rc, "build '%s': %s", bs->items[i].name,
				       e ? e : bakeami_strerror(rc));
			break;
		}
	return rc;
}

void bakeami_builds_cancel(bakeami_builds *bs)
{
	if (!bs)
		return;
	pthread_mutex_lock(&bs->mu);
	bs->cancelled = 1;
	pthread_mutex_unlock(&bs->mu);
	for (size_t i = 0; i < bs->count; i++)
		bakeami_bake_cancel(bs->items[i].bake);
}

/* ---- the combined result ------------------------------------------------ */

static const char *status_of(int rc)
{
	return rc == 0 ? "succeeded" : rc == BAKEAMI_ECANCELLED ? "cancelled" : "failed";
}

static cJSON *build_json(const one_build *ob)
{
	const bakeami_bake *b = ob->bake;
	const char *ami = bakeami_bake_ami(b, NULL), *err = bakeami_bake_error(b);
	const char *res = bakeami_bake_result_json(b);
	cJSON *o = cJSON_CreateObject(), *amis = cJSON_CreateObject();

	if (!o || !amis || !cJSON_AddItemToObject(o, "name", cJSON_CreateString(ob->name ? ob->name
										     : ""))) {
		cJSON_Delete(o);
		cJSON_Delete(amis);
		return NULL;
	}
	for (size_t i = 0; i < b->amis.count; i++)
		cJSON_AddStringToObject(amis, b->amis.keys[i], b->amis.vals[i]);
	cJSON_AddStringToObject(o, "type", ob->type ? ob->type : "");
	cJSON_AddStringToObject(o, "run_id", b->run_id);
	cJSON_AddStringToObject(o, "status", status_of(ob->rc));
	cJSON_AddItemToObject(o, "ami", ami ? cJSON_CreateString(ami) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "amis", amis);
	if (!err && ob->rc == BAKEAMI_ECANCELLED && !ob->started)
		err = "not started: the run was cancelled";
	cJSON_AddItemToObject(o, "error", err ? cJSON_CreateString(err) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "result", res ? cJSON_Parse(res) : cJSON_CreateNull());
	return o;
}

static int write_result(bakeami_builds *bs)
{
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "builds");
	int rc = 0;

	if (!doc || !arr || !cJSON_AddStringToObject(doc, "status", status_of(worst(bs)))) {
		cJSON_Delete(doc);
		return bk_oom();
	}
	for (size_t i = 0; i < bs->count; i++) {
		cJSON *o = build_json(&bs->items[i]);
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(doc);
			return bk_oom();
		}
	}
	free(bs->result_json);
	if (!(bs->result_json = cJSON_PrintUnformatted(doc)))
		rc = bk_oom();
	cJSON_Delete(doc);
	/* One build wrote its own result, as a bake of a one-builder template does. */
	if (rc == 0 && bs->result_path && bs->count > 1)
		rc = bk_file_write(bs->result_path, bs->result_json, strlen(bs->result_json), 0644);
	return rc;
}

const char *bakeami_builds_result_json(const bakeami_builds *bs)
{
	return bs ? bs->result_json : NULL;
}

void bakeami_builds_free(bakeami_builds *bs)
{
	if (!bs)
		return;
	for (size_t i = 0; i < bs->count; i++) {
		bakeami_bake_free(bs->items[i].bake);
		free(bs->items[i].name);
		free(bs->items[i].type);
	}
	free(bs->items);
	free(bs->result_path);
	free(bs->result_json);
	pthread_mutex_destroy(&bs->mu);
	pthread_mutex_destroy(&bs->manifest_mu);
	free(bs);
}
