/* test_inputs.c - the inputs digest (issue 14): the canonical encoding, and
 * which part of a template's digest a change moves (and which changes move
 * none). Templates are written into a fresh temp folder per test. No AWS call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "bake/inputs.h"

/* ---- the encoding, into a buffer -------------------------------------- */

static void buf_put(const void *data, size_t len, void *payload)
{
	assert_int_equal(bk_buf_put(payload, data, len), 0);
}

static char *encode_json(const char *text, size_t *len)
{
	bk_buf b = BK_BUF_INIT;
	bk_enc e = {buf_put, &b};
	cJSON *v = cJSON_Parse(text);

	assert_non_null(v);
	bk_enc_json(&e, v);
	cJSON_Delete(v);
	*len = b.len;
	return bk_buf_detach(&b);
}

static bool same_encoding(const char *a, const char *b)
{
	size_t na, nb;
	char *ea = encode_json(a, &na), *eb = encode_json(b, &nb);
	bool same = na == nb && memcmp(ea, eb, na) == 0;

	free(ea);
	free(eb);
	return same;
}

static void test_inputs__string_encoding_is_typed_and_length_prefixed(void **state)
{
	static const unsigned char want[] = {'S', 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'};
	bk_buf b = BK_BUF_INIT;
	bk_enc e = {buf_put, &b};

	(void)state;
	bk_enc_str(&e, "abc");
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.ptr, want, sizeof(want));
	bk_buf_clear(&b);
	bk_enc_str(&e, NULL);
	assert_int_equal(b.len, 9);
	assert_int_equal(b.ptr[0], 'N');
	bk_buf_free(&b);
}

static void test_inputs__json_encoding_is_canonical(void **state)
{
	(void)state;
	/* key order and whitespace do not matter */
	assert_true(same_encoding("{\"b\": 1, \"a\": [true, null]}", "{\"a\":[true,null],\"b\":1}"));
	assert_true(same_encoding("{\"x\": {\"q\": \"1\", \"p\": 2}}", "{\"x\": {\"p\": 2, \"q\": \"1\"}}"));
	/* but boundaries, types and order in arrays do */
	assert_false(same_encoding("[\"ab\", \"c\"]", "[\"a\", \"bc\"]"));
	assert_false(same_encoding("[\"1\"]", "[1]"));
	assert_false(same_encoding("[null]", "[\"\"]"));
	assert_false(same_encoding("[false]", "[0]"));
	assert_false(same_encoding("[1, 2]", "[2, 1]"));
	assert_false(same_encoding("{\"a\": [1]}", "{\"a\": 1}"));
	assert_false(same_encoding("{\"ab\": \"c\"}", "{\"a\": \"bc\"}"));
	assert_false(same_encoding("[[1], 2]", "[[1, 2]]"));
}

/* ---- templates in a temp folder ---------------------------------------- */

typedef struct {
	char dir[64];
} fixture;

