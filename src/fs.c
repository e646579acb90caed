/* FUSE operations over the source tree. A path walks the source folders until it reaches a
 * video file; below that, naming decides what the rest means and media answers it. getattr
 * answers from the plan (never by generating bytes); read answers from synth. */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "catalog.h"
#include "log.h"
#include "media.h"
#include "naming.h"
#include "segment.h"
#include "shared_store.h"
#include "source.h"
#include "stats.h"
#include "store.h"

enum node_kind {
	NODE_DIR,     /* a folder of the source tree */
	NODE_VIDEO,   /* below a video file: inner says what */
	NODE_CONTROL, /* /.hlsfs, hidden from the root listing */
	NODE_STATS,   /* /.hlsfs/stats */
};

#define CONTROL_DIR "/.hlsfs"
#define STATS_FILE "/.hlsfs/stats"

struct node {
	enum node_kind kind;
	char src[PATH_MAX];
	struct stat st;           /* of the source folder or video file */
	struct naming_inner inner;
};

/* Lock order in hlsfs. Every chain of locks starts in a handler of this file; a lock may be taken
 * while holding only locks above it in this list, never one below it while holding it:
 *   synth.c     an open remux's lock, held while it reads the source (the remote and cache
 *               locks below, through source_pread)
 *   transcode.c a job's frame queue lock (a leaf: nothing is called while it is held)
 *   thumbs.c    one video's preview lock, held while its sheets are made (reading the source, writing
 *               the cache)
 *   catalog.c   a remote listing's lock, held while it keeps the listing in the store
 *   cache.c     C.space, then C.lock (the leaf of the cache), with LMDB's own locks under them
 * Leaves, each held only around its own data and calling out to nothing that locks: open_lock
 * below, media.c's registry lock, segment.c's queue lock, source.c's known, failed and prefetch
 * locks, remote.c's pool and share locks, subtitle.c's folder list lock, and every flight set's lock
 * (flight.h). Waiting for a flight, a worker slot or a frame releases the waiter's lock. stats.c
 * uses atomics only. */
/* Every open file, so that those still open when the filesystem goes away (a lazy unmount
 * with reads in flight: libfuse never calls release for them) are freed at destroy. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *open_files;

struct open_file {
	struct open_file *prev, *next;
	const char *text;         /* playlist or error.txt (owned by media), or stats */
	size_t text_len;
	struct media *m;          /* held for text files */
	char *owned;              /* text we made for this open (stats) */
	struct segment_file seg; /* segments: a cache file or direct synthesis */
	bool is_segment;
	char *grow_src;           /* a text of a recording being written: its source, and which */
	struct naming_inner grow_inner;
	pthread_mutex_t grow_lock; /* held while its text is read or moved on (grow_read) */
};

static struct fs_ctx *ctx(void)
{
	return fuse_get_context()->private_data;
}

/* stat of a source entry; a symlink counts only when it resolves inside the source root. */
static int stat_inside(const char *path, struct stat *st)
{
	char real[PATH_MAX];
	struct fs_ctx *c = ctx();

	if (lstat(path, st) < 0)
		return -errno;
	if (!S_ISLNK(st->st_mode))
		return 0;
	if (!realpath(path, real))
		return -ENOENT;
	if (strncmp(real, c->root, c->root_len) || (real[c->root_len] != '/' && real[c->root_len] != '\0'))
		return -ENOENT;  /* points outside the tree: not followed */
	return stat(real, st) < 0 ? -errno : 0;
}

