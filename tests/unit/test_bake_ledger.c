/* test_bake_ledger.c - the ledger read back in reverse without AWS: a fake
 * backend (a kinds table recording calls) for the walk, replay of a torn
 * journal, undo entries, the kinds table, a rollback from a mark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bake/reap.h"
#include "bake/undo.h"

#define MAX 32

/* The fake backend: what was asked, in order; the id in `fail` refuses,
 * the one in `gone` was gone already. */
static struct {
	char calls[MAX][96];
	size_t n;
	const char *fail;
	const char *gone;
} F;

static int fake_undo(bk_reaper *r, const bk_entry *e)
{
	(void)r;
	snprintf(F.calls[F.n++], 96, "%s %s%s%s", e->kind, e->id ? e->id : "-",
		 e->region ? "@" : "", e->region ? e->region : "");
	if (F.fail && e->id && !strcmp(e->id, F.fail))
		return bk_err(BAKEAMI_EAWS, "injected: %s refused", e->id);
	if (F.gone && e->id && !strcmp(e->id, F.gone))
		return bk_err(BAKEAMI_ENOTFOUND, "%s: already gone", e->id);
	return 0;
}

static char *fake_describe(const bk_reaper *r, const bk_entry *e)
{
	(void)r;
	return bk_sprintf("%s %s", e->kind, e->id ? e->id : "-");
}

/* The fake find: an image named "made-*" was made as ami-found. */
static int fake_find(bk_reaper *r, const bk_entry *e, char **id)
{
	(void)r;
	snprintf(F.calls[F.n++], 96, "find %s", e->name);
	*id = bk_str_starts(e->name, "made-") ? bk_strdup("ami-found") : NULL;
	return 0;
}

static const bk_kind fakes[] = {
	{"instance", false, false, fake_undo, fake_describe, NULL},
	{"image", false, false, fake_undo, fake_describe, fake_find},
	{"snapshot", false, false, fake_undo, fake_describe, NULL},
	{"ssm-parameter", true, false, fake_undo, fake_describe, NULL},
	{"tags", true, false, fake_undo, fake_describe, NULL},
};

static char path[128];

static bk_journal *fresh(void)
{
	bk_journal *j = NULL;

	memset(&F, 0, sizeof(F));
	snprintf(path, sizeof(path), "/tmp/bakeami-ledger-%d/j.jsonl", (int)getpid());
	unlink(path);
	assert_int_equal(bk_journal_open(&j, path, "bk-ledger", "us-east-1"), 0);
	return j;
}

static size_t add(bk_journal *j, const char *kind, const char *id, const char *region,
		  const char *parent, bk_entry_state st)
{
	bk_entry_spec s = {.kind = kind, .id = id, .region = region, .parent = parent};
	size_t n;

	assert_int_equal(bk_journal_add(j, &n, &s, BK_INTENDED), 0);
	if (st != BK_INTENDED)
		assert_int_equal(bk_journal_set(j, n, st, id), 0);
	return n;
}

static bk_reaper reaper(bk_journal *j, bk_strv *cleaned, bk_strv *failed)
{
	return (bk_reaper){NULL, j, {NULL, NULL}, cleaned, failed, NULL, NULL, bk_now() + 60, fakes,
			   BK_ARRAY_SIZE(fakes), false};
}

