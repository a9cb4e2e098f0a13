/*
 * key.c - SSH keys: a fresh ed25519 key made in memory, or a user's key
 * file (OpenSSH or PEM; RSA, ECDSA, ed25519), with its public line.
 *
 * A generated key is kept as OpenSSH "BEGIN OPENSSH PRIVATE KEY" text
 * (PROTOCOL.key): libssh2 1.10 signs with it from memory, `ssh -i` reads
 * it, and so does ruby net-ssh (Serverspec), which cannot sign with an
 * ed25519 key in PKCS#8 PEM. Buffers holding private material are sized
 * up front so they never realloc (a realloc would leave a copy behind),
 * and are wiped before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ssh_internal.h"

struct bk_ssh_key {
	char *public_line;           /* "type base64 [comment]" */
	char *private_text;          /* what libssh2 and private_pem get */
	size_t private_len;
	char fingerprint[BK_SSH_FP_MAX];
};

#define OPENSSH_MAGIC "openssh-key-v1"   /* followed by a NUL */
#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END "-----END OPENSSH PRIVATE KEY-----"
#define KEY_FILE_MAX (1 << 20)

/* ---- SSH wire encoding (RFC 4251) into a bk_buf -------------------- */

static int put_u32(bk_buf *b, uint32_t v)
{
	unsigned char be[4] = {v >> 24, v >> 16, v >> 8, v};
	return bk_buf_put(b, be, 4);
}

static int put_str(bk_buf *b, const void *data, size_t n)
{
	if (put_u32(b, (uint32_t)n) < 0)
		return bk_oom();
	return bk_buf_put(b, data, n);
}

static int put_cstr(bk_buf *b, const char *s)
{
	return put_str(b, s, strlen(s));
}

/* mpint: big-endian, with a leading zero when the top bit is set. */
static int put_mpint(bk_buf *b, const BIGNUM *bn)
{
	unsigned char tmp[2050];
	int n = BN_num_bytes(bn);

	if (n < 0 || (size_t)n + 1 > sizeof(tmp))
		return bk_err(BAKEAMI_EINVALID, "RSA key too large");
	tmp[0] = 0;
	BN_bn2bin(bn, tmp + 1);
	if (n > 0 && (tmp[1] & 0x80))
		return put_str(b, tmp, (size_t)n + 1);
	return put_str(b, tmp + 1, (size_t)n);
}

/* A buffer with all the room it will need, so it never reallocs. */
static int secret_buf(bk_buf *b, size_t cap)
{
	b->ptr = malloc(cap);
	b->len = 0;
	b->cap = b->ptr ? cap : 0;
	return b->ptr ? 0 : bk_oom();
}

static void secret_free(void *p, size_t n)
{
	if (p)
		OPENSSL_cleanse(p, n);
	free(p);
}

static void secret_buf_free(bk_buf *b)
{
	secret_free(b->ptr, b->cap);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

/* ---- reading SSH wire data ------------------------------------------ */

typedef struct {
	const unsigned char *p;
	size_t len, off;
} reader;

static int get_u32(reader *r, uint32_t *v)
{
	if (r->len - r->off < 4)
		return -1;
	const unsigned char *q = r->p + r->off;
	*v = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
	r->off += 4;
	return 0;
}

static int get_str(reader *r, const unsigned char **s, size_t *n)
{
	uint32_t len;

	if (get_u32(r, &len) < 0 || r->len - r->off < len)
		return -1;
	*s = r->p + r->off;
	*n = len;
	r->off += len;
	return 0;
}

/* ---- fingerprints and public lines ---------------------------------- */

void bk_ssh__fp_format(char out[BK_SSH_FP_MAX], const unsigned char md[32])
{
	/* 32 bytes are 44 base64 characters; ssh-keygen drops the '='. */
	unsigned char b64[45];

	EVP_EncodeBlock(b64, md, 32);
	b64[43] = '\0';
	snprintf(out, BK_SSH_FP_MAX, "SHA256:%s", (char *)b64);
}

static void blob_fingerprint(char out[BK_SSH_FP_MAX], const bk_buf *blob)
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(blob->ptr, blob->len, md, &n, EVP_sha256(), NULL);
	bk_ssh__fp_format(out, md);
}

