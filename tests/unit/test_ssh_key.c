/*
 * test_ssh_key.c - SSH keys: the generated ed25519 key's public line and
 * its OpenSSH private key text (PROTOCOL.key), loading user key files,
 * fingerprints, and errors that name the file. Where ssh-keygen is
 * installed, OpenSSH itself checks our output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ssh/ssh.h"

#define SSH_KEYGEN "/usr/bin/ssh-keygen"

static char tmpdir[64];

/* ---- helpers -------------------------------------------------------- */

static char *tmp_path(const char *name)
{
	char *p = bk_sprintf("%s/%s", tmpdir, name);
	assert_non_null(p);
	return p;
}

static void write_file(const char *path, const char *text)
{
	assert_int_equal(bk_file_write(path, text, strlen(text), 0600), 0);
}

/* First line of a command's output, without the newline. */
static char *run_line(const char *cmd)
{
	char buf[4096] = "";
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	pclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return bk_strdup(buf);
}

static bool have_ssh_keygen(void)
{
	return access(SSH_KEYGEN, X_OK) == 0;
}

/* Base64 (no newlines) -> bytes; returns the length. */
static size_t b64_decode(const char *in, size_t n, unsigned char *out)
{
	size_t pad = 0;
	int len;

	while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
		pad++;
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	assert_true(len >= 0);
	return (size_t)len - pad;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read an SSH string at *off; returns its length and sets *s. */
static size_t ssh_string(const unsigned char *d, size_t len, size_t *off,
			 const unsigned char **s)
{
	size_t n;

	assert_true(*off + 4 <= len);
	n = be32(d + *off);
	assert_true(*off + 4 + n <= len);
	*s = d + *off + 4;
	*off += 4 + n;
	return n;
}

/* The blob behind "type base64 comment". */
static size_t public_blob(const char *line, unsigned char *out)
{
	const char *b = strchr(line, ' ') + 1, *e = strchr(b, ' ');
	return b64_decode(b, e ? (size_t)(e - b) : strlen(b), out);
}

static char *first_two_fields(const char *line)
{
	const char *sp = strchr(line, ' ');
	const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
	return sp2 ? bk_strndup(line, (size_t)(sp2 - line)) : bk_strdup(line);
}

/* ---- generated keys ------------------------------------------------- */

static void test_generate_public_line(void **state)
{
	bk_ssh_key *key;
	unsigned char blob[128];
	const unsigned char *s;
	size_t off = 0, n;
	(void)state;

	assert_int_equal(bk_ssh_key_generate(&key, "bakeami-run-1"), 0);
	const char *line = bk_ssh_key_public_line(key);
	assert_true(bk_str_starts(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
	assert_true(bk_str_ends(line, " bakeami-run-1"));
	n = public_blob(line, blob);
	assert_int_equal(n, 4 + 11 + 4 + 32);
	assert_int_equal(ssh_string(blob, n, &off, &s), 11);
	assert_memory_equal(s, "ssh-ed25519", 11);
	assert_int_equal(ssh_string(blob, n, &off, &s), 32);
	bk_ssh_key_free(key);
}

static void test_generate_fingerprint(void **state)
{
	bk_ssh_key *key;
	unsigned char blob[128], md[32], b64[64];
	unsigned int mdlen;
	char want[80];
	(void)state;

	assert_int_equal(bk_ssh_key_generate(&key, "c"), 0);
	size_t n = public_blob(bk_ssh_key_public_line(key), blob);
	EVP_Digest(blob, n, md, &mdlen, EVP_sha256(), NULL);
	EVP_EncodeBlock(b64, md, 32);
	b64[43] = '\0';    /* no '=' padding, as ssh-keygen prints it */
	snprintf(want, sizeof(want), "SHA256:%s", (char *)b64);
	assert_string_equal(bk_ssh_key_fingerprint(key), want);
	bk_ssh_key_free(key);
}

static void test_generate_distinct(void **state)
{
	bk_ssh_key *a, *b;
	(void)state;

	assert_int_equal(bk_ssh_key_generate(&a, "x"), 0);
	assert_int_equal(bk_ssh_key_generate(&b, "x"), 0);
	assert_string_not_equal(bk_ssh_key_public_line(a), bk_ssh_key_public_line(b));
	assert_string_not_equal(bk_ssh_key_private_pem(a), bk_ssh_key_private_pem(b));
	bk_ssh_key_free(a);
	bk_ssh_key_free(b);
}

static void test_generate_comment_sanitized(void **state)
{
	bk_ssh_key *key;
	(void)state;

	assert_int_equal(bk_ssh_key_generate(&key, "evil\nssh-rsa AAAA"), 0);
	assert_null(strchr(bk_ssh_key_public_line(key), '\n'));
	assert_true(bk_str_ends(bk_ssh_key_public_line(key), " evil_ssh-rsa AAAA"));
	bk_ssh_key_free(key);
	assert_int_equal(bk_ssh_key_generate(&key, NULL), 0);
	assert_null(strchr(strchr(bk_ssh_key_public_line(key), ' ') + 1, ' '));
	bk_ssh_key_free(key);
}

/* Decode the armoured text; check the PROTOCOL.key layout. */
static size_t decode_private(const char *text, unsigned char *out)
{
	const char *begin = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
	const char *end = "-----END OPENSSH PRIVATE KEY-----\n";
	char body[4096];
	size_t n = 0;

	assert_true(bk_str_starts(text, begin));
	assert_true(bk_str_ends(text, end));
	for (const char *p = text + strlen(begin); p < text + strlen(text) - strlen(end);) {
		size_t line = strcspn(p, "\n");
		assert_true(line <= 70);
		memcpy(body + n, p, line);
		n += line;
		p += line + 1;
	}
	return b64_decode(body, n, out);
}

static void check_private_section(const unsigned char *d, size_t len,
				  const unsigned char *pubblob, size_t publen)
{
	const unsigned char *s, *pub;
	size_t off = 8;

	assert_int_equal(len % 8, 0);
	assert_int_equal(be32(d), be32(d + 4));               /* checkints */
	assert_int_equal(ssh_string(d, len, &off, &s), 11);
	assert_memory_equal(s, "ssh-ed25519", 11);
	assert_int_equal(ssh_string(d, len, &off, &pub), 32);
	assert_memory_equal(pub, pubblob + publen - 32, 32);
	assert_int_equal(ssh_string(d, len, &off, &s), 64);
	assert_memory_equal(s + 32, pub, 32);                 /* seed || pub */
	/* the seed really is the private half of pub */
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, s, 32);
	unsigned char derived[32];
	size_t dl = sizeof(derived);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pk, derived, &dl), 1);
	assert_memory_equal(derived, pub, 32);
	EVP_PKEY_free(pk);
	assert_int_equal(ssh_string(d, len, &off, &s), 7);
	assert_memory_equal(s, "comment", 7);
	for (unsigned char pad = 1; off < len; pad++)
		assert_int_equal(d[off++], pad);
}

