/* Names round-trip, and only the canonical spelling of each name is accepted. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "naming.h"

int main(void)
{
	struct naming_inner in;
	char name[NAMING_MAX], path[2 * NAMING_MAX];

	CHECK(naming_is_video("a.mp4"));
	CHECK(naming_is_video("Talk.MOV"));
	CHECK(naming_is_video("x.m4v"));
	CHECK(!naming_is_video(".mp4"));
	CHECK(!naming_is_video("notes.txt"));
	CHECK(!naming_is_video("a.mp4.url"));
	{
		const char *want[] = { ".mkv", ".webm", ".ts", ".m2ts", ".mts", ".avi", ".mpg", ".mpeg", ".flv",
				       ".3gp", ".3g2", ".ogv", ".wmv", ".mp4", ".m4v", ".mov", ".vob", ".asf" };
		char n[32];
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			snprintf(n, sizeof(n), "talk%s", want[i]);
			CHECK(naming_is_video(n));
			for (char *c = n; *c; c++)
				*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
			CHECK(naming_is_video(n));
			snprintf(n, sizeof(n), "talk%s.url", want[i]);
			CHECK(!naming_is_video(n));
			CHECK(!naming_is_video(want[i]));
		}
	}
	CHECK(!naming_is_video("a.mkv.part"));
	CHECK(!naming_is_video("seg.tsx"));
	CHECK(!naming_is_video("a.srt"));

	{
		struct source_identity a = { .size = 1000, .mtime_ns = 5, .ino = 7, .dev = 9 }, b = a;
		char va[NAMING_VERSION_LEN + 1], vb[NAMING_VERSION_LEN + 1];
		naming_version(&a, "cfg", va);
		CHECK_EQ(strlen(va), NAMING_VERSION_LEN);
		b.ino = 8;
		b.dev = 10;
		naming_version(&b, "cfg", vb);
		CHECK(!strcmp(va, vb));  /* another node's inode and device: the same version */
		b.mtime_ns = 6;
		naming_version(&b, "cfg", vb);
		CHECK(strcmp(va, vb));   /* a replaced source */
		naming_version(&a, "cfg2", vb);
		CHECK(strcmp(va, vb));   /* another configuration */
		b = a;
		b.size = 1001;
		naming_version(&b, "cfg", vb);
		CHECK(strcmp(va, vb));
		b = a;
		b.tag = 1;
		naming_version(&b, "cfg", vb);
		CHECK(strcmp(va, vb));
	}
	naming_segment(42, "0123abcd", name);
	CHECK(!strcmp(name, "seg-00042-0123abcd.ts"));
	for (uint32_t n = 0; n < 200000; n += 997) {
		naming_segment(n, "0123abcd", name);
		snprintf(path, sizeof(path), "720p/%s", name);
		CHECK_EQ(naming_parse_inner(path, &in), 0);
		CHECK_EQ(in.kind, NAMING_SEGMENT_FILE);
		CHECK_EQ(in.segment, n);
		CHECK(!strcmp(in.variant, "720p"));
		CHECK(!strcmp(in.version, "0123abcd"));
	}
	naming_segment(4294967295u, "ffffffff", name);
	snprintf(path, sizeof(path), "1p/%s", name);
	CHECK_EQ(naming_parse_inner(path, &in), 0);
	CHECK_EQ(in.segment, 4294967295u);

	CHECK_EQ(naming_parse_inner("", &in), 0);
	CHECK_EQ(in.kind, NAMING_VIDEO_DIR);
	CHECK_EQ(naming_parse_inner("master.m3u8", &in), 0);
	CHECK_EQ(in.kind, NAMING_MASTER_FILE);
	CHECK_EQ(naming_parse_inner("error.txt", &in), 0);
	CHECK_EQ(in.kind, NAMING_ERROR_FILE);
	CHECK_EQ(naming_parse_inner("1080p", &in), 0);
	CHECK_EQ(in.kind, NAMING_VARIANT_DIR);
	CHECK_EQ(naming_parse_inner("1080p/index.m3u8", &in), 0);
	CHECK_EQ(in.kind, NAMING_PLAYLIST_FILE);
	CHECK_EQ(naming_parse_inner("1080p/iframes.m3u8", &in), 0);
	CHECK_EQ(in.kind, NAMING_IFRAMES_FILE);
	CHECK(naming_parse_inner("1080p/iframes.M3U8", &in) < 0);

	const char *bad[] = { "720p/seg-7-0123abcd.ts", "720p/seg-000007-0123abcd.ts", "720p/seg-00007-0123ABCD.ts",
			      "720p/seg-00007-0123abc.ts", "720p/seg-00007-0123abcde.ts", "720p/seg-00007-0123abcg.ts",
			      "720p/seg-00007.0123abcd.ts", "720p/seg-00007-0123abcd.TS", "720p/seg-00007.ts",
			      "720p/seg-0123abcd.ts", "720p/seg--0123abcd.ts", "720p/seg-7.ts", "720p/seg-000007.ts", "720p/seg-00007.TS", "0720p/index.m3u8",
			      "p/index.m3u8", "720/index.m3u8", "720p/", "720p/seg-4294967296.ts",
			      "720p/seg-99999999999999999999.ts", "720p/seg--0001.ts", "master.m3u8/x",
			      "720p/index.m3u8/x", "..", "720p/../master.m3u8" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(naming_parse_inner(bad[i], &in), -ENOENT);
		CHECK_EQ(in.kind, NAMING_NONE);
	}
	return check_report("naming");
}