static void assert_calls(const char *const *want, size_t n)
{
	assert_int_equal(F.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(F.calls[i], want[i]);
}

/* Newest first; kept and deleted entries stay; an intended resource has no
 * id to delete (the tag sweep finds it) but an intended change is undone:
 * a kill may have come after its call. */
static void test_ledger__unwinds_in_reverse_what_is_live(void **state)
{
	static const char *const want[] = {"tags ami-1@us-west-2", "ssm-parameter /p@us-west-2",
					   "image ami-2@us-west-2", "instance i-1"};
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);

	(void)state;
	add(j, "instance", "i-1", NULL, NULL, BK_CREATED);
	add(j, "image", "ami-1", NULL, NULL, BK_KEPT);
	add(j, "instance", "i-gone", NULL, NULL, BK_DELETED);
	add(j, "image", "ami-2", "us-west-2", "ami-1", BK_CREATED);
	add(j, "instance", NULL, NULL, NULL, BK_INTENDED);
	add(j, "ssm-parameter", "/p", "us-west-2", NULL, BK_CREATED);
	add(j, "tags", "ami-1", "us-west-2", NULL, BK_INTENDED);
	assert_int_equal(bk_unwind_count(&r, 0), 4);
	assert_int_equal(bk_unwind(&r, 0), 0);
	assert_calls(want, BK_ARRAY_SIZE(want));
	assert_int_equal(cleaned.count, 4);
	assert_int_equal(failed.count, 0);
	assert_int_equal(bk_unwind_count(&r, 0), 0);
	assert_int_equal(bk_unwind(&r, 0), 0);   /* nothing twice */
	assert_int_equal(F.n, BK_ARRAY_SIZE(want));
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
}

/* What was gone before its undo is listed apart, not as deleted, and
 * settled all the same: a second walk does nothing. */
static void test_ledger__already_gone_is_counted_apart(void **state)
{
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT, gone = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);

	(void)state;
	r.gone = &gone;
	F.gone = "i-ended";
	add(j, "instance", "i-ended", NULL, NULL, BK_CREATED);
	add(j, "image", "ami-1", NULL, NULL, BK_CREATED);
	assert_int_equal(bk_unwind(&r, 0), 0);
	assert_int_equal(cleaned.count, 1);
	assert_string_equal(cleaned.items[0], "image ami-1");
	assert_int_equal(gone.count, 1);
	assert_string_equal(gone.items[0], "instance i-ended");
	assert_int_equal(failed.count, 0);
	assert_string_equal(bk_err_msg(), "");
	assert_int_equal(bk_unwind_count(&r, 0), 0);
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
	bk_strv_free(&gone);
}

/* A promotion's rollback: only what came after its mark, listed as rolled back. */
static void test_ledger__rollback_from_a_mark(void **state)
{
	static const char *const want[] = {"ssm-parameter /p@us-east-1", "image ami-c@eu-west-1"};
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT, rolled = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);
	size_t mark;

	(void)state;
	r.rolled_back = &rolled;
	add(j, "instance", "i-1", NULL, NULL, BK_CREATED);
	mark = bk_journal_ledger(j)->count;
	add(j, "image", "ami-c", "eu-west-1", "ami-1", BK_CREATED);
	add(j, "ssm-parameter", "/p", "us-east-1", NULL, BK_CREATED);
	assert_int_equal(bk_unwind(&r, mark), 0);
	assert_calls(want, BK_ARRAY_SIZE(want));
	assert_int_equal(rolled.count, 2);
	assert_int_equal(cleaned.count, 0);
	assert_int_equal(bk_journal_ledger(j)->items[0].state, BK_CREATED);   /* CLEANUP's */
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
	bk_strv_free(&rolled);
}

/* A snapshot goes with its image (the image kind deletes it after the
 * deregistration), stays with a kept one, and goes alone when orphaned. */
static void test_ledger__snapshots_follow_their_image(void **state)
{
	static const char *const want[] = {"snapshot snap-o", "image ami-2"};
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);

	(void)state;
	add(j, "image", "ami-1", NULL, NULL, BK_KEPT);
	add(j, "snapshot", "snap-1", NULL, "ami-1", BK_CREATED);
	add(j, "image", "ami-2", NULL, NULL, BK_CREATED);
	add(j, "snapshot", "snap-2", NULL, "ami-2", BK_CREATED);
	add(j, "image", "ami-3", NULL, NULL, BK_DELETED);
	add(j, "snapshot", "snap-o", NULL, "ami-3", BK_CREATED);
	assert_int_equal(bk_unwind(&r, 0), 0);
	assert_calls(want, BK_ARRAY_SIZE(want));
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
}

