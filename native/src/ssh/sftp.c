/*
 * sftp.c - file transfers over the session's SFTP channel: upload and
 * download of files and directory trees (Packer's trailing-slash rule),
 * and bytes to a remote file. Remote parent directories are created as
 * needed. Errors name both paths and the SFTP status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh_internal.h"

#define CHUNK 65536
/* libssh2 pipelines a write over the buffer it is handed (30000-byte
 * packets, all sent before the first ack is awaited): a 64 KiB buffer keeps
 * two packets in flight, 1 MiB about 35, which is what fills a fast link. */
#define UPLOAD_CHUNK (1 << 20)
#define MAX_DEPTH 64     /* symlink loops end here */
#define CLOSE_GRACE_S 1.0

/* ---- libssh2 plumbing ----------------------------------------------- */

/* True while libssh2 wants the call again; false (with *err set) on
 * cancel. */
static bool again(bk_ssh *s, long lrc, int *err)
{
	if (lrc != LIBSSH2_ERROR_EAGAIN)
		return false;
	if ((*err = bk_ssh__wait(s, 0)) < 0) {
		*err = bk_err(*err, "cancelled during an SFTP transfer");
		return false;
	}
	return true;
}

static const char *fx_name(unsigned long fx)
{
	switch (fx) {
	case LIBSSH2_FX_NO_SUCH_FILE: return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
	case LIBSSH2_FX_FAILURE: return "failure";
	case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists";
	case LIBSSH2_FX_WRITE_PROTECT: return "write protected";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left on device";
	case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
	case LIBSSH2_FX_NOT_A_DIRECTORY: return "not a directory";
	case LIBSSH2_FX_DIR_NOT_EMPTY: return "directory not empty";
	case LIBSSH2_FX_INVALID_FILENAME: return "invalid file name";
	case LIBSSH2_FX_LINK_LOOP: return "too many symbolic links";
	default: return "SFTP error";
	}
}

/* Set a BAKEAMI_ESSH error "<what> <path>: <reason>" from libssh2's state. */
static int fail(bk_ssh *s, const char *what, const char *path)
{
	int err = s->session ? libssh2_session_last_errno(s->session) : 0;

	if (err == LIBSSH2_ERROR_SFTP_PROTOCOL && s->sftp) {
		unsigned long fx = libssh2_sftp_last_error(s->sftp);
		return bk_err(BAKEAMI_ESSH, "%s %s: %s (SFTP status %lu)", what, path,
			      fx_name(fx), fx);
	}
	if (bk_ssh__is_drop(err))
		s->alive = false;
	return bk_err(BAKEAMI_ESSH, "%s %s: %s", what, path, bk_ssh__errmsg(s));
}

static bool not_found(bk_ssh *s)
{
	unsigned long fx;

	if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_SFTP_PROTOCOL)
		return false;
	fx = libssh2_sftp_last_error(s->sftp);
	return fx == LIBSSH2_FX_NO_SUCH_FILE || fx == LIBSSH2_FX_NO_SUCH_PATH;
}

static int sftp_ready(bk_ssh *s)
{
	int err = 0;

	if (!bk_ssh_connected(s))
		return bk_err(BAKEAMI_ESSH, "not connected to %s:%d", s->host, s->port);
	while (!s->sftp && !(s->sftp = libssh2_sftp_init(s->session)) &&
	       again(s, libssh2_session_last_errno(s->session), &err))
		;
	if (err)
		return err;
	if (!s->sftp)
		return fail(s, "starting SFTP on", s->host);
	return 0;
}

void bk_ssh__sftp_close(bk_ssh *s)
{
	double until = bk_now() + CLOSE_GRACE_S;

	if (!s->sftp)
		return;
	while (libssh2_sftp_shutdown(s->sftp) == LIBSSH2_ERROR_EAGAIN && bk_now() < until)
		bk_ssh__nap(s);
	s->sftp = NULL;
}

/* ---- remote primitives ---------------------------------------------- */

/* 0 found, 1 not found, <0 error. */
static int r_stat(bk_ssh *s, const char *path, LIBSSH2_SFTP_ATTRIBUTES *a)
{
	int rc, err = 0;

	while (again(s, rc = libssh2_sftp_stat_ex(s->sftp, path, (unsigned)strlen(path),
						   LIBSSH2_SFTP_STAT, a), &err))
		;
	if (err)
		return err;
	if (rc == 0)
		return 0;
	return not_found(s) ? 1 : fail(s, "stat", path);
}

static bool r_is_dir(const LIBSSH2_SFTP_ATTRIBUTES *a)
{
	return (a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) && LIBSSH2_SFTP_S_ISDIR(a->permissions);
}

