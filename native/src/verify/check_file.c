/*
 * check_file.c - the `file` check: existence, type, mode, owner, group
 * (GNU/busybox stat -c), sha256 (sha256sum, shasum or openssl) and the
 * content, searched here with memmem/regcomp. Reading falls back to
 * passwordless sudo for root-only files (a 0600 config, a 0700 dir).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "verify_int.h"

/* $1 path, $2 flags: c (content wanted), s (sha256 wanted). The type is
 * that of the path itself; mode and owners are those of a symlink's
 * target, which is what a symlink's mode (always 777) would not say. */
static const char FILE_SH[] =
	"f=$1\n"
	"bk_root lstat stat -c '%F|%a|%U|%G|%u|%g' \"$f\"\n"
	"case $bk_o in 'symbolic link|'*)\n"
	"  bk_root stat stat -L -c '%F|%a|%U|%G|%u|%g' \"$f\"\n"
	"  bk_root target readlink \"$f\";;\n"
	"esac\n"
	"case $2 in *s*)\n"
	"  if bk_have sha256sum; then bk_root sha sha256sum \"$f\"\n"
	"  elif bk_have shasum; then bk_root sha shasum -a 256 \"$f\"\n"
	"  else bk_root sha openssl dgst -sha256 -r \"$f\"; fi;;\n"
	"esac\n"
	"case $2 in *c*)\n"
	"  if [ -f \"$f\" ] && [ -r \"$f\" ]; then r=plain\n"
	"  elif [ \"$(id -u)\" != 0 ] && sudo -n test -f \"$f\" >/dev/null 2>&1; then r=sudo\n"
	"  elif [ -f \"$f\" ]; then r=denied\n"
	"  else r=none; fi\n"
	"  echo \"read=$r\"\n"
	"  echo '" BK_CONTENT_MARKER "'\n"
	"  case $r in plain) head -c 4194305 \"$f\";; sudo) sudo -n head -c 4194305 \"$f\";; esac;;\n"
	"esac\n"
	"exit 0\n";

static int file_command(bk_buf *cmd, const bk_check *check)
{
	const bk_check_file_cfg *f = &check->u.file;
	char flags[3];
	const char *args[2] = {check->subject, flags};
	size_t n = 0;

	if (f->contains || f->matches)
		flags[n++] = 'c';
	if (f->sha256)
		flags[n++] = 's';
	flags[n] = '\0';
	return bk_sh_script(cmd, FILE_SH, args, 2);
}

typedef struct {
	char type[32];       /* "file", "directory", "symlink", "fifo", ... */
	long mode;
	char owner[64], group[64], uid[16], gid[16];
} stat_info;

/* "regular file|644|root|root|0|0" (stat -c '%F|%a|%U|%G|%u|%g') */
static bool stat_parse(stat_info *st, const char *line)
{
	char kind[32];

	memset(st, 0, sizeof(*st));
	if (!line || sscanf(line, "%31[^|]|%lo|%63[^|]|%63[^|]|%15[^|]|%15s", kind, &st->mode,
			    st->owner, st->group, st->uid, st->gid) != 6)
		return false;
	if (bk_str_starts(kind, "regular"))
		snprintf(st->type, sizeof(st->type), "file");
	else if (strcmp(kind, "symbolic link") == 0)
		snprintf(st->type, sizeof(st->type), "symlink");
	else
		snprintf(st->type, sizeof(st->type), "%s", kind);
	return true;
}

typedef struct {
	const char *path;
	bool exists;
	stat_info self;      /* the path itself */
	stat_info target;    /* what mode/owner/group are judged on */
} file_state;

/* 0 parsed; 1 the verdict already says why not (stat failed). */
static int file_scan(file_state *fs, bk_verdict *v, const bk_check_kv *p)
{
	const char *line = bk_kv_get(&p->kv, "lstat");
	const char *follow = bk_kv_get(&p->kv, "stat");

	if (bk_check_kv_int(p, "lstat_rc", 1) != 0) {
		if (line && (strstr(line, "No such file") || strstr(line, "Not a directory")))
			return 0;
		return bk_verdict_error(v, "cannot stat %s: %s%s", fs->path, line ? line : "stat failed",
					line && strstr(line, "ermission denied")
						? " (and no passwordless sudo)" : "") < 0 ? bk_oom() : 1;
	}
	if (!stat_parse(&fs->self, line))
		return bk_verdict_error(v, "unexpected stat output: %s", line ? line : "none") < 0
			       ? bk_oom() : 1;
	fs->exists = true;
	if (!(follow && bk_check_kv_int(p, "stat_rc", 1) == 0 && stat_parse(&fs->target, follow)))
		fs->target = fs->self;
	return 0;
}

static int expect_str(bk_verdict *v, const char *what, const char *want, const char *have,
		      const char *have_id)
{
	char *exp;
	int rc;

	/* An owner may be given by name or by number. */
	if (!want || strcmp(want, have) == 0 || strcmp(want, have_id) == 0)
		return 0;
	exp = bk_sprintf("%s %s", what, want);
	rc = bk_verdict_fail(v, exp ? exp : what, "%s", have);
	free(exp);
	return rc;
}