static void test_generate_private_format(void **state)
{
	bk_ssh_key *key;
	unsigned char d[4096], pubblob[128];
	const unsigned char *s, *section;
	size_t len, off = 15, publen;
	(void)state;

	assert_int_equal(bk_ssh_key_generate(&key, "comment"), 0);
	len = decode_private(bk_ssh_key_private_pem(key), d);
	assert_memory_equal(d, "openssh-key-v1", 15);       /* with its NUL */
	assert_int_equal(ssh_string(d, len, &off, &s), 4);
	assert_memory_equal(s, "none", 4);                  /* cipher */
	assert_int_equal(ssh_string(d, len, &off, &s), 4);
	assert_memory_equal(s, "none", 4);                  /* kdf */
	assert_int_equal(ssh_string(d, len, &off, &s), 0);  /* kdf options */
	assert_int_equal(be32(d + off), 1);
	off += 4;
	publen = public_blob(bk_ssh_key_public_line(key), pubblob);
	assert_int_equal(ssh_string(d, len, &off, &s), publen);
	assert_memory_equal(s, pubblob, publen);
	size_t slen = ssh_string(d, len, &off, &section);
	assert_int_equal(off, len);
	check_private_section(section, slen, pubblob, publen);
	bk_ssh_key_free(key);
}

/* ---- OpenSSH and the loader read what we generate ------------------- */

static void test_openssh_reads_generated_key(void **state)
{
	bk_ssh_key *key;
	char *path = tmp_path("gen"), *cmd, *line, *fp;
	(void)state;

	if (!have_ssh_keygen()) {
		free(path);
		skip();
	}
	assert_int_equal(bk_ssh_key_generate(&key, "bakeami"), 0);
	write_file(path, bk_ssh_key_private_pem(key));
	cmd = bk_sprintf("%s -y -f %s", SSH_KEYGEN, path);
	line = run_line(cmd);
	assert_string_equal(line, bk_ssh_key_public_line(key));
	free(cmd);
	cmd = bk_sprintf("%s -lf %s | cut -d' ' -f2", SSH_KEYGEN, path);
	fp = run_line(cmd);
	assert_string_equal(fp, bk_ssh_key_fingerprint(key));
	free(cmd);
	free(line);
	free(fp);
	free(path);
	bk_ssh_key_free(key);
}

