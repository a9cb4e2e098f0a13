/*
 * junit.c - the report as JUnit XML (the Ant/Jenkins dialect, see
 * tests/junit/junit.xsd), written with libxml2's xmlTextWriter so every
 * name and message is escaped. Test output can hold anything (ANSI colour
 * codes, binary), so text is first made valid XML 1.0 UTF-8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "verify_int.h"

#define REPLACEMENT "\xEF\xBF\xBD"   /* U+FFFD */

/* Length of the valid UTF-8 sequence at s and its code point; 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, unsigned long *cp)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
		 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};

	if (n == 0)
		return 0;
	*cp = n == 1 ? s[0] : s[0] & (0x7F >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	return *cp < min[n] ? 0 : n;   /* overlong */
}

/* The Char production of XML 1.0. */
static bool xml_char(unsigned long c)
{
	return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
	       (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

static char *xml_clean(const char *text)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	bk_buf b = BK_BUF_INIT;
	int rc = bk_buf_puts(&b, "");

	while (*s && rc == 0) {
		unsigned long cp = 0;
		size_t n = utf8_decode(s, &cp);
		if (n && xml_char(cp)) {
			rc = bk_buf_put(&b, s, n);
			s += n;
		} else {
			rc = bk_buf_puts(&b, REPLACEMENT);
			s++;
		}
	}
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}

/* ---- writing ---------------------------------------------------------- */

typedef struct {
	size_t tests, failures, errors, skipped;
	double time;
} counts;

static void count_suite(counts *c, const bk_test_report *r, const char *suite)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < r->count; i++) {
		const bk_test_case *t = &r->cases[i];
		if (suite && strcmp(t->suite, suite) != 0)
			continue;
		c->tests++;
		c->failures += t->status == BK_TEST_FAILED;
		c->errors += t->status == BK_TEST_ERROR;
		c->skipped += t->status == BK_TEST_SKIPPED;
		c->time += t->seconds;
	}
}

static int attr(xmlTextWriterPtr w, const char *name, const char *value)
{
	char *clean = xml_clean(value);
	int rc = clean ? xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST clean) : -1;

	free(clean);
	return rc < 0 ? -1 : 0;
}

static int attr_fmt(xmlTextWriterPtr w, const char *name, const char *fmt, ...) BK_PRINTF(3, 4);
static int attr_fmt(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
{
	char value[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	return xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST value) < 0 ? -1 : 0;
}

static int counts_attrs(xmlTextWriterPtr w, const counts *c)
{
	int rc = attr_fmt(w, "tests", "%zu", c->tests);

	rc = rc ? rc : attr_fmt(w, "failures", "%zu", c->failures);
	rc = rc ? rc : attr_fmt(w, "errors", "%zu", c->errors);
	rc = rc ? rc : attr_fmt(w, "skipped", "%zu", c->skipped);
	return rc ? rc : attr_fmt(w, "time", "%.3f", c->time);
}

static int text_element(xmlTextWriterPtr w, const char *name, const char *text)
{
	char *clean = xml_clean(text);
	int rc = clean ? xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST clean) : -1;

	free(clean);
	return rc < 0 ? -1 : 0;
}

/* <failure message=".." type="..">full message</failure>, or <error>, <skipped>. */
static int outcome(xmlTextWriterPtr w, const bk_test_case *c)
{
	const char *el = c->status == BK_TEST_FAILED ? "failure"
		       : c->status == BK_TEST_ERROR ? "error" : "skipped";
	char *first = bk_first_line(c->message ? c->message : "", 1000);
	int rc = first ? 0 : -1;

	rc = rc ? rc : xmlTextWriterStartElement(w, BAD_CAST el) < 0 ? -1 : 0;
	rc = rc ? rc : attr(w, "message", first);
	if (rc == 0 && c->status != BK_TEST_SKIPPED)
		rc = attr(w, "type", c->status == BK_TEST_FAILED ? "failure" : "error");
	if (rc == 0 && c->message && c->status != BK_TEST_SKIPPED) {
		char *clean = xml_clean(c->message);
		rc = clean && xmlTextWriterWriteString(w, BAD_CAST clean) >= 0 ? 0 : -1;
		free(clean);
	}
	rc = rc ? rc : xmlTextWriterEndElement(w) < 0 ? -1 : 0;
	free(first);
	return rc;
}