/* The key type is the blob's first string. */
static int blob_type(char *out, size_t cap, const bk_buf *blob)
{
	reader r = {(const unsigned char *)blob->ptr, blob->len, 0};
	const unsigned char *s;
	size_t n;

	if (get_str(&r, &s, &n) < 0 || n == 0 || n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Control characters would break the authorized_keys line. */
static char *clean_comment(const char *comment)
{
	char *c = bk_strdup(comment ? comment : "");

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	return c;
}

static char *public_line(const bk_buf *blob, const char *comment)
{
	char type[64], *b64, *clean, *line = NULL;

	if (blob_type(type, sizeof(type), blob) < 0)
		return NULL;
	b64 = bk_base64((const unsigned char *)blob->ptr, blob->len);
	clean = clean_comment(comment);
	if (b64 && clean)
		line = *clean ? bk_sprintf("%s %s %s", type, b64, clean)
			      : bk_sprintf("%s %s", type, b64);
	free(b64);
	free(clean);
	return line;
}

/* Fill the public line and fingerprint of a key from its public blob. */
static int key_set_public(bk_ssh_key *key, const bk_buf *blob, const char *comment)
{
	if (!(key->public_line = public_line(blob, comment)))
		return bk_oom();
	blob_fingerprint(key->fingerprint, blob);
	return 0;
}

/* ---- generating an ed25519 key -------------------------------------- */

static int ed25519_blob(bk_buf *blob, const unsigned char pub[32])
{
	if (put_cstr(blob, "ssh-ed25519") < 0 || put_str(blob, pub, 32) < 0)
		return bk_oom();
	return 0;
}

/* The unencrypted private section of PROTOCOL.key, padded to 8 bytes. */
static int ed25519_private_section(bk_buf *b, const unsigned char pub[32],
				   const unsigned char seed[32], const char *comment)
{
	unsigned char priv[64];
	uint32_t check;
	int rc;

	if (RAND_bytes((unsigned char *)&check, sizeof(check)) != 1)
		return bk_err(BAKEAMI_ERROR, "random: RAND_bytes failed");
	memcpy(priv, seed, 32);
	memcpy(priv + 32, pub, 32);
	rc = put_u32(b, check);
	rc = rc ? rc : put_u32(b, check);
	rc = rc ? rc : put_cstr(b, "ssh-ed25519");
	rc = rc ? rc : put_str(b, pub, 32);
	rc = rc ? rc : put_str(b, priv, sizeof(priv));
	rc = rc ? rc : put_cstr(b, comment);
	for (unsigned char pad = 1; rc == 0 && b->len % 8; pad++)
		rc = bk_buf_putc(b, (char)pad);
	OPENSSL_cleanse(priv, sizeof(priv));
	return rc;
}

/* The whole binary key file: header, public key, private section. */
static int openssh_binary(bk_buf *b, const bk_buf *blob, const bk_buf *section)
{
	int rc = bk_buf_put(b, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC));

	rc = rc ? rc : put_cstr(b, "none");       /* cipher */
	rc = rc ? rc : put_cstr(b, "none");       /* kdf */
	rc = rc ? rc : put_str(b, "", 0);         /* kdf options */
	rc = rc ? rc : put_u32(b, 1);             /* number of keys */
	rc = rc ? rc : put_str(b, blob->ptr, blob->len);
	rc = rc ? rc : put_str(b, section->ptr, section->len);
	return rc;
}

/* PEM-style armour: base64 wrapped at 70 columns, as ssh-keygen writes. */
static char *openssh_armor(const unsigned char *data, size_t len, size_t *out_len)
{
	char *b64 = bk_base64(data, len), *out;
	size_t n, cap, o = 0;

	if (!b64)
		return NULL;
	n = strlen(b64);
	cap = sizeof(OPENSSH_BEGIN) + n + n / 70 + 2 + sizeof(OPENSSH_END) + 1;
	if ((out = malloc(cap))) {
		o += (size_t)sprintf(out, "%s\n", OPENSSH_BEGIN);
		for (size_t i = 0; i < n; i += 70) {
			size_t k = n - i < 70 ? n - i : 70;
			memcpy(out + o, b64 + i, k);
			o += k;
			out[o++] = '\n';
		}
		o += (size_t)sprintf(out + o, "%s\n", OPENSSH_END);
		*out_len = o;
	}
	secret_free(b64, n);
	return out;
}

static int ed25519_private_text(bk_ssh_key *key, const bk_buf *blob,
				const unsigned char pub[32],
				const unsigned char seed[32], const char *comment)
{
	size_t clen = strlen(comment);
	bk_buf section, whole;
	int rc;

	/* 4+4 check, 15 type, 36 pub, 68 priv, 4+clen comment, <8 padding */
	if ((rc = secret_buf(&section, 150 + clen)) < 0)
		return rc;
	if ((rc = ed25519_private_section(&section, pub, seed, comment)) == 0 &&
	    (rc = secret_buf(&whole, 100 + blob->len + section.len)) == 0) {
		if ((rc = openssh_binary(&whole, blob, &section)) == 0 &&
		    !(key->private_text = openssh_armor((unsigned char *)whole.ptr,
							whole.len, &key->private_len)))
			rc = bk_oom();
		secret_buf_free(&whole);
	}
	secret_buf_free(&section);
	return rc;
}

static int ed25519_raw(unsigned char pub[32], unsigned char seed[32])
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	size_t plen = 32, slen = 32;
	int ok;

	if (!pk)
		return bk_err(BAKEAMI_ERROR, "ed25519 key generation failed");
	ok = EVP_PKEY_get_raw_public_key(pk, pub, &plen) == 1 &&
	     EVP_PKEY_get_raw_private_key(pk, seed, &slen) == 1 &&
	     plen == 32 && slen == 32;
	EVP_PKEY_free(pk);
	return ok ? 0 : bk_err(BAKEAMI_ERROR, "ed25519 key export failed");
}