/* resolve() for a remote base: the catalog says what each prefix of path is. */
static int resolve_remote(const char *path, struct node *n)
{
	struct fs_ctx *c = ctx();
	char rel[PATH_MAX];
	const char *p = path;
	size_t len = 0;

	n->st = c->remote_st;
	n->kind = NODE_DIR;
	while (*p == '/')
		p++;
	rel[0] = '\0';
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t clen = (size_t)(end - p);
		int kind;

		if (len + 1 + clen >= sizeof(rel))
			return -ENAMETOOLONG;
		if (len)
			rel[len++] = '/';
		memcpy(rel + len, p, clen);
		len += clen;
		rel[len] = '\0';
		kind = catalog_lookup(c->catalog, rel, n->src, sizeof(n->src));
		if (kind == CATALOG_VIDEO) {
			n->kind = NODE_VIDEO;
			while (*end == '/')
				end++;
			return naming_parse_inner(end, &n->inner);
		}
		if (kind != CATALOG_DIR)
			return kind < 0 ? kind : -ENOENT;
		p = end;
		while (*p == '/')
			p++;
	}
	snprintf(n->src, sizeof(n->src), "%s", rel);
	return 0;
}

static int resolve(const char *path, struct node *n)
{
	struct fs_ctx *c = ctx();
	const char *p = path;
	size_t len = c->root_len;
	int ret;

	memset(n, 0, sizeof(*n));
	if (!strcmp(path, CONTROL_DIR) || !strcmp(path, STATS_FILE)) {
		n->kind = strcmp(path, CONTROL_DIR) ? NODE_STATS : NODE_CONTROL;
		if (c->catalog) {
			n->st = c->remote_st;
			return 0;
		}
		return stat(c->root, &n->st) < 0 ? -errno : 0;
	}
	if (c->catalog)
		return resolve_remote(path, n);
	memcpy(n->src, c->root, len + 1);
	if ((ret = stat_inside(n->src, &n->st)) < 0)
		return ret;
	n->kind = NODE_DIR;
	while (*p == '/')
		p++;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t clen = (size_t)(end - p);

		if ((clen == 1 && p[0] == '.') || (clen == 2 && p[0] == '.' && p[1] == '.'))
			return -ENOENT;
		if (len + 1 + clen >= sizeof(n->src))
			return -ENAMETOOLONG;
		n->src[len++] = '/';
		memcpy(n->src + len, p, clen);
		len += clen;
		n->src[len] = '\0';
		if ((ret = stat_inside(n->src, &n->st)) == -ENOENT && naming_is_video(n->src + len - clen) &&
		    len + sizeof(SOURCE_LINK_SUFFIX) <= sizeof(n->src)) {
			/* NAME.mp4 may be a link file NAME.mp4.url naming a remote video. */
			memcpy(n->src + len, SOURCE_LINK_SUFFIX, sizeof(SOURCE_LINK_SUFFIX));
			if (stat_inside(n->src, &n->st) == 0 && S_ISREG(n->st.st_mode)) {
				n->kind = NODE_VIDEO;
				while (*end == '/')
					end++;
				return naming_parse_inner(end, &n->inner);
			}
			n->src[len] = '\0';
		}
		if (ret < 0)
			return ret;
		if (S_ISREG(n->st.st_mode) && naming_is_video(n->src + len - clen)) {
			n->kind = NODE_VIDEO;
			while (*end == '/')
				end++;
			return naming_parse_inner(end, &n->inner);
		}
		if (!S_ISDIR(n->st.st_mode))
			return -ENOENT;
		p = end;
		while (*p == '/')
			p++;
	}
	return 0;
}

static void fill_dir(struct stat *st, const struct stat *src)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = src->st_uid;
	st->st_gid = src->st_gid;
	st->st_atim = st->st_mtim = src->st_mtim;
	st->st_ctim = src->st_mtim;
}

static void fill_file(struct stat *st, const struct stat *src, uint64_t size)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = src->st_uid;
	st->st_gid = src->st_gid;
	st->st_size = (off_t)size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_atim = st->st_mtim = src->st_mtim;
	st->st_ctim = src->st_mtim;
}

/* The folders below a video folder besides the variants: subtitles and previews. */
static bool extra_is_dir(enum naming_kind k)
{
	return k == NAMING_SUBS_DIR || k == NAMING_SUBTITLES_DIR || k == NAMING_THUMBS_DIR;
}

/* The text of a subtitle file (rendition playlist, WebVTT segment, whole track): held by the
 * media, made at index time. Returns 0, or -ENOENT. Directories give "" when they exist. */
