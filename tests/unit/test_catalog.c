/* Remote base listings: which lines of hlsfs.list are kept, and how paths become folders,
 * videos and URLs. The listing comes from the store (the base points at a closed port, so the
 * catalog falls back on what was kept, as it does while an archive is away). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "check.h"
#include "remote.h"
#include "store.h"

#define BASE "http://127.0.0.1:1/base/"

struct names {
	char all[1024];
};

static void add_name(const char *name, void *arg)
{
	struct names *n = arg;
	strcat(n->all, name);
	strcat(n->all, "|");
}

static const char *list(struct catalog *c, const char *rel)
{
	static struct names n;
	n.all[0] = '\0';
	CHECK_EQ(catalog_list(c, rel, add_name, &n), 0);
	return n.all;
}

int main(void)
{
	static const char listing[] =
		"# a comment\n"
		"films/b.mp4\n"
		"films/a b.mp4\r\n"
		"  top.MOV  \n"
		"films/c/deep.m4v\n"
		"films/c0.mp4\n"
		"films/b.mp4\n"          /* twice: once */
		"../etc/passwd.mp4\n"
		"/abs.mp4\n"
		"films//x.mp4\n"
		"films/./y.mp4\n"
		"notes.txt\n"
		"films/\n"
		"\n"
		"tab\there.mp4\n"
		"caf\xc3\xa9.mp4\n";
	struct remote_config rc = { .timeout_s = 1, .retries = 0 };
	struct remote_info info;
	struct store *st;
	struct catalog *c;
	char dir[] = "/tmp/hlsfs-test-catalog.XXXXXX", url[4096], why[256];

	CHECK(catalog_path_ok("a.mp4"));
	CHECK(catalog_path_ok("a/b/c.mov"));
	CHECK(!catalog_path_ok("a/../b.mp4"));
	CHECK(!catalog_path_ok("./b.mp4"));
	CHECK(!catalog_path_ok("/b.mp4"));
	CHECK(!catalog_path_ok("a//b.mp4"));
	CHECK(!catalog_path_ok("b.mp4/"));
	CHECK(!catalog_path_ok("b.txt"));
	CHECK(!catalog_path_ok(""));
	CHECK(!catalog_path_ok("a\x01.mp4"));

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(remote_init(&rc), 0);
	CHECK_EQ(store_open(dir, &st), 0);

	/* Nothing kept and nothing listening: no catalog, and a reason. */
	CHECK(catalog_open(BASE, st, 60, &c, why, sizeof(why)) < 0);
	CHECK(why[0] != '\0');

	CHECK_EQ(store_put_remote(st, "list:" BASE, (const uint8_t *)listing, strlen(listing)), 0);
	CHECK_EQ(catalog_open("http://127.0.0.1:1/base", st, 60, &c, why, sizeof(why)), 0);  /* '/' added */
	if (!c)
		return check_report("catalog");

	CHECK(!strcmp(list(c, ""), "caf\xc3\xa9.mp4|films|top.MOV|"));
	CHECK(!strcmp(list(c, "films"), "a b.mp4|b.mp4|c|c0.mp4|"));
	CHECK(!strcmp(list(c, "films/c"), "deep.m4v|"));
	CHECK(!strcmp(list(c, "nothing"), ""));

	CHECK_EQ(catalog_lookup(c, "", url, sizeof(url)), CATALOG_DIR);
	CHECK_EQ(catalog_lookup(c, "films", url, sizeof(url)), CATALOG_DIR);
	CHECK_EQ(catalog_lookup(c, "films/c", url, sizeof(url)), CATALOG_DIR);
	CHECK_EQ(catalog_lookup(c, "film", url, sizeof(url)), -ENOENT);
	CHECK_EQ(catalog_lookup(c, "films/c/deep", url, sizeof(url)), -ENOENT);
	CHECK_EQ(catalog_lookup(c, "etc/passwd.mp4", url, sizeof(url)), -ENOENT);
	CHECK_EQ(catalog_lookup(c, "notes.txt", url, sizeof(url)), -ENOENT);
	CHECK_EQ(catalog_lookup(c, "films/a b.mp4", url, sizeof(url)), CATALOG_VIDEO);
	CHECK(!strcmp(url, BASE "films/a%20b.mp4"));
	CHECK_EQ(catalog_lookup(c, "caf\xc3\xa9.mp4", url, sizeof(url)), CATALOG_VIDEO);
	CHECK(!strcmp(url, BASE "caf%C3%A9.mp4"));
	CHECK_EQ(catalog_lookup(c, "top.MOV", url, sizeof(url)), CATALOG_VIDEO);

	/* What remote.c says of URLs it is handed. */
	CHECK_EQ(remote_check_url("file:///etc/passwd", why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK(strstr(why, "file:") != NULL);
	CHECK_EQ(remote_check_url("gopher://host/x.mp4", why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK_EQ(remote_check_url("s3://bucket/x.mp4", why, sizeof(why)), -EPROTONOSUPPORT);  /* no S3 configured */
	CHECK_EQ(remote_check_url("videos/x.mp4", why, sizeof(why)), -EPROTONOSUPPORT);
	CHECK_EQ(remote_check_url("HTTPS://host/x.mp4", why, sizeof(why)), 0);
	remote_redact("https://user:secret@host:8443/a/b.mp4?X-Amz-Signature=abc", url, sizeof(url));
	CHECK(!strcmp(url, "https://host:8443/a/b.mp4?..."));
	CHECK(remote_probe("http://127.0.0.1:1/x.mp4", &info, true, why, sizeof(why)) == -EIO);

	catalog_close(c);
	store_close(st);
	remote_shutdown();
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK_EQ(system(cmd), 0);
	}
	return check_report("catalog");
}
