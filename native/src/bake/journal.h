/*
 * journal.h - the resource journal (JSON lines). Before each create call
 * an intent record, after it the resource id; each deletion too. A killed
 * bake is finished by `bakeami cleanup --journal F` from these records.
 */
#ifndef BK_JOURNAL_H
#define BK_JOURNAL_H

#include "../util/util.h"

typedef struct bk_journal bk_journal;

/* Create (mode 0600, parent dirs made) and write the start record. */
int bk_journal_open(bk_journal **out, const char *path, const char *run_id,
		    const char *region);
/* Each write is flushed and fsync'd before the call returns. */
int bk_journal_intent(bk_journal *j, const char *type, const char *name);
int bk_journal_created(bk_journal *j, const char *type, const char *id);
int bk_journal_deleted(bk_journal *j, const char *type, const char *id);
int bk_journal_kept(bk_journal *j, const char *type, const char *id);
int bk_journal_done(bk_journal *j, const char *status);
const char *bk_journal_path(const bk_journal *j);
void bk_journal_free(bk_journal *j);

/* What a journal says is still to clean up. */
typedef struct {
	char *type;   /* key-pair, security-group, instance, image */
	char *id;     /* id or (key pairs) name */
} bk_journal_item;
typedef struct {
	char *run_id;
	char *region;
	int done;                   /* a done record was written */
	bk_journal_item *items;     /* created, neither deleted nor kept; in creation order */
	size_t count;
	bk_strv pending_intents;    /* "type name" intents without a created record */
} bk_journal_state;
/* Read a journal; a torn last line (killed mid-write) is ignored. */
int bk_journal_read(bk_journal_state *out, const char *path);
void bk_journal_state_free(bk_journal_state *st);

#endif
