/*
 * inputs.c - the inputs digest: the parts of a bound plan that decide
 * what ends up on the image's disk and how it is tested, each encoded
 * canonically and hashed (SHA-256, OpenSSL EVP) on its own; the whole
 * digest is the hash of the parts' keys and digests.
 *
 * Parts: the resolved source AMI; the builder settings that shape the
 * machine (machine_keys); each provisioner's rendered configuration and,
 * through the `local_inputs` table, the contents of the local files it
 * uploads or runs; the tests and the Serverspec folder; bakeami's version.
 * Names, descriptions, tags, regions, sharing and other metadata are not
 * parts: changing them does not change the disk (README, "Reuse").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "../verify/verify.h"
#include "inputs.h"

/* ---- the canonical encoding ----------------------------------------- */

static void enc_item(const bk_enc *e, char type, const void *data, size_t len)
{
	unsigned char hdr[9];

	hdr[0] = (unsigned char)type;
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (unsigned char)((uint64_t)len >> (8 * (7 - i)));
	e->put(hdr, sizeof(hdr), e->payload);
	if (len)
		e->put(data, len, e->payload);
}

void bk_enc_str(const bk_enc *e, const char *s)
{
	if (!s)
		enc_item(e, 'N', NULL, 0);
	else
		enc_item(e, 'S', s, strlen(s));
}

static void enc_count(const bk_enc *e, char type, size_t n)
{
	char num[24];

	snprintf(num, sizeof(num), "%zu", n);
	enc_item(e, type, num, strlen(num));
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

static void enc_object(const bk_enc *e, const cJSON *v)
{
	size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
	const cJSON **kids = calloc(n ? n : 1, sizeof(*kids));
	const cJSON *it;

	enc_count(e, 'O', n);
	if (!kids) {   /* still canonical, only slower to tell apart: never reused */
		enc_item(e, '!', NULL, 0);
		return;
	}
	cJSON_ArrayForEach(it, v)
		kids[i++] = it;
	qsort(kids, n, sizeof(*kids), key_cmp);
	for (i = 0; i < n; i++) {
		bk_enc_str(e, kids[i]->string);
		bk_enc_json(e, kids[i]);
	}
	free(kids);
}

void bk_enc_json(const bk_enc *e, const cJSON *v)
{
	char num[40];
	const cJSON *it;

	if (!v || cJSON_IsNull(v)) {
		enc_item(e, 'N', NULL, 0);
	} else if (cJSON_IsBool(v)) {
		enc_item(e, cJSON_IsTrue(v) ? 'T' : 'F', NULL, 0);
	} else if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%.17g", v->valuedouble);
		enc_item(e, 'D', num, strlen(num));
	} else if (cJSON_IsString(v)) {
		bk_enc_str(e, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		enc_count(e, 'A', (size_t)cJSON_GetArraySize(v));
		cJSON_ArrayForEach(it, v)
			bk_enc_json(e, it);
	} else {
		enc_object(e, v);
	}
}

static int enc_file_data(const bk_enc *e, const char *path, const struct stat *st)
{
	unsigned char buf[65536];
	char num[24];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return bk_err(BAKEAMI_EINVALID, "inputs: cannot read %s: %s", path, strerror(errno));
	snprintf(num, sizeof(num), "%lld", (long long)st->st_size);
	enc_item(e, 'F', num, strlen(num));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		e->put(buf, (size_t)n, e->payload);
	close(fd);
	if (n < 0)
		return bk_err(BAKEAMI_EINVALID, "inputs: cannot read %s: %s", path, strerror(errno));
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int enc_entry(const bk_enc *e, const char *path, bool follow);

/* A folder's entries in byte order, each with its name. */
static int enc_dir(const bk_enc *e, const char *path)
{
	DIR *d = opendir(path);
	bk_strv names = BK_STRV_INIT;
	struct dirent *de;
	int rc = 0;

	if (!d)
		return bk_err(BAKEAMI_EINVALID, "inputs: cannot list %s: %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = bk_strv_push(&names, de->d_name);
	closedir(d);
	if (rc == 0 && names.count)
		qsort(names.items, names.count, sizeof(*names.items), name_cmp);
	if (rc == 0)
		enc_count(e, 'E', names.count);
	for (size_t i = 0; rc == 0 && i < names.count; i++) {
		char *sub = bk_sprintf("%s/%s", path, names.items[i]);
		bk_enc_str(e, names.items[i]);
		rc = sub ? enc_entry(e, sub, false) : bk_oom();
		free(sub);
	}
	bk_strv_free(&names);
	return rc;
}

static int enc_entry(const bk_enc *e, const char *path, bool follow)
{
	struct stat st;
	char mode[8], target[4096];
	ssize_t n;

	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0)
		return bk_err(BAKEAMI_EINVALID, "inputs: %s: %s", path, strerror(errno));
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
	enc_item(e, 'M', mode, strlen(mode));
	if (S_ISREG(st.st_mode))
		return enc_file_data(e, path, &st);
	if (S_ISDIR(st.st_mode))
		return enc_dir(e, path);
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(path, target, sizeof(target))) < 0)
			return bk_err(BAKEAMI_EINVALID, "inputs: %s: %s", path, strerror(errno));
		enc_item(e, 'L', target, (size_t)n);
		return 0;
	}
	enc_item(e, 'X', NULL, 0);   /* a FIFO or device: its presence only */
	return 0;
}

