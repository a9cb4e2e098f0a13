/*
 * inputs.h - the inputs digest (issue 14): a SHA-256 over a canonical
 * encoding of everything that decides an image's content and its test
 * verdict, computed from the bound plan, one short digest per part so a
 * miss can say what changed. No network call.
 */
#ifndef BK_INPUTS_H
#define BK_INPUTS_H

#include <stdbool.h>

#include <cJSON.h>

#include "../template/template.h"

/* Hex characters of a part's digest kept in the image's tags. */
#define BK_INPUTS_SHORT 8

/* The image's tags that carry the digest. */
#define BK_TAG_INPUTS "bakeami:inputs"              /* everything */
#define BK_TAG_IMAGE_INPUTS "bakeami:image-inputs"  /* everything but the tests */
#define BK_TAG_INPUTS_FAMILY "bakeami:inputs-family"
#define BK_TAG_PARTS "bakeami:inputs-parts"         /* then -parts-2, -parts-3 ... */
/* Tags the digest adds to an image beyond the part tags. */
#define BK_INPUTS_FIXED_TAGS 3

typedef struct {
	char *key;       /* compact, for tags: "s", "b", "p1", "p1f0", "t", "tf0", "v" */
	char *label;     /* "provisioners[1] file scripts/setup.sh" */
	char hex[65];    /* the part's SHA-256 */
	bool tests;      /* part of the tests: not in the image digest */
} bk_input_part;

typedef struct {
	bk_input_part *parts;
	size_t count;
	char digest[65];        /* every part */
	char image_digest[65];  /* every part but the tests' */
	char *incomplete;       /* NULL, or why reuse cannot trust it (a type with no row) */
} bk_inputs;

/* The canonical encoding, fed to a sink: every item is a type letter, its
 * length as 8 big-endian bytes and its bytes, so no two different inputs
 * encode the same. JSON objects are encoded with their keys sorted. */
typedef struct {
	void (*put)(const void *data, size_t len, void *payload);
	void *payload;
} bk_enc;
void bk_enc_str(const bk_enc *e, const char *s);          /* NULL is encoded as null */
void bk_enc_json(const bk_enc *e, const cJSON *v);        /* NULL is encoded as null */
/* A local file or folder: type, mode and contents; folders walked in byte
 * order of their names, symlinks inside them not followed. */
int bk_enc_path(const bk_enc *e, const char *path);

/* The digest of config c (bound) with the resolved source AMI id. */
int bk_inputs_compute(bk_inputs *out, const bk_build_config *c, const char *source_ami);
void bk_inputs_free(bk_inputs *in);
const bk_input_part *bk_inputs_part(const bk_inputs *in, const char *key);

/* The digest's tags for a new image: bakeami:inputs, :image-inputs,
 * :inputs-family and as many part tags as `room` tags allow. */
int bk_inputs_tags(bk_kv *out, const bk_inputs *in, const char *family, size_t room);
/* How many tags bk_inputs_tags would add with unlimited room. */
size_t bk_inputs_tag_count(const bk_inputs *in);
/* What differs from an earlier image, from its tags: "provisioners[1] file
 * files/motd changed; source AMI ami-0a → ami-0b". A new string; "nothing
 * recorded differs" when no part does. */
char *bk_inputs_explain(const bk_inputs *in, const bk_kv *old_tags, const char *source_ami);

#endif
