/*
 * template.c - libFuzzer target: a whole template through the validation
 * pass (JSON pre-pass, variables, interpolation of every field, the typed
 * plan, every layer's checks), then bound with build variables as a bake
 * does once the source AMI is known.
 */
#include "fuzz_file.h"
#include "template/template.h"

static void bind(const bk_template *tpl)
{
	bk_build_vars bv = {0};
	bk_build_config *cfg = NULL;

	bv.source_ami = "ami-0123456789abcdef0";
	bv.source_ami_name = "debian-12";
	bv.build_region = "us-east-1";
	bv.ssh_host = "127.0.0.1";
	bv.ssh_user = "admin";
	bv.instance_id = "i-1";
	bv.ssh_port = 22;
	if (bk_template_bind(&cfg, tpl, &bv) == 0)
		bk_build_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_template_source src = {0};
	bk_template *tpl = NULL;
	bk_strv warnings = BK_STRV_INIT;

	src.path = fuzz_file("template.json", data, size);
	if (bk_template_validate(&tpl, &warnings, &src) == 0)
		bind(tpl);
	bk_template_free(tpl);
	bk_strv_free(&warnings);
	bk_err_clear();
	return 0;
}
