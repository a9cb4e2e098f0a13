/*
 * cmdtmpl.h - Packer's Go-template forms in commands (a provisioner's
 * execute_command, amazon-instance's bundle commands): the part of Go's
 * text/template those commands use, rendered against a table of named
 * fields. template/ has already rendered user variables and functions;
 * what is left are the provisioner's or builder's own fields.
 */
#ifndef BK_CMDTMPL_H
#define BK_CMDTMPL_H

#include <stdbool.h>
#include <stddef.h>

/* One field, {{.Name}}. A string is true when not empty; a bool
 * (is_bool) is true when value is "true", and prints as true/false. */
typedef struct {
	const char *name;            /* without the dot: "Sudo" */
	const char *value;           /* NULL: "" (or false) */
	bool is_bool;
} bk_cmd_field;

/* Render tmpl: {{.Field}}, {{if X}}...{{else if Y}}...{{else}}...{{end}}
 * (nested), X being a field, a "string", `raw string`, true/false or
 * (eq A B...), (ne A B), (not A), (and A B...), (or A B...), with Go's
 * truthiness; {{- -}} trimming and comment actions. what names the
 * option for messages: "provisioners[0].execute_command: unknown field
 * .Foo; known: .Sudo .FacterVars". Errors are BAKEAMI_EINVALID; fields in
 * branches not taken are checked too. */
int bk_cmd_render(char **out, const char *tmpl, const bk_cmd_field *fields, size_t n,
		  const char *what);

#endif
