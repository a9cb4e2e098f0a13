/* test_journal.c - the ledger's journal: records, reading back, torn lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bake/journal.h"

static char *tmp_path(const char *name)
{
	char *dir = bk_sprintf("/tmp/bakeami-journal-%d", (int)getpid());
	char *p = bk_sprintf("%s/sub/dir/%s", dir, name);
	free(dir);
	return p;
}

/* The created entries neither deleted nor kept, in creation order. */
static size_t live(const bk_ledger *l, const bk_entry **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < l->count; i++)
		if (l->items[i].state == BK_CREATED && n < max)
			out[n++] = &l->items[i];
	return n;
}

static void write_bake(const char *path, bool finish)
{
	bk_journal *j = NULL;

	assert_int_equal(bk_journal_open(&j, path, "bk-0123456789ab", "us-east-1"), 0);
	assert_int_equal(bk_journal_intent(j, "key-pair", "bakeami-bk-0123456789ab"), 0);
	assert_int_equal(bk_journal_created(j, "key-pair", "bakeami-bk-0123456789ab"), 0);
	assert_int_equal(bk_journal_intent(j, "security-group", "bakeami-bk-0123456789ab"), 0);
	assert_int_equal(bk_journal_created(j, "security-group", "sg-1"), 0);
	assert_int_equal(bk_journal_intent(j, "instance", "bk-0123456789ab-run"), 0);
	assert_int_equal(bk_journal_created(j, "instance", "i-1"), 0);
	if (finish) {
		assert_int_equal(bk_journal_deleted(j, "instance", "i-1"), 0);
		assert_int_equal(bk_journal_deleted(j, "security-group", "sg-1"), 0);
		assert_int_equal(bk_journal_done(j, "succeeded"), 0);
	}
	bk_journal_free(j);
}

static void test_journal__creates_dirs_private_mode(void **state)
{
	char *path = tmp_path("a.jsonl");
	struct stat st;

	(void)state;
	write_bake(path, false);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(path);
	free(path);
}

static void test_journal__killed_bake_lists_live_resources_in_order(void **state)
{
	char *path = tmp_path("b.jsonl");
	const bk_entry *items[8];
	bk_ledger st;

	(void)state;
	write_bake(path, false);
	assert_int_equal(bk_journal_read(&st, path), 0);
	assert_string_equal(st.run_id, "bk-0123456789ab");
	assert_string_equal(st.region, "us-east-1");
	assert_int_equal(st.done, 0);
	assert_int_equal(live(&st, items, 8), 3);
	assert_string_equal(items[0]->kind, "key-pair");
	assert_string_equal(items[1]->id, "sg-1");
	assert_string_equal(items[2]->id, "i-1");
	assert_int_equal(bk_ledger_count(&st, BK_INTENDED), 0);
	bk_ledger_free(&st);
	unlink(path);
	free(path);
}

static void test_journal__deleted_and_done(void **state)
{
	char *path = tmp_path("c.jsonl");
	const bk_entry *items[8];
	bk_ledger st;

	(void)state;
	write_bake(path, true);
	assert_int_equal(bk_journal_read(&st, path), 0);
	assert_int_equal(st.done, 1);
	assert_int_equal(live(&st, items, 8), 1);
	assert_string_equal(items[0]->kind, "key-pair");
	bk_ledger_free(&st);
	unlink(path);
	free(path);
}

/* A kill between intent and created leaves an intent to search by tag,
 * and a kill mid-write leaves a torn last line that must not stop reading. */
static void test_journal__torn_line_and_pending_intent(void **state)
{
	char *path = tmp_path("d.jsonl");
	bk_journal *j = NULL;
	const bk_entry *items[8];
	bk_ledger st;
	FILE *f;

	(void)state;
	assert_int_equal(bk_journal_open(&j, path, "bk-x", "eu-west-1"), 0);
	assert_int_equal(bk_journal_intent(j, "instance", "bk-x-run"), 0);
	bk_journal_free(j);
	f = fopen(path, "a");
	fputs("{\"t\":\"2026-11-26T00:00:00Z\",\"event\":\"crea", f);
	fclose(f);
	assert_int_equal(bk_journal_read(&st, path), 0);
	assert_int_equal(live(&st, items, 8), 0);
	assert_int_equal(bk_ledger_count(&st, BK_INTENDED), 1);
	assert_string_equal(st.items[0].kind, "instance");
	assert_string_equal(st.items[0].name, "bk-x-run");
	bk_ledger_free(&st);
	unlink(path);
	free(path);
}

/* Where the calls went and as whom comes back for a cleanup from the file;
 * a journal without the record has none. */
static void test_journal__access_record_read_back(void **state)
{
	char *path = tmp_path("f.jsonl");
	bk_run_access a = {"https://ec2.internal.example.com", true,
			   "arn:aws:iam::123456789012:role/bake", "ext-1"};
	bk_journal *j = NULL;
	bk_ledger st;

	(void)state;
	assert_int_equal(bk_journal_open(&j, path, "bk-a", "us-east-1"), 0);
	assert_int_equal(bk_journal_access(j, &a), 0);
	assert_string_equal(bk_journal_ledger(j)->endpoint, a.endpoint);
	bk_journal_free(j);
	assert_int_equal(bk_journal_read(&st, path), 0);
	assert_string_equal(st.endpoint, a.endpoint);
	assert_int_equal(st.skip_tls_verify, 1);
	assert_string_equal(st.role_arn, a.role_arn);
	assert_string_equal(st.role_external_id, "ext-1");
	bk_ledger_free(&st);
	unlink(path);
	assert_int_equal(bk_journal_open(&j, path, "bk-b", "us-east-1"), 0);
	bk_journal_free(j);
	assert_int_equal(bk_journal_read(&st, path), 0);
	assert_null(st.endpoint);
	assert_null(st.role_arn);
	assert_int_equal(st.skip_tls_verify, 0);
	bk_ledger_free(&st);
	unlink(path);
	free(path);
}

static void test_journal__missing_and_empty_files(void **state)
{
	char *path = tmp_path("e.jsonl");
	bk_ledger st;
	FILE *f;

	(void)state;
	assert_int_equal(bk_journal_read(&st, "/nonexistent/j.jsonl"), BAKEAMI_ENOTFOUND);
	assert_non_null(strstr(bk_err_msg(), "/nonexistent/j.jsonl"));
	write_bake(path, false);
	f = fopen(path, "w");
	fclose(f);
	assert_int_equal(bk_journal_read(&st, path), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "no start record"));
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal__creates_dirs_private_mode),
		cmocka_unit_test(test_journal__killed_bake_lists_live_resources_in_order),
		cmocka_unit_test(test_journal__deleted_and_done),
		cmocka_unit_test(test_journal__torn_line_and_pending_intent),
		cmocka_unit_test(test_journal__access_record_read_back),
		cmocka_unit_test(test_journal__missing_and_empty_files),
	};
	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