int bk_enc_path(const bk_enc *e, const char *path)
{
	struct stat st;

	/* The top is followed, as an upload follows it; O_NOFOLLOW then must not refuse it. */
	if (stat(path, &st) != 0)
		return bk_err(BAKEAMI_EINVALID, "inputs: %s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		char mode[8];
		char *real = realpath(path, NULL);
		int rc;

		snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
		enc_item(e, 'M', mode, strlen(mode));
		rc = real ? enc_file_data(e, real, &st) : bk_oom();
		free(real);
		return rc;
	}
	return enc_entry(e, path, true);
}

/* ---- a part: its own hash ------------------------------------------- */

typedef struct {
	EVP_MD_CTX *md;
	bk_enc enc;
} hasher;

static void md_put(const void *data, size_t len, void *payload)
{
	EVP_DigestUpdate(payload, data, len);
}

static int hasher_start(hasher *h)
{
	if (!(h->md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->md);
		return bk_err(BAKEAMI_ERROR, "inputs: SHA-256 is not available");
	}
	h->enc = (bk_enc){md_put, h->md};
	return 0;
}

static void hasher_end(hasher *h, char hex[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->md, d, &n);
	EVP_MD_CTX_free(h->md);
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	hex[64] = '\0';
}

static int add_part(bk_inputs *in, bk_input_part **out, const char *key, const char *label,
		    bool tests)
{
	bk_input_part *arr = realloc(in->parts, (in->count + 1) * sizeof(*arr));
	bk_input_part *p;

	if (!arr)
		return bk_oom();
	in->parts = arr;
	p = &arr[in->count];
	memset(p, 0, sizeof(*p));
	p->key = bk_strdup(key);
	p->label = bk_strdup(label);
	p->tests = tests;
	in->count++;
	*out = p;
	return p->key && p->label ? 0 : bk_oom();
}

/* ---- the parts -------------------------------------------------------- */

/* Builder keys that shape the machine, read from the rendered builder.
 * user_data_file's contents are in cfg->user_data, encoded beside them.
 * x509 files, names, tags, regions, networking and SSH transport are not.
 * amazon-instance: bundle_vol_command makes the bundle, i.e. the disk
 * (its default is bakeami's, in the version part); bundle_upload_command,
 * bundle_destination, bundle_prefix, s3_bucket and x509_upload_path only
 * move or name it (the upload path is left out of the bundle by the
 * command's -e), and the x509 files only sign it. */
static const char *const machine_keys[] = {
	"instance_type", "launch_block_device_mappings", "ami_block_device_mappings",
	"metadata_options", "ami_virtualization_type", "ena_support", "sriov_support",
	"encrypt_boot", "kms_key_id", "iam_instance_profile",
	"temporary_iam_instance_profile_policy_document", "ssh_username",
	"disable_stop_instance", "bundle_vol_command", NULL,
};

static int part_builder(bk_inputs *in, const bk_build_config *c)
{
	bk_input_part *p;
	hasher h;
	int rc;

	if ((rc = add_part(in, &p, "b", "builder settings", false)) < 0 ||
	    (rc = hasher_start(&h)) < 0)
		return rc;
	bk_enc_str(&h.enc, c->builder_type);
	for (const char *const *k = machine_keys; *k; k++) {
		bk_enc_str(&h.enc, *k);
		bk_enc_json(&h.enc, cJSON_GetObjectItemCaseSensitive(c->builder, *k));
	}
	bk_enc_str(&h.enc, "user_data");
	bk_enc_str(&h.enc, c->user_data);
	hasher_end(&h, p->hex);
	return 0;
}

