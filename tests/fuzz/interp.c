/*
 * interp.c - libFuzzer target: one string through {{ }} interpolation
 * (pipelines, every function, quoting, build and user variables), as any
 * template field is rendered.
 */
#include "fuzz_file.h"
#include "template/template.h"

static const char TEMPLATE[] =
	"{\"variables\": {\"v\": \"value\", \"empty\": \"\"},\n"
	" \"builders\": [{\"type\": \"amazon-ebs\", \"region\": \"us-east-1\",\n"
	"   \"source_ami\": \"ami-1\", \"instance_type\": \"t3.micro\", \"ssh_username\": \"admin\",\n"
	"   \"ami_name\": \"fuzz\"}]}\n";

static bk_template *fuzz_template(void)
{
	static bk_template *tpl;
	bk_template_source src = {0};

	if (!tpl) {
		src.path = fuzz_file("interp-template.json", TEMPLATE, sizeof(TEMPLATE) - 1);
		if (bk_template_load(&tpl, &src) != 0)
			abort();
	}
	return tpl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bk_kv tags = BK_KV_INIT;
	bk_build_vars bv = {0};
	char *text = malloc(size + 1), *out = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	bk_kv_add(&tags, "Name", "base");
	bv.source_ami = "ami-1";
	bv.source_ami_tags = &tags;
	bv.build_region = "us-east-1";
	bk_template_render(&out, fuzz_template(), &bv, text, "ami_name");
	free(out);
	out = NULL;
	bk_template_render(&out, fuzz_template(), NULL, text, NULL);
	free(out);
	bk_kv_free(&tags);
	free(text);
	bk_err_clear();
	return 0;
}