static int extra_text(const struct media *m, const struct naming_inner *in, const char **text, size_t *len)
{
	const struct webvtt_rendition *r = NULL;

	*text = "";
	*len = 0;
	if (in->kind == NAMING_SUBTITLES_DIR)
		return m->nb_subs ? 0 : -ENOENT;
	if (in->kind == NAMING_THUMBS_DIR || in->kind == NAMING_THUMBS_VTT_FILE || in->kind == NAMING_SPRITE_FILE) {
		if (!m->thumbs || (in->kind == NAMING_SPRITE_FILE && in->segment >= thumbs_sheets(m->thumbs)))
			return -ENOENT;
		if (in->kind == NAMING_THUMBS_VTT_FILE)
			thumbs_vtt(m->thumbs, text, len);
		return 0;
	}
	if (in->kind == NAMING_SUBS_DIR || in->kind == NAMING_SUBS_PLAYLIST || in->kind == NAMING_SUBS_SEGMENT ||
	    in->kind == NAMING_SUBTITLES_FILE)
		r = media_subtitle(m, in->variant);
	if (!r)
		return -ENOENT;
	switch (in->kind) {
	case NAMING_SUBS_DIR:
		return strcmp(r->folder, in->variant) ? -ENOENT : 0;
	case NAMING_SUBS_PLAYLIST:
		*text = r->playlist;
		*len = r->playlist_len;
		return strcmp(r->folder, in->variant) ? -ENOENT : 0;
	case NAMING_SUBS_SEGMENT:
		if (in->segment >= m->plan->nb_segments || strcmp(r->folder, in->variant))
			return -ENOENT;
		*text = r->segs + r->seg_off[in->segment];
		*len = (size_t)(r->seg_off[in->segment + 1] - r->seg_off[in->segment]);
		return 0;
	case NAMING_SUBTITLES_FILE:
		*text = r->whole;
		*len = r->whole_len;
		return strcmp(r->file, in->variant) ? -ENOENT : 0;
	default:
		return -ENOENT;
	}
}

/* Size of the file a video-inner node names, or a negative errno; directories give 0. */
static int64_t inner_size(struct media *m, const struct naming_inner *in)
{
	int v;

	if (m->error)
		return in->kind == NAMING_ERROR_FILE ? (int64_t)m->error_len : -ENOENT;
	if (in->kind == NAMING_MASTER_FILE)
		return (int64_t)m->master_len;
	if (in->kind == NAMING_CYTUBE_FILE)
		return m->cytube ? (int64_t)m->cytube_len : -ENOENT;
	if (in->kind == NAMING_POSTER_FILE) {
		const uint8_t *jpeg;
		size_t size;
		int ret = media_poster(m, &jpeg, &size);
		return ret < 0 ? ret : (int64_t)size;
	}
	if (in->kind >= NAMING_SUBS_DIR) {
		const char *text;
		size_t len;
		uint64_t size;
		int ret = extra_text(m, in, &text, &len);
		if (ret == 0 && in->kind == NAMING_SPRITE_FILE) {
			/* Made on the first stat of a sheet (thumbs.h), never for a listing. */
			ret = thumbs_size(m->thumbs, in->segment, &size);
			return ret < 0 ? ret : (int64_t)size;
		}
		return ret < 0 ? ret : (int64_t)len;
	}
	if (in->kind == NAMING_ERROR_FILE || (v = media_variant(m, in->variant)) < 0)
		return -ENOENT;
	if (in->kind == NAMING_VARIANT_DIR)
		return 0;
	if (in->kind == NAMING_PLAYLIST_FILE)
		return (int64_t)m->playlist_len;
	if (in->kind == NAMING_IFRAMES_FILE)
		return m->iframes && v == 0 ? (int64_t)m->iframes_len : -ENOENT;  /* variant 0: the passthrough */
	/* A segment name of another version (a replaced source, another configuration) is no file. */
	if (in->kind == NAMING_SEGMENT_FILE && in->segment < m->plan->nb_segments && !strcmp(in->version, m->version))
		return (int64_t)plan_variant_size(m->plan, (unsigned)v, in->segment);
	return -ENOENT;
}

