/* Local sources stay inside the root given to source_set_root: links that stay in are followed,
 * links that lead out (a file, a folder on the way, a link file) are refused with -ENOENT, by
 * source_open and source_stat alike; the same again with openat2 filtered away, where the
 * component walk does the work. Such a link stands for one swapped in after fs.c checked. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "remote.h"
#include "source.h"

static char top[1024], rootdir[1100];

static void put(const char *rel, const char *text)
{
	char p[8192];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", top, rel);
	f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void link_at(const char *target, const char *rel)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", top, rel);
	CHECK_EQ(symlink(target, p), 0);
}

/* path under the root, as fs.c hands it: the root's real path, then the names as listed. */
static const char *in_root(const char *rel)
{
	static char p[8192];
	snprintf(p, sizeof(p), "%s/%s", rootdir, rel);
	return p;
}

/* rel opens and its first bytes are text; source_stat names the same file. */
static void expect_inside(const char *rel, const char *text, int line)
{
	struct source *s = NULL;
	struct source_identity id;
	char buf[64] = { 0 };
	int ret = source_open(in_root(rel), &s, NULL, 0);

	if (ret != 0) {
		fprintf(stderr, "line %d: source_open(%s) = %d, want 0\n", line, rel, ret);
		CHECK_EQ(ret, 0);
		return;
	}
	CHECK_EQ(source_pread(s, buf, strlen(text), 0), 0);
	if (strcmp(buf, text))
		fprintf(stderr, "line %d: %s reads '%s', want '%s'\n", line, rel, buf, text);
	CHECK(!strcmp(buf, text));
	CHECK_EQ(source_stat(in_root(rel), &id), 0);
	CHECK(identity_equal(&id, source_identity(s)));
	source_close(s);
}

/* rel is refused by both, and nothing is opened. */
static void expect_refused(const char *path, int line)
{
	struct source *s = NULL;
	struct source_identity id;
	int ret = source_open(path, &s, NULL, 0), sret = source_stat(path, &id);

	if (ret != -ENOENT || sret != -ENOENT)
		fprintf(stderr, "line %d: %s: source_open %d, source_stat %d, want -ENOENT (%d) from both\n", line,
			path, ret, sret, -ENOENT);
	CHECK_EQ(ret, -ENOENT);
	CHECK_EQ(sret, -ENOENT);
	CHECK(s == NULL);
	source_close(s);
}

static void checks(void)
{
	char p[8192];

	expect_inside("real.mp4", "inside", __LINE__);
	expect_inside("sub/inner.mp4", "inner", __LINE__);
	expect_inside("link-in.mp4", "inside", __LINE__);
	expect_inside("abs-in.mp4", "inner", __LINE__);
	expect_inside("sub/up-in.mp4", "inside", __LINE__);
	expect_inside("climb-in.mp4", "inside", __LINE__);
	expect_inside("sub-link/inner.mp4", "inner", __LINE__);
	expect_inside("sub/self/self/inner.mp4", "inner", __LINE__);

	expect_refused(in_root("abs-out.mp4"), __LINE__);
	expect_refused(in_root("rel-out.mp4"), __LINE__);
	expect_refused(in_root("chain-out.mp4"), __LINE__);
	expect_refused(in_root("dir-out/secret.mp4"), __LINE__);
	expect_refused(in_root("sub/dir-out-rel/secret.mp4"), __LINE__);
	expect_refused(in_root("out.mp4.url"), __LINE__);
	expect_refused(in_root("sub/../../out/secret.mp4"), __LINE__);
	snprintf(p, sizeof(p), "%s/out/secret.mp4", top);
	expect_refused(p, __LINE__);
	snprintf(p, sizeof(p), "%s-evil/evil.mp4", rootdir);  /* shares the root's name as a prefix */
	expect_refused(p, __LINE__);

	{
		struct source *s = NULL;
		/* Not a regular file: refused at once, never waited on. */
		CHECK_EQ(source_open(in_root("fifo.mp4"), &s, NULL, 0), -EINVAL);
		CHECK_EQ(source_open(in_root("sub"), &s, NULL, 0), -EINVAL);
		CHECK_EQ(source_open(in_root("missing.mp4"), &s, NULL, 0), -ENOENT);
		/* A link file inside is read (its URL answers nothing here): not refused as outside. */
		CHECK_EQ(source_open(in_root("in.mp4.url"), &s, NULL, 0), -EIO);
		CHECK(s == NULL);
	}
}

/* From now on openat2 answers ENOSYS, as on a kernel before 5.6. Returns 0 or -1. */
static int filter_openat2(void)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
		return -1;
	return 0;
}

int main(void)
{
	struct remote_config rc = { .timeout_s = 1, .retries = 0 };
	struct source_config sc = { .revalidate_s = 60 };
	char tmpl[] = "/tmp/hlsfs-test-source.XXXXXX", p[8192], cmd[8300];

	CHECK(mkdtemp(tmpl) != NULL);
	{
		char *real = realpath(tmpl, NULL);  /* the root must be free of links, as fs.c's is */
		CHECK(real != NULL);
		snprintf(top, sizeof(top), "%s", real ? real : tmpl);
		free(real);
	}
	snprintf(rootdir, sizeof(rootdir), "%s/root", top);
	snprintf(p, sizeof(p), "%s/root", top);
	CHECK_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/root/sub", top);
	CHECK_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/out", top);
	CHECK_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/root-evil", top);
	CHECK_EQ(mkdir(p, 0755), 0);
	put("root/real.mp4", "inside");
	put("root/sub/inner.mp4", "inner");
	put("out/secret.mp4", "SECRET");
	put("root-evil/evil.mp4", "SECRET");
	put("out/link.url", "http://127.0.0.1:1/secret.mp4\n");
	put("root/in.mp4.url", "http://127.0.0.1:1/in.mp4\n");
	link_at("real.mp4", "root/link-in.mp4");
	snprintf(p, sizeof(p), "%s/root/sub/inner.mp4", top);
	link_at(p, "root/abs-in.mp4");
	link_at("../real.mp4", "root/sub/up-in.mp4");
	link_at("../root/real.mp4", "root/climb-in.mp4");
	link_at("sub", "root/sub-link");
	link_at(".", "root/sub/self");
	snprintf(p, sizeof(p), "%s/out/secret.mp4", top);
	link_at(p, "root/abs-out.mp4");
	link_at("../out/secret.mp4", "root/rel-out.mp4");
	link_at("rel-out.mp4", "root/chain-out.mp4");
	snprintf(p, sizeof(p), "%s/out", top);
	link_at(p, "root/dir-out");
	link_at("../../out", "root/sub/dir-out-rel");
	link_at("../out/link.url", "root/out.mp4.url");
	snprintf(p, sizeof(p), "%s/root/fifo.mp4", top);
	CHECK_EQ(mkfifo(p, 0644), 0);

	CHECK_EQ(remote_init(&rc), 0);
	source_init(&sc, NULL, NULL);
	CHECK_EQ(source_set_root(rootdir), 0);
	checks();
	source_shutdown();

	/* Without openat2: the walk one component at a time. */
	if (filter_openat2() == 0) {
		CHECK_EQ(syscall(SYS_openat2, AT_FDCWD, "/", NULL, 0), -1);
		CHECK_EQ(errno, ENOSYS);
		CHECK_EQ(source_set_root(rootdir), 0);
		checks();
		source_shutdown();
	} else {
		printf("source: seccomp unavailable here; the walk without openat2 is not checked\n");
	}

	remote_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	CHECK_EQ(system(cmd), 0);
	return check_report("source");
}