/* A refused undo is listed with its reason and stays to retry. */
static void test_ledger__a_failed_undo_stays_live(void **state)
{
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);

	(void)state;
	add(j, "instance", "i-1", NULL, NULL, BK_CREATED);
	add(j, "instance", "i-2", NULL, NULL, BK_CREATED);
	F.fail = "i-2";
	assert_int_equal(bk_unwind(&r, 0), BAKEAMI_ERROR);
	assert_int_equal(F.n, 2);   /* one refusal stops nothing */
	assert_int_equal(failed.count, 1);
	assert_non_null(strstr(failed.items[0], "i-2: injected: i-2 refused"));
	assert_int_equal(bk_unwind_count(&r, 0), 1);
	F.fail = NULL;
	assert_int_equal(bk_unwind(&r, 0), 0);
	assert_string_equal(F.calls[2], "instance i-2");
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
}

/* The file gives back the same ledger, undo entries included, a torn last
 * line ignored; appending goes on from there. */
static void test_ledger__replay_of_a_torn_journal(void **state)
{
	bk_journal *j = fresh();
	bk_kv undo = BK_KV_INIT;
	bk_entry_spec s = {.kind = "ssm-parameter", .id = "/images/x", .region = "eu-west-1",
			   .parent = "ami-9", .undo = &undo};
	bk_ledger l;
	size_t n;
	FILE *f;

	(void)state;
	assert_int_equal(bk_kv_set(&undo, "value", "ami-old"), 0);
	assert_int_equal(bk_kv_set(&undo, "data_type", "aws:ec2:image"), 0);
	add(j, "instance", "i-1", NULL, NULL, BK_CREATED);
	assert_int_equal(bk_journal_add(j, &n, &s, BK_INTENDED), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bk_journal_set(j, n, BK_CREATED, NULL), 0);
	bk_journal_free(j);
	f = fopen(path, "a");
	fputs("{\"n\":1,\"event\":\"dele", f);   /* killed mid-write */
	fclose(f);

	assert_int_equal(bk_journal_read(&l, path), 0);
	assert_string_equal(l.run_id, "bk-ledger");
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[1].state, BK_CREATED);
	assert_string_equal(l.items[1].region, "eu-west-1");
	assert_string_equal(l.items[1].parent, "ami-9");
	assert_string_equal(bk_kv_get(&l.items[1].undo, "value"), "ami-old");
	assert_string_equal(bk_kv_get(&l.items[1].undo, "data_type"), "aws:ec2:image");
	assert_int_equal(bk_ledger_find(&l, "ssm-parameter", "eu-west-1", "/images/x"), 1);
	assert_int_equal(bk_ledger_find(&l, "ssm-parameter", NULL, "/images/x"), -1);
	bk_ledger_free(&l);

	/* as bakeami cleanup does: its records start on a line of their own */
	assert_int_equal(bk_journal_reopen(&j, path), 0);
	assert_int_equal(bk_journal_ledger(j)->count, 2);
	assert_int_equal(bk_journal_deleted(j, "instance", "i-1"), 0);
	bk_journal_free(j);
	assert_int_equal(bk_journal_read(&l, path), 0);
	assert_int_equal(l.items[0].state, BK_DELETED);
	assert_int_equal(l.items[1].state, BK_CREATED);
	bk_ledger_free(&l);
	bk_kv_free(&undo);
}