static int expect_meta(bk_verdict *v, const bk_check_file_cfg *f, const file_state *fs)
{
	const char *type = f->type;
	long mode = f->mode;
	char exp[64];
	int rc = 0;

	if (type && strcmp(type, fs->self.type) != 0) {
		snprintf(exp, sizeof(exp), "type %s", type);
		rc = bk_verdict_fail(v, exp, "%s", fs->self.type);
	}
	if (rc == 0 && mode >= 0 && mode != fs->target.mode) {
		snprintf(exp, sizeof(exp), "mode %04lo", (unsigned long)mode);
		rc = bk_verdict_fail(v, exp, "%04lo", (unsigned long)fs->target.mode);
	}
	rc = rc ? rc : expect_str(v, "owner", f->owner, fs->target.owner,
				  fs->target.uid);
	rc = rc ? rc : expect_str(v, "group", f->group, fs->target.group,
				  fs->target.gid);
	return rc;
}

/* The hash is the first word; sha256sum prefixes it with '\' for odd names. */
static int expect_sha(bk_verdict *v, const bk_check_file_cfg *f, const file_state *fs,
		      const bk_check_kv *p)
{
	const char *want = f->sha256;
	const char *line = bk_kv_get(&p->kv, "sha");
	char have[65] = "", exp[80];
	size_t n = 0;

	if (!want)
		return 0;
	if (bk_check_kv_int(p, "sha_rc", 1) != 0 || !line)
		return bk_verdict_error(v, "cannot hash %s: %s", fs->path, line ? line : "no output");
	line += *line == '\\';
	while (n < 64 && isxdigit((unsigned char)line[n])) {
		have[n] = (char)tolower((unsigned char)line[n]);
		n++;
	}
	have[n] = '\0';
	if (strcasecmp(want, have) == 0)
		return 0;
	snprintf(exp, sizeof(exp), "sha256 %.64s", want);
	return bk_verdict_fail(v, exp, "%s", have);
}

static int content_unreadable(bk_verdict *v, const file_state *fs, const char *read)
{
	if (strcmp(read, "denied") == 0)
		return bk_verdict_error(v, "cannot read %s: permission denied (and no passwordless sudo)",
					fs->path);
	return bk_verdict_fail(v, "a regular file to search", "%s", fs->self.type);
}

static int expect_content(bk_verdict *v, const bk_check_file_cfg *f, const file_state *fs,
			  const bk_check_kv *p)
{
	const char *want = f->contains, *re = f->matches;
	const char *read = bk_kv_get(&p->kv, "read");
	size_t len = p->content_len > BK_CONTENT_CAP ? BK_CONTENT_CAP : p->content_len;
	const char *note = p->content_len > BK_CONTENT_CAP ? " (searched its first 4 MiB)" : "";
	char *text, *exp;
	int rc = 0, m;

	if (!want && !re)
		return 0;
	if (!read || (strcmp(read, "plain") != 0 && strcmp(read, "sudo") != 0))
		return content_unreadable(v, fs, read ? read : "none");
	if (!(text = bk_strndup(p->content ? p->content : "", len)))
		return bk_oom();
	if (want && !bk_contains(text, len, want)) {
		exp = bk_sprintf("content containing \"%s\"", want);
		rc = bk_verdict_fail(v, exp, "a %zu-byte file without it%s", len, note);
		free(exp);
	}
	if (rc == 0 && re && (m = bk_regex_search(re, text)) <= 0) {
		exp = bk_sprintf("content matching /%s/", re);
		rc = m < 0 ? bk_verdict_error(v, "%s", bk_err_msg())
			   : bk_verdict_fail(v, exp, "a %zu-byte file without a match%s", len, note);
		free(exp);
	}
	free(text);
	return rc;
}

static int file_missing(bk_verdict *v, const bk_check_file_cfg *f)
{
	/* exists: false asks exactly this; anything else needs the file. */
	if (f->exists == 0)
		return 0;
	return bk_verdict_fail(v, "exists", "no such file or directory");
}

static int file_verdict(bk_verdict *v, const bk_check *check, const bk_check_kv *p)
{
	const bk_check_file_cfg *f = &check->u.file;
	file_state fs;
	int rc;

	memset(&fs, 0, sizeof(fs));
	fs.path = check->subject;
	rc = file_scan(&fs, v, p);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (!fs.exists)
		return file_missing(v, f);
	if (f->exists == 0)
		return bk_verdict_fail(v, "no such file", "a %s", fs.self.type);
	rc = expect_meta(v, f, &fs);
	rc = rc ? rc : expect_sha(v, f, &fs, p);
	return rc ? rc : expect_content(v, f, &fs, p);
}

static int file_judge(bk_verdict *v, const bk_check *check, const bk_check_output *o)
{
	return bk_judge_kv(v, check, o, file_verdict);
}

static const bk_field FILE_FIELDS[] = {
	BK_FIELD("exists", BK_F_BOOL, true, u.file.exists),
	BK_FIELD("type", BK_F_FILETYPE, true, u.file.type),
	BK_FIELD("mode", BK_F_MODE, true, u.file.mode),
	BK_FIELD("owner", BK_F_STRING, true, u.file.owner),
	BK_FIELD("group", BK_F_STRING, true, u.file.group),
	BK_FIELD("contains", BK_F_TEXT, true, u.file.contains),
	BK_FIELD("matches", BK_F_REGEX, true, u.file.matches),
	BK_FIELD("sha256", BK_F_SHA256, true, u.file.sha256),
	BK_FIELDS_END,
};

const bk_check_type bk_check_file = {
	BK_CHECK_FILE, "file", BK_SUBJ_PATH, FILE_FIELDS,
	"give exists, type, mode, owner, group, contains, matches or sha256", 60,
	file_command, file_judge,
};
