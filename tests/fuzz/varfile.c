/*
 * varfile.c - libFuzzer target: a -var-file (the input) and -var options
 * merged into a template that declares, defaults, marks sensitive and
 * chains variables through {{user}}.
 */
#include "fuzz_file.h"
#include "template/template.h"

static const char TEMPLATE[] =
	"{\"variables\": {\"region\": \"us-east-1\", \"name\": \"x-{{user `region`}}\",\n"
	" \"secret\": null, \"chain\": \"{{user `name`}}-{{user `secret`}}\"},\n"
	" \"sensitive-variables\": [\"secret\"],\n"
	" \"builders\": [{\"type\": \"amazon-ebs\", \"region\": \"{{user `region`}}\",\n"
	"   \"source_ami\": \"ami-1\", \"instance_type\": \"t3.micro\", \"ssh_username\": \"admin\",\n"
	"   \"ami_name\": \"{{user `chain`}} {{timestamp}}\"}]}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *tpl_path;
	const char *files[1], *vars[] = {"secret=s3cret"};
	bk_template_source src = {0};
	bk_template *tpl = NULL;

	if (!tpl_path)
		tpl_path = fuzz_file("vars-template.json", TEMPLATE, sizeof(TEMPLATE) - 1);
	files[0] = fuzz_file("vars.json", data, size);
	src.path = tpl_path;
	src.var_files = files;
	src.var_files_count = 1;
	src.vars = vars;
	src.vars_count = 1;
	if (bk_template_load(&tpl, &src) == 0)
		bk_template_var(tpl, "chain");
	bk_template_free(tpl);
	bk_err_clear();
	return 0;
}
