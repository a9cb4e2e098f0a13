/*
 * reap.h - deleting what a bake created, shared by the bake's CLEANUP
 * and `bakeami cleanup`. Each function logs what it did, records it in the
 * journal (when given) and in the cleaned/failed lists, and is idempotent:
 * a resource already gone counts as cleaned.
 */
#ifndef BK_REAP_H
#define BK_REAP_H

#include "../aws/ec2.h"
#include "journal.h"

typedef struct {
	bk_aws *aws;
	bk_journal *journal;   /* may be NULL */
	bk_logger log;
	bk_strv *cleaned;      /* "instance i-..." */
	bk_strv *failed;       /* "instance i-...: <why>" */
	double deadline;       /* bk_now() seconds: cleanup's own, never cancelled */
} bk_reaper;

int bk_reap_instance(bk_reaper *r, const char *id);
/* Terminate without waiting: for when a following security-group delete,
 * which EC2 refuses while the instance exists, is the wait. */
int bk_reap_instance_nowait(bk_reaper *r, const char *id);
int bk_reap_security_group(bk_reaper *r, const char *id);
int bk_reap_key_pair(bk_reaper *r, const char *name);
/* snapshots NULL: found with DescribeImages first. */
int bk_reap_image(bk_reaper *r, const char *id, const bk_strv *snapshots);
/* By journal type name: "instance", "security-group", "key-pair", "image". */
int bk_reap(bk_reaper *r, const char *type, const char *id);

#endif
