/*
 * bind.c - the second render, once the source AMI is known: the same
 * code as at load, now with real build variables, so {{.SourceAMI}} in tags
 * and {{build `ID`}} in provisioners get their values. Read-only on the
 * template, so several threads may bind one template at once.
 */
#include "template_int.h"

int bk_template_bind(bk_build_config **out, const bk_template *tpl, const bk_build_vars *bv)
{
	int rc;

	*out = NULL;
	if (!tpl || !bv)
		return bk_err(BAKEAMI_EINVALID, "bind: no template or build variables");
	/* No warnings: load has given them already. */
	if ((rc = bk_tpl_config_build(out, tpl, bv, NULL)) != 0)
		bk_template_mask_error(tpl, rc);
	return rc;
}