/* Playlists of a recording being written (media.h: growing) change as it grows. An open one holds
 * the version it got, as every file but a segment does (fs_open). Two files opened at once may
 * still see one another's size (the kernel keeps one size per file name): versions only grow at
 * their end, so a smaller size cuts a newer version exactly where an older one ends, and bytes past
 * a version's end are read from the newest when it begins with it (grow_read). */
static bool grow_text(const struct media *m, const struct naming_inner *in)
{
	/* A recording that ended in this mount too: its last growing version may still be known. */
	if (!m->growing && !identity_growing(&m->name_id))
		return false;
	switch (in->kind) {
	case NAMING_MASTER_FILE:
	case NAMING_PLAYLIST_FILE:
	case NAMING_IFRAMES_FILE:
	case NAMING_CYTUBE_FILE:
	case NAMING_POSTER_FILE:
	case NAMING_ERROR_FILE:
		return true;
	default:
		return false;  /* segments, folders, and what only a finished recording has (subtitles, previews) */
	}
}

/* Drops the kernel's attributes and pages of path: the next stat of it asks again. */
static void forget_attrs(const char *path)
{
	struct fuse_context *fc = fuse_get_context();
	if (path && fc && fc->fuse)
		fuse_invalidate_path(fc->fuse, path);
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct open_file *gof = fi && fi->fh ? (struct open_file *)(uintptr_t)fi->fh : NULL;
	struct node n;
	struct media *m;
	int64_t size;
	int ret;

	if ((ret = resolve(path, &n)) < 0)
		return ret;
	if (n.kind == NODE_STATS) {
		char *text;
		size_t len;
		if (gof) {
			fill_file(st, &n.st, gof->text_len);  /* an open one: the text it holds */
			return 0;
		}
		if (stats_render(ctx()->store ? store_count_media(ctx()->store) : 0, &text, &len) < 0)
			return -ENOMEM;
		free(text);
		fill_file(st, &n.st, len);
		return 0;
	}
	if (n.kind == NODE_DIR || n.kind == NODE_CONTROL || n.inner.kind == NAMING_VIDEO_DIR) {
		fill_dir(st, &n.st);
		return 0;
	}
	if (gof && gof->m) {
		/* A file opened on a version (fs_open) is answered with that version, not the newest. */
		m = gof->m;
		if (gof->is_segment) {
			size = (int64_t)gof->seg.size;
		} else if (gof->grow_src) {
			pthread_mutex_lock(&gof->grow_lock);
			size = (int64_t)gof->text_len;
			pthread_mutex_unlock(&gof->grow_lock);
		} else {
			size = (int64_t)gof->text_len;
		}
	} else {
		if ((ret = media_get(n.src, &m)) < 0)
			return ret;
		size = inner_size(m, &n.inner);
	}
	/* A remote's files change when it does: their time is the archive's. */
	if (m->id.tag && m->id.mtime_ns) {
		n.st.st_mtim.tv_sec = (time_t)(m->id.mtime_ns / 1000000000);
		n.st.st_mtim.tv_nsec = (long)(m->id.mtime_ns % 1000000000);
	}
	/* Last-Modified counts whole seconds: the nanoseconds carry the version, so that a web
	 * server's ETag of a playlist changes with its segment names. */
	if (m->id.tag && !m->error)
		n.st.st_mtim.tv_nsec = (long)(strtoul(m->version, NULL, 16) % 1000000000);
	if (!(gof && gof->m))
		media_put(m);
	if (size < 0)
		return (int)size;
	if (n.inner.kind == NAMING_VARIANT_DIR || extra_is_dir(n.inner.kind))
		fill_dir(st, &n.st);
	else
		fill_file(st, &n.st, (uint64_t)size);
	return 0;
}

