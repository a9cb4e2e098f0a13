/*
 * promote_plan.h - the promotion's settings, typed (issue 4): the template's
 * promote block and the builder keys only promotion reads. Built by the
 * template module (sections.c) from the rendered JSON, so the promotion
 * code never reads JSON. Checked at VALIDATE by bk_promote_check
 * (template.h).
 */
#ifndef BK_PROMOTE_PLAN_H
#define BK_PROMOTE_PLAN_H

#include <cJSON.h>

#include "../util/util.h"

/* EC2 deprecates at most ten years ahead. */
#define BK_MAX_DEPRECATE_DAYS 3650

typedef struct {
	bool present;                 /* the template has a promote block */
	bk_strv regions;              /* promote.regions */
	bk_strv share_with, share_with_org_arns, share_with_ou_arns;
	char *ssm_parameter;          /* NULL: no pointer */
	bk_kv tags;                   /* promote.tags */
	char *family;                 /* promote.family; NULL: the template's file name */
	long deprecate_after_days;    /* -1: unset */
	long keep_last;               /* 0: unset */
	/* builder keys */
	bk_strv ami_org_arns, ami_ou_arns;
	bk_kv region_kms_key_ids;     /* region -> KMS key, "" for the region's default */
	char *deprecate_at;           /* NULL: unset */
	/* what bk_promote_check reports: region_kms_key_ids not an object (""),
	 * or the region whose key is not a string; NULL: fine */
	char *kms_bad;
} bk_promote_plan;

/* promote (may be NULL) and builder are rendered JSON. */
int bk_promote_plan_build(bk_promote_plan *out, const cJSON *promote, const cJSON *builder);
void bk_promote_plan_free(bk_promote_plan *p);

#endif
