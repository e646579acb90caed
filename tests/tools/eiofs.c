/* eiofs: a read-only libfuse3 passthrough filesystem that fails on purpose, for the fault tests.
 *
 *   eiofs [-f] [-o fail_offset=N] [-o fail_name=TEXT] SOURCE MOUNTPOINT
 *
 * Shows SOURCE as it is, read-only. A read of a file whose name contains TEXT (default "bad") that
 * reaches past byte N (any of its bytes at offset N or beyond) answers EIO; reads below N succeed.
 * N defaults to the environment variable EIOFS_FAIL_OFFSET, else 0 (every read of such a file fails).
 * Files are opened with direct_io, so the reads the kernel sends are the reads the caller made (no
 * readahead merges a good range with a failing one). Writes of any kind answer EROFS.
 *
 * Build: cc -O2 -Wall -o eiofs eiofs.c $(pkg-config --cflags --libs fuse3)
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	char *source;            /* absolute, no trailing slash */
	unsigned long long fail_offset;
	char *fail_name;
	int have_offset;
} cfg;

enum { KEY_FAIL_OFFSET };

static const struct fuse_opt opts[] = {
	FUSE_OPT_KEY("fail_offset=", KEY_FAIL_OFFSET),
	{ "fail_name=%s", offsetof(typeof(cfg), fail_name), 0 },
	FUSE_OPT_END,
};

static int real_path(const char *path, char *out)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s%s", cfg.source, path) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int fails(const char *path)
{
	const char *base = strrchr(path, '/');
	return strstr(base ? base + 1 : path, cfg.fail_name) != NULL;
}

static int e_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int ret;

	(void)fi;
	if ((ret = real_path(path, p)) < 0)
		return ret;
	return lstat(p, st) < 0 ? -errno : 0;
}

static int e_readlink(const char *path, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t n;
	int ret;

	if ((ret = real_path(path, p)) < 0)
		return ret;
	if ((n = readlink(p, buf, size - 1)) < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int e_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
		     enum fuse_readdir_flags flags)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret;

	(void)off;
	(void)fi;
	(void)flags;
	if ((ret = real_path(path, p)) < 0)
		return ret;
	if (!(d = opendir(p)))
		return -errno;
	while ((de = readdir(d))) {
		struct stat st = { .st_ino = de->d_ino, .st_mode = (mode_t)DTTOIF(de->d_type) };
		if (filler(buf, de->d_name, &st, 0, 0))
			break;
	}
	closedir(d);
	return 0;
}

static int e_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int fd, ret;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	if ((ret = real_path(path, p)) < 0)
		return ret;
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int e_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	if (fails(path) && (unsigned long long)off + size > cfg.fail_offset)
		return -EIO;
	n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int e_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int e_statfs(const char *path, struct statvfs *sv)
{
	char p[PATH_MAX];
	int ret;

	if ((ret = real_path(path, p)) < 0)
		return ret;
	if (statvfs(p, sv) < 0)
		return -errno;
	sv->f_flag |= ST_RDONLY;
	return 0;
}

static int e_rofs(void)
{
	return -EROFS;
}

static int e_mknod(const char *p, mode_t m, dev_t d) { (void)p; (void)m; (void)d; return e_rofs(); }
static int e_mkdir(const char *p, mode_t m) { (void)p; (void)m; return e_rofs(); }
static int e_unlink(const char *p) { (void)p; return e_rofs(); }
static int e_rmdir(const char *p) { (void)p; return e_rofs(); }
static int e_symlink(const char *a, const char *b) { (void)a; (void)b; return e_rofs(); }
static int e_rename(const char *a, const char *b, unsigned int f) { (void)a; (void)b; (void)f; return e_rofs(); }
static int e_link(const char *a, const char *b) { (void)a; (void)b; return e_rofs(); }
static int e_chmod(const char *p, mode_t m, struct fuse_file_info *fi) { (void)p; (void)m; (void)fi; return e_rofs(); }
static int e_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi)
{
	(void)p; (void)u; (void)g; (void)fi;
	return e_rofs();
}
static int e_truncate(const char *p, off_t s, struct fuse_file_info *fi) { (void)p; (void)s; (void)fi; return e_rofs(); }
static int e_create(const char *p, mode_t m, struct fuse_file_info *fi) { (void)p; (void)m; (void)fi; return e_rofs(); }

static void *e_init(struct fuse_conn_info *conn, struct fuse_config *c)
{
	(void)conn;
	c->use_ino = 1;
	/* Always ask: a test changes nothing below, but no stale attribute may hide a fault. */
	c->entry_timeout = 0;
	c->attr_timeout = 0;
	c->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = e_init,
	.getattr = e_getattr,
	.readlink = e_readlink,
	.readdir = e_readdir,
	.open = e_open,
	.read = e_read,
	.release = e_release,
	.statfs = e_statfs,
	.mknod = e_mknod,
	.mkdir = e_mkdir,
	.unlink = e_unlink,
	.rmdir = e_rmdir,
	.symlink = e_symlink,
	.rename = e_rename,
	.link = e_link,
	.chmod = e_chmod,
	.chown = e_chown,
	.truncate = e_truncate,
	.create = e_create,
};

static int parse_offset(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return (errno || end == s || *end) ? -1 : 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)data;
	(void)outargs;
	if (key == KEY_FAIL_OFFSET) {
		if (parse_offset(arg + strlen("fail_offset="), &cfg.fail_offset) < 0) {
			fprintf(stderr, "eiofs: bad fail_offset: %s\n", arg);
			exit(1);
		}
		cfg.have_offset = 1;
		return 0;
	}
	if (key == FUSE_OPT_KEY_NONOPT && !cfg.source) {
		char real[PATH_MAX];
		if (!realpath(arg, real)) {
			fprintf(stderr, "eiofs: %s: %s\n", arg, strerror(errno));
			exit(1);
		}
		cfg.source = strdup(real);
		if (!strcmp(cfg.source, "/"))
			cfg.source[0] = '\0';
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	const char *env = getenv("EIOFS_FAIL_OFFSET");
	int ret;

	if (fuse_opt_parse(&args, &cfg, opts, opt_proc) < 0)
		return 1;
	if (!cfg.source) {
		fprintf(stderr, "usage: eiofs [-f] [-o fail_offset=N,fail_name=TEXT] SOURCE MOUNTPOINT\n");
		return 1;
	}
	if (!cfg.have_offset && env && parse_offset(env, &cfg.fail_offset) < 0) {
		fprintf(stderr, "eiofs: bad EIOFS_FAIL_OFFSET: %s\n", env);
		return 1;
	}
	if (!cfg.fail_name)
		cfg.fail_name = strdup("bad");
	if (fuse_opt_add_arg(&args, "-oro,fsname=eiofs,subtype=eiofs") < 0)
		return 1;
	ret = fuse_main(args.argc, args.argv, &ops, NULL);
	fuse_opt_free_args(&args);
	return ret;
}
