/*
 * journal.h - the ledger: the one record of everything a run creates or
 * changes, kept in memory and appended to the journal file (JSON lines,
 * fsync'd, mode 0600) by the same call. An entry is written as intended
 * before its create call or change, naming what will exist (to find it by
 * name or tag) and, for a change, how to undo it; then created (with the
 * id), kept or deleted. CLEANUP, on_error_abort, a promotion's rollback,
 * the result's cleanup report and `bakeami cleanup --journal` all read it
 * in reverse (reap.h); `bakeami cleanup` rebuilds it from the file with
 * the same code (bk_journal_read / bk_journal_reopen).
 */
#ifndef BK_JOURNAL_H
#define BK_JOURNAL_H

#include "../util/util.h"

typedef enum { BK_INTENDED, BK_CREATED, BK_KEPT, BK_DELETED } bk_entry_state;

typedef struct {
	char *kind;         /* a bk_kind's name (reap.h): "instance", "ssm-parameter", ... */
	char *id;           /* the resource (or the changed one's) id; NULL while intended */
	char *name;         /* what the intent names: a name, a ClientToken; NULL: none */
	char *region;       /* NULL: the run's region */
	char *parent;       /* a snapshot's image, a volume permission's image; NULL: none */
	bk_entry_state state;
	bk_kv undo;         /* a change: what puts it back (the kind reads it) */
	char *at;           /* when it was intended (ISO 8601): a find by name takes only newer */
} bk_entry;

typedef struct {
	char *run_id;
	char *region;       /* the run's */
	/* Where the run's calls went and as whom (the template's
	 * custom_endpoint_ec2, insecure_skip_tls_verify, assume_role), for a
	 * cleanup from the journal; NULL: none */
	char *endpoint;
	int skip_tls_verify;
	char *role_arn, *role_external_id;
	int done;           /* a done record was written */
	bk_entry *items;    /* in order of intent */
	size_t count;
} bk_ledger;

/* What a new entry says; every field but kind may be NULL. */
typedef struct {
	const char *kind, *id, *name, *region, *parent;
	const bk_kv *undo;
} bk_entry_spec;

typedef struct bk_journal bk_journal;

/* Create (mode 0600, parent dirs made) and write the start record. */
int bk_journal_open(bk_journal **out, const char *path, const char *run_id,
		    const char *region);
typedef struct {
	const char *endpoint;                      /* NULL: the environment's */
	bool skip_tls_verify;
	const char *role_arn, *role_external_id;   /* NULL: none */
} bk_run_access;
/* Record where the run's EC2 and IAM calls go and the role it assumes
 * (the template's), so a cleanup from the journal does the same. */
int bk_journal_access(bk_journal *j, const bk_run_access *a);
/* Rebuild the ledger of an existing journal and append to it. */
int bk_journal_reopen(bk_journal **out, const char *path);
/* Add an entry in state st (BK_INTENDED before a create call or change;
 * BK_CREATED for what exists already, e.g. an image's snapshots); *n gets
 * its index (n may be NULL). Each write is flushed and fsync'd before the
 * call returns; the calls are safe from several threads. */
int bk_journal_add(bk_journal *j, size_t *n, const bk_entry_spec *spec, bk_entry_state st);
/* Move entry n to st; id (may be NULL) sets its id, as CREATED does. */
int bk_journal_set(bk_journal *j, size_t n, bk_entry_state st, const char *id);
/* Shorthands in the run's region: an intent named name; the latest intent
 * of kind created as id; the live entry kind/id deleted or kept. */
int bk_journal_intent(bk_journal *j, const char *kind, const char *name);
int bk_journal_created(bk_journal *j, const char *kind, const char *id);
int bk_journal_deleted(bk_journal *j, const char *kind, const char *id);
int bk_journal_kept(bk_journal *j, const char *kind, const char *id);
int bk_journal_done(bk_journal *j, const char *status);
const char *bk_journal_path(const bk_journal *j);
/* The in-memory ledger. Read it where no other thread adds entries. */
const bk_ledger *bk_journal_ledger(const bk_journal *j);
void bk_journal_free(bk_journal *j);

/* Read a journal into a ledger; a torn last line (killed mid-write) is ignored. */
int bk_journal_read(bk_ledger *out, const char *path);
void bk_ledger_free(bk_ledger *l);
/* The index of the live (intended or created) entry kind/id in region
 * (NULL: the run's), or -1. */
long bk_ledger_find(const bk_ledger *l, const char *kind, const char *region, const char *id);
/* Whether the ledger has kind/id in region in any state (deleted too). */
bool bk_ledger_knows(const bk_ledger *l, const char *kind, const char *region, const char *id);
size_t bk_ledger_count(const bk_ledger *l, bk_entry_state st);
bool bk_entry_live(const bk_entry *e);
const char *bk_entry_state_name(bk_entry_state st);

#endif
