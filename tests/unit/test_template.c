/* test_template.c - loading good templates: defaults, every field, variable
 * layering, secrets, bind with build variables, the seed, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "template/template.h"
#include "template/template_int.h"   /* bk_tpl_json_parse */
#include "ssh/ssh.h"
#include "verify/verify.h"

#define GOOD "tests/templates/good/"

static bk_template *load_args(const char *path, const char *const *files, size_t nfiles,
			      const char *const *vars, size_t nvars)
{
	bk_template_source src = {.path = path, .var_files = files, .var_files_count = nfiles, .vars = vars, .vars_count = nvars};
	bk_template *tpl = NULL;

	if (bk_template_load(&tpl, &src) != 0)
		fail_msg("%s: %s", path, bk_err_msg());
	return tpl;
}

/* full.json has a second build, "other", of a type bakeami does not run:
 * left out as -except would, so provisioners can name it in only/except. */
static bk_template *load_full(void)
{
	static const char *const except[] = {"other"};
	bk_template_source src = {.path = GOOD "full.json", .except = except, .except_count = 1};
	bk_template *tpl = NULL;

	if (bk_template_load(&tpl, &src) != 0)
		fail_msg("full.json: %s", bk_err_msg());
	return tpl;
}

static bk_template *load(const char *path)
{
	return load_args(path, NULL, 0, NULL, 0);
}

static bool has_warning(const bk_template *tpl, const char *needle)
{
	const bk_strv *w = bk_template_warnings(tpl);

	for (size_t i = 0; i < w->count; i++)
		if (strstr(w->items[i], needle))
			return true;
	return false;
}

static bool has_secret(const bk_template *tpl, const char *s)
{
	const bk_strv *v = bk_template_secrets(tpl);

	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

static void test_template__defaults(void **state)
{
	bk_template *tpl = load(GOOD "minimal.json");
	const bk_build_config *c = bk_template_config(tpl);

	(void)state;
	assert_string_equal(c->builder_type, "amazon-ebs");
	assert_string_equal(c->build_name, "amazon-ebs");
	assert_null(c->region);            /* comes from the environment later */
	assert_string_equal(c->source_ami, "ami-0123456789abcdef0");
	assert_int_equal(c->ssh_port, 22);
	assert_true(c->ssh_timeout_s == 300);
	assert_int_equal(c->ssh_clear_authorized_keys, 1);
	assert_string_equal(c->ssh_interface, "public_ip");
	assert_string_equal(c->http_tokens, "required");
	assert_true(c->instance_timeout_s == 600);
	assert_true(c->image_timeout_s == 1800);
	assert_int_equal(c->associate_public_ip_address, -1);
	assert_int_equal(c->encrypt_boot, -1);
	assert_int_equal(c->max_retries, -1);
	assert_int_equal(c->skip_create_ami, 0);
	assert_int_equal(c->provisioners_count, 0);
	assert_null(c->tests);
	assert_false(c->promote.present);
	assert_null(bk_build_manifest(c));
	assert_null(c->promote.deprecate_at);
	assert_int_equal(c->promote.region_kms_key_ids.count, 0);
	assert_null(c->ssh_private_key_file);
	assert_true(bk_str_ends(c->template_dir, "/tests/templates/good"));
	assert_int_equal(bk_template_secrets(tpl)->count, 0);
	bk_template_free(tpl);
}

/* Packer's prepareSSH for a bastion: port 22, the instance's key file for
 * the bastion too (found, and shown in the dump as the template wrote it);
 * ssh_agent_auth makes ssh_keypair_name acceptable without a key file. */
static void test_template__bastion_defaults(void **state)
{
	char path[] = "/tmp/bakeami-unit-bastion-XXXXXX", var[64];
	bk_ssh_key *key = NULL;
	int fd = mkstemp(path);
	const char *pem;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(bk_ssh_key_generate(&key, "unit"), 0);
	pem = bk_ssh_key_private_pem(key);
	assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	close(fd);
	snprintf(var, sizeof(var), "key=%s", path);
	const char *vars[] = {var};
	bk_template *tpl = load_args(GOOD "bastion.json", NULL, 0, vars, 1);
	const bk_build_config *c = bk_template_config(tpl);
	cJSON *dump = NULL, *values;

	assert_string_equal(c->ssh_bastion_host, "bastion.example.com");
	assert_int_equal(c->ssh_bastion_port, 22);
	assert_string_equal(c->ssh_bastion_username, "jump");
	assert_string_equal(c->ssh_bastion_private_key_file, path);
	assert_int_equal(c->ssh_bastion_agent_auth, 0);
	assert_int_equal(c->ssh_agent_auth, 1);      /* "true", Packer's weak bool */
	assert_null(c->ssh_bastion_host_key_fingerprint);
	assert_false(has_warning(tpl, "ssh_bastion_username"));
	assert_int_equal(bk_template_dump(&dump, tpl), 0);
	values = cJSON_GetObjectItem(dump, "values");
	assert_int_equal(cJSON_GetObjectItem(values, "builders[0].ssh_bastion_port")->valueint, 22);
	assert_string_equal(cJSON_GetObjectItem(values, "builders[0].ssh_bastion_private_key_file")
			    ->valuestring, path);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(values, "builders[0].ssh_agent_auth")));
	cJSON_Delete(dump);
	bk_template_free(tpl);
	bk_ssh_key_free(key);
	unlink(path);
}

