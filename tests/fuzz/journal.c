/*
 * journal.c - libFuzzer target: the journal reader `bakeami cleanup
 * --journal` trusts after a kill (any torn or hand-edited file).
 */
#include "fuzz_file.h"
#include "bake/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_ledger l;

	if (bk_journal_read(&l, fuzz_file("journal.jsonl", data, size)) == 0) {
		bk_ledger_count(&l, BK_CREATED);
		bk_ledger_find(&l, "instance", NULL, "i-1");
		bk_ledger_free(&l);
	}
	bk_err_clear();
	return 0;
}
