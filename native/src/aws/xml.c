/*
 * xml.c - libxml2 helpers and AWS error bodies. Everything matches on the
 * local name only: moto puts the EC2 namespace on its responses, AWS puts
 * none on its errors, and neither matters to us.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "aws_int.h"

xmlDocPtr bk_xml__read(const char *body, size_t len)
{
	/* NONET: never fetch a DTD; NOERROR/NOWARNING: an HTML error page is
	 * expected input, not something to print on stderr. */
	int opts = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
		   XML_PARSE_NOWARNING;

	xmlDocPtr doc;

	if (!body || len == 0 || len > INT_MAX)
		return NULL;
	/* No NOENT or DTDLOAD: external entities are never read. An AWS answer
	 * has no DOCTYPE at all, so one that has (internal entities: a "billion
	 * laughs"; an HTML page) is not an answer. */
	doc = xmlReadMemory(body, (int)len, "aws-response.xml", NULL, opts);
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

static bool named(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->name &&
	       strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr bk_xml_find(xmlNodePtr node, const char *name)
{
	if (!node)
		return NULL;
	for (xmlNodePtr c = node->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (named(c, name))
			return c;
		xmlNodePtr hit = bk_xml_find(c, name);
		if (hit)
			return hit;
	}
	return NULL;
}

xmlNodePtr bk_xml_child(xmlNodePtr node, const char *name)
{
	if (!node)
		return NULL;
	for (xmlNodePtr c = node->children; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

char *bk_xml_child_text(xmlNodePtr node, const char *name)
{
	xmlNodePtr c = bk_xml_child(node, name);
	xmlChar *txt;
	char *out;

	if (!c)
		return NULL;
	/* Copied so callers free() it like every other string of ours. */
	txt = xmlNodeGetContent(c);
	out = bk_strdup(txt ? (const char *)txt : "");
	xmlFree(txt);
	return out;
}

/* strncpy that always terminates and never reads past src's end. */
static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void copy_child(char *dst, size_t size, xmlNodePtr node, const char *name)
{
	char *t = bk_xml_child_text(node, name);

	if (t && !dst[0])
		copy_field(dst, size, t);
	free(t);
}

/* <RequestID> (EC2), <RequestId> (STS, IAM), next to or inside <Error>. */
static void find_request_id(char out[128], xmlNodePtr root, xmlNodePtr err)
{
	static const char *const names[] = {"RequestID", "RequestId"};

	for (size_t i = 0; i < BK_ARRAY_SIZE(names) && !out[0]; i++) {
		copy_child(out, 128, root, names[i]);
		copy_child(out, 128, err, names[i]);
	}
}

int bk_xml_parse_error(const char *body, size_t len, char code[64],
		       char message[512], char request_id[128])
{
	xmlDocPtr doc = bk_xml__read(body, len);
	xmlNodePtr root, err;

	code[0] = message[0] = request_id[0] = '\0';
	if (!doc)
		return BAKEAMI_ERROR;
	root = xmlDocGetRootElement(doc);
	/* <Response><Errors><Error>, <ErrorResponse>[<Errors>]<Error>, or a
	 * bare <Error> as S3 sends. */
	err = named(root, "Error") ? root : bk_xml_find(root, "Error");
	if (err) {
		copy_child(code, 64, err, "Code");
		copy_child(message, 512, err, "Message");
		copy_child(message, 512, err, "message");
		find_request_id(request_id, root, err);
	}
	xmlFreeDoc(doc);
	return code[0] ? 0 : BAKEAMI_ERROR;
}

/* "com.amazonaws.ssm#ParameterNotFound" or "Code:http://..." -> "Code". */
static void bare_code(char code[64], const char *type)
{
	const char *hash = strrchr(type, '#');
	size_t n;

	if (hash)
		type = hash + 1;
	n = strcspn(type, ":");
	if (n > 63)
		n = 63;
	memcpy(code, type, n);
	code[n] = '\0';
}

int bk_aws__parse_json_error(const char *body, size_t len, char code[64], char message[512])
{
	cJSON *doc = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *type, *msg;

	code[0] = message[0] = '\0';
	if (!doc)
		return BAKEAMI_ERROR;
	type = cJSON_GetObjectItemCaseSensitive(doc, "__type");
	if (!cJSON_IsString(type))
		type = cJSON_GetObjectItemCaseSensitive(doc, "code");
	msg = cJSON_GetObjectItemCaseSensitive(doc, "message");
	if (!cJSON_IsString(msg))
		msg = cJSON_GetObjectItemCaseSensitive(doc, "Message");
	if (cJSON_IsString(type))
		bare_code(code, type->valuestring);
	if (cJSON_IsString(msg))
		copy_field(message, 512, msg->valuestring);
	cJSON_Delete(doc);
	return code[0] ? 0 : BAKEAMI_ERROR;
}

void bk_aws__excerpt(char *out, size_t outsz, const char *body, size_t len)
{
	size_t o = 0;
	bool in_tag = false, space = false;

	for (size_t i = 0; i < len && body && o + 4 < outsz; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == '<' || c == '>') {
			in_tag = c == '<';
			space = o > 0;
			continue;
		}
		if (in_tag)
			continue;
		if (isspace(c) || !isprint(c)) {
			space = o > 0;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
}