static int part_of_string(bk_inputs *in, const char *key, const char *label, const char *s,
			  bool tests)
{
	bk_input_part *p;
	hasher h;
	int rc;

	if ((rc = add_part(in, &p, key, label, tests)) < 0 || (rc = hasher_start(&h)) < 0)
		return rc;
	bk_enc_str(&h.enc, s);
	hasher_end(&h, p->hex);
	return 0;
}

/* The label's path: relative to the template's folder when inside it. */
static const char *shown_path(const bk_build_config *c, const char *path)
{
	size_t n = c->template_dir ? strlen(c->template_dir) : 0;

	if (n && strncmp(path, c->template_dir, n) == 0 && path[n] == '/')
		return path[n + 1] ? path + n + 1 : "./";   /* "./": the template's own folder */
	return path;
}

static int part_of_path(bk_inputs *in, const char *key, const char *label, const char *path,
			bool tests)
{
	bk_input_part *p;
	hasher h;
	int rc;

	if ((rc = add_part(in, &p, key, label, tests)) < 0 || (rc = hasher_start(&h)) < 0)
		return rc;
	rc = bk_enc_path(&h.enc, path);
	hasher_end(&h, p->hex);
	return rc;
}

/* Where each provisioner type names its local inputs: fields of
 * bk_provisioner holding a path ('s'), a list of paths ('v'), a path whose
 * whole folder is read ('d': a playbook's roles/, vars_files, group_vars
 * sit next to it, named by no key), or a ':'-separated list of folders
 * that may not exist yet ('r': ansible-galaxy installs into them). A new
 * type is a row; a type with no row leaves the digest incomplete (no reuse). */
typedef struct {
	size_t off;
	char kind;
} local_field;

#define U(type, f) (offsetof(bk_provisioner, u) + offsetof(type, f))
#define MAX_LOCAL_FIELDS 10
#define AL(f) U(bk_prov_ansible_local_cfg, f)
#define AN(f) U(bk_prov_ansible_cfg, f)

static bool uploads(const bk_provisioner *pv)
{
	return !pv->u.file.download && !pv->u.file.generated;
}

static const struct {
	bk_prov_type type;
	bool (*applies)(const bk_provisioner *pv);   /* NULL: always */
	local_field fields[MAX_LOCAL_FIELDS];        /* ends at kind 0 */
} local_inputs[] = {
	{BK_PROV_SHELL, NULL, {{U(bk_prov_shell_cfg, scripts), 'v'}}},
	{BK_PROV_FILE, uploads, {{U(bk_prov_file_cfg, sources), 'v'}}},
	{BK_PROV_SHELL_LOCAL, NULL, {{U(bk_prov_local_cfg, scripts), 'v'}}},
	{BK_PROV_PUPPET_MASTERLESS, NULL, {{U(bk_prov_puppet_cfg, manifest_file), 's'},
		{U(bk_prov_puppet_cfg, manifest_dir), 's'}, {U(bk_prov_puppet_cfg, module_paths), 'v'},
		{U(bk_prov_puppet_cfg, hiera_config_path), 's'}}},
	{BK_PROV_PUPPET_SERVER, NULL, {{0, 0}}},   /* the server holds the code */
	/* what it uploads is all the instance's Ansible sees */
	{BK_PROV_ANSIBLE_LOCAL, NULL, {{AL(playbook_file), 's'}, {AL(playbook_files), 'v'},
		{AL(playbook_dir), 's'}, {AL(playbook_paths), 'v'}, {AL(role_paths), 'v'},
		{AL(group_vars), 's'}, {AL(host_vars), 's'}, {AL(inventory_file), 's'},
		{AL(galaxy_file), 's'}}},
	/* ansible-playbook on the agent: the playbook and its whole folder (what it
	 * includes by relative path is there, or named below), the inventory and
	 * its folder's group_vars, the galaxy requirements, and the roles and
	 * collections folders (ANSIBLE_ROLES_PATH). The inventory template is in
	 * the rendered configuration. */
	{BK_PROV_ANSIBLE, NULL, {{AN(playbook_file), 's'}, {AN(playbook_file), 'd'},
		{AN(inventory_file), 's'}, {AN(inventory_directory), 's'}, {AN(galaxy_file), 's'},
		{AN(roles_path), 'r'}, {AN(collections_path), 'r'}}},
};

