/*
 * s3.c - ListObjectsV2, DeleteObjects and HeadObject (s3.h). Path-style
 * URLs, so a local endpoint (moto, the lab's proxy) needs no DNS name per
 * bucket; query parameters are written sorted and encoded, as SigV4's
 * canonical request has them.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/evp.h>

#include "aws_int.h"
#include "s3.h"

#define DELETE_BATCH 1000   /* DeleteObjects' limit */

/* "/bucket/a/b.xml": each byte of the key encoded but its slashes. */
static int object_path(bk_buf *b, const char *bucket, const char *key)
{
	int rc = bk_buf_putc(b, '/');

	if (rc == 0)
		rc = bk_aws__form_encode(b, bucket);
	if (rc == 0 && key)
		rc = bk_buf_putc(b, '/');
	for (const char *p = key; rc == 0 && p && *p; p++) {
		char one[2] = {*p, '\0'};
		rc = *p == '/' ? bk_buf_putc(b, '/') : bk_aws__form_encode(b, one);
	}
	return rc < 0 ? bk_oom() : 0;
}

static int call(xmlDocPtr *out, bk_aws *aws, const char *region, const char *method,
		const char *path_query, const char *action, const char *body, const char *md5)
{
	bk_http_req req = {0};
	char code[64];
	long status = 0;
	int rc;

	req.service = "s3";
	req.region = region;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.content_type = body ? "application/xml" : NULL;
	req.method = method;
	req.path_query = path_query;
	req.content_md5 = md5;
	rc = bk_aws__rest(out, aws, &req, action, code, &status);
	if (rc == BAKEAMI_EAWS && (!strcmp(code, "NoSuchBucket") || !strcmp(code, "NoSuchKey") ||
				   status == 404))
		return BAKEAMI_ENOTFOUND;
	return rc;
}

/* ---- ListObjectsV2 ------------------------------------------------------ */

static char *list_path(const char *bucket, const char *prefix, const char *token)
{
	bk_buf b = BK_BUF_INIT;
	int rc = object_path(&b, bucket, NULL);

	if (rc == 0 && token)
		rc = bk_buf_puts(&b, "?continuation-token=") < 0 ||
		     bk_aws__form_encode(&b, token) < 0 ? bk_oom() : 0;
	if (rc == 0)
		rc = bk_buf_puts(&b, token ? "&list-type=2&prefix=" : "?list-type=2&prefix=") < 0 ||
		     bk_aws__form_encode(&b, prefix) < 0 ? bk_oom() : 0;
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

/* One page's keys; *next the continuation token when truncated. */
static int parse_page(bk_strv *out, char **next, xmlDocPtr doc)
{
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	char *trunc = root ? bk_xml_child_text(root, "IsTruncated") : NULL;
	int rc = 0;

	*next = NULL;
	for (xmlNodePtr c = root ? root->children : NULL; c && rc == 0; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Contents"))
			continue;
		char *key = bk_xml_child_text(c, "Key");
		rc = key ? bk_strv_push(out, key) : bk_err(BAKEAMI_EAWS, "ListObjectsV2: an "
							  "object without a Key");
		free(key);
	}
	if (rc == 0 && trunc && !strcmp(trunc, "true") &&
	    !(*next = root ? bk_xml_child_text(root, "NextContinuationToken") : NULL))
		rc = bk_err(BAKEAMI_EAWS, "ListObjectsV2: truncated without a continuation token");
	free(trunc);
	return rc;
}

int bk_s3_list(bk_strv *out, bk_aws *aws, const char *region, const char *bucket,
	       const char *prefix)
{
	char *token = NULL;
	int rc = 0;

	do {
		char *path = list_path(bucket, prefix, token), *next = NULL;
		xmlDocPtr doc = NULL;

		rc = path ? call(&doc, aws, region, "GET", path, "ListObjectsV2", NULL, NULL)
			  : bk_oom();
		if (rc == 0)
			rc = parse_page(out, &next, doc);
		xmlFreeDoc(doc);
		free(path);
		free(token);
		token = next;
	} while (rc == 0 && token);
	free(token);
	return rc;
}

/* ---- DeleteObjects ------------------------------------------------------ */

/* <Delete><Quiet>true</Quiet><Object><Key>..</Key></Object>...</Delete>,
 * escaped by libxml2. */
static char *delete_body(const char *const *keys, size_t n)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = doc ? xmlNewNode(NULL, BAD_CAST "Delete") : NULL;
	xmlChar *mem = NULL;
	char *out = NULL;
	int len = 0;

	if (!root) {
		xmlFreeDoc(doc);
		return NULL;
	}
	xmlDocSetRootElement(doc, root);
	xmlNewNs(root, BAD_CAST "http://s3.amazonaws.com/doc/2006-03-01/", NULL);
	xmlNewTextChild(root, NULL, BAD_CAST "Quiet", BAD_CAST "true");
	for (size_t i = 0; i < n; i++) {
		xmlNodePtr o = xmlNewChild(root, NULL, BAD_CAST "Object", NULL);
		if (o)
			xmlNewTextChild(o, NULL, BAD_CAST "Key", BAD_CAST keys[i]);
	}
	xmlDocDumpMemoryEnc(doc, &mem, &len, "UTF-8");
	if (mem)
		out = bk_strndup((const char *)mem, (size_t)len);
	xmlFree(mem);
	xmlFreeDoc(doc);
	return out;
}

