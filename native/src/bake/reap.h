/*
 * reap.h - finishing a run from its ledger (journal.h), shared by the
 * bake's CLEANUP, a promotion's rollback and `bakeami cleanup`.
 *
 * A resource kind is one bk_kind: how to undo it (delete the resource, or
 * put a change back) and how to say so. bk_unwind() walks the ledger in
 * reverse and undoes every live entry: a created resource, or a change
 * intended or made (a kill may fall between the intent and the call, and
 * every undo is safe to repeat). Each undo is logged, listed in the
 * cleaned (or rolled_back), gone or failed lists and journalled as
 * deleted. A resource already gone (its undo answered BAKEAMI_ENOTFOUND:
 * ended by someone else, or by an earlier cleanup killed before it could
 * journal it) is listed as gone, not as deleted: the counts say what this
 * cleanup did.
 */
#ifndef BK_REAP_H
#define BK_REAP_H

#include "../aws/ec2.h"
#include "journal.h"

typedef struct bk_reaper bk_reaper;

typedef struct {
	const char *name;      /* the journal's kind */
	bool change;           /* a reversible change, not a resource */
	/* Found by its bakeami:run-id tag (bk_ec2_find_tagged's type) when a
	 * kill left it unjournalled; the table's order is the sweep's. Images
	 * never: a tag cannot tell a half-made image from a finished one. */
	bool by_tag;
	/* Delete it or put it back; calls go to e->region (NULL: the client's). */
	int (*undo)(bk_reaper *r, const bk_entry *e);
	/* "instance i-0abc", "SSM /p in us-east-1 restored to ami-1": a new string. */
	char *(*describe)(const bk_reaper *r, const bk_entry *e);
	/* An intended resource whose create call a kill or a cancel cut short
	 * (the server may have acted): found by the name its intent gave or by
	 * our run-id tag, and only if it is ours: 0 with *id (NULL: nothing was
	 * made). NULL: nothing can find the kind. */
	int (*find)(bk_reaper *r, const bk_entry *e, char **id);
} bk_kind;

struct bk_reaper {
	bk_aws *aws;
	bk_journal *journal;   /* the ledger; may be NULL for resources found by tag */
	bk_logger log;
	bk_strv *cleaned;      /* "instance i-..." */
	bk_strv *failed;       /* "instance i-...: <why>" */
	bk_strv *gone;         /* already gone before its undo; NULL: listed as cleaned */
	bk_strv *rolled_back;  /* non-NULL: a promotion's rollback, listed here */
	double deadline;       /* bk_now() seconds: cleanup's own, never cancelled */
	const bk_kind *kinds;  /* NULL: bk_kinds(); tests swap in fakes */
	size_t kinds_count;
	/* Look for what intended entries may have made: `bakeami cleanup` after
	 * a kill, and a run's own CLEANUP (a cancel during a create whose answer
	 * was on its way leaves an intent whose resource exists). */
	bool find_intended;
};

/* The table of every kind the ledger knows. */
const bk_kind *bk_kinds(size_t *count);
const bk_kind *bk_kind_of(const bk_reaper *r, const char *name);

/* Undo the live entries from index `from` on, last first. 0, or
 * BAKEAMI_ERROR when any could not be undone (listed in failed). */
int bk_unwind(bk_reaper *r, size_t from);
/* How many entries bk_unwind(r, from) would undo. */
size_t bk_unwind_count(const bk_reaper *r, size_t from);
/* Undo one live entry (e.g. the test instance once its tests ran). */
int bk_reap_entry(bk_reaper *r, size_t n);
/* Undo the live entry kind/id of the run's region, found in the ledger. */
int bk_reap(bk_reaper *r, const char *kind, const char *id);
/* A resource found by tag, not in the ledger: added as created, then reaped. */
int bk_reap_found(bk_reaper *r, const char *kind, const char *id);
/* The live resources from `from` on, newest first, as ids (on_error_abort). */
int bk_ledger_live_ids(bk_strv *out, const bk_ledger *l, size_t from);

#endif