static void test_template__web_example(void **state)
{
	bk_template *tpl = load("examples/web.json");
	const bk_build_config *c = bk_template_config(tpl);
	const bk_prov_file_cfg *file;

	(void)state;
	assert_string_equal(c->build_name, "web");
	assert_string_equal(c->region, "us-east-1");
	assert_null(c->source_ami);        /* "" from the variable: the filter is used */
	assert_string_equal(bk_kv_get(&c->source_ami_filters, "name"), "al2023-ami-2023.*-x86_64");
	assert_string_equal(c->source_ami_owners.items[0], "amazon");
	assert_int_equal(c->source_ami_most_recent, 1);
	assert_int_equal(c->ssh_port, 22);  /* "22" from a variable */
	assert_string_equal(c->ssh_host, "127.0.0.1");
	assert_string_equal(c->ssh_username, "bakeami");
	assert_true(c->ssh_timeout_s == 120);
	assert_true(bk_str_starts(c->ami_name, "web "));
	assert_string_equal(bk_kv_get(&c->tags, "SourceAMI"), "");   /* not known yet */
	assert_string_equal(bk_kv_get(&c->tags, "Role"), "web");
	assert_int_equal(c->provisioners_count, 2);
	assert_int_equal(c->provisioners[0].type, BK_PROV_SHELL);
	assert_int_equal(c->provisioners[1].type, BK_PROV_FILE);
	file = &c->provisioners[1].u.file;
	assert_true(bk_str_ends(file->sources.items[0], "/examples/files/motd"));
	assert_string_equal(c->provisioners[1].path, "provisioners[1]");
	bk_template_free(tpl);
}

static void test_template__web_example_ssh_port_from_var(void **state)
{
	const char *vars[] = {"ssh_port=2222", "ssh_host=10.1.2.3", "source_ami=ami-0fff"};
	bk_template *tpl = load_args("examples/web.json", NULL, 0, vars, 3);
	const bk_build_config *c = bk_template_config(tpl);

	(void)state;
	assert_int_equal(c->ssh_port, 2222);
	assert_string_equal(c->ssh_host, "10.1.2.3");
	assert_string_equal(c->source_ami, "ami-0fff");
	bk_template_free(tpl);
}

static void check_full_builder(const bk_build_config *c)
{
	assert_string_equal(c->region, "us-west-2");
	assert_null(c->profile);
	assert_string_equal(c->custom_endpoint_ec2, "http://127.0.0.1:5000");
	assert_int_equal(c->skip_region_validation, 1);
	assert_int_equal(c->max_retries, 5);
	assert_true(c->poll_delay_s == 2 && c->instance_timeout_s == 100 && c->image_timeout_s == 100);
	assert_null(c->source_ami);
	assert_int_equal(c->source_ami_filters.count, 2);
	assert_int_equal(c->source_ami_owners.count, 2);
	assert_string_equal(c->subnet_id, "subnet-0abc");
	assert_int_equal(c->security_group_ids.count, 2);
	assert_string_equal(c->security_group_ids.items[1], "sg-0002");
	assert_int_equal(c->temporary_security_group_source_cidrs.count, 2);
	assert_string_equal(c->user_data, "#!/bin/sh\necho user data\n");
	assert_int_equal(c->associate_public_ip_address, 1);
	assert_string_equal(c->shutdown_behavior, "terminate");
	assert_string_equal(c->http_tokens, "optional");
	assert_int_equal(c->http_put_response_hop_limit, 2);
	assert_string_equal(c->http_endpoint, "enabled");
	assert_int_equal(c->encrypt_boot, 1);
	assert_int_equal(c->ebs_optimized, 1);
	assert_int_equal(c->ena_support, 0);
	assert_int_equal(c->sriov_support, -1);
	assert_string_equal(c->kms_key_id, "alias/boot");
	assert_int_equal(c->force_deregister, 1);
	assert_int_equal(c->force_delete_snapshot, 1);
	assert_string_equal(c->ami_regions.items[0], "eu-west-1");
	assert_string_equal(c->ami_users.items[0], "210987654321");
}