static void write_file(const fixture *f, const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static void make_dir(const fixture *f, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static const char *TEMPLATE =
	"{\"variables\": {\"role\": \"web\", \"name\": \"img\", \"expect\": \"ok\", \"it\": \"t3.micro\"},\n"
	" \"builders\": [{\"type\": \"amazon-ebs\", \"region\": \"us-east-1\", \"source_ami\": \"ami-1\",\n"
	"   \"instance_type\": \"{{user `it`}}\", \"ssh_username\": \"u\",\n"
	"   \"ami_name\": \"{{user `name`}}\", \"ami_description\": \"d {{user `name`}}\",\n"
	"   \"tags\": {\"Role\": \"{{user `role`}}\"}}],\n"
	" \"provisioners\": [{\"type\": \"shell\", \"script\": \"setup.sh\"},\n"
	"   {\"type\": \"file\", \"source\": \"files/\", \"destination\": \"/tmp/x\"}],\n"
	" \"tests\": {\"checks\": [{\"file\": \"/etc/x\", \"contains\": \"{{user `expect`}}\"}]},\n"
	" \"reuse\": {\"max_age\": \"168h\"}}\n";

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/bk-inputs-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	write_file(f, "t.json", TEMPLATE, 0644);
	write_file(f, "setup.sh", "#!/bin/sh\necho hi\n", 0755);
	make_dir(f, "files");
	write_file(f, "files/a", "A\n", 0644);
	write_file(f, "files/b", "B\n", 0644);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The digest of t.json with -var vars, for source AMI `source`. */
static void digest(bk_inputs *out, const fixture *f, const char *var, const char *source)
{
	char path[256];
	const char *vars[1] = {var};
	bk_template_source src = {.path = path, .vars = vars, .vars_count = var ? 1 : 0};
	bk_template *tpl = NULL;

	snprintf(path, sizeof(path), "%s/t.json", f->dir);
	if (bk_template_load(&tpl, &src) != 0)
		fail_msg("%s: %s", path, bk_err_msg());
	if (bk_inputs_compute(out, bk_template_config(tpl), source) != 0)
		fail_msg("inputs: %s", bk_err_msg());
	bk_template_free(tpl);
}

/* The keys of the parts whose digests differ, space-separated. */
static void changed(char *out, size_t size, const bk_inputs *a, const bk_inputs *b)
{
	out[0] = '\0';
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->count; i++) {
		assert_string_equal(a->parts[i].key, b->parts[i].key);
		if (strcmp(a->parts[i].hex, b->parts[i].hex))
			snprintf(out + strlen(out), size - strlen(out), "%s%s", *out ? " " : "",
				 a->parts[i].key);
	}
}

static void expect_change(const bk_inputs *a, const bk_inputs *b, const char *keys)
{
	char got[256];

	changed(got, sizeof(got), a, b);
	assert_string_equal(got, keys);
	if (*keys)
		assert_string_not_equal(a->digest, b->digest);
	else
		assert_string_equal(a->digest, b->digest);
}

static void test_inputs__parts_of_a_template(void **state)
{
	const char *keys[] = {"s", "b", "p0", "p0f0", "p1", "p1f0", "t", "v"};
	bk_inputs a;

	digest(&a, *state, NULL, "ami-1");
	assert_int_equal(a.count, BK_ARRAY_SIZE(keys));
	for (size_t i = 0; i < a.count; i++)
		assert_string_equal(a.parts[i].key, keys[i]);
	assert_string_equal(a.parts[3].label, "provisioners[0] file setup.sh");
	assert_string_equal(a.parts[5].label, "provisioners[1] file files/");
	assert_int_equal(strlen(a.digest), 64);
	assert_null(a.incomplete);
	bk_inputs_free(&a);
}

static void test_inputs__metadata_moves_nothing(void **state)
{
	bk_inputs a, b, c;

	digest(&a, *state, NULL, "ami-1");
	digest(&b, *state, "role=db", "ami-1");
	digest(&c, *state, "name=other", "ami-1");
	expect_change(&a, &b, "");
	expect_change(&a, &c, "");
	bk_inputs_free(&a);
	bk_inputs_free(&b);
	bk_inputs_free(&c);
}

static void test_inputs__each_change_moves_its_part(void **state)
{
	fixture *f = *state;
	bk_inputs a, b;
	char path[256];

	digest(&a, f, NULL, "ami-1");
	digest(&b, f, NULL, "ami-2");
	expect_change(&a, &b, "s");
	assert_string_not_equal(a.image_digest, b.image_digest);
	bk_inputs_free(&b);

	digest(&b, f, "it=t3.large", "ami-1");
	expect_change(&a, &b, "b");
	bk_inputs_free(&b);

	write_file(f, "setup.sh", "#!/bin/sh\necho hI\n", 0755);   /* one byte */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "p0f0");
	bk_inputs_free(&b);
	write_file(f, "setup.sh", "#!/bin/sh\necho hi\n", 0644);   /* the mode */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "p0f0");
	bk_inputs_free(&b);
	write_file(f, "setup.sh", "#!/bin/sh\necho hi\n", 0755);   /* back as it was */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "");
	bk_inputs_free(&b);

	write_file(f, "files/c", "", 0644);                         /* a new file in the folder */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "p1f0");
	bk_inputs_free(&b);
	snprintf(path, sizeof(path), "%s/files/c", f->dir);
	assert_int_equal(unlink(path), 0);

	digest(&b, f, "expect=other", "ami-1");                     /* only the tests */
	expect_change(&a, &b, "t");
	assert_string_equal(a.image_digest, b.image_digest);
	bk_inputs_free(&b);
	bk_inputs_free(&a);
}