static int find_row(const bk_provisioner *pv, size_t *out)
{
	for (size_t i = 0; i < BK_ARRAY_SIZE(local_inputs); i++)
		if (local_inputs[i].type == pv->type) {
			*out = i;
			return 0;
		}
	return BAKEAMI_ENOTFOUND;
}

/* optional: a folder the run itself may make (a galaxy destination) is
 * a part even before it exists, as "absent". */
static int local_file(bk_inputs *in, const bk_build_config *c, size_t i, size_t *nfile,
		      const char *path, bool optional)
{
	char key[48];
	char *label;
	struct stat st;
	int rc;

	if (!path || !*path)
		return 0;
	snprintf(key, sizeof(key), "p%zuf%zu", i, (*nfile)++);
	if (!(label = bk_sprintf("%s file %s", c->provisioners[i].path, shown_path(c, path))))
		return bk_oom();
	if (optional && stat(path, &st) != 0 && errno == ENOENT)
		rc = part_of_string(in, key, label, "absent", false);
	else
		rc = part_of_path(in, key, label, path, false);
	free(label);
	return rc;
}

/* 'd': the folder holding path, shown as "dir/" ("./" for the template's). */
static int local_folder(bk_inputs *in, const bk_build_config *c, size_t i, size_t *nfile,
			const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	char *dir;
	int rc;

	if (!path || !*path)
		return 0;
	dir = slash ? bk_sprintf("%.*s/", (int)(slash - path), path) : bk_strdup("./");
	rc = dir ? local_file(in, c, i, nfile, dir, false) : bk_oom();
	free(dir);
	return rc;
}

/* 'r': each folder of a ':'-separated list, absent ones included. */
static int local_folders(bk_inputs *in, const bk_build_config *c, size_t i, size_t *nfile,
			 const char *list)
{
	char *copy = list ? bk_strdup(list) : NULL, *save = NULL;
	int rc = 0;

	if (list && !copy)
		return bk_oom();
	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; rc == 0 && d;
	     d = strtok_r(NULL, ":", &save))
		rc = local_file(in, c, i, nfile, d, true);
	free(copy);
	return rc;
}

static int local_files(bk_inputs *in, const bk_build_config *c, size_t i, size_t row)
{
	const bk_provisioner *pv = &c->provisioners[i];
	size_t nfile = 0;
	int rc = 0;

	if (local_inputs[row].applies && !local_inputs[row].applies(pv))
		return 0;
	for (const local_field *f = local_inputs[row].fields; rc == 0 && f->kind &&
	     f < local_inputs[row].fields + MAX_LOCAL_FIELDS; f++) {
		const void *at = (const char *)pv + f->off;
		if (f->kind == 's') {
			rc = local_file(in, c, i, &nfile, *(char *const *)at, false);
		} else if (f->kind == 'd') {
			rc = local_folder(in, c, i, &nfile, *(char *const *)at);
		} else if (f->kind == 'r') {
			rc = local_folders(in, c, i, &nfile, *(char *const *)at);
		} else {
			const bk_strv *v = at;
			for (size_t j = 0; rc == 0 && j < v->count; j++)
				rc = local_file(in, c, i, &nfile, v->items[j], false);
		}
	}
	return rc;
}

/* The rendered object but for the keys that only pick builds. */
static int part_provisioner(bk_inputs *in, const bk_build_config *c, size_t i)
{
	const bk_provisioner *pv = &c->provisioners[i];
	cJSON *conf = cJSON_Duplicate(pv->rendered, 1);
	bk_input_part *p;
	char key[24], *label;
	size_t row = 0;
	hasher h;
	int rc;

	if (pv->rendered && !conf)
		return bk_oom();
	cJSON_DeleteItemFromObjectCaseSensitive(conf, "only");
	cJSON_DeleteItemFromObjectCaseSensitive(conf, "except");
	cJSON_DeleteItemFromObjectCaseSensitive(conf, "override");
	snprintf(key, sizeof(key), "p%zu", i);
	label = bk_sprintf("%s (%s)", pv->path, pv->type_name);
	rc = label ? add_part(in, &p, key, label, false) : bk_oom();
	free(label);
	if (rc == 0 && (rc = hasher_start(&h)) == 0) {
		bk_enc_json(&h.enc, conf);
		hasher_end(&h, p->hex);
	}
	cJSON_Delete(conf);
	if (rc < 0)
		return rc;
	if (find_row(pv, &row) != 0) {
		if (!in->incomplete)
			in->incomplete = bk_sprintf("%s (%s): its local files are not part of the "
						    "inputs digest yet", pv->path, pv->type_name);
		return in->incomplete ? 0 : bk_oom();
	}
	return local_files(in, c, i, row);
}

