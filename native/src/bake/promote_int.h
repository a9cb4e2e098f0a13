/*
 * promote_int.h - the promotion's parts (promote.h): the engine and its
 * rollback by ledger (promote.c), copies (promote_copy.c), sharing,
 * deprecation, pointer and tags (promote_change.c), keep_last
 * (promote_retire.c). Every change is journalled as intended, with its
 * undo, before its call: the ledger is the only record of what to undo.
 */
#ifndef BK_PROMOTE_INT_H
#define BK_PROMOTE_INT_H

#include "promote.h"

#define BK_FAMILY_TAG "bakeami:family"
/* On each copy: "<region>:<image id>" of the image it copies. A promotion
 * run again finds its copies by it and reuses them. */
#define BK_COPY_OF_TAG "bakeami:copy-of"

typedef struct promo promo;

/* One region: the build region (regions[0]) or a copy's. */
typedef struct {
	promo *p;
	char *region;
	bk_aws *aws;             /* a copy region's own client; else the bake's */
	bool is_copy;
	char *image_id;          /* the tested image, or its copy */
	bk_strv snapshots;
	bool had_before;         /* it existed before this run (`bakeami promote`, a reused copy) ... */
	bk_kv tags_before;       /* ... with these tags */
	/* a copy thread's outcome */
	pthread_t thread;
	bool started;
	bool stopped;            /* it gave up because another copy failed */
	int rc;
	char *error;
} region_ctx;

struct promo {
	bakeami_bake *b;
	const bk_promo_input *in;
	const bk_promote_plan *plan;
	atomic_int failed;       /* a copy failed: the others stop waiting */
	size_t mark;             /* the ledger's length when the promotion began */
	bk_ec2_perms share;
	bk_strv snap_users, snap_groups;
	bk_kv final_tags;        /* promote.tags + bakeami:family */
	char deprecate_at[32];
	char *family;
	region_ctx *regions;
	size_t n;
	size_t first;            /* the first region that keeps its image: 1 when
	                            skip_save_build_region leaves regions[0] a source only */
};

/* promote.c: an entry for region r, intended before its call, then made. */
int bk_promo_intend(promo *p, region_ctx *r, size_t *n, const char *kind, const char *id,
		    const char *parent, const bk_kv *undo);
int bk_promo_made(promo *p, size_t n);
int bk_strv_add_unique(bk_strv *v, const char *s);
int bk_strv_add_all(bk_strv *v, const bk_strv *src);

/* The steps, each 0 or an error code. */
int bk_promo_copies(promo *p);
int bk_promo_shares(promo *p);
int bk_promo_deprecation(promo *p);
int bk_promo_pointer(promo *p);
int bk_promo_tags(promo *p);
/* After success: keep_last's retirements (warnings only). */
void bk_promo_retire(promo *p);

#endif
