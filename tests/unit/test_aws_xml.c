/* test_aws_xml.c - XML helpers and AWS error bodies (aws/xml.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws/aws.h"
#include "aws/aws_int.h"

#define LEN(s) (sizeof(s) - 1)

/* moto's shape: namespaced, body request id is the literal "request-id". */
static const char moto_error[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15\"><Errors><Error>"
	"<Code>InvalidAMIID.NotFound</Code>"
	"<Message>The image id '[ami-1]' does not exist</Message>"
	"</Error></Errors><RequestID>request-id</RequestID></Response>";

/* AWS EC2's shape: no namespace. */
static const char ec2_error[] =
	"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
	"<Message>Request limit exceeded.</Message></Error></Errors>"
	"<RequestID>5a1b-42</RequestID></Response>";

/* STS/IAM shape. */
static const char sts_error[] =
	"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
	"<Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message>"
	"</Error><RequestId>req-9</RequestId></ErrorResponse>";

/* moto's auth failure: ErrorResponse + Errors, no request id. */
static const char auth_error[] =
	"<ErrorResponse><Errors><Error><Code>AuthFailure</Code>"
	"<Message>AWS was not able to validate the provided access credentials</Message>"
	"<Type>Sender</Type></Error></Errors></ErrorResponse>";

static const char html_500[] =
	"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
	"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error.</p>\n";

static void parses_moto_error_with_namespace(void **state)
{
	char code[64], msg[512], rid[128];

	(void)state;
	assert_int_equal(bk_xml_parse_error(moto_error, LEN(moto_error), code, msg, rid), 0);
	assert_string_equal(code, "InvalidAMIID.NotFound");
	assert_string_equal(msg, "The image id '[ami-1]' does not exist");
	assert_string_equal(rid, "request-id");
}

static void parses_ec2_sts_and_auth_errors(void **state)
{
	char code[64], msg[512], rid[128];

	(void)state;
	assert_int_equal(bk_xml_parse_error(ec2_error, LEN(ec2_error), code, msg, rid), 0);
	assert_string_equal(code, "RequestLimitExceeded");
	assert_string_equal(rid, "5a1b-42");
	assert_int_equal(bk_xml_parse_error(sts_error, LEN(sts_error), code, msg, rid), 0);
	assert_string_equal(code, "AccessDenied");
	assert_string_equal(msg, "not allowed");
	assert_string_equal(rid, "req-9");
	assert_int_equal(bk_xml_parse_error(auth_error, LEN(auth_error), code, msg, rid), 0);
	assert_string_equal(code, "AuthFailure");
	assert_string_equal(rid, "");
}

static void non_error_bodies_are_not_errors(void **state)
{
	static const char ok[] = "<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>";
	char code[64], msg[512], rid[128];

	(void)state;
	assert_int_not_equal(bk_xml_parse_error(html_500, LEN(html_500), code, msg, rid), 0);
	assert_int_not_equal(bk_xml_parse_error(ok, LEN(ok), code, msg, rid), 0);
	assert_int_not_equal(bk_xml_parse_error("", 0, code, msg, rid), 0);
	assert_int_not_equal(bk_xml_parse_error(NULL, 0, code, msg, rid), 0);
	assert_string_equal(code, "");
}

static void long_messages_are_truncated_safely(void **state)
{
	bk_buf b = BK_BUF_INIT;
	char code[64], msg[512], rid[128];

	(void)state;
	bk_buf_puts(&b, "<Response><Errors><Error><Code>");
	for (int i = 0; i < 100; i++)
		bk_buf_puts(&b, "LongCode");
	bk_buf_puts(&b, "</Code><Message>");
	for (int i = 0; i < 1000; i++)
		bk_buf_puts(&b, "m");
	bk_buf_puts(&b, "</Message></Error></Errors></Response>");
	assert_int_equal(bk_xml_parse_error(b.ptr, b.len, code, msg, rid), 0);
	assert_int_equal(strlen(code), 63);
	assert_int_equal(strlen(msg), 511);
	bk_buf_free(&b);
}

static void read_sample(bk_buf *b, const char *name)
{
	char *path = bk_sprintf("tests/unit/samples/aws/%s", name), *text = NULL;
	size_t len = 0;

	assert_int_equal(bk_file_read(&text, &len, path), 0);
	*b = (bk_buf)BK_BUF_INIT;
	assert_int_equal(bk_buf_put(b, text, len), 0);
	free(text);
	free(path);
}

/* A DOCTYPE (entities, internal or external) makes a body unreadable: no
 * entity is expanded, no file or URL is read. */
static void entities_are_not_expanded(void **state)
{
	char code[64], msg[512], rid[128];
	bk_buf b;

	(void)state;
	read_sample(&b, "xxe.xml");
	assert_null(bk_xml__read(b.ptr, b.len));
	assert_int_not_equal(bk_xml_parse_error(b.ptr, b.len, code, msg, rid), 0);
	bk_buf_free(&b);
}

/* A cut-off body and an HTML page are not documents: the caller reports
 * "unreadable response" with an excerpt, not a half tree. */
static void truncated_and_html_bodies_are_refused(void **state)
{
	char code[64], msg[512], rid[128];
	bk_buf b;

	(void)state;
	read_sample(&b, "truncated.xml");
	assert_null(bk_xml__read(b.ptr, b.len));
	assert_int_not_equal(bk_xml_parse_error(b.ptr, b.len, code, msg, rid), 0);
	bk_buf_free(&b);
	read_sample(&b, "html-error.html");
	assert_null(bk_xml__read(b.ptr, b.len));
	assert_int_not_equal(bk_xml_parse_error(b.ptr, b.len, code, msg, rid), 0);
	bk_buf_free(&b);
}

static void finds_by_local_name(void **state)
{
	static const char doc_text[] =
		"<R xmlns=\"urn:x\" xmlns:p=\"urn:p\"><a><p:b><c>deep</c></p:b></a>"
		"<c>shallow</c><d></d></R>";
	xmlDocPtr doc = bk_xml__read(doc_text, LEN(doc_text));
	xmlNodePtr root = xmlDocGetRootElement(doc);
	char *t;

	(void)state;
	assert_non_null(doc);
	/* Depth-first: the first <c> in document order is the deep one. */
	t = bk_xml_child_text(bk_xml_find(root, "b"), "c");
	assert_string_equal(t, "deep");
	free(t);
	t = bk_xml_child_text(root, "c");
	assert_string_equal(t, "shallow");
	free(t);
	t = bk_xml_child_text(root, "d");
	assert_string_equal(t, "");
	free(t);
	assert_null(bk_xml_child_text(root, "missing"));
	assert_null(bk_xml_child(root, "b"));   /* not a direct child */
	assert_null(bk_xml_find(NULL, "c"));
	xmlFreeDoc(doc);
}

static void json_errors(void **state)
{
	static const char ssm[] = "{\"__type\":\"ParameterNotFound\",\"message\":\"no such\"}";
	static const char ns[] = "{\"__type\":\"com.amazonaws.ssm#TooManyUpdates\",\"Message\":\"x\"}";
	char code[64], msg[512];

	(void)state;
	assert_int_equal(bk_aws__parse_json_error(ssm, LEN(ssm), code, msg), 0);
	assert_string_equal(code, "ParameterNotFound");
	assert_string_equal(msg, "no such");
	assert_int_equal(bk_aws__parse_json_error(ns, LEN(ns), code, msg), 0);
	assert_string_equal(code, "TooManyUpdates");
	assert_string_equal(msg, "x");
	assert_int_not_equal(bk_aws__parse_json_error("{}", 2, code, msg), 0);
	assert_int_not_equal(bk_aws__parse_json_error(html_500, LEN(html_500), code, msg), 0);
}

static void html_excerpt_is_short_text(void **state)
{
	char out[60];

	(void)state;
	bk_aws__excerpt(out, sizeof(out), html_500, LEN(html_500));
	assert_string_equal(out, "500 Internal Server Error Internal Server Error The serv");
	bk_aws__excerpt(out, sizeof(out), "", 0);
	assert_string_equal(out, "");
}

static void parses_aws_times(void **state)
{
	(void)state;
	assert_true(bk_aws__parse_time("1970-01-01T00:01:40Z") == 100.0);
	assert_true(bk_aws__parse_time("2026-11-26T04:27:51.000Z") == 1795667271.0);
	assert_true(bk_aws__parse_time("garbage") == 0);
	assert_true(bk_aws__parse_time(NULL) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_moto_error_with_namespace),
		cmocka_unit_test(parses_ec2_sts_and_auth_errors),
		cmocka_unit_test(non_error_bodies_are_not_errors),
		cmocka_unit_test(long_messages_are_truncated_safely),
		cmocka_unit_test(finds_by_local_name),
		cmocka_unit_test(json_errors),
		cmocka_unit_test(html_excerpt_is_short_text),
		cmocka_unit_test(parses_aws_times),
		cmocka_unit_test(entities_are_not_expanded),
		cmocka_unit_test(truncated_and_html_bodies_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
