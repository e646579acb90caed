/* Growable buffer used by the text writers and the PES builder. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

uint8_t *strbuf_grow(struct strbuf *sb, size_t n)
{
	if (sb->failed)
		return NULL;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 256;
		char *p;
		while (cap < sb->len + n + 1) {
			if (cap > SIZE_MAX / 2) {
				sb->failed = true;
				return NULL;
			}
			cap *= 2;
		}
		p = realloc(sb->data, cap);
		if (!p) {
			sb->failed = true;
			return NULL;
		}
		sb->data = p;
		sb->cap = cap;
	}
	return (uint8_t *)sb->data + sb->len;
}

void strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
	uint8_t *dst = strbuf_grow(sb, n);
	if (!dst)
		return;
	memcpy(dst, p, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *dst;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	dst = (char *)strbuf_grow(sb, (size_t)n);
	if (!dst)
		return;
	va_start(ap, fmt);
	vsnprintf(dst, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *strbuf_steal(struct strbuf *sb, size_t *len)
{
	char *p = NULL;
	if (!sb->failed && strbuf_grow(sb, 0)) {
		sb->data[sb->len] = '\0';
		p = sb->data;
		if (len)
			*len = sb->len;
		sb->data = NULL;
	}
	strbuf_release(sb);
	return p;
}

void strbuf_release(struct strbuf *sb)
{
	free(sb->data);
	strbuf_init(sb);
}