/* A folder walked in name order: the order files were made in is not seen. */
static void test_inputs__folder_order_is_stable(void **state)
{
	fixture *f = *state;
	bk_inputs a, b;
	char cmd[512];

	digest(&a, f, NULL, "ami-1");
	snprintf(cmd, sizeof(cmd), "cd '%s' && mv files files.old && mkdir files && "
		 "cp -p files.old/b files/b && cp -p files.old/a files/a && rm -r files.old", f->dir);
	assert_int_equal(system(cmd), 0);
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "");
	bk_inputs_free(&a);
	bk_inputs_free(&b);
}

static void test_inputs__tags_and_explain(void **state)
{
	fixture *f = *state;
	bk_inputs a, b;
	bk_kv tags = BK_KV_INIT, few = BK_KV_INIT;
	char *why;

	digest(&a, f, NULL, "ami-1");
	assert_int_equal(bk_inputs_tags(&tags, &a, "fam", 50), 0);
	assert_string_equal(bk_kv_get(&tags, BK_TAG_INPUTS), a.digest);
	assert_string_equal(bk_kv_get(&tags, BK_TAG_IMAGE_INPUTS), a.image_digest);
	assert_string_equal(bk_kv_get(&tags, BK_TAG_INPUTS_FAMILY), "fam");
	assert_non_null(strstr(bk_kv_get(&tags, BK_TAG_PARTS), "p0f0="));
	assert_int_equal(bk_inputs_tag_count(&a), tags.count);
	assert_int_equal(bk_kv_set(&tags, "SourceAMI", "ami-1"), 0);

	/* no room for part tags: the digest still goes on, the parts do not */
	assert_int_equal(bk_inputs_tags(&few, &a, "fam", BK_INPUTS_FIXED_TAGS), 0);
	assert_int_equal(few.count, BK_INPUTS_FIXED_TAGS);
	assert_null(bk_kv_get(&few, BK_TAG_PARTS));

	assert_non_null(why = bk_inputs_explain(&a, &tags, "ami-1"));
	assert_string_equal(why, "no recorded part differs");
	free(why);
	write_file(f, "setup.sh", "#!/bin/sh\necho changed\n", 0755);
	digest(&b, f, NULL, "ami-2");
	assert_non_null(why = bk_inputs_explain(&b, &tags, "ami-2"));
	assert_string_equal(why, "source AMI ami-1 → ami-2; provisioners[0] file setup.sh changed");
	free(why);
	/* parts only the earlier image had */
	assert_int_equal(bk_kv_set(&tags, BK_TAG_PARTS "-2", "p7=00000000 p7f0=00000000 tf0=0"), 0);
	assert_non_null(why = bk_inputs_explain(&a, &tags, "ami-1"));
	assert_string_equal(why, "provisioners[7] removed; a local file of provisioners[7] removed; "
			    "the Serverspec folder removed");
	free(why);
	assert_non_null(why = bk_inputs_explain(&b, &few, "ami-2"));
	assert_string_equal(why, "the earlier image records no part digests");
	free(why);
	bk_kv_free(&tags);
	bk_kv_free(&few);
	bk_inputs_free(&a);
	bk_inputs_free(&b);
}