static int list_source_dir(const char *src, bool is_root, void *buf, fuse_fill_dir_t filler)
{
	DIR *d = opendir(src);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (is_root && !strcmp(de->d_name, CONTROL_DIR + 1)))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", src, de->d_name) >= sizeof(path))
			continue;
		if (stat_inside(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && naming_is_video(de->d_name))) {
			filler(buf, de->d_name, NULL, 0, 0);
		} else if (S_ISREG(st.st_mode) && source_is_link(de->d_name)) {
			/* A link file is shown as the video it names, unless that video is here too. */
			struct stat real;
			size_t n = strlen(path) - strlen(SOURCE_LINK_SUFFIX);
			path[n] = '\0';
			if (naming_is_video(path + strlen(src) + 1) &&
			    stat_inside(path, &real) == -ENOENT)
				filler(buf, path + strlen(src) + 1, NULL, 0, 0);
		}
	}
	closedir(d);
	return 0;
}

struct list_arg {
	void *buf;
	fuse_fill_dir_t filler;
};

static void list_one(const char *name, void *arg)
{
	struct list_arg *la = arg;
	la->filler(la->buf, name, NULL, 0, 0);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct node n;
	struct media *m;
	int ret;

	(void)off;
	(void)fi;
	(void)flags;
	if ((ret = resolve(path, &n)) < 0)
		return ret;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	if (n.kind == NODE_CONTROL) {
		filler(buf, STATS_FILE + sizeof(CONTROL_DIR), NULL, 0, 0);
		return 0;
	}
	if (n.kind == NODE_STATS)
		return -ENOTDIR;
	if (n.kind == NODE_DIR && ctx()->catalog) {
		struct list_arg la = { buf, filler };
		return catalog_list(ctx()->catalog, n.src, list_one, &la);
	}
	if (n.kind == NODE_DIR)
		return list_source_dir(n.src, !strcmp(path, "/"), buf, filler);
	if (n.inner.kind != NAMING_VIDEO_DIR && n.inner.kind != NAMING_VARIANT_DIR && !extra_is_dir(n.inner.kind))
		return -ENOTDIR;
	if ((ret = media_get(n.src, &m)) < 0)
		return ret;
	if (n.inner.kind == NAMING_VIDEO_DIR) {
		if (m->error) {
			filler(buf, NAMING_ERROR, NULL, 0, 0);
		} else {
			filler(buf, NAMING_MASTER, NULL, 0, 0);
			if (m->cytube)
				filler(buf, NAMING_CYTUBE, NULL, 0, 0);
			if (media_has_poster(m))
				filler(buf, NAMING_POSTER, NULL, 0, 0);
			for (unsigned v = 0; v < m->nb_variants; v++)
				filler(buf, m->variants[v], NULL, 0, 0);
			for (unsigned k = 0; k < m->nb_subs; k++)
				filler(buf, m->subs[k].folder, NULL, 0, 0);
			if (m->nb_subs)
				filler(buf, NAMING_SUBTITLES, NULL, 0, 0);
			if (m->thumbs)
				filler(buf, NAMING_THUMBS, NULL, 0, 0);
		}
	} else if (extra_is_dir(n.inner.kind)) {
		const char *text;
		size_t len;
		char name[NAMING_MAX];
		if (m->error || extra_text(m, &n.inner, &text, &len) < 0)
			ret = -ENOENT;
		else if (n.inner.kind == NAMING_SUBTITLES_DIR)
			for (unsigned k = 0; k < m->nb_subs; k++)
				filler(buf, m->subs[k].file, NULL, 0, 0);
		else if (n.inner.kind == NAMING_THUMBS_DIR) {
			filler(buf, NAMING_THUMBS_VTT, NULL, 0, 0);
			for (uint32_t i = 0; i < thumbs_sheets(m->thumbs); i++) {
				naming_sprite(i, name);
				filler(buf, name, NULL, 0, 0);
			}
		} else if (n.inner.kind == NAMING_SUBS_DIR) {
			filler(buf, NAMING_PLAYLIST, NULL, 0, 0);
			for (uint32_t i = 0; i < m->plan->nb_segments; i++) {
				naming_subtitle_segment(i, name);
				filler(buf, name, NULL, 0, 0);
			}
		}
	} else if (m->error || media_variant(m, n.inner.variant) < 0) {
		ret = -ENOENT;
	} else {
		char name[NAMING_MAX];
		int v = media_variant(m, n.inner.variant);
		filler(buf, NAMING_PLAYLIST, NULL, 0, 0);
		if (m->iframes && v == 0)  /* the passthrough */
			filler(buf, NAMING_IFRAMES, NULL, 0, 0);
		for (uint32_t i = 0; i < m->plan->nb_segments; i++) {
			naming_segment(i, m->version, name);
			filler(buf, name, NULL, 0, 0);
		}
	}
	media_put(m);
	return ret;
}

