/* CyTube manifest writer: JSON text escaped by hand (it is small and its shape fixed), URLs
 * percent-encoded per path component so any file name makes a valid URL. */
#include "cytube.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "naming.h"
#include "strbuf.h"

int cytube_check_base_url(const char *url)
{
	const char *host, *end;
	size_t n;
	bool all_digits = true;

	if (strncasecmp(url, "https://", 8))
		return -EINVAL;
	host = url + 8;
	end = host + strcspn(host, "/?#");
	n = (size_t)(end - host);
	if (n == 0 || *host == '[' || memchr(host, '@', n))
		return -EINVAL;
	for (const char *p = host; p < end; p++) {
		if (*p == ':')  /* a port: the host is what comes before it */
			break;
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			all_digits = false;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-'))
			return -EINVAL;
	}
	if (all_digits)
		return -EINVAL;  /* an IPv4 literal: CyTube wants a host name */
	if (strpbrk(url, "?# \t\r\n\"\\"))
		return -EINVAL;  /* paths are appended to it: no query, fragment or odd bytes */
	return 0;
}

static void json_string(struct strbuf *sb, const char *s, size_t n)
{
	strbuf_add(sb, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			strbuf_printf(sb, "\\%c", c);
		else if (c < 0x20)
			strbuf_printf(sb, "\\u%04x", c);
		else
			strbuf_add(sb, &s[i], 1);
	}
	strbuf_add(sb, "\"", 1);
}

static void url_path(struct strbuf *sb, const char *p)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || c == '/') {
			strbuf_add(sb, p, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			strbuf_add(sb, e, 3);
		}
	}
}

static unsigned quality(unsigned height)
{
	static const unsigned q[] = { 2160, 1440, 1080, 720, 540, 480, 360, 240 };
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		if (height >= q[i])
			return q[i];
	return 240;
}

int cytube_manifest(const char *base_url, const char *rel_path, const char *title, unsigned long long duration_ms,
		    unsigned top_height, char **text, size_t *len)
{
	return cytube_manifest_full(base_url, rel_path, title, duration_ms, top_height, false, NULL, 0, text, len);
}

/* base_url/rel_path/file as a JSON string. */
static void json_url(struct strbuf *sb, const char *base_url, size_t blen, const char *rel_path, const char *file)
{
	strbuf_add(sb, "\"", 1);
	strbuf_add(sb, base_url, blen);
	strbuf_add(sb, "/", 1);
	url_path(sb, rel_path);
	strbuf_add(sb, "/", 1);
	url_path(sb, file);
	strbuf_add(sb, "\"", 1);
}

int cytube_manifest_full(const char *base_url, const char *rel_path, const char *title, unsigned long long duration_ms,
			 unsigned top_height, bool poster, const struct cytube_text_track *tracks, unsigned n, char **text,
			 size_t *len)
{
	struct strbuf sb;
	size_t blen = strlen(base_url);

	while (blen && base_url[blen - 1] == '/')
		blen--;
	while (*rel_path == '/')
		rel_path++;
	strbuf_init(&sb);
	strbuf_printf(&sb, "{\n  \"title\": ");
	if (title && *title) {
		json_string(&sb, title, strlen(title));
	} else {
		const char *base = strrchr(rel_path, '/'), *dot;
		base = base ? base + 1 : rel_path;
		dot = strrchr(base, '.');
		json_string(&sb, base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
	}
	strbuf_printf(&sb, ",\n  \"duration\": %llu.%03llu,\n  \"live\": false,\n  \"sources\": [\n    {\n      \"url\": \"",
		      duration_ms / 1000, duration_ms % 1000);
	strbuf_add(&sb, base_url, blen);
	strbuf_add(&sb, "/", 1);
	url_path(&sb, rel_path);
	strbuf_printf(&sb, "/" NAMING_MASTER "\",\n      \"contentType\": \"application/x-mpegURL\",\n"
			   "      \"quality\": %u\n    }\n  ]", quality(top_height));
	if (poster) {
		strbuf_printf(&sb, ",\n  \"thumbnail\": ");
		json_url(&sb, base_url, blen, rel_path, NAMING_POSTER);
	}
	if (n) {
		strbuf_printf(&sb, ",\n  \"textTracks\": [");
		for (unsigned k = 0; k < n; k++) {
			strbuf_printf(&sb, "%s\n    {\n      \"url\": ", k ? "," : "");
			json_url(&sb, base_url, blen, rel_path, tracks[k].path);
			strbuf_printf(&sb, ",\n      \"contentType\": \"text/vtt\",\n      \"name\": ");
			json_string(&sb, tracks[k].name, strlen(tracks[k].name));
			strbuf_printf(&sb, "\n    }");
		}
		strbuf_printf(&sb, "\n  ]");
	}
	strbuf_printf(&sb, "\n}\n");
	*text = strbuf_steal(&sb, len);
	return *text ? 0 : -ENOMEM;
}