int bk_ssh_key_generate(bk_ssh_key **out, const char *comment)
{
	unsigned char pub[32], seed[32];
	bk_buf blob = BK_BUF_INIT;
	bk_ssh_key *key;
	char *clean = clean_comment(comment);
	int rc;

	*out = NULL;
	if (!clean || !(key = calloc(1, sizeof(*key)))) {
		free(clean);
		return bk_oom();
	}
	rc = ed25519_raw(pub, seed);
	rc = rc ? rc : ed25519_blob(&blob, pub);
	rc = rc ? rc : key_set_public(key, &blob, clean);
	rc = rc ? rc : ed25519_private_text(key, &blob, pub, seed, clean);
	OPENSSL_cleanse(seed, sizeof(seed));
	bk_buf_free(&blob);
	free(clean);
	if (rc < 0) {
		bk_ssh_key_free(key);
		return rc;
	}
	*out = key;
	return 0;
}

/* ---- loading a key file --------------------------------------------- */

/* One allocation of the exact size: bk_file_read's growing buffer would
 * scatter copies of the key over the heap. */
static int read_key_file(const char *path, char **out, size_t *out_len)
{
	struct stat st;
	size_t off = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return bk_err(BAKEAMI_EINVALID, "%s: cannot read the SSH private key: %s",
			      path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
		close(fd);
		return bk_err(BAKEAMI_EINVALID, "%s: not an SSH private key file", path);
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return bk_oom();
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*out_len = off;
	return 0;
}

/* Base64 body between the armour lines, decoded. */
static int openssh_decode(const char *text, unsigned char **out, size_t *out_len)
{
	const char *b = strstr(text, OPENSSH_BEGIN), *e;
	size_t n = 0, pad = 0;
	char *clean;
	int dec;

	if (!b || !(e = strstr(b, OPENSSH_END)))
		return -1;
	b += strlen(OPENSSH_BEGIN);
	if (!(clean = malloc((size_t)(e - b) + 1)))
		return -1;
	for (const char *p = b; p < e; p++)
		if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
			clean[n++] = *p;
	while (pad < n && pad < 2 && clean[n - 1 - pad] == '=')
		pad++;
	*out = malloc(n / 4 * 3 + 3);
	dec = *out && n % 4 == 0 ? EVP_DecodeBlock(*out, (unsigned char *)clean, (int)n) : -1;
	secret_free(clean, (size_t)(e - b) + 1);
	if (dec < 0) {
		secret_free(*out, n / 4 * 3 + 3);
		*out = NULL;
		return -1;
	}
	*out_len = (size_t)dec - pad;
	return 0;
}

/* The public blob that an OpenSSH key file carries in clear. */
static int openssh_parse_public(const unsigned char *d, size_t len, bk_buf *blob,
				const char *path)
{
	reader r = {d, len, 0};
	const unsigned char *cipher, *kdf, *opts, *pub;
	size_t cl, kl, ol, pl;
	uint32_t nkeys;

	if (len < sizeof(OPENSSH_MAGIC) || memcmp(d, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC)))
		return bk_err(BAKEAMI_EINVALID, "%s: not an OpenSSH private key", path);
	r.off = sizeof(OPENSSH_MAGIC);
	if (get_str(&r, &cipher, &cl) < 0 || get_str(&r, &kdf, &kl) < 0 ||
	    get_str(&r, &opts, &ol) < 0 || get_u32(&r, &nkeys) < 0 || nkeys < 1 ||
	    get_str(&r, &pub, &pl) < 0)
		return bk_err(BAKEAMI_EINVALID, "%s: truncated OpenSSH private key", path);
	if (cl != 4 || memcmp(cipher, "none", 4))
		return bk_err(BAKEAMI_EINVALID, "%s: the key is passphrase-protected; "
			      "bakeami needs an unencrypted key", path);
	return bk_buf_put(blob, pub, pl);
}