static void track_open(struct open_file *of)
{
	pthread_mutex_lock(&open_lock);
	of->next = open_files;
	if (open_files)
		open_files->prev = of;
	open_files = of;
	pthread_mutex_unlock(&open_lock);
}

static void open_file_free(struct open_file *of)
{
	pthread_mutex_lock(&open_lock);
	if (of->prev)
		of->prev->next = of->next;
	else
		open_files = of->next;
	if (of->next)
		of->next->prev = of->prev;
	pthread_mutex_unlock(&open_lock);
	if (of->is_segment)
		segment_close(&of->seg);
	media_put(of->m);
	free(of->owned);
	if (of->grow_src)
		pthread_mutex_destroy(&of->grow_lock);
	free(of->grow_src);
	free(of);
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of;
	struct node n;
	struct media *m;
	int64_t size;
	int ret;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	if ((ret = resolve(path, &n)) < 0)
		return ret;
	if (n.kind == NODE_STATS) {
		if (!(of = calloc(1, sizeof(*of))))
			return -ENOMEM;
		if (stats_render(ctx()->store ? store_count_media(ctx()->store) : 0, &of->owned, &of->text_len) < 0) {
			free(of);
			return -ENOMEM;
		}
		of->text = of->owned;
		track_open(of);
		fi->fh = (uint64_t)(uintptr_t)of;
		fi->direct_io = 1;  /* its size changes between stat and read */
		return 0;
	}
	if (n.kind != NODE_VIDEO || n.inner.kind == NAMING_VIDEO_DIR || n.inner.kind == NAMING_VARIANT_DIR ||
	    extra_is_dir(n.inner.kind))
		return -EISDIR;
	if ((ret = media_get(n.src, &m)) < 0)
		return ret;
	if ((size = inner_size(m, &n.inner)) < 0) {
		media_put(m);
		return (int)size;
	}
	if (!(of = calloc(1, sizeof(*of)))) {
		media_put(m);
		return -ENOMEM;
	}
	switch (n.inner.kind) {
	case NAMING_SEGMENT_FILE:
		if ((ret = segment_open(m, (unsigned)media_variant(m, n.inner.variant), n.inner.segment,
					      &of->seg)) < 0) {
			free(of);
			return ret;
		}
		of->is_segment = true;
		break;  /* the cache took the media reference */
	case NAMING_MASTER_FILE:
		of->text = m->master;
		of->text_len = m->master_len;
		of->m = m;
		break;
	case NAMING_PLAYLIST_FILE:
		of->text = m->playlist;
		of->text_len = m->playlist_len;
		of->m = m;
		segment_prepare_start(m, (unsigned)media_variant(m, n.inner.variant));
		break;
	case NAMING_IFRAMES_FILE:
		of->text = m->iframes;
		of->text_len = m->iframes_len;
		of->m = m;
		break;
	case NAMING_CYTUBE_FILE:
		of->text = m->cytube;
		of->text_len = m->cytube_len;
		of->m = m;
		break;
	case NAMING_POSTER_FILE: {
		const uint8_t *jpeg;
		if ((ret = media_poster(m, &jpeg, &of->text_len)) < 0) {
			media_put(m);
			free(of);
			return ret;
		}
		of->text = (const char *)jpeg;
		of->m = m;
		break;
	}
	case NAMING_SPRITE_FILE:
		if ((ret = thumbs_open(m->thumbs, n.inner.segment, &of->seg.fd, &of->seg.mem, &of->seg.size)) < 0) {
			media_put(m);
			free(of);
			return ret;
		}
		of->is_segment = true;  /* read from the cache file or the copy, as a segment is */
		of->m = m;
		break;
	case NAMING_SUBS_PLAYLIST:
	case NAMING_SUBS_SEGMENT:
	case NAMING_SUBTITLES_FILE:
	case NAMING_THUMBS_VTT_FILE:
		extra_text(m, &n.inner, &of->text, &of->text_len);  /* inner_size checked it */
		of->m = m;
		break;
	default:
		of->text = m->error_text;
		of->text_len = m->error_len;
		of->m = m;
		break;
	}
	if (of->m && grow_text(of->m, &n.inner) && (of->grow_src = strdup(n.src))) {
		of->grow_inner = n.inner;
		pthread_mutex_init(&of->grow_lock, NULL);
	}
	track_open(of);
	fi->fh = (uint64_t)(uintptr_t)of;
	if (n.inner.kind == NAMING_SEGMENT_FILE) {
		/* A segment's name carries its version: its bytes never change, so the kernel keeps
		 * its pages from one open to the next. */
		fi->keep_cache = 1;
	} else {
		/* Every other file keeps its name when its source is replaced (or grows). An open one
		 * holds the version it got and is read past the page cache, so that no page of another
		 * version reaches it; its attributes are dropped from the kernel here, so that the
		 * fstat or lseek that follows asks again and gets that version's size (fs_getattr). */
		fi->direct_io = 1;
		fi->keep_cache = 0;
		forget_attrs(path);
	}
	return 0;
}