/* mkdir for one directory that may already exist. */
static int r_mkdir(bk_ssh *s, const char *dir, int mode)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	int rc, err = 0;

	if ((rc = r_stat(s, dir, &a)) <= 0)
		return rc < 0 ? rc : r_is_dir(&a) ? 0 : bk_err(BAKEAMI_ESSH, "mkdir %s: not a directory", dir);
	while (again(s, rc = libssh2_sftp_mkdir_ex(s->sftp, dir, (unsigned)strlen(dir), mode), &err))
		;
	if (err)
		return err;
	/* Another writer may have made it meanwhile. */
	if (rc < 0 && (r_stat(s, dir, &a) != 0 || !r_is_dir(&a)))
		return fail(s, "mkdir", dir);
	return 0;
}

static int r_mkdirs(bk_ssh *s, const char *dir, int mode)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	char *p;
	int rc;

	if (!*dir || (r_stat(s, dir, &a) == 0 && r_is_dir(&a)))
		return 0;
	if (!(p = bk_strdup(dir)))
		return bk_oom();
	rc = 0;
	for (char *c = p + 1; *c && rc == 0; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		rc = r_mkdir(s, p, mode);
		*c = '/';
	}
	if (rc == 0)
		rc = r_mkdir(s, p, mode);
	free(p);
	return rc;
}

static int r_mkparent(bk_ssh *s, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc;

	if (!slash || slash == path)
		return 0;
	if (!(dir = bk_strndup(path, (size_t)(slash - path))))
		return bk_oom();
	rc = r_mkdirs(s, dir, 0755);
	free(dir);
	return rc;
}

static int r_open(bk_ssh *s, const char *path, unsigned long flags, long mode, int type,
		  LIBSSH2_SFTP_HANDLE **h)
{
	int err = 0;

	while (!(*h = libssh2_sftp_open_ex(s->sftp, path, (unsigned)strlen(path), flags, mode,
					   type)) &&
	       again(s, libssh2_session_last_errno(s->session), &err))
		;
	if (err)
		return err;
	return *h ? 0 : fail(s, "open", path);
}

static int r_close(bk_ssh *s, LIBSSH2_SFTP_HANDLE *h, const char *path)
{
	int rc, err = 0;

	while (again(s, rc = libssh2_sftp_close_handle(h), &err))
		;
	if (err)
		return err;
	return rc < 0 ? fail(s, "close", path) : 0;
}

static int r_write(bk_ssh *s, LIBSSH2_SFTP_HANDLE *h, const char *data, size_t n,
		   const char *path)
{
	size_t off = 0;
	ssize_t w;
	int err = 0;

	while (off < n) {
		while (again(s, w = libssh2_sftp_write(h, data + off, n - off), &err))
			;
		if (err)
			return err;
		if (w < 0)
			return fail(s, "write", path);
		off += (size_t)w;
	}
	return 0;
}

/* The mode the file gets, whatever the remote umask. */
static int r_chmod(bk_ssh *s, LIBSSH2_SFTP_HANDLE *h, int mode, const char *path)
{
	LIBSSH2_SFTP_ATTRIBUTES a = {0};
	int rc, err = 0;

	a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	a.permissions = (unsigned long)(mode & 07777);
	while (again(s, rc = libssh2_sftp_fsetstat(h, &a), &err))
		;
	if (err)
		return err;
	return rc < 0 ? fail(s, "chmod", path) : 0;
}

/* ---- paths ---------------------------------------------------------- */

static const char *base_name(const char *path)
{
	size_t n = strlen(path);
	const char *b;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (b = path + n; b > path && b[-1] != '/'; b--)
		;
	return b;
}

/* dir + "/" + name; name may end in slashes, which are dropped. */
static char *join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	while (nl > 0 && name[nl - 1] == '/')
		nl--;
	return bk_sprintf("%.*s/%.*s", (int)dl, dir, (int)nl, name);
}

/* ---- upload --------------------------------------------------------- */