static int openssh_public_blob(const char *text, bk_buf *blob, const char *path)
{
	unsigned char *d;
	size_t len;
	int rc;

	if (openssh_decode(text, &d, &len) < 0)
		return bk_err(BAKEAMI_EINVALID, "%s: bad base64 in OpenSSH private key", path);
	rc = openssh_parse_public(d, len, blob, path);
	secret_free(d, len);
	return rc;
}

static int rsa_blob(bk_buf *blob, EVP_PKEY *pk)
{
	BIGNUM *n = NULL, *e = NULL;
	int rc = BAKEAMI_EINVALID;

	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
		rc = put_cstr(blob, "ssh-rsa");
		rc = rc ? rc : put_mpint(blob, e);
		rc = rc ? rc : put_mpint(blob, n);
	}
	BN_free(n);
	BN_free(e);
	return rc;
}

static const char *ec_curve(const char *group)
{
	if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
		return "nistp256";
	if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
		return "nistp384";
	if (strcmp(group, "secp521r1") == 0 || strcmp(group, "P-521") == 0)
		return "nistp521";
	return NULL;
}

static int ec_blob(bk_buf *blob, EVP_PKEY *pk)
{
	char group[64], type[64];
	unsigned char point[256];
	size_t plen = 0;
	const char *curve;
	int rc;

	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
					   sizeof(group), NULL) != 1 ||
	    !(curve = ec_curve(group)))
		return BAKEAMI_EINVALID;
	/* SSH wants the uncompressed point. */
	EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
				       "uncompressed");
	if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, point,
					    sizeof(point), &plen) != 1)
		return BAKEAMI_EINVALID;
	snprintf(type, sizeof(type), "ecdsa-sha2-%s", curve);
	rc = put_cstr(blob, type);
	rc = rc ? rc : put_cstr(blob, curve);
	rc = rc ? rc : put_str(blob, point, plen);
	return rc;
}