/* Bytes past the end of the version an open playlist of a recording holds: from the newest
 * version when it begins with the one held (then the open file moves on to it), else none. */
static size_t grow_read(struct open_file *of, char *buf, size_t size, uint64_t off)
{
	struct media *m;
	const char *text = NULL;
	size_t len = 0;

	if (media_get(of->grow_src, &m) < 0)
		return 0;
	switch (of->grow_inner.kind) {
	case NAMING_MASTER_FILE: text = m->master, len = m->master_len; break;
	case NAMING_PLAYLIST_FILE: text = m->playlist, len = m->playlist_len; break;
	case NAMING_IFRAMES_FILE: text = m->iframes, len = m->iframes_len; break;
	default: break;
	}
	if (!text || m->error || len <= of->text_len || memcmp(text, of->text, of->text_len)) {
		media_put(m);
		return 0;
	}
	media_put(of->m);
	of->m = m;
	of->text = text;
	of->text_len = len;
	if (off >= len)
		return 0;
	if (size > len - off)
		size = (size_t)(len - off);
	memcpy(buf, text + off, size);
	return size;
}

/* Segments served from a cache file are answered with the descriptor itself (libfuse reads it
 * into the reply); everything else is copied from memory. */
static int fs_read_buf(const char *path, struct fuse_bufvec **bufp, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec *bv;
	ssize_t n;

	(void)path;
	if (off < 0)
		return -EINVAL;
	if (of->is_segment && of->seg.fd >= 0) {
		if ((uint64_t)off >= of->seg.size)
			size = 0;
		else if (size > of->seg.size - (uint64_t)off)
			size = (size_t)(of->seg.size - (uint64_t)off);
		if (!(bv = malloc(sizeof(*bv))))
			return -ENOMEM;
		*bv = FUSE_BUFVEC_INIT(size);
		bv->buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv->buf[0].fd = of->seg.fd;
		bv->buf[0].pos = off;
		stats_add(STATS_BYTES_SERVED, size);
		*bufp = bv;
		return 0;
	}
	/* libfuse frees the vector and, separately, each memory buffer in it. */
	if (!(bv = malloc(sizeof(*bv))))
		return -ENOMEM;
	*bv = FUSE_BUFVEC_INIT(0);
	if (!(bv->buf[0].mem = malloc(size ? size : 1))) {
		free(bv);
		return -ENOMEM;
	}
	if (of->is_segment) {
		n = segment_read(&of->seg, bv->buf[0].mem, size, (uint64_t)off);
		if (n < 0) {
			free(bv->buf[0].mem);
			free(bv);
			return (int)n;
		}
		stats_add(STATS_BYTES_SERVED, (uint64_t)n);
	} else {
		if (of->grow_src)
			pthread_mutex_lock(&of->grow_lock);
		if ((uint64_t)off >= of->text_len) {
			n = of->grow_src && size ? (ssize_t)grow_read(of, bv->buf[0].mem, size, (uint64_t)off) : 0;
		} else {
			n = (ssize_t)(size < of->text_len - (size_t)off ? size : of->text_len - (size_t)off);
			memcpy(bv->buf[0].mem, of->text + off, (size_t)n);
		}
		if (of->grow_src)
			pthread_mutex_unlock(&of->grow_lock);
	}
	bv->buf[0].size = (size_t)n;
	*bufp = bv;
	return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct open_file *of = (struct open_file *)(uintptr_t)fi->fh;

	(void)path;
	open_file_free(of);
	return 0;
}