static int part_tests(bk_inputs *in, const bk_build_config *c)
{
	bk_input_part *p;
	hasher h;
	int rc;

	if ((rc = add_part(in, &p, "t", "tests", true)) < 0 || (rc = hasher_start(&h)) < 0)
		return rc;
	bk_enc_json(&h.enc, c->tests_json);
	hasher_end(&h, p->hex);
	if (!c->tests || !c->tests->has_serverspec || !c->tests->serverspec.dir)
		return 0;
	char *label = bk_sprintf("tests serverspec %s", shown_path(c, c->tests->serverspec.dir));
	rc = label ? part_of_path(in, "tf0", label, c->tests->serverspec.dir, true) : bk_oom();
	free(label);
	return rc;
}

/* The whole: the parts' keys and digests, in order; without the tests for
 * the image digest. */
static int sum_parts(bk_inputs *in)
{
	hasher all, image;
	int rc;

	if ((rc = hasher_start(&all)) < 0)
		return rc;
	if ((rc = hasher_start(&image)) < 0) {
		hasher_end(&all, in->digest);
		return rc;
	}
	for (size_t i = 0; i < in->count; i++) {
		bk_enc_str(&all.enc, in->parts[i].key);
		bk_enc_str(&all.enc, in->parts[i].hex);
		if (in->parts[i].tests)
			continue;
		bk_enc_str(&image.enc, in->parts[i].key);
		bk_enc_str(&image.enc, in->parts[i].hex);
	}
	hasher_end(&all, in->digest);
	hasher_end(&image, in->image_digest);
	return 0;
}

int bk_inputs_compute(bk_inputs *out, const bk_build_config *c, const char *source_ami)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = part_of_string(out, "s", "source AMI", source_ami, false);
	if (rc == 0)
		rc = part_builder(out, c);
	for (size_t i = 0; rc == 0 && i < c->provisioners_count; i++)
		rc = part_provisioner(out, c, i);
	if (rc == 0)
		rc = part_tests(out, c);
	if (rc == 0)
		rc = part_of_string(out, "v", "bakeami version", BAKEAMI_VERSION, false);
	if (rc == 0)
		rc = sum_parts(out);
	if (rc < 0)
		bk_inputs_free(out);
	return rc;
}

void bk_inputs_free(bk_inputs *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->count; i++) {
		free(in->parts[i].key);
		free(in->parts[i].label);
	}
	free(in->parts);
	free(in->incomplete);
	memset(in, 0, sizeof(*in));
}

const bk_input_part *bk_inputs_part(const bk_inputs *in, const char *key)
{
	for (size_t i = 0; i < in->count; i++)
		if (strcmp(in->parts[i].key, key) == 0)
			return &in->parts[i];
	return NULL;
}

/* ---- tags ------------------------------------------------------------ */

#define TAG_VALUE_MAX 256

/* Parts as "key=short" words, packed into values of at most 256 characters. */
static int pack_parts(bk_strv *values, const bk_inputs *in)
{
	bk_buf cur = BK_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < in->count; i++) {
		char word[80];
		int n = snprintf(word, sizeof(word), "%s=%.*s", in->parts[i].key, BK_INPUTS_SHORT,
				 in->parts[i].hex);
		if (cur.len && cur.len + 1 + (size_t)n > TAG_VALUE_MAX) {
			rc = bk_strv_push(values, cur.ptr);
			bk_buf_clear(&cur);
		}
		if (rc == 0)
			rc = bk_buf_printf(&cur, "%s%s", cur.len ? " " : "", word);
	}
	if (rc == 0 && cur.len)
		rc = bk_strv_push(values, cur.ptr);
	bk_buf_free(&cur);
	return rc;
}

size_t bk_inputs_tag_count(const bk_inputs *in)
{
	bk_strv v = BK_STRV_INIT;
	size_t n = pack_parts(&v, in) == 0 ? v.count : 0;

	bk_strv_free(&v);
	return BK_INPUTS_FIXED_TAGS + n;
}

#define PART_TAG_KEY_MAX 48

static void part_tag_key(char out[PART_TAG_KEY_MAX], size_t i)
{
	if (i == 0)
		snprintf(out, PART_TAG_KEY_MAX, "%s", BK_TAG_PARTS);
	else
		snprintf(out, PART_TAG_KEY_MAX, "%s-%zu", BK_TAG_PARTS, i + 1);
}