/* One entry per kind, each complete; the changes are the reversible ones. */
static void test_ledger__kinds_table(void **state)
{
	static const char *const changes[] = {"launch-permission", "volume-permission", "tags",
					      "deprecation", "ssm-parameter", "iam-role-policy",
					      "instance-profile-role"};
	static const char *const resources[] = {"instance", "volume", "security-group", "key-pair",
						"image", "snapshot", "s3-bundle", "iam-role",
						"instance-profile", "fleet", "launch-template"};
	size_t n;
	const bk_kind *k = bk_kinds(&n);
	bk_reaper r = {0};

	(void)state;
	assert_int_equal(n, BK_ARRAY_SIZE(changes) + BK_ARRAY_SIZE(resources));
	for (size_t i = 0; i < n; i++) {
		assert_non_null(k[i].undo);
		assert_non_null(k[i].describe);
		for (size_t m = i + 1; m < n; m++)
			assert_string_not_equal(k[i].name, k[m].name);
	}
	for (size_t i = 0; i < BK_ARRAY_SIZE(changes); i++)
		assert_true(bk_kind_of(&r, changes[i])->change);
	for (size_t i = 0; i < BK_ARRAY_SIZE(resources); i++)
		assert_false(bk_kind_of(&r, resources[i])->change);
	/* the tag sweep: the temporary resources, newest kind first; never an image */
	assert_true(bk_kind_of(&r, "instance")->by_tag && bk_kind_of(&r, "key-pair")->by_tag);
	assert_true(bk_kind_of(&r, "instance") < bk_kind_of(&r, "security-group") &&
		    bk_kind_of(&r, "security-group") < bk_kind_of(&r, "key-pair"));
	assert_false(bk_kind_of(&r, "image")->by_tag || bk_kind_of(&r, "snapshot")->by_tag);
	/* amazon-instance's bundle: found by its intent's bucket/prefix, not by tag */
	assert_false(bk_kind_of(&r, "s3-bundle")->by_tag);
	assert_non_null(bk_kind_of(&r, "s3-bundle")->find);
	/* volumes: swept by tag once their instance is gone, never journalled */
	assert_true(bk_kind_of(&r, "volume")->by_tag);
	assert_true(bk_kind_of(&r, "instance") < bk_kind_of(&r, "volume"));
	assert_null(bk_kind_of(&r, "volume")->find);
}

static void assert_describes(const char *kind, const char *id, const char *region,
			     const char *const *undo, size_t n, bool rollback, const char *want)
{
	bk_entry e = {(char *)kind, (char *)id, NULL, (char *)region, NULL, BK_CREATED, BK_KV_INIT,
		      NULL};
	bk_strv rolled = BK_STRV_INIT;
	bk_reaper r = {0};
	char *got;

	r.rolled_back = rollback ? &rolled : NULL;
	for (size_t i = 0; i + 1 < n; i += 2)
		assert_int_equal(bk_kv_set(&e.undo, undo[i], undo[i + 1]), 0);
	got = bk_kind_of(&r, kind)->describe(&r, &e);
	assert_string_equal(got, want);
	free(got);
	bk_kv_free(&e.undo);
}

/* What the undo entries say is what the reports say. */
static void test_ledger__undo_entries_describe_the_undo(void **state)
{
	static const char *const ssm[] = {"value", "ami-old", "type", "String"};
	static const char *const dep[] = {"before", "2030-01-01T00:00:00Z"};
	static const char *const perms[] = {"users", "111122223333,444455556666", "groups", "all"};
	bk_kv undo = BK_KV_INIT;
	bk_strv users = BK_STRV_INIT;

	(void)state;
	assert_describes("ssm-parameter", "/p", "us-east-1", ssm, 4, true,
			 "SSM /p in us-east-1 restored to ami-old");
	assert_describes("ssm-parameter", "/p", "us-east-1", NULL, 0, true,
			 "SSM /p in us-east-1 deleted (it did not exist before)");
	assert_describes("deprecation", "ami-1", "eu-west-1", dep, 2, true,
			 "deprecation of ami-1 in eu-west-1 back to 2030-01-01T00:00:00Z");
	assert_describes("deprecation", "ami-1", "eu-west-1", NULL, 0, true,
			 "deprecation of ami-1 in eu-west-1 cancelled");
	assert_describes("launch-permission", "ami-1", "us-east-1", perms, 4, true,
			 "launch permissions on ami-1 in us-east-1 removed "
			 "(111122223333,444455556666, all)");
	assert_describes("image", "ami-2", "us-west-2", NULL, 0, true,
			 "copy ami-2 in us-west-2 deregistered, its snapshots deleted");
	assert_describes("image", "ami-2", "us-west-2", NULL, 0, false, "image ami-2 in us-west-2");
	assert_describes("instance", "i-1", NULL, NULL, 0, false, "instance i-1");
	/* lists go in comma-joined, nothing for an empty one */
	assert_int_equal(bk_undo_list(&undo, "users", &users), 0);
	assert_int_equal(undo.count, 0);
	assert_int_equal(bk_strv_push(&users, "1"), 0);
	assert_int_equal(bk_strv_push(&users, "2"), 0);
	assert_int_equal(bk_undo_list(&undo, "users", &users), 0);
	assert_string_equal(bk_kv_get(&undo, "users"), "1,2");
	bk_strv_free(&users);
	bk_kv_free(&undo);
}