static int ed25519_pkey_blob(bk_buf *blob, EVP_PKEY *pk)
{
	unsigned char pub[32];
	size_t n = sizeof(pub);

	if (EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 || n != 32)
		return BAKEAMI_EINVALID;
	return ed25519_blob(blob, pub);
}

/* OpenSSL must never prompt on a terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

static int pem_public_blob(const char *text, size_t len, bk_buf *blob, const char *path)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	int rc = BAKEAMI_EINVALID;

	BIO_free(bio);
	if (!pk) {
		if (strstr(text, "ENCRYPTED"))
			return bk_err(BAKEAMI_EINVALID, "%s: the key is passphrase-protected; "
				      "bakeami needs an unencrypted key", path);
		return bk_err(BAKEAMI_EINVALID, "%s: not a private key bakeami can read "
			      "(OpenSSH or PEM; RSA, ECDSA or ed25519)", path);
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA: rc = rsa_blob(blob, pk); break;
	case EVP_PKEY_EC: rc = ec_blob(blob, pk); break;
	case EVP_PKEY_ED25519: rc = ed25519_pkey_blob(blob, pk); break;
	default: break;
	}
	EVP_PKEY_free(pk);
	if (rc == BAKEAMI_EINVALID)
		return bk_err(rc, "%s: unsupported key type (RSA, ECDSA or ed25519)", path);
	return rc;
}

static int check_key_type(const bk_buf *blob, const char *path)
{
	static const char *const ok[] = {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
					 "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"};
	char type[64];

	if (blob_type(type, sizeof(type), blob) < 0)
		return bk_err(BAKEAMI_EINVALID, "%s: malformed public key", path);
	for (size_t i = 0; i < BK_ARRAY_SIZE(ok); i++)
		if (strcmp(type, ok[i]) == 0)
			return 0;
	return bk_err(BAKEAMI_EINVALID, "%s: key type %s is not supported", path, type);
}

int bk_ssh_key_load(bk_ssh_key **out, const char *path)
{
	bk_buf blob = BK_BUF_INIT;
	bk_ssh_key *key;
	int rc;

	*out = NULL;
	if (!(key = calloc(1, sizeof(*key))))
		return bk_oom();
	rc = read_key_file(path, &key->private_text, &key->private_len);
	if (rc == 0)
		rc = strstr(key->private_text, OPENSSH_BEGIN)
			? openssh_public_blob(key->private_text, &blob, path)
			: pem_public_blob(key->private_text, key->private_len, &blob, path);
	rc = rc ? rc : check_key_type(&blob, path);
	rc = rc ? rc : key_set_public(key, &blob, NULL);
	bk_buf_free(&blob);
	if (rc < 0) {
		bk_ssh_key_free(key);
		return rc;
	}
	*out = key;
	return 0;
}

/* ---- accessors ------------------------------------------------------ */

const char *bk_ssh_key_public_line(const bk_ssh_key *key)
{
	return key ? key->public_line : NULL;
}

const char *bk_ssh_key_private_pem(const bk_ssh_key *key)
{
	return key ? key->private_text : NULL;
}

const char *bk_ssh_key_fingerprint(const bk_ssh_key *key)
{
	return key ? key->fingerprint : NULL;
}

const char *bk_ssh__key_private(const bk_ssh_key *key, size_t *len)
{
	*len = key->private_len;
	return key->private_text;
}

void bk_ssh_key_free(bk_ssh_key *key)
{
	if (!key)
		return;
	secret_free(key->private_text, key->private_len);
	free(key->public_line);
	free(key);
}