static int upload_fd(bk_ssh *s, int fd, LIBSSH2_SFTP_HANDLE *h, const char *local,
		     const char *remote)
{
	char *buf = malloc(UPLOAD_CHUNK);
	ssize_t n;
	int rc = 0;

	if (!buf)
		return bk_oom();
	while (rc == 0 && (n = read(fd, buf, UPLOAD_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = bk_err(BAKEAMI_EIO, "read %s: %s", local, strerror(errno));
		else
			rc = r_write(s, h, buf, (size_t)n, remote);
	}
	free(buf);
	return rc;
}

static int put_file(bk_ssh *s, const char *local, const char *remote, int mode)
{
	LIBSSH2_SFTP_HANDLE *h;
	int fd = open(local, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return bk_err(errno == ENOENT ? BAKEAMI_ENOTFOUND : BAKEAMI_EIO, "open %s: %s",
			      local, strerror(errno));
	rc = r_open(s, remote, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
		    mode & 0777, LIBSSH2_SFTP_OPENFILE, &h);
	if (rc == 0) {
		rc = upload_fd(s, fd, h, local, remote);
		rc = rc ? rc : r_chmod(s, h, mode, remote);
		int crc = r_close(s, h, remote);
		rc = rc ? rc : crc;
	}
	close(fd);
	return rc;
}

static int upload_tree(bk_ssh *s, const char *local, const char *remote, int depth);

static int upload_entry(bk_ssh *s, const char *local, const char *remote, int depth)
{
	struct stat st;

	if (stat(local, &st) < 0)
		return bk_err(BAKEAMI_EIO, "stat %s: %s", local, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return upload_tree(s, local, remote, depth + 1);
	if (S_ISREG(st.st_mode))
		return put_file(s, local, remote, (int)(st.st_mode & 0777));
	bk_logf(&s->log, BK_LOG_WARN, "skipping %s: not a file or directory", local);
	return 0;
}

/* Copy the contents of local directory into remote (which is created). */
static int upload_tree(bk_ssh *s, const char *local, const char *remote, int depth)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return bk_err(BAKEAMI_EIO, "%s: directories nested too deep (symlink loop?)", local);
	if (stat(local, &st) < 0 || !(d = opendir(local)))
		return bk_err(BAKEAMI_EIO, "open directory %s: %s", local, strerror(errno));
	rc = r_mkdir(s, remote, (int)(st.st_mode & 0777));
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *l = join(local, e->d_name), *r = join(remote, e->d_name);
		rc = l && r ? upload_entry(s, l, r, depth) : bk_oom();
		free(l);
		free(r);
	}
	closedir(d);
	return rc;
}

/* Where a file lands: dst, or inside it when it ends in '/' or is a
 * directory already (as scp does). */
static char *file_target(bk_ssh *s, const char *local, const char *remote)
{
	LIBSSH2_SFTP_ATTRIBUTES a;

	if (bk_str_ends(remote, "/") || (r_stat(s, remote, &a) == 0 && r_is_dir(&a)))
		return join(remote, base_name(local));
	return bk_strdup(remote);
}

static int upload(bk_ssh *s, const char *local, const char *remote)
{
	struct stat st;
	char *target;
	int rc;

	if (stat(local, &st) < 0)
		return bk_err(errno == ENOENT ? BAKEAMI_ENOTFOUND : BAKEAMI_EIO, "%s: %s", local,
			      strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return bk_err(BAKEAMI_EINVALID, "%s: not a file or directory", local);
	if ((rc = sftp_ready(s)) < 0)
		return rc;
	if (S_ISDIR(st.st_mode))
		target = bk_str_ends(local, "/") ? bk_strdup(remote) : join(remote, base_name(local));
	else
		target = file_target(s, local, remote);
	if (!target)
		return bk_oom();
	bk_logf(&s->log, BK_LOG_DEBUG, "sftp: %s -> %s", local, target);
	rc = r_mkparent(s, target);
	if (rc == 0)
		rc = S_ISDIR(st.st_mode) ? upload_tree(s, local, target, 0)
					 : put_file(s, local, target, (int)(st.st_mode & 0777));
	free(target);
	return rc;
}

int bk_ssh_upload(bk_ssh *s, const char *local, const char *remote)
{
	int rc = upload(s, local, remote);

	return rc < 0 ? bk_err_wrap(rc, "upload %s to %s:%s", local, s->host, remote) : 0;
}

int bk_ssh_put(bk_ssh *s, const char *remote, const void *data, size_t len, int mode)
{
	LIBSSH2_SFTP_HANDLE *h;
	int rc;

	if (mode <= 0)
		mode = 0644;
	rc = sftp_ready(s);
	rc = rc ? rc : r_mkparent(s, remote);
	rc = rc ? rc : r_open(s, remote, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
			      mode & 0777, LIBSSH2_SFTP_OPENFILE, &h);
	if (rc == 0) {
		rc = r_write(s, h, data, len, remote);
		rc = rc ? rc : r_chmod(s, h, mode, remote);
		int crc = r_close(s, h, remote);
		rc = rc ? rc : crc;
	}
	return rc < 0 ? bk_err_wrap(rc, "write %s:%s", s->host, remote) : 0;
}

/* ---- download ------------------------------------------------------- */

static int write_all(int fd, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

static int download_to_fd(bk_ssh *s, LIBSSH2_SFTP_HANDLE *h, int fd, const char *remote,
			  const char *local)
{
	char *buf = malloc(CHUNK);
	ssize_t n;
	int rc = 0, err = 0;

	if (!buf)
		return bk_oom();
	for (;;) {
		while (again(s, n = libssh2_sftp_read(h, buf, CHUNK), &err))
			;
		if (err || n == 0) {
			rc = err;
			break;
		}
		if (n < 0) {
			rc = fail(s, "read", remote);
			break;
		}
		if (write_all(fd, buf, (size_t)n) < 0) {
			rc = bk_err(BAKEAMI_EIO, "write %s: %s", local, strerror(errno));
			break;
		}
	}
	free(buf);
	return rc;
}

static int get_file(bk_ssh *s, const char *remote, const char *local, int mode)
{
	LIBSSH2_SFTP_HANDLE *h;
	int fd, rc;

	if ((rc = r_open(s, remote, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, &h)) < 0)
		return rc;
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0777);
	if (fd < 0)
		rc = bk_err(BAKEAMI_EIO, "open %s: %s", local, strerror(errno));
	else {
		rc = download_to_fd(s, h, fd, remote, local);
		fchmod(fd, (mode_t)(mode & 0777));
		if (close(fd) < 0 && rc == 0)
			rc = bk_err(BAKEAMI_EIO, "write %s: %s", local, strerror(errno));
	}
	int crc = r_close(s, h, remote);
	return rc ? rc : crc;
}

/* Names and attributes of a remote directory, without "." and "..". */
static int r_list(bk_ssh *s, const char *dir, bk_strv *names)
{
	LIBSSH2_SFTP_HANDLE *h;
	LIBSSH2_SFTP_ATTRIBUTES a;
	char name[1024];
	int rc, err = 0;

	if ((rc = r_open(s, dir, 0, 0, LIBSSH2_SFTP_OPENDIR, &h)) < 0)
		return rc;
	for (;;) {
		while (again(s, rc = libssh2_sftp_readdir_ex(h, name, sizeof(name), NULL, 0, &a), &err))
			;
		if (err || rc <= 0)
			break;
		if (strcmp(name, ".") && strcmp(name, "..") && bk_strv_push(names, name) < 0) {
			err = bk_oom();
			break;
		}
	}
	if (rc < 0 && !err)
		err = fail(s, "readdir", dir);
	int crc = r_close(s, h, dir);
	return err ? err : crc;
}

static int download_tree(bk_ssh *s, const char *remote, const char *local, int mode, int depth);

static int download_entry(bk_ssh *s, const char *remote, const char *local, int depth)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	int rc = r_stat(s, remote, &a), mode;

	if (rc != 0)
		return rc < 0 ? rc : bk_err(BAKEAMI_ENOTFOUND, "%s: no such file", remote);
	mode = (a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ? (int)(a.permissions & 0777) : 0644;
	if (r_is_dir(&a))
		return download_tree(s, remote, local, mode, depth + 1);
	if (LIBSSH2_SFTP_S_ISREG(a.permissions))
		return get_file(s, remote, local, mode);
	bk_logf(&s->log, BK_LOG_WARN, "skipping %s: not a file or directory", remote);
	return 0;
}

static int download_tree(bk_ssh *s, const char *remote, const char *local, int mode, int depth)
{
	bk_strv names = BK_STRV_INIT;
	int rc;

	if (depth > MAX_DEPTH)
		return bk_err(BAKEAMI_EIO, "%s: directories nested too deep (symlink loop?)", remote);
	if ((rc = bk_mkdirs(local, mode | 0700)) < 0 || (rc = r_list(s, remote, &names)) < 0) {
		bk_strv_free(&names);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < names.count; i++) {
		char *r = join(remote, names.items[i]), *l = join(local, names.items[i]);
		rc = r && l ? download_entry(s, r, l, depth) : bk_oom();
		free(r);
		free(l);
	}
	bk_strv_free(&names);
	return rc;
}

static char *local_parent(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash != path ? bk_strndup(path, (size_t)(slash - path)) : NULL;
}

static int download(bk_ssh *s, const char *remote, const char *local)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	struct stat st;
	char *target, *parent;
	int rc, dir;

	if ((rc = sftp_ready(s)) < 0 || (rc = r_stat(s, remote, &a)) < 0)
		return rc;
	if (rc == 1)
		return bk_err(BAKEAMI_ENOTFOUND, "%s: no such file or directory", remote);
	dir = r_is_dir(&a);
	if (dir)
		target = bk_str_ends(remote, "/") ? bk_strdup(local) : join(local, base_name(remote));
	else if (bk_str_ends(local, "/") || (stat(local, &st) == 0 && S_ISDIR(st.st_mode)))
		target = join(local, base_name(remote));
	else
		target = bk_strdup(local);
	if (!target)
		return bk_oom();
	if ((parent = local_parent(target)))
		rc = bk_mkdirs(parent, 0755);
	free(parent);
	rc = rc ? rc : download_entry(s, remote, target, 0);
	free(target);
	return rc;
}

int bk_ssh_download(bk_ssh *s, const char *remote, const char *local)
{
	int rc = download(s, remote, local);

	return rc < 0 ? bk_err_wrap(rc, "download %s:%s to %s", s->host, remote, local) : 0;
}