/* Everything here is always readable. A handler is needed all the same: without one, libfuse's
 * high-level layer leaks the poll handle of every poll (Caddy polls the files it serves). */
static int fs_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *reventsp)
{
	(void)path;
	(void)fi;
	if (ph)
		fuse_pollhandle_destroy(ph);
	*reventsp |= POLLIN | POLLRDNORM;
	return 0;
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 65536;
	sv->f_frsize = 65536;
	sv->f_namemax = 255;
	sv->f_flag = ST_RDONLY;
	return 0;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* Replies are written, not spliced (FUSE_CAP_SPLICE_WRITE stays off): a reply to a read the
	 * kernel has dropped meanwhile (a web server's client that went away) fails with ENOENT, which
	 * libfuse's written path takes quietly as "interrupted" but its splice path prints as
	 * "fuse: splice from pipe: No such file or directory" on our stderr, once per dropped read. A
	 * cached segment's descriptor is copied instead (8 x 5 MB: 108-115 ms against 90-96 ms
	 * spliced); replies from memory (remuxed and transcoded segments, playlists) are faster
	 * written (96-104 ms against 109-121 ms). */
	conn->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	/* Read ahead by 64 KiB, not 128: a first read of a segment being encoded waits for no more
	 * final bytes than a web server asks for (segment.h). */
	if (conn->max_readahead > SEGMENT_READAHEAD)
		conn->max_readahead = SEGMENT_READAHEAD;
	/* One second of attribute and entry caching: a replaced source shows within a second. */
	cfg->entry_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	cfg->negative_timeout = 1.0;
	/* Which files keep their pages from one open to the next is fs_open's to say. */
	cfg->auto_cache = 0;
	/* stat_inside judges a path by name, before its source is opened: sources are opened
	 * beneath the root, so that a link swapped in after that check still cannot lead out. */
	if (!ctx()->catalog) {
		int ret = source_set_root(ctx()->root);
		if (ret < 0)
			log_error("%s: cannot hold the source folder open (%s); no video can be read", ctx()->root,
				  strerror(-ret));
	}
	cache_start();
	segment_start();
	shared_store_start();
	source_start();
	return ctx();
}

static void fs_destroy(void *data)
{
	(void)data;
	while (open_files)
		open_file_free(open_files);
	source_shutdown();
	segment_shutdown();
	shared_store_shutdown();
	cache_shutdown();
	media_shutdown();
}

const struct fuse_operations fs_operations = {
	.init = fs_init,
	.destroy = fs_destroy,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read_buf = fs_read_buf,
	.release = fs_release,
	.statfs = fs_statfs,
	.poll = fs_poll,
};