static int testcase(xmlTextWriterPtr w, const bk_test_case *c)
{
	int rc = xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0 ? -1 : 0;

	rc = rc ? rc : attr(w, "name", c->name);
	rc = rc ? rc : attr(w, "classname", c->classname);
	rc = rc ? rc : attr_fmt(w, "time", "%.3f", c->seconds);
	if (rc == 0 && c->status != BK_TEST_PASSED)
		rc = outcome(w, c);
	if (rc == 0 && c->output && *c->output)
		rc = text_element(w, "system-out", c->output);
	return rc ? rc : xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

static int testsuite(xmlTextWriterPtr w, const bk_test_report *r, const char *suite,
		     const char *stamp)
{
	counts c;
	int rc = xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0 ? -1 : 0;

	count_suite(&c, r, suite);
	rc = rc ? rc : attr(w, "name", suite);
	rc = rc ? rc : counts_attrs(w, &c);
	rc = rc ? rc : attr(w, "timestamp", stamp);
	for (size_t i = 0; rc == 0 && i < r->count; i++)
		if (strcmp(r->cases[i].suite, suite) == 0)
			rc = testcase(w, &r->cases[i]);
	return rc ? rc : xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

/* Suites in the order they first appear. */
static bool seen_before(const bk_test_report *r, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(r->cases[j].suite, r->cases[i].suite) == 0)
			return true;
	return false;
}

static int document(xmlTextWriterPtr w, const bk_test_report *r)
{
	char stamp[32];
	counts all;
	int rc;

	/* Ant's format: UTC, no zone designator (its XSD has no room for one). */
	bk_iso8601(stamp, bk_wall());
	stamp[strcspn(stamp, "Z")] = '\0';
	count_suite(&all, r, NULL);
	xmlTextWriterSetIndent(w, 1);
	xmlTextWriterSetIndentString(w, BAD_CAST "  ");
	rc = xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 ? -1 : 0;
	rc = rc ? rc : xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0 ? -1 : 0;
	rc = rc ? rc : attr(w, "name", "bakeami");
	rc = rc ? rc : counts_attrs(w, &all);
	for (size_t i = 0; rc == 0 && i < r->count; i++)
		if (!seen_before(r, i))
			rc = testsuite(w, r, r->cases[i].suite, stamp);
	rc = rc ? rc : xmlTextWriterEndElement(w) < 0 ? -1 : 0;
	return rc ? rc : xmlTextWriterEndDocument(w) < 0 ? -1 : 0;
}

/* Built in memory, then written beside the target and renamed: a reader
 * never sees half a file, and libxml2 never prints I/O errors of its own. */
int bk_junit_write(const bk_test_report *r, const char *path)
{
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	char *tmp = bk_sprintf("%s.tmp.%d", path, (int)getpid());
	int rc = w && tmp ? document(w, r) : -1;

	if (w)
		xmlFreeTextWriter(w);   /* flushes into buf */
	if (rc < 0 || !buf || !tmp)
		rc = bk_err(BAKEAMI_ENOMEM, "cannot build the JUnit XML for %s", path);
	else if ((rc = bk_file_write(tmp, (const char *)xmlBufferContent(buf),
				     (size_t)xmlBufferLength(buf), 0644)) == 0 &&
		 rename(tmp, path) < 0)
		rc = bk_err(BAKEAMI_EIO, "%s: %s", path, strerror(errno));
	if (rc < 0 && tmp)
		unlink(tmp);
	if (rc == BAKEAMI_EIO && !strstr(bk_err_msg(), path))
		bk_err_wrap(rc, "writing the JUnit file %s", path);
	if (buf)
		xmlBufferFree(buf);
	free(tmp);
	return rc;
}
