/*
 * ec2_int.h - helpers shared by the ec2_*.c files: building Query-API
 * lists, tags and block device mappings, and reading common response parts.
 */
#ifndef BK_EC2_INT_H
#define BK_EC2_INT_H

#include "aws_int.h"
#include "ec2.h"

/* The tag every resource a run makes carries: what tells ours from another's. */
#define BK_EC2_RUN_ID_TAG "bakeami:run-id"

/* bk_aws_query on "ec2". */
int bk_ec2__call(xmlDocPtr *out, bk_aws *aws, const char *region, const char *action,
		 const bk_params *p, char code[64]);
/* The same for a call that creates something: on a new connection, so it
 * is re-sent only by our retry loop (http.c says why). */
int bk_ec2__create(xmlDocPtr *out, bk_aws *aws, const char *region, const char *action,
		   const bk_params *p, char code[64]);
/* A delete goes the same way: a libcurl re-send we never hear of would
 * make its own success read as "already gone" (bk_aws_gone). */
#define bk_ec2__delete bk_ec2__create
/* A delete of one resource, key=id; an answer with one of the gone codes is
 * bk_aws_gone(what, id), so a cleanup can say it had nothing to delete. */
int bk_ec2__delete_one(bk_aws *aws, const char *region, const char *action, const char *key,
		       const char *id, const char *what, const char *const *gone, size_t ngone);

/* ---- describes shared by the bakes of a process (ec2_shared.c) ---- */
typedef struct bk_ec2__group bk_ec2__group;
typedef struct {
	xmlDocPtr doc;             /* the answer, maybe others' too: read it, never change it */
	xmlDocPtr own;             /* a call of our own, when the shared one said nothing of ours */
	bk_ec2__group *group;
	bk_coalesce_reply reply;
} bk_ec2__shared;
/* `action` with the parameters base (NULL: none) and, with list, id as
 * list.1 ("InstanceId.1"), sent with the ids of others asking with the same
 * base at about the same time; without list, an identical request in
 * flight answers it. The answer may lack id (the caller's "not found") and
 * hold others'. 0 with out->doc, or an error with its code;
 * bk_ec2__shared_done afterwards, whatever the rc. */
int bk_ec2__shared_call(bk_ec2__shared *out, bk_aws *aws, const char *region, const char *action,
			const bk_params *base, const char *list, const char *id, char code[64]);
void bk_ec2__shared_done(bk_ec2__shared *s);

/* prefix.1, prefix.2, ... = vals */
int bk_ec2__list(bk_params *p, const char *prefix, const char *const *vals, size_t n);
/* Filter.<n>.Name = name, Filter.<n>.Value.N = vals */
int bk_ec2__filter(bk_params *p, int n, const char *name, const char *const *vals, size_t nvals);
/* Filter.1 .. Filter.N from a template's name -> value map. */
int bk_ec2__filters(bk_params *p, const bk_kv *filters);
/* <prefix>Tag.N.Key/Value, prefix "" or "TagSpecification.1." */
int bk_ec2__tags(bk_params *p, const char *prefix, const bk_kv *tags);
/* TagSpecification.<++*n> for resource type, when tags has entries. */
int bk_ec2__tag_spec(bk_params *p, int *n, const char *type, const bk_kv *tags);
/* BlockDeviceMapping.N.* */
int bk_ec2__bdms(bk_params *p, const bk_bdm *bdms, size_t n);

/* RunInstances' parameters for req (ec2_instances.c); a launch template's
 * data too (ec2_spot.c). */
int bk_ec2__run_params(bk_params *p, const bk_ec2_run_request *r);

/* <tagSet><item><key/><value/></item>...</tagSet> under parent into out. */
int bk_ec2__parse_tags(bk_kv *out, xmlNodePtr parent);
/* Text of child `name` into *out: NULL if absent (an error if required). */
int bk_ec2__text(char **out, xmlNodePtr node, const char *name, bool required);
/* The <item> children of the list element `name` under parent. */
xmlNodePtr bk_ec2__first_item(xmlNodePtr parent, const char *name);
xmlNodePtr bk_ec2__next_item(xmlNodePtr item);
/* The item's child `name` reads `value`. */
bool bk_ec2__item_is(xmlNodePtr item, const char *name, const char *value);

#endif