int bk_inputs_tags(bk_kv *out, const bk_inputs *in, const char *family, size_t room)
{
	bk_strv values = BK_STRV_INIT;
	char key[PART_TAG_KEY_MAX];
	int rc = bk_kv_set(out, BK_TAG_INPUTS, in->digest);

	if (rc == 0)
		rc = bk_kv_set(out, BK_TAG_IMAGE_INPUTS, in->image_digest);
	if (rc == 0 && family)
		rc = bk_kv_set(out, BK_TAG_INPUTS_FAMILY, family);
	if (rc == 0)
		rc = pack_parts(&values, in);
	/* Parts past the room are left out: a miss then says less, reuse is unchanged. */
	for (size_t i = 0; rc == 0 && i < values.count && i + BK_INPUTS_FIXED_TAGS < room; i++) {
		part_tag_key(key, i);
		rc = bk_kv_set(out, key, values.items[i]);
	}
	bk_strv_free(&values);
	return rc;
}

/* The earlier image's parts: key -> short digest. */
static int old_parts(bk_kv *out, const bk_kv *tags)
{
	char key[PART_TAG_KEY_MAX];
	int rc = 0;

	for (size_t i = 0; rc == 0; i++) {
		const char *v;
		part_tag_key(key, i);
		if (!(v = bk_kv_get(tags, key)))
			break;
		char *copy = bk_strdup(v), *save = NULL;
		if (!copy)
			return bk_oom();
		for (char *w = strtok_r(copy, " ", &save); rc == 0 && w; w = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(w, '=');
			if (!eq)
				continue;
			*eq = '\0';
			rc = bk_kv_set(out, w, eq + 1);
		}
		free(copy);
	}
	return rc;
}

static int explain_part(bk_buf *b, const bk_input_part *p, const bk_kv *old, const bk_kv *tags,
			const char *source_ami)
{
	const char *was = bk_kv_get(old, p->key);
	const char *sep = b->len ? "; " : "";

	if (strcmp(p->key, "s") == 0) {
		const char *old_src = bk_kv_get(tags, "SourceAMI");
		if (old_src && source_ami && strcmp(old_src, source_ami) != 0)
			return bk_buf_printf(b, "%ssource AMI %s → %s", sep, old_src, source_ami);
		return 0;
	}
	if (!was)
		return bk_buf_printf(b, "%s%s added", sep, p->label);
	if (strncmp(was, p->hex, BK_INPUTS_SHORT) != 0)
		return bk_buf_printf(b, "%s%s changed", sep, p->label);
	return 0;
}

/* A part the earlier image had and this plan has not, named from its key. */
static int removed(bk_buf *b, const char *key)
{
	const char *sep = b->len ? "; " : "";
	size_t n = 0, f = 0;
	char tail = 0;

	if (sscanf(key, "p%zuf%zu%c", &n, &f, &tail) == 2)
		return bk_buf_printf(b, "%sa local file of provisioners[%zu] removed", sep, n);
	if (sscanf(key, "p%zu%c", &n, &tail) == 1)
		return bk_buf_printf(b, "%sprovisioners[%zu] removed", sep, n);
	if (!strcmp(key, "tf0"))
		return bk_buf_printf(b, "%sthe Serverspec folder removed", sep);
	return bk_buf_printf(b, "%spart %s removed", sep, key);
}

char *bk_inputs_explain(const bk_inputs *in, const bk_kv *old_tags, const char *source_ami)
{
	bk_kv old = BK_KV_INIT;
	bk_buf b = BK_BUF_INIT;
	int rc = old_parts(&old, old_tags);

	if (rc == 0 && old.count == 0)
		rc = bk_buf_puts(&b, "the earlier image records no part digests");
	for (size_t i = 0; rc == 0 && old.count && i < in->count; i++)
		rc = explain_part(&b, &in->parts[i], &old, old_tags, source_ami);
	for (size_t i = 0; rc == 0 && i < old.count; i++)
		if (!bk_inputs_part(in, old.keys[i]))
			rc = removed(&b, old.keys[i]);
	if (rc == 0 && b.len == 0)
		rc = bk_buf_puts(&b, "no recorded part differs");
	bk_kv_free(&old);
	if (rc < 0) {
		bk_buf_free(&b);
		return NULL;
	}
	return bk_buf_detach(&b);
}