static void test_inputs__reuse_key(void **state)
{
	fixture *f = *state;
	char path[256];
	bk_template_source src = {.path = path};
	bk_template *tpl = NULL;

	snprintf(path, sizeof(path), "%s/t.json", f->dir);
	assert_int_equal(bk_template_load(&tpl, &src), 0);
	assert_int_equal(bk_template_config(tpl)->reuse.enabled, 1);
	assert_true(bk_template_config(tpl)->reuse.max_age_s == 168 * 3600.0);
	bk_template_free(tpl);
	write_file(f, "t.json", "{\"builders\": [{\"type\": \"amazon-ebs\", \"source_ami\": \"ami-1\", "
		   "\"instance_type\": \"t3.micro\", \"ssh_username\": \"u\", \"ami_name\": \"name\"}], "
		   "\"reuse\": {\"max_age\": \"0s\"}}", 0644);
	assert_int_equal(bk_template_load(&tpl, &src), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "reuse.max_age: must be a positive duration"));
	write_file(f, "t.json", "{\"builders\": [{\"type\": \"amazon-ebs\", \"source_ami\": \"ami-1\", "
		   "\"instance_type\": \"t3.micro\", \"ssh_username\": \"u\", \"ami_name\": \"name\"}], "
		   "\"reuse\": {\"maxage\": \"1h\"}}", 0644);
	assert_int_equal(bk_template_load(&tpl, &src), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "reuse"));
	write_file(f, "t.json", "{\"builders\": [{\"type\": \"amazon-ebs\", \"source_ami\": \"ami-1\", "
		   "\"instance_type\": \"t3.micro\", \"ssh_username\": \"u\", \"ami_name\": \"name\"}], "
		   "\"reuse\": \"yes\"}", 0644);
	assert_int_equal(bk_template_load(&tpl, &src), BAKEAMI_EINVALID);
	assert_non_null(strstr(bk_err_msg(), "reuse: expected true, false or an object"));
}

/* ansible (on the agent): the playbook, its folder (what it reads by relative path), and the
 * roles folders (roles_path, ':'-separated; one that galaxy has not made yet is "absent"). */
static void test_inputs__ansible_names_its_local_files(void **state)
{
	fixture *f = *state;
	const char *labels[] = {"provisioners[0] file play/site.yml", "provisioners[0] file play/",
				"provisioners[0] file play/roles", "provisioners[0] file galaxy"};
	char tpl[1024];
	bk_inputs a, b;

	make_dir(f, "play");
	make_dir(f, "play/roles");
	write_file(f, "play/site.yml", "- hosts: all\n  vars_files: [vars.yml]\n", 0644);
	write_file(f, "play/vars.yml", "x: 1\n", 0644);
	write_file(f, "play/roles/web.yml", "- debug: msg=hi\n", 0644);
	snprintf(tpl, sizeof(tpl), "{\"builders\": [{\"type\": \"amazon-ebs\", \"source_ami\": "
		 "\"ami-1\", \"region\": \"us-east-1\", \"instance_type\": \"t3.micro\", "
		 "\"ssh_username\": \"u\", \"ami_name\": \"name\"}], \"provisioners\": [{\"type\": "
		 "\"ansible\", \"playbook_file\": \"play/site.yml\", \"roles_path\": "
		 "\"%s/play/roles:%s/galaxy\"}]}", f->dir, f->dir);
	write_file(f, "t.json", tpl, 0644);
	digest(&a, f, NULL, "ami-1");
	assert_null(a.incomplete);
	for (size_t i = 0; i < BK_ARRAY_SIZE(labels); i++) {
		char key[8];
		snprintf(key, sizeof(key), "p0f%zu", i);
		assert_non_null(bk_inputs_part(&a, key));
		assert_string_equal(bk_inputs_part(&a, key)->label, labels[i]);
	}
	write_file(f, "play/vars.yml", "x: 2\n", 0644);              /* named by no key */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "p0f1");
	bk_inputs_free(&b);
	write_file(f, "play/vars.yml", "x: 1\n", 0644);
	write_file(f, "play/roles/web.yml", "- debug: msg=ho\n", 0644); /* a role */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "p0f1 p0f2");
	bk_inputs_free(&b);
	write_file(f, "play/roles/web.yml", "- debug: msg=hi\n", 0644);
	make_dir(f, "galaxy");                                          /* galaxy installed */
	digest(&b, f, NULL, "ami-1");
	expect_change(&a, &b, "p0f3");
	bk_inputs_free(&b);
	bk_inputs_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inputs__string_encoding_is_typed_and_length_prefixed),
		cmocka_unit_test(test_inputs__json_encoding_is_canonical),
		cmocka_unit_test_setup_teardown(test_inputs__parts_of_a_template, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs__metadata_moves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs__each_change_moves_its_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs__folder_order_is_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs__tags_and_explain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs__reuse_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs__ansible_names_its_local_files, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