/* `bakeami cleanup` looks for what a create call cut short by a kill made,
 * by the name its intent gave; a run's own CLEANUP does not. */
static void test_ledger__intended_resources_found_by_name(void **state)
{
	static const char *const want[] = {"find never-made", "find made-copy",
					   "image ami-found@us-west-2"};
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);
	bk_entry_spec copy = {.kind = "image", .name = "made-copy", .region = "us-west-2"};
	bk_entry_spec none = {.kind = "image", .name = "never-made"};
	const bk_ledger *l = bk_journal_ledger(j);
	bk_ledger back;

	(void)state;
	assert_int_equal(bk_journal_add(j, NULL, &copy, BK_INTENDED), 0);
	assert_int_equal(bk_journal_add(j, NULL, &none, BK_INTENDED), 0);
	assert_int_equal(bk_unwind(&r, 0), 0);
	assert_int_equal(F.n, 0);   /* CLEANUP's reaper: intended images are left */
	r.find_intended = true;
	assert_int_equal(bk_unwind_count(&r, 0), 2);
	assert_int_equal(bk_unwind(&r, 0), 0);
	assert_calls(want, BK_ARRAY_SIZE(want));
	assert_string_equal(l->items[0].id, "ami-found");
	assert_int_equal(l->items[0].state, BK_DELETED);
	assert_int_equal(l->items[1].state, BK_DELETED);   /* nothing made: settled */
	assert_int_equal(bk_unwind_count(&r, 0), 0);
	assert_int_equal(bk_journal_read(&back, path), 0);   /* the intent's time comes back */
	assert_non_null(back.items[0].at);
	assert_string_equal(back.items[0].at, l->items[0].at);
	bk_ledger_free(&back);
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
}

/* Found by tag, not journalled: it joins the ledger, then goes. */
static void test_ledger__found_resources_join_the_ledger(void **state)
{
	bk_strv cleaned = BK_STRV_INIT, failed = BK_STRV_INIT;
	bk_journal *j = fresh();
	bk_reaper r = reaper(j, &cleaned, &failed);
	const bk_ledger *l = bk_journal_ledger(j);

	(void)state;
	assert_int_equal(bk_reap(&r, "instance", "i-found"), 0);
	assert_int_equal(l->count, 1);
	assert_int_equal(l->items[0].state, BK_DELETED);
	assert_string_equal(F.calls[0], "instance i-found");
	assert_string_equal(cleaned.items[0], "instance i-found");
	bk_journal_free(j);
	bk_strv_free(&cleaned);
	bk_strv_free(&failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ledger__unwinds_in_reverse_what_is_live),
		cmocka_unit_test(test_ledger__rollback_from_a_mark),
		cmocka_unit_test(test_ledger__snapshots_follow_their_image),
		cmocka_unit_test(test_ledger__a_failed_undo_stays_live),
		cmocka_unit_test(test_ledger__replay_of_a_torn_journal),
		cmocka_unit_test(test_ledger__already_gone_is_counted_apart),
		cmocka_unit_test(test_ledger__kinds_table),
		cmocka_unit_test(test_ledger__undo_entries_describe_the_undo),
		cmocka_unit_test(test_ledger__found_resources_join_the_ledger),
		cmocka_unit_test(test_ledger__intended_resources_found_by_name),
	};
	return cmocka_run_group_tests_name("bake ledger", tests, NULL, NULL);
}