static void test_load_roundtrip(void **state)
{
	bk_ssh_key *gen, *loaded;
	char *path = tmp_path("roundtrip"), *want;
	(void)state;

	assert_int_equal(bk_ssh_key_generate(&gen, "c"), 0);
	write_file(path, bk_ssh_key_private_pem(gen));
	assert_int_equal(bk_ssh_key_load(&loaded, path), 0);
	want = first_two_fields(bk_ssh_key_public_line(gen));
	assert_string_equal(bk_ssh_key_public_line(loaded), want);
	assert_string_equal(bk_ssh_key_fingerprint(loaded), bk_ssh_key_fingerprint(gen));
	assert_string_equal(bk_ssh_key_private_pem(loaded), bk_ssh_key_private_pem(gen));
	free(want);
	free(path);
	bk_ssh_key_free(gen);
	bk_ssh_key_free(loaded);
}

/* ssh-keygen makes a key; we must derive the same public line. */
static void check_keygen_key(const char *name, const char *args)
{
	char *path = tmp_path(name), *cmd, *pub, *want;
	bk_ssh_key *key;

	cmd = bk_sprintf("%s -q -N '' %s -f %s", SSH_KEYGEN, args, path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(bk_ssh_key_load(&key, path), 0);
	cmd = bk_sprintf("cat %s.pub", path);
	pub = run_line(cmd);
	want = first_two_fields(pub);
	assert_string_equal(bk_ssh_key_public_line(key), want);
	free(cmd);
	cmd = bk_sprintf("%s -lf %s.pub | cut -d' ' -f2", SSH_KEYGEN, path);
	free(pub);
	pub = run_line(cmd);
	assert_string_equal(bk_ssh_key_fingerprint(key), pub);
	free(cmd);
	free(pub);
	free(want);
	free(path);
	bk_ssh_key_free(key);
}

static void test_load_ssh_keygen_keys(void **state)
{
	(void)state;
	if (!have_ssh_keygen())
		skip();
	check_keygen_key("ed25519", "-t ed25519");
	check_keygen_key("ecdsa256", "-t ecdsa -b 256");
	check_keygen_key("ecdsa384", "-t ecdsa -b 384");
	check_keygen_key("ecdsa521", "-t ecdsa -b 521");
	check_keygen_key("rsa_openssh", "-t rsa -b 2048");
	check_keygen_key("rsa_pem", "-t rsa -b 2048 -m PEM");
	check_keygen_key("ecdsa_pem", "-t ecdsa -m PEM");
	check_keygen_key("rsa_pkcs8", "-t rsa -b 2048 -m PKCS8");
}

/* ---- errors name the file ------------------------------------------- */

static void test_load_missing(void **state)
{
	bk_ssh_key *key = (bk_ssh_key *)1;
	(void)state;

	assert_int_equal(bk_ssh_key_load(&key, "/nonexistent/id_ed25519"), BAKEAMI_EINVALID);
	assert_null(key);
	assert_non_null(strstr(bk_err_msg(), "/nonexistent/id_ed25519"));
}

static void test_load_garbage(void **state)
{
	bk_ssh_key *key;
	char *path = tmp_path("garbage");
	(void)state;

	write_file(path, "this is not a key\n");
	assert_int_equal(bk_ssh_key_load(&key, path), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), path));
	write_file(path, "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----\n");
	assert_int_equal(bk_ssh_key_load(&key, path), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), path));
	write_file(path, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5v\n"
			 "-----END OPENSSH PRIVATE KEY-----\n");
	assert_int_equal(bk_ssh_key_load(&key, path), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "truncated"));
	free(path);
}

static void test_load_passphrase_protected(void **state)
{
	char *path = tmp_path("encrypted"), *cmd;
	bk_ssh_key *key;
	(void)state;

	if (!have_ssh_keygen()) {
		free(path);
		skip();
	}
	cmd = bk_sprintf("%s -q -t ed25519 -N secret -f %s", SSH_KEYGEN, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(bk_ssh_key_load(&key, path), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "passphrase"));
	assert_non_null(strstr(bk_err_msg(), path));
	free(cmd);
	free(path);
}

static void test_free_null(void **state)
{
	(void)state;
	bk_ssh_key_free(NULL);
	assert_null(bk_ssh_key_public_line(NULL));
	assert_null(bk_ssh_key_private_pem(NULL));
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_ssh_key.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char *cmd = bk_sprintf("rm -rf %s", tmpdir);
	(void)state;
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_public_line),
		cmocka_unit_test(test_generate_fingerprint),
		cmocka_unit_test(test_generate_distinct),
		cmocka_unit_test(test_generate_comment_sanitized),
		cmocka_unit_test(test_generate_private_format),
		cmocka_unit_test(test_openssh_reads_generated_key),
		cmocka_unit_test(test_load_roundtrip),
		cmocka_unit_test(test_load_ssh_keygen_keys),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_garbage),
		cmocka_unit_test(test_load_passphrase_protected),
		cmocka_unit_test(test_free_null),
	};
	return cmocka_run_group_tests_name("ssh_key", tests, setup, teardown);
}
