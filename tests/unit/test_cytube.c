/* CyTube manifests: https host names only, every URL percent-encoded, JSON escaped, quality
 * from CyTube's set. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cytube.h"

int main(void)
{
	char *t;
	size_t n;

	CHECK_EQ(cytube_check_base_url("https://video.example.org/hls"), 0);
	CHECK_EQ(cytube_check_base_url("https://video.example.org:8443/"), 0);
	const char *bad[] = { "http://video.example.org/", "https://", "https://1.2.3.4/", "https://[::1]/",
			      "https://user:pw@host.org/", "ftp://host.org/", "https://host.org/?a=1", "https://ho st/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(cytube_check_base_url(bad[i]), -EINVAL);

	CHECK_EQ(cytube_manifest("https://h.org/v/", "/a b/Café \"x\".mp4", NULL, 12345, 1088, &t, &n), 0);
	CHECK(strstr(t, "\"url\": \"https://h.org/v/a%20b/Caf%C3%A9%20%22x%22.mp4/master.m3u8\"") != NULL);
	CHECK(strstr(t, "\"title\": \"Café \\\"x\\\"\"") != NULL);
	CHECK(strstr(t, "\"duration\": 12.345") != NULL);
	CHECK(strstr(t, "\"quality\": 1080") != NULL);
	CHECK(strstr(t, "\"live\": false") != NULL);
	CHECK_EQ(strlen(t), n);
	free(t);
	CHECK_EQ(cytube_manifest("https://h.org", "x.mp4", "A\ttitle", 0, 100, &t, &n), 0);
	CHECK(strstr(t, "\"title\": \"A\\u0009title\"") != NULL);
	CHECK(strstr(t, "\"quality\": 240") != NULL);
	CHECK(strstr(t, "\"url\": \"https://h.org/x.mp4/master.m3u8\"") != NULL);
	free(t);
	return check_report("cytube");
}
