/*
 * aws_error.c - libFuzzer target: the readers of AWS error bodies on their
 * own (the Query API's XML error document, the JSON protocol's, the excerpt
 * of a body that is neither) and the XML reader every answer goes through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char code[64], message[512], request_id[128], excerpt[200];
	xmlDocPtr doc;

	bk_xml_parse_error(body, size, code, message, request_id);
	bk_aws__parse_json_error(body, size, code, message);
	bk_aws__excerpt(excerpt, sizeof(excerpt), body, size);
	if ((doc = bk_xml__read(body, size))) {
		char *t = bk_xml_child_text(xmlDocGetRootElement(doc), "requestId");
		bk_xml_find(xmlDocGetRootElement(doc), "item");
		free(t);
		xmlFreeDoc(doc);
	}
	bk_err_clear();
	return 0;
}
