/*
 * ec2.c - libFuzzer target: every EC2 operation's response handling. The
 * first byte picks the operation (spot and the network lookups included);
 * the rest are its replies (fuzz_aws.h).
 */
#include "fuzz_aws.h"

static const bk_kv *run_tags(void)
{
	static bk_kv tags = BK_KV_INIT;

	if (!tags.count && bk_kv_add(&tags, "bakeami:run-id", "fuzz-run") < 0)
		abort();
	return &tags;
}

static void images(int named)
{
	bk_ec2_images imgs = {0};
	const char *self = "self";
	bk_ec2_image_query q = {NULL, 0, &self, 1, NULL, false};

	if (named)
		bk_ec2_describe_images_named(&imgs, fuzz_client(), NULL, "fuzz-image");
	else
		bk_ec2_describe_images(&imgs, fuzz_client(), NULL, &q);
	bk_ec2_images_free(&imgs);
}

static void instance(int run)
{
	bk_ec2_instance inst = {0};
	const char *sg = "sg-1";
	bk_ec2_run_request r = {0};

	r.image_id = "ami-1";
	r.instance_type = "t3.micro";
	r.key_name = "k";
	r.security_group_ids = &sg;
	r.security_group_ids_count = 1;
	r.associate_public_ip = -1;
	r.instance_tags = run_tags();
	r.client_token = "fuzz-token";
	if (run)
		bk_ec2_run_instance(&inst, fuzz_client(), &r, NULL);
	else
		bk_ec2_describe_instance(&inst, fuzz_client(), "i-1");
	bk_ec2_instance_free(&inst);
}

static void create_image(void)
{
	bk_ec2_image_request r = {0};
	char *id = NULL;

	r.instance_id = "i-1";
	r.name = "fuzz-image";
	r.image_tags = run_tags();
	r.client_token = "fuzz-token";
	bk_ec2_create_image(&id, fuzz_client(), &r);
	free(id);
}

static void named_create(int which)
{
	char *id = NULL;

	if (which == 0)
		bk_ec2_import_key_pair(&id, fuzz_client(), "fuzz-key",
				       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFuzz fuzz", run_tags());
	else
		bk_ec2_create_security_group(&id, fuzz_client(), "fuzz-group", "d", NULL,
					     run_tags());
	free(id);
}

static void copy(void)
{
	bk_ec2_copy_request r = {"ami-1", "us-east-1", "fuzz-copy", NULL, 0, NULL, "tok"};
	char *id = NULL;

	bk_ec2_copy_image(&id, fuzz_client(), "us-west-2", &r);
	free(id);
}

static void tagged(void)
{
	bk_ec2_tagged_list l = {0};

	bk_ec2_find_tagged(&l, fuzz_client(), NULL, NULL);
	bk_ec2_tagged_free(&l);
}

static void perms(int launch)
{
	bk_ec2_perms p = {0};
	bk_strv users = BK_STRV_INIT, groups = BK_STRV_INIT;

	if (launch) {
		bk_ec2_describe_launch_permission(&p, fuzz_client(), NULL, "ami-1");
		bk_ec2_perms_free(&p);
	} else {
		bk_ec2_describe_volume_permission(&users, &groups, fuzz_client(), NULL, "snap-1");
		bk_strv_free(&users);
		bk_strv_free(&groups);
	}
}

static void deprecation(void)
{
	char *t = NULL;

	bk_ec2_image_deprecation_time(&t, fuzz_client(), NULL, "ami-1");
	free(t);
}

static void in_use(void)
{
	const char *ids[] = {"ami-1", "ami-2"};
	bk_kv out = BK_KV_INIT;

	bk_ec2_images_in_use(&out, fuzz_client(), NULL, ids, 2);
	bk_kv_free(&out);
}

static void spot(int which)
{
	bk_ec2_run_request r = {0};
	bk_ec2_fleet f = {0};
	char *id = NULL;

	r.image_id = "ami-1";
	r.instance_tags = run_tags();
	r.client_token = "fuzz-token";
	switch (which) {
	case 0: bk_ec2_create_launch_template(&id, fuzz_client(), "lt", &r, NULL, run_tags(),
					      run_tags()); break;
	case 1: bk_ec2_create_fleet(&f, fuzz_client(), "lt-1", "t3.micro", "tok", run_tags()); break;
	case 2: bk_ec2_delete_launch_template(fuzz_client(), "lt-1"); break;
	default: bk_ec2_delete_fleet(fuzz_client(), "fleet-1"); break;
	}
	free(id);
	bk_ec2_fleet_free(&f);
}

/* spot_price "auto"'s price history, every page (ec2_spot.c): one type in
 * a zone, or two in any zone. */
static void spot_price(int which)
{
	static const char *const types[] = {"t3.micro", "t3a.micro"};
	bk_spot_price_query q = {types, which ? 2 : 1, "Linux/UNIX", which ? NULL : "us-east-1a"};
	bk_spot_price out;

	bk_ec2_spot_price_max(&out, fuzz_client(), &q);
	bk_spot_price_free(&out);
}

/* The network filters' lookups (ec2_network.c). */
static void network(int which)
{
	bk_kv filters = BK_KV_INIT;
	bk_strv groups = BK_STRV_INIT;
	bk_ec2_subnet sn = {0};
	char *vpc = NULL;

	if (bk_kv_add(&filters, "tag:Name", "fuzz") < 0)
		abort();
	switch (which) {
	case 0: bk_ec2_find_vpc(&vpc, fuzz_client(), &filters); break;
	case 1: bk_ec2_find_subnet(&sn, fuzz_client(), &filters, "vpc-1", NULL,
				   BK_SUBNET_MOST_FREE); break;
	case 2: bk_ec2_find_subnet(&sn, fuzz_client(), &filters, NULL, "us-east-1a",
				   BK_SUBNET_ONE); break;
	default: bk_ec2_find_security_groups(&groups, fuzz_client(), &filters, "vpc-1"); break;
	}
	free(vpc);
	bk_ec2_subnet_free(&sn);
	bk_strv_free(&groups);
	bk_kv_free(&filters);
}

static void deletes(int which)
{
	switch (which) {
	case 0: bk_ec2_delete_security_group(fuzz_client(), "sg-1", bk_now() - 1); break;
	case 1: bk_ec2_terminate_instance(fuzz_client(), "i-1"); break;
	case 2: bk_ec2_delete_key_pair(fuzz_client(), "fuzz-key"); break;
	default: bk_ec2_deregister_image(fuzz_client(), NULL, "ami-1"); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_client();
	fuzz_replies_set(data + 1, size - 1);
	switch (data[0] % 27) {
	case 0: images(0); break;
	case 1: images(1); break;
	case 2: instance(0); break;
	case 3: instance(1); break;
	case 4: create_image(); break;
	case 5: named_create(0); break;
	case 6: named_create(1); break;
	case 7: copy(); break;
	case 8: tagged(); break;
	case 9: perms(1); break;
	case 10: perms(0); break;
	case 11: deprecation(); break;
	case 12: in_use(); break;
	case 13: case 14: case 15: case 16: deletes(data[0] % 27 - 13); break;
	case 17: case 18: case 19: case 20: spot(data[0] % 27 - 17); break;
	case 25: case 26: spot_price(data[0] % 27 - 25); break;
	default: network(data[0] % 27 - 21); break;
	}
	bk_err_clear();
	return 0;
}