static void check_full_promotion_keys(const bk_build_config *c)
{
	const bk_promote_plan *p = &c->promote;

	assert_string_equal(p->deprecate_at, "2031-01-02T03:04:05Z");
	assert_int_equal(p->ami_org_arns.count, 1);
	assert_int_equal(p->ami_ou_arns.count, 0);
	assert_string_equal(bk_kv_get(&p->region_kms_key_ids, "us-west-2"), "alias/images");
	assert_string_equal(bk_kv_get(&p->region_kms_key_ids, "eu-west-1"), "");
}

static void check_full_bdms_ssh(const bk_build_config *c)
{
	assert_int_equal(c->launch_bdms_count, 1);
	assert_string_equal(c->launch_bdms[0].device_name, "/dev/xvda");
	assert_int_equal(c->launch_bdms[0].volume_size, 20);
	assert_string_equal(c->launch_bdms[0].volume_type, "gp3");
	assert_int_equal(c->launch_bdms[0].delete_on_termination, 1);
	assert_int_equal(c->launch_bdms[0].encrypted, -1);
	assert_int_equal(c->launch_bdms[0].iops, 3000);
	assert_int_equal(c->ami_bdms_count, 2);
	assert_int_equal(c->ami_bdms[0].no_device, 1);
	assert_string_equal(c->ami_bdms[1].kms_key_id, "alias/images");
	assert_string_equal(c->ssh_username, "admin");
	assert_int_equal(c->ssh_port, 2222);
	assert_true(c->ssh_timeout_s == 5400);
	assert_string_equal(c->ssh_keypair_name, "deploy");
	assert_true(bk_str_ends(c->ssh_private_key_file, "/tests/templates/good/files/motd"));
	assert_string_equal(c->ssh_host_key_fingerprint,
			    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
	assert_int_equal(c->ssh_clear_authorized_keys, 0);
	assert_string_equal(c->ssh_interface, "private_ip");
	assert_string_equal(bk_kv_get(&c->tags, "platform-owner"), "yes");  /* keys render too */
	assert_string_equal(bk_kv_get(&c->run_volume_tags, "Purpose"), "build-volume");
}

static void check_full_provisioners(const bk_build_config *c)
{
	const bk_provisioner *p = c->provisioners;
	const bk_strv *scripts;

	/* [1] is only for another build, [2] excludes this one */
	assert_int_equal(c->provisioners_count, 8);
	assert_string_equal(p[0].path, "provisioners[0]");
	assert_true(p[0].pause_before_s == 10 && p[0].timeout_s == 300);
	assert_int_equal(p[0].max_retries, 2);
	scripts = &p[0].u.shell.scripts;
	assert_true(bk_str_ends(scripts->items[1], "/tests/templates/good/scripts/two.sh"));
	assert_true(p[0].u.shell.expect_disconnect);
	assert_int_equal(p[0].u.shell.valid_exit_codes.count, 2);
	assert_int_equal(p[0].u.shell.valid_exit_codes.items[1], 2);
	assert_string_equal(p[0].u.shell.environment_vars.items[0], "TEAM=platform");
	assert_true(p[0].u.shell.start_retry_timeout_s == 300);   /* Packer's default */
	/* execute_command keeps the shell provisioner's own fields */
	assert_string_equal(p[0].u.shell.execute_command,
			    "chmod +x {{.Path}}; {{.Vars}} sudo -E {{.Path}} # platform");
	assert_string_equal(p[1].path, "provisioners[3]");
	/* override replaced inline; nothing of the default is left */
	assert_int_equal(p[1].u.shell.inline_lines.count, 1);
	assert_string_equal(p[1].u.shell.inline_lines.items[0], "echo overridden for full");
	assert_int_equal(p[2].type, BK_PROV_FILE);
	assert_false(p[2].u.file.download);
	assert_true(bk_str_ends(p[2].u.file.sources.items[0], "/tests/templates/good/files/motd"));
	assert_string_equal(p[3].u.file.sources.items[0], "/var/log/cloud-init.log");  /* a download */
	assert_true(p[3].u.file.download);
	assert_int_equal(p[4].type, BK_PROV_PUPPET_MASTERLESS);
	assert_true(bk_str_ends(p[4].u.puppet.manifest_file, "puppet/manifests/site.pp"));
	assert_int_equal(p[5].type, BK_PROV_ANSIBLE_LOCAL);
	assert_int_equal(p[6].type, BK_PROV_SHELL_LOCAL);
	assert_string_equal(p[6].type_name, "shell-local");
	assert_string_equal(p[6].u.local.inline_lines.items[0], "echo on the agent");
}

static void check_full_sections(const bk_template *tpl, const bk_build_config *c)
{
	assert_non_null(c->tests);
	assert_int_equal(c->tests->phases, BK_TESTS_BEFORE_IMAGE | BK_TESTS_AFTER_IMAGE); /* "both" */
	assert_true(bk_verify_wants(c->tests, "before_image") && bk_verify_wants(c->tests, "after_image"));
	assert_int_equal(c->tests->checks_count, 3);
	assert_int_equal(c->tests->checks[2].kind, BK_CHECK_FILE);
	assert_string_equal(c->tests->checks[2].u.file.contains, "platform");
	assert_string_equal(c->promote.ssm_parameter, "/images/platform/latest");
	assert_non_null(bk_build_manifest(c));
	assert_string_equal(bk_build_manifest(c)->output, "manifest.json");
	assert_true(bk_build_manifest(c)->strip_path);
	assert_true(has_warning(tpl, "post-processors[1]: post-processor \"checksum\" is ignored"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(c->builder, "ssh_pty"));
}

static void test_template__full(void **state)
{
	bk_template *tpl = load_full();
	const bk_build_config *c = bk_template_config(tpl);

	(void)state;
	check_full_builder(c);
	check_full_promotion_keys(c);
	check_full_bdms_ssh(c);
	check_full_provisioners(c);
	check_full_sections(tpl, c);
	bk_template_free(tpl);
}

static const bk_build_config *load_raw(bk_template **tpl, const char *const *except, size_t n)
{
	bk_template_source src = {.path = GOOD "only-except-raw.json", .except = except,
				  .except_count = n};

	if (bk_template_load(tpl, &src) != 0)
		fail_msg("only-except-raw.json: %s", bk_err_msg());
	return bk_template_config(*tpl);
}

static void check_pp_paths(const bk_build_config *c, const char *const *want, size_t n)
{
	assert_int_equal(c->post_processors_count, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(c->post_processors[i].path, want[i]);
}

/* Packer 1.6.6's core.go: provisioners' and post-processors' only/except
 * and override name the build as written ("{{user `role`}}-ami", not
 * "web-ami"); -except names a post-processor (its name, else its type) and
 * leaves out the rest of its sequence, unless its own only/except skipped
 * it already. */
static void test_template__only_except_raw_names(void **state)
{
	static const char *const none_out[] = {"post-processors[0][0]", "post-processors[0][1]",
		"post-processors[0][2]", "post-processors[2]", "post-processors[3]"};
	static const char *const by_type[] = {"post-processors[0][0]", "post-processors[0][1]",
		"post-processors[3]"};
	static const char *const by_name[] = {"post-processors[0][0]", "post-processors[2]",
		"post-processors[3]"};
	static const char *const manifest[] = {"manifest"}, *const notify[] = {"notify"};
	bk_template *tpl = NULL;
	const bk_build_config *c = load_raw(&tpl, NULL, 0);

	(void)state;
	assert_string_equal(c->build_name, "web-ami");
	assert_int_equal(c->provisioners_count, 1);
	assert_string_equal(c->provisioners[0].u.shell.inline_lines.items[0], "echo overridden");
	check_pp_paths(c, none_out, BK_ARRAY_SIZE(none_out));
	bk_template_free(tpl);
	/* "manifest" is the type and so the name of [0][2] and [2] */
	c = load_raw(&tpl, manifest, 1);
	check_pp_paths(c, by_type, BK_ARRAY_SIZE(by_type));
	assert_true(has_warning(tpl, "post-processors[0][2]: post-processor 'manifest' left out "
				"by -except, with the rest of its sequence"));
	bk_template_free(tpl);
	c = load_raw(&tpl, notify, 1);
	check_pp_paths(c, by_name, BK_ARRAY_SIZE(by_name));
	bk_template_free(tpl);
}

static void test_template__var_precedence(void **state)
{
	const char *f1[] = {GOOD "layers.file1.json"};
	const char *f12[] = {GOOD "layers.file1.json", GOOD "layers.file2.json"};
	const char *cli[] = {"size=t3.cli1", "size=t3.cli2"};
	bk_template *t;

	(void)state;
	t = load(GOOD "layers.json");                       /* defaults */
	assert_string_equal(bk_template_config(t)->instance_type, "t3.default");
	assert_string_equal(bk_template_var(t, "retries"), "3");   /* weakly typed, as Packer */
	assert_string_equal(bk_template_var(t, "debug"), "false");
	assert_string_equal(bk_template_var(t, "ratio"), "1.5");
	bk_template_free(t);
	t = load_args(GOOD "layers.json", f1, 1, NULL, 0);  /* default < var file */
	assert_string_equal(bk_template_config(t)->instance_type, "t3.file1");
	assert_string_equal(bk_template_config(t)->region, "eu-west-1");
	assert_string_equal(bk_template_var(t, "only_default"), "kept");
	assert_true(has_warning(t, "layers.file1.json:4:28: 1 trailing comma(s) ignored"));
	bk_template_free(t);
	t = load_args(GOOD "layers.json", f12, 2, NULL, 0); /* later file wins */
	assert_string_equal(bk_template_config(t)->instance_type, "t3.file2");
	assert_string_equal(bk_template_config(t)->region, "eu-west-1");
	bk_template_free(t);
	t = load_args(GOOD "layers.json", f12, 2, cli, 1);  /* var file < -var */
	assert_string_equal(bk_template_config(t)->instance_type, "t3.cli1");
	bk_template_free(t);
	t = load_args(GOOD "layers.json", f1, 1, cli, 2);   /* later -var wins */
	assert_string_equal(bk_template_config(t)->instance_type, "t3.cli2");
	bk_template_free(t);
}

static void test_template__secrets(void **state)
{
	const char *f1[] = {GOOD "layers.file1.json"};
	const char *cli[] = {"password=cli-pass", "port=notaport"};
	bk_template_source src = {.path = GOOD "layers.json", .var_files = f1, .var_files_count = 1, .vars = cli, .vars_count = 2};
	bk_template *t;

	(void)state;
	t = load_args(GOOD "layers.json", f1, 1, cli, 1);
	assert_true(has_secret(t, "cli-pass"));
	assert_true(has_secret(t, "secret-from-template"));   /* secret_key */
	assert_false(has_secret(t, "from-file-1"));           /* overridden */
	assert_false(has_secret(t, "not-a-secret"));
	assert_false(has_secret(t, "AKIAEXAMPLE"));
	bk_template_free(t);
	/* a sensitive value in an error message is masked */
	cli[1] = "port=cli-pass";
	assert_int_equal(bk_template_load(&t, &src), BAKEAMI_EINVALID);
	assert_null(t);
	assert_non_null(strstr(bk_err_msg(), "builders[0].ssh_port: expected an integer, got "
				   "\"<sensitive>\""));
	assert_null(strstr(bk_err_msg(), "cli-pass"));
}

static void test_template__bind(void **state)
{
	bk_template *tpl = load_full();
	bk_kv src_tags = BK_KV_INIT;
	bk_build_vars bv = {.source_ami = "ami-0source", .source_ami_name = "al2023-base",
			    .source_ami_tags = &src_tags, .build_region = "us-west-2",
			    .instance_id = "i-0abc", .ssh_host = "10.0.0.9", .ssh_port = 22};
	bk_build_config *b = NULL;
	const bk_provisioner *last;

	(void)state;
	bk_kv_add(&src_tags, "Name", "golden-base");
	assert_int_equal(bk_template_bind(&b, tpl, &bv), 0);
	assert_string_equal(bk_kv_get(&b->snapshot_tags, "Source"), "ami-0source");
	assert_string_equal(bk_kv_get(&b->tags, "Base"), "golden-base");
	assert_string_equal(b->ami_description, "from al2023-base (ami-0source)");
	assert_string_equal(bk_kv_get(&bk_build_manifest(b)->custom_data, "source"), "ami-0source");
	last = &b->provisioners[b->provisioners_count - 1];
	assert_string_equal(last->u.shell.inline_lines.items[0], "echo instance i-0abc at 10.0.0.9:22");
	/* the load-time config is untouched */
	assert_string_equal(bk_kv_get(&bk_template_config(tpl)->snapshot_tags, "Source"), "");
	assert_string_equal(bk_template_config(tpl)->ami_description, "from  ()");
	bk_build_config_free(b);
	bk_kv_free(&src_tags);
	bk_template_free(tpl);
}

static void test_template__web_bind_tags(void **state)
{
	bk_template *tpl = load("examples/web.json");
	bk_build_vars bv = {.source_ami = "ami-0123", .build_region = "us-east-1"};
	bk_build_config *b = NULL;

	(void)state;
	assert_int_equal(bk_template_bind(&b, tpl, &bv), 0);
	assert_string_equal(bk_kv_get(&b->tags, "SourceAMI"), "ami-0123");
	assert_string_equal(bk_kv_get(&b->tags, "BuildRegion"), "us-east-1");
	assert_string_equal(b->ami_description, "web server, built from ami-0123");
	bk_build_config_free(b);
	bk_template_free(tpl);
}

static void test_template__seed(void **state)
{
	/* the post's variables file, then the values it leaves empty */
	const char *files[] = {"examples/seed/variables.json", "examples/seed/lab-variables.json"};
	const char *vars[] = {"aws_secret_key=seed-secret"};
	bk_template *tpl = load_args("examples/seed/packer.json", files, 2, vars, 1);
	const bk_build_config *c = bk_template_config(tpl);

	(void)state;
	assert_string_equal(c->builder_type, "amazon-instance");
	assert_string_equal(c->region, "us-east-1");           /* from the var file */
	assert_string_equal(c->instance_type, "m3.medium");
	assert_true(bk_str_ends(c->ami_name, "Z web"));        /* isotime | clean_ami_name */
	assert_null(strchr(c->ami_name, ':'));
	assert_int_equal(c->security_group_ids.count, 2);
	assert_string_equal(bk_kv_get(&c->tags, "packer"), "true");
	assert_int_equal(c->provisioners_count, 1);
	assert_int_equal(c->provisioners[0].type, BK_PROV_PUPPET_SERVER);
	assert_string_equal(c->provisioners[0].u.puppet.options, "--test --pluginsync");
	/* amazon-instance's own template is left for its bundler */
	assert_non_null(strstr(c->bundle_upload_command, "-b {{.BucketName}} -m"));
	/* typed, with Packer's defaults and its dash-stripped account id */
	assert_string_equal(c->account_id, "123456789012");
	assert_string_equal(c->s3_bucket, "bakeami-seed-bundles");
	assert_true(bk_str_ends(c->x509_cert_path, "examples/seed/lab-x509/cert.pem"));
	assert_true(bk_str_ends(c->x509_key_path, "examples/seed/lab-x509/key.pem"));
	assert_string_equal(c->x509_upload_path, "/tmp");
	assert_string_equal(c->bundle_destination, "/tmp");
	assert_true(bk_str_starts(c->bundle_prefix, "image-1"));
	assert_string_equal(c->bundle_vol_command, "sudo -i -n ec2-bundle-vol -k {{.KeyPath}} "
			    "-u {{.AccountId}} -c {{.CertPath}} -r {{.Architecture}} "
			    "-e {{.PrivatePath}}/* -d {{.Destination}} -p {{.Prefix}} --batch --no-filter");
	assert_true(has_secret(tpl, "seed-secret"));
	assert_true(has_warning(tpl, "packer.json:45:23: 1 trailing comma(s) ignored"));
	assert_true(has_warning(tpl, "variables.json:6:26: 1 trailing comma(s) ignored"));
	assert_true(has_warning(tpl, "clean_ami_name is the old name of clean_resource_name"));
	assert_true(has_warning(tpl, "provisioners[0].options: the old puppet-server key"));
	bk_template_free(tpl);
}

/* The validation pass accepts the seed's template as published (its
 * puppet-server runs since issue 10), with the load's notes given. */
static void test_template__validate_accepts_the_seed(void **state)
{
	const char *files[] = {"examples/seed/variables.json", "examples/seed/lab-variables.json"};
	const char *vars[] = {"aws_secret_key=seed-secret"};
	bk_template_source src = {.path = "examples/seed/packer.json", .var_files = files, .var_files_count = 2, .vars = vars, .vars_count = 1};
	bk_template *tpl = NULL;
	bk_strv warnings = BK_STRV_INIT;
	bool clean = false, options = false;

	(void)state;
	if (bk_template_validate(&tpl, &warnings, &src) != 0)
		fail_msg("validate: %s", bk_err_msg());
	assert_int_equal(bk_template_config(tpl)->provisioners[0].type, BK_PROV_PUPPET_SERVER);
	assert_string_equal(bk_template_config(tpl)->provisioners[0].u.puppet.options,
			    "--test --pluginsync");
	for (size_t i = 0; i < warnings.count; i++) {
		clean |= strstr(warnings.items[i], "clean_ami_name is the old name") != NULL;
		options |= strstr(warnings.items[i], "provisioners[0].options: the old") != NULL;
	}
	assert_true(clean && options);
	bk_template_free(tpl);
	bk_strv_free(&warnings);
}

static void test_template__validate_accepts_runnable(void **state)
{
	bk_template_source src = {.path = "examples/web.json", .var_files = NULL, .var_files_count = 0, .vars = NULL, .vars_count = 0};
	bk_template *tpl = NULL;
	bk_strv warnings = BK_STRV_INIT;

	(void)state;
	assert_int_equal(bk_template_validate(&tpl, &warnings, &src), 0);
	assert_non_null(tpl);
	assert_int_equal(bk_template_config(tpl)->provisioners_count, 2);
	assert_int_equal(warnings.count, bk_template_warnings(tpl)->count);
	bk_strv_free(&warnings);
	bk_template_free(tpl);
}

static void test_template__seed_needs_values(void **state)
{
	const char *files[] = {"examples/seed/variables.json"};
	bk_template_source src = {.path = "examples/seed/packer.json", .var_files = files, .var_files_count = 1, .vars = NULL, .vars_count = 0};
	bk_template *tpl = NULL;

	(void)state;
	/* as in Packer: the seed's own variables leave instance_type empty */
	assert_int_equal(bk_template_load(&tpl, &src), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "examples/seed/packer.json: builders[0].instance_type: "
			    "must not be empty");
}

static void test_template__missing_file(void **state)
{
	bk_template_source src = {.path = "tests/templates/good/nope.json", .var_files = NULL, .var_files_count = 0, .vars = NULL, .vars_count = 0};
	bk_template *tpl = NULL;

	(void)state;
	assert_int_equal(bk_template_load(&tpl, &src), BAKEAMI_EINVALID);
	assert_string_equal(bk_err_msg(), "tests/templates/good/nope.json: No such file or directory");
	src.path = NULL;
	assert_int_equal(bk_template_load(&tpl, &src), BAKEAMI_EINVALID);
}

static void test_template__render_api_keeps_strings(void **state)
{
	bk_template *tpl = load(GOOD "minimal.json");
	char *out = NULL;

	(void)state;
	/* commas before } inside strings are not JSON syntax: kept */
	assert_int_equal(bk_template_render(&out, tpl, NULL, "a,} b,]", "x"), 0);
	assert_string_equal(out, "a,} b,]");
	free(out);
	bk_template_free(tpl);
}

static void expect_json(const char *text, const char *want, size_t warnings)
{
	bk_strv w = BK_STRV_INIT;
	cJSON *j = NULL;
	char *got;

	if (bk_tpl_json_parse(&j, text, strlen(text), "t.json", &w) != 0)
		fail_msg("%s: %s", text, bk_err_msg());
	got = cJSON_PrintUnformatted(j);
	assert_string_equal(got, want);
	assert_int_equal(w.count, warnings);
	free(got);
	cJSON_Delete(j);
	bk_strv_free(&w);
}

static void expect_json_err(const char *text, size_t len, const char *want)
{
	cJSON *j = NULL;

	assert_int_equal(bk_tpl_json_parse(&j, text, len, "t.json", NULL), BAKEAMI_EINVALID);
	assert_null(j);
	if (!strstr(bk_err_msg(), want))
		fail_msg("%s: message \"%s\" lacks \"%s\"", text, bk_err_msg(), want);
}

static void test_template__json_prepass(void **state)
{
	(void)state;
	expect_json("[\"x\",]", "[\"x\"]", 1);
	expect_json("{\"a\": [1, 2 ,\n ], \"b\": {},\n}", "{\"a\":[1,2],\"b\":{}}", 1);
	expect_json("{\"a,}\": \"b,]\"}", "{\"a,}\":\"b,]\"}", 0);       /* inside strings */
	expect_json("{\"q\": \"\\\",}\"}", "{\"q\":\"\\\",}\"}", 0);   /* escaped quote */
	expect_json("\xEF\xBB\xBF{}", "{}", 0);                             /* a BOM */
	expect_json("{\"s\": \"caf\xC3\xA9 \xF0\x9F\x8D\xB0\"}",
		    "{\"s\":\"caf\xC3\xA9 \xF0\x9F\x8D\xB0\"}", 0);
#define LIT(s) s, sizeof(s) - 1
	expect_json_err(LIT("{,}"), "t.json:1:");
	expect_json_err(LIT("[1,,]"), "t.json:1:4: JSON syntax error near ',]'");
	expect_json_err(LIT("{}\n x"), "t.json:2:2: unexpected text after the JSON value");
	expect_json_err(LIT("{\"a\":\n  [1, 2"), "t.json:2:8: unexpected end of input");
	expect_json_err(LIT("{\"a\": \"\xC0\xAF\"}"), "t.json:1:8: invalid UTF-8 at byte offset 7");
	expect_json_err(LIT("{\"a\": \"\xED\xA0\x80\"}"), "invalid UTF-8");   /* a surrogate */
	expect_json_err(LIT("{\"a\": \"x\0\"}"), "t.json:1:9: NUL byte at byte offset 8");
	expect_json_err(LIT("{\"a\": 1, \"a\": 2}"), "t.json: a: duplicate key");
#undef LIT
}

static void *load_many(void *arg)
{
	const char *vars[] = {"ssh_port=2200"};
	bk_build_vars bv = {.source_ami = "ami-0thread", .build_region = "us-east-1"};
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 25; i++) {
		bk_template_source src = {.path = "examples/web.json", .var_files = NULL, .var_files_count = 0, .vars = vars, .vars_count = 1};
		bk_template *tpl = NULL;
		bk_build_config *b = NULL;
		if (bk_template_load(&tpl, &src) != 0 || bk_template_bind(&b, tpl, &bv) != 0 ||
		    b->ssh_port != 2200 || strcmp(bk_kv_get(&b->tags, "SourceAMI"), "ami-0thread"))
			bad++;
		bk_build_config_free(b);
		bk_template_free(tpl);
		/* errors are per thread */
		src.path = "tests/templates/bad/33-undefined-variable.json";
		if (bk_template_load(&tpl, &src) != BAKEAMI_EINVALID ||
		    !strstr(bk_err_msg(), "33-undefined-variable.json: builders[0].instance_type"))
			bad++;
	}
	return (void *)bad;
}

static void test_template__threads(void **state)
{
	pthread_t th[4];
	void *bad;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, load_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template__defaults),
		cmocka_unit_test(test_template__bastion_defaults),
		cmocka_unit_test(test_template__web_example),
		cmocka_unit_test(test_template__web_example_ssh_port_from_var),
		cmocka_unit_test(test_template__full),
		cmocka_unit_test(test_template__only_except_raw_names),
		cmocka_unit_test(test_template__var_precedence),
		cmocka_unit_test(test_template__secrets),
		cmocka_unit_test(test_template__bind),
		cmocka_unit_test(test_template__web_bind_tags),
		cmocka_unit_test(test_template__seed),
		cmocka_unit_test(test_template__seed_needs_values),
		cmocka_unit_test(test_template__validate_accepts_the_seed),
		cmocka_unit_test(test_template__validate_accepts_runnable),
		cmocka_unit_test(test_template__missing_file),
		cmocka_unit_test(test_template__render_api_keeps_strings),
		cmocka_unit_test(test_template__json_prepass),
		cmocka_unit_test(test_template__threads),
	};

	return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