/* Content-MD5, which DeleteObjects requires: base64 of the body's MD5. */
static int body_md5(char out[32], const char *body)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(body, strlen(body), md, &n, EVP_md5(), NULL) || n != 16)
		return bk_err(BAKEAMI_ERROR, "MD5 of the DeleteObjects body failed");
	EVP_EncodeBlock((unsigned char *)out, md, (int)n);
	return 0;
}

/* Quiet mode lists only the keys that failed. */
static int delete_errors(xmlDocPtr doc)
{
	xmlNodePtr err = doc ? bk_xml_find((xmlNodePtr)doc, "Error") : NULL;
	char *key, *code;
	int rc;

	if (!err)
		return 0;
	key = bk_xml_child_text(err, "Key");
	code = bk_xml_child_text(err, "Code");
	rc = bk_err(BAKEAMI_EAWS, "DeleteObjects: %s: %s", key ? key : "?", code ? code : "?");
	free(key);
	free(code);
	return rc;
}

static int delete_batch(bk_aws *aws, const char *region, const char *path,
			const char *const *keys, size_t n)
{
	char *body = delete_body(keys, n);
	char md5[32];
	xmlDocPtr doc = NULL;
	int rc = body ? body_md5(md5, body) : bk_oom();

	if (rc == 0)
		rc = call(&doc, aws, region, "POST", path, "DeleteObjects", body, md5);
	if (rc == 0)
		rc = delete_errors(doc);
	xmlFreeDoc(doc);
	free(body);
	return rc;
}

int bk_s3_delete(bk_aws *aws, const char *region, const char *bucket,
		 const char *const *keys, size_t count)
{
	bk_buf b = BK_BUF_INIT;
	int rc = object_path(&b, bucket, NULL);

	if (rc == 0 && bk_buf_puts(&b, "?delete=") < 0)
		rc = bk_oom();
	for (size_t i = 0; rc == 0 && i < count; i += DELETE_BATCH)
		rc = delete_batch(aws, region, b.ptr, keys + i,
				  count - i < DELETE_BATCH ? count - i : DELETE_BATCH);
	bk_buf_free(&b);
	return rc;
}

int bk_s3_delete_prefix(size_t *deleted, bk_aws *aws, const char *region, const char *bucket,
			const char *prefix)
{
	bk_strv keys = BK_STRV_INIT;
	int rc = bk_s3_list(&keys, aws, region, bucket, prefix);

	if (deleted)
		*deleted = 0;
	if (rc == BAKEAMI_ENOTFOUND)
		rc = 0;
	else if (rc == 0 && keys.count)
		rc = bk_s3_delete(aws, region, bucket, (const char *const *)keys.items, keys.count);
	if (rc == 0 && deleted)
		*deleted = keys.count;
	bk_strv_free(&keys);
	return rc;
}

/* ---- HeadObject --------------------------------------------------------- */

int bk_s3_head(bk_aws *aws, const char *region, const char *bucket, const char *key)
{
	bk_buf b = BK_BUF_INIT;
	xmlDocPtr doc = NULL;
	int rc = object_path(&b, bucket, key);

	if (rc == 0)
		rc = call(&doc, aws, region, "HEAD", b.ptr, "HeadObject", NULL, NULL);
	xmlFreeDoc(doc);
	bk_buf_free(&b);
	return rc;
}
