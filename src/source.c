/* Sources: local files and remote objects behind one pread.
 *
 * Local: pread on a descriptor opened once, beneath the source root, with the identity from
 * fstat. Reads never follow a replaced path: the open descriptor keeps the bytes of its
 * identity, and a file rewritten in place is caught by checking the identity after every read.
 *
 * Remote: the identity is what the archive says (size, ETag, Last-Modified), asked at most
 * every revalidate seconds and kept in the store, so a remote whose archive is away keeps the
 * identity it last had. Bytes are fetched in aligned blocks of SOURCE_BLOCK_SIZE, each checked
 * against that identity (remote.c), and kept in the block cache under a key naming the URL,
 * the identity and the block: a changed object never reads an old block. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>  /* glibc 2.36 has no openat2 wrapper: called through syscall() */
#endif

#include "flight.h"
#include "hash.h"
#include "log.h"
#include "remote.h"
#include "stats.h"
#include "store.h"

#define LINK_MAX_BYTES 8192
#define KNOWN_BUCKETS 1024
#define PREFETCH_QUEUE 16

struct source {
	int fd;                      /* local; -1 for a remote */
	struct source_identity id;
	char *url;                   /* remote */
	struct remote_info info;
	uint8_t *block;              /* the last blocks read: nb_blocks from first_block */
	uint64_t first_block;
	unsigned nb_blocks, cap, run;  /* cap: blocks block can hold; run: blocks of the last fetch */
	uint64_t read_end;             /* source_will_read: runs end there (0: the file's end) */
	bool prefetch_asked;
	uint64_t grow_min;           /* a growing local file: its size when opened, which it keeps */
	char why[1500];
};

/* What an archive said of one URL, and when we asked. */
struct known {
	struct known *next;
	char *url;
	struct remote_info info;
	int error;                   /* 0, or the definitive answer (-ENOENT, -EACCES, ...) */
	char why[256];
	double checked;              /* monotonic seconds; 0: ask again at the next stat */
	bool warned;                 /* "archive away" was said for this outage */
};

/* The source tree (source_set_root): local paths are opened beneath fd. */
static struct {
	char *path;                  /* without its trailing slash: "" for "/" */
	size_t len;
	int fd;                      /* O_PATH; -1 when paths are opened as given */
	int err;                     /* why the root could not be held: every local open fails */
	bool openat2;                /* the kernel resolves beneath for us */
} root = { .fd = -1 };

static struct source_config cfg = { .revalidate_s = 60 };
static struct store *store;
static struct source_blocks blocks;
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static struct known *known[KNOWN_BUCKETS];

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stop;
	char *urls[PREFETCH_QUEUE];
	struct remote_info infos[PREFETCH_QUEUE];
	unsigned n;
	char *done[256];             /* the latest URLs fetched whole (or being fetched), a ring */
	unsigned nb_done, done_next;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *prefetch_main(void *arg);

void source_init(const struct source_config *c, struct store *st, const struct source_blocks *b)
{
	cfg = *c;
	store = st;
	if (b)
		blocks = *b;
}

void source_start(void)
{
	if (cfg.prefetch_whole && blocks.get && !P.started && pthread_create(&P.thread, NULL, prefetch_main, NULL) == 0)
		P.started = true;
}

void source_shutdown(void)
{
	pthread_mutex_lock(&P.lock);
	P.stop = true;
	pthread_cond_broadcast(&P.wake);
	pthread_mutex_unlock(&P.lock);
	if (P.started)
		pthread_join(P.thread, NULL);
	P.started = false;
	for (unsigned i = 0; i < P.n; i++)
		free(P.urls[i]);
	for (unsigned i = 0; i < P.nb_done; i++)
		free(P.done[i]);
	P.n = P.nb_done = P.done_next = 0;
	if (root.fd >= 0)
		close(root.fd);
	free(root.path);
	root.path = NULL;
	root.len = 0;
	root.fd = -1;
	root.err = 0;
	pthread_mutex_lock(&known_lock);
	for (unsigned h = 0; h < KNOWN_BUCKETS; h++) {
		while (known[h]) {
			struct known *k = known[h];
			known[h] = k->next;
			free(k->url);
			free(k);
		}
	}
	pthread_mutex_unlock(&known_lock);
}

int source_is_link(const char *path)
{
	size_t n = strlen(path), s = strlen(SOURCE_LINK_SUFFIX);
	return n > s && !strcmp(path + n - s, SOURCE_LINK_SUFFIX);
}

/* --- local paths, held inside the source tree ---------------------------------------------
 *
 * fs.c checks a path before media and synth open it by name; in between, the owner of the tree
 * may swap the file, or a folder on its path, for a symlink that leads out. So the check that
 * counts is made by the open itself: every local path is resolved beneath a descriptor of the
 * root, by the kernel (openat2 with RESOLVE_BENEATH) or, where it lacks that, one component at
 * a time with O_NOFOLLOW. Either refuses whatever leaves the root, however it got there.
 *
 * Both also refuse links that fs.c serves: an absolute target inside the tree, or a relative
 * one that climbs out and back in ("../src/x.mp4"); the walk refuses every link. Those are
 * tried once more the way fs.c judges them, by realpath against the root, and the resolved path
 * is opened beneath the root with no symlink allowed on it at all: a swap after realpath meets
 * a refusal, never the outside. */

int source_set_root(const char *dir)
{
	size_t len = strlen(dir);
	int fd;

	while (len && dir[len - 1] == '/')
		len--;
	if (root.fd >= 0)
		close(root.fd);
	free(root.path);
	root.path = NULL;
	root.fd = -1;
	if ((fd = open(len ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return root.err = -errno;
	if (!(root.path = strndup(dir, len))) {
		close(fd);
		return root.err = -ENOMEM;
	}
	root.len = len;
	root.fd = fd;
	root.err = 0;
#ifdef RESOLVE_BENEATH
	{
		/* Kernels before 5.6, and sandboxes that filter the call, refuse it: ask once. */
		struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };
		int probe = (int)syscall(SYS_openat2, root.fd, ".", &how, sizeof(how));
		root.openat2 = probe >= 0;
		if (probe >= 0)
			close(probe);
	}
#endif
	return 0;
}

/* path relative to the root ("" for the root itself), or NULL when it is not beneath it. */
static const char *beneath(const char *path)
{
	if (strncmp(path, root.path, root.len) || (path[root.len] != '/' && path[root.len] != '\0'))
		return NULL;
	path += root.len;
	while (*path == '/')
		path++;
	return path;
}

/* Opens rel beneath the root one component at a time: folders as O_PATH without following a
 * link, the last one with O_NOFOLLOW. Returns the descriptor; a symlink anywhere is -ELOOP,
 * ".." is -EXDEV. */
static int walk_beneath(const char *rel, int flags)
{
	int dfd = root.fd, fd;
	const char *p = rel;

	for (;;) {
		char name[NAME_MAX + 1];
		const char *end;
		size_t n;
		struct stat st;
		bool last;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		while (*end == '/')
			end++;
		last = !*end;
		if (n > NAME_MAX) {
			fd = -ENAMETOOLONG;
			break;
		}
		memcpy(name, n ? p : ".", n ? n : 1);
		name[n ? n : 1] = '\0';
		if (!strcmp(name, "..")) {
			fd = -EXDEV;
			break;
		}
		/* O_PATH for a folder on the way: it needs search permission only, as a path walk does. */
		if ((fd = openat(dfd, name, (last ? flags : O_PATH) | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			fd = -errno;
			break;
		}
		if (!last || (flags & O_PATH)) {
			/* O_PATH | O_NOFOLLOW opens a link itself rather than failing. */
			int err = fstat(fd, &st) < 0 ? -errno : S_ISLNK(st.st_mode) ? -ELOOP
							: !last && !S_ISDIR(st.st_mode) ? -ENOTDIR : 0;
			if (err < 0) {
				close(fd);
				fd = err;
				break;
			}
		}
		if (dfd != root.fd)
			close(dfd);
		if (last)
			return fd;
		dfd = fd;
		p = end;
	}
	if (dfd != root.fd)
		close(dfd);
	return fd;
}

/* Opens rel beneath the root, following the symlinks that stay beneath it when follow is set
 * (the walk follows none: open_local's realpath retry does that). */
static int open_beneath(const char *rel, int flags, bool follow)
{
#ifdef RESOLVE_BENEATH
	if (root.openat2) {
		struct open_how how = {
			.flags = (uint64_t)(flags | O_CLOEXEC),
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (follow ? 0 : RESOLVE_NO_SYMLINKS),
		};
		int fd;
		/* EAGAIN: a rename raced a ".." inside the tree; the kernel asks us to try again. */
		for (int i = 0; i < 8; i++)
			if ((fd = (int)syscall(SYS_openat2, root.fd, *rel ? rel : ".", &how, sizeof(how))) >= 0 ||
			    errno != EAGAIN)
				break;
		return fd < 0 ? -errno : fd;
	}
#endif
	(void)follow;
	return walk_beneath(rel, flags);
}

/* Opens the local path with flags (O_CLOEXEC added) where source_set_root allows. Returns the
 * descriptor, or a negative errno: -ENOENT for a path not beneath the root or one that leads
 * out of it, as fs.c answers for a link that leaves the tree. */
static int open_local(const char *path, int flags)
{
	const char *rel;
	char *real;
	int fd;

	if (root.err)
		return root.err;
	if (root.fd < 0) {
		fd = open(path, flags | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (!(rel = beneath(path)))
		return -ENOENT;
	fd = open_beneath(rel, flags, true);
	if (fd != -EXDEV && fd != -ELOOP)
		return fd;
	if (!(real = realpath(path, NULL)))
		return -errno;
	fd = (rel = beneath(real)) ? open_beneath(rel, flags, false) : -ENOENT;
	free(real);
	return fd == -EXDEV || fd == -ELOOP ? -ENOENT : fd;
}

static void identity_from_stat(const struct stat *st, struct source_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ino = st->st_ino;
	id->dev = st->st_dev;
}

static void identity_from_remote(const char *url, const struct remote_info *info, int error,
				 struct source_identity *id)
{
	char mat[4096 + 256];
	int n = snprintf(mat, sizeof(mat), "%s\n%s\n%" PRId64 "\n%d", url, info->etag, info->mtime, error);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(mat) ? (size_t)n : sizeof(mat) - 1;

	memset(id, 0, sizeof(*id));
	id->size = info->size;
	id->mtime_ns = info->mtime * 1000000000;
	id->tag = hash_fnv1a(mat, len, 0) | 1;  /* never 0: that is a local file */
}

/* The URL path names: 1 with url filled for a remote (path is a URL, or a link file naming
 * one), 0 for a local file, or a negative errno with why filled (a refused link). */
static int url_of(const char *path, char *url, size_t size, char *why, size_t why_len)
{
	char buf[LINK_MAX_BYTES + 1], *line, *save = NULL;
	ssize_t n;
	int fd, ret;

	if (remote_is_url(path)) {
		if ((size_t)snprintf(url, size, "%s", path) >= size)
			return -ENAMETOOLONG;
		return remote_check_url(url, why, why_len) < 0 ? -EPROTONOSUPPORT : 1;
	}
	if (!source_is_link(path))
		return 0;
	if ((fd = open_local(path, O_RDONLY | O_NOCTTY | O_NONBLOCK)) < 0)
		return fd;
	n = read(fd, buf, LINK_MAX_BYTES);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret < 0)
		return ret;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *end;
		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*line && *line != '#')
			break;
	}
	if (!line) {
		snprintf(why, why_len, "its link file holds no URL");
		return -EPROTONOSUPPORT;
	}
	if ((size_t)snprintf(url, size, "%s", line) >= size) {
		snprintf(why, why_len, "its link is longer than %zu bytes", size - 1);
		return -EPROTONOSUPPORT;
	}
	{
		char reason[256];
		if (remote_check_url(url, reason, sizeof(reason)) < 0) {
			snprintf(why, why_len, "its link is refused: %s", reason);
			return -EPROTONOSUPPORT;
		}
	}
	return 1;
}

static unsigned known_hash(const char *url)
{
	return (unsigned)(hash_fnv1a(url, strlen(url), 0) % KNOWN_BUCKETS);
}

/* With known_lock held. */
static struct known *known_find(const char *url, bool create)
{
	unsigned h = known_hash(url);
	struct known *k;

	for (k = known[h]; k; k = k->next)
		if (!strcmp(k->url, url))
			return k;
	if (!create || !(k = calloc(1, sizeof(*k))) || !(k->url = strdup(url))) {
		free(k);
		return NULL;
	}
	k->next = known[h];
	known[h] = k;
	return k;
}

/* The record of url in the store: its remote_info. */
static int stored_info(const char *url, struct remote_info *info)
{
	uint8_t *blob;
	size_t size;
	int ret = -ENOENT;

	if (!store || store_get_remote(store, url, &blob, &size) < 0)
		return -ENOENT;
	if (size == sizeof(*info)) {
		memcpy(info, blob, sizeof(*info));
		info->etag[sizeof(info->etag) - 1] = '\0';
		ret = 0;
	}
	free(blob);
	return ret;
}

/* What the archive says of url now, or said within revalidate seconds. Returns 0 with *info;
 * a definitive answer (-ENOENT, -EACCES, ...) with why; -EIO when the archive cannot be
 * reached and nothing is known of url. */
static int remote_identity(const char *url, struct remote_info *info, char *why, size_t why_len)
{
	struct remote_info now, last = { 0 };
	struct known *k;
	bool have_last = false;
	char red[1024];
	int ret;

	pthread_mutex_lock(&known_lock);
	k = known_find(url, false);
	if (k && k->checked && mono_s() - k->checked < cfg.revalidate_s) {
		ret = k->error;
		*info = k->info;
		snprintf(why, why_len, "%s", k->why);
		pthread_mutex_unlock(&known_lock);
		return ret;
	}
	if (k && !k->error && k->info.size) {
		last = k->info;
		have_last = true;
	}
	pthread_mutex_unlock(&known_lock);
	if (!have_last && stored_info(url, &last) == 0)
		have_last = true;

	ret = remote_probe(url, &now, have_last, why, why_len);
	remote_redact(url, red, sizeof(red));
	if (ret == -EIO && have_last) {
		/* The archive is away: keep serving what it said last (the cache may hold the rest). */
		pthread_mutex_lock(&known_lock);
		if ((k = known_find(url, true))) {
			if (!k->warned)
				log_warn("%s: cannot reach the archive (%s); using what it said of this file before", red,
					 why);
			k->warned = true;
			k->info = last;
			k->error = 0;
			k->why[0] = '\0';
			k->checked = mono_s();
		}
		pthread_mutex_unlock(&known_lock);
		*info = last;
		return 0;
	}
	if (ret == 0 && store && (!have_last || memcmp(&now, &last, sizeof(now)))) {
		int sret = store_put_remote(store, url, (const uint8_t *)&now, sizeof(now));
		if (sret < 0)
			log_warn("%s: cannot keep what the archive said in the persistent index: %s", red, strerror(-sret));
	}
	pthread_mutex_lock(&known_lock);
	if ((k = known_find(url, true))) {
		if (ret == 0 && k->warned)
			log_warn("%s: the archive answers again", red);
		k->warned = false;
		k->info = ret == 0 ? now : (struct remote_info){ 0 };
		k->error = ret == -EIO ? 0 : ret;
		snprintf(k->why, sizeof(k->why), "%s", ret < 0 ? why : "");
		/* A transient failure with nothing known is asked again at the next stat. */
		k->checked = ret == -EIO ? 0 : mono_s();
	}
	pthread_mutex_unlock(&known_lock);
	*info = now;
	return ret;
}

/* Forgets what was said of url, so the next stat asks the archive (it changed under a read). */
static void remote_forget(const char *url)
{
	struct known *k;
	pthread_mutex_lock(&known_lock);
	if ((k = known_find(url, false)))
		k->checked = 0;
	pthread_mutex_unlock(&known_lock);
}

int source_open_for_writing(const char *path)
{
	int fd, ret;

	if (remote_is_url(path) || source_is_link(path))
		return -ENOTSUP;
	if ((fd = open_local(path, O_RDONLY | O_NONBLOCK)) < 0)
		return fd;
	stats_add(STATS_SOURCE_OPENS, 1);
	/* A read lease is refused (EAGAIN) exactly while some process has the file open for
	 * writing. It is let go at once; a writer opening meanwhile waits that long, and the
	 * signal the kernel sends us for it is ignored (main.c). */
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		fcntl(fd, F_SETLEASE, F_UNLCK);
		ret = 0;
	} else {
		ret = errno == EAGAIN ? 1 : -errno;
	}
	close(fd);
	return ret;
}

int source_stat(const char *path, struct source_identity *out)
{
	char url[4096], why[256];
	struct remote_info info;
	struct stat st;
	int kind, ret;

	if (!remote_is_url(path)) {
		/* fstat of what the contained open reached: stat by name would follow a swapped link. */
		int fd = open_local(path, O_PATH);
		if (fd < 0)
			return fd;
		ret = fstat(fd, &st) < 0 ? -errno : 0;
		close(fd);
		if (ret < 0)
			return ret;
		identity_from_stat(&st, out);
	}
	kind = url_of(path, url, sizeof(url), why, sizeof(why));
	if (kind < 0) {
		/* A refused link: its folder holds error.txt, and an edit of the link is a new identity. */
		if (remote_is_url(path))
			memset(out, 0, sizeof(*out));
		return kind == -EPROTONOSUPPORT ? 0 : kind;
	}
	if (kind == 0)
		return 0;
	ret = remote_identity(url, &info, why, sizeof(why));
	if (ret == -EIO)
		return -EIO;
	identity_from_remote(url, &info, ret, out);
	return 0;
}

int source_open(const char *path, struct source **out, char *why, size_t why_len)
{
	char url[4096], tmp[512];
	struct source *s;
	struct stat st;
	int fd, err, kind;

	*out = NULL;
	if (!why || !why_len)
		why = tmp, why_len = sizeof(tmp);
	why[0] = '\0';
	kind = url_of(path, url, sizeof(url), why, why_len);
	if (kind < 0)
		return kind;
	if (kind == 1) {
		if (!(s = calloc(1, sizeof(*s))) || !(s->url = strdup(url))) {
			free(s);
			return -ENOMEM;
		}
		s->fd = -1;
		if ((err = remote_identity(url, &s->info, why, why_len)) < 0) {
			free(s->url);
			free(s);
			return err;
		}
		identity_from_remote(url, &s->info, 0, &s->id);
		stats_add(STATS_SOURCE_OPENS, 1);
		*out = s;
		return 0;
	}

	/* O_NONBLOCK: a FIFO put where the video was must not hang the open; a regular file's
	 * reads then go back to blocking. */
	if ((fd = open_local(path, O_RDONLY | O_NOCTTY | O_NONBLOCK)) < 0)
		return fd;
	if (fstat(fd, &st) < 0 || (S_ISREG(st.st_mode) && fcntl(fd, F_SETFL, 0) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	identity_from_stat(&st, &s->id);
	stats_add(STATS_SOURCE_OPENS, 1);
	*out = s;
	return 0;
}

void source_close(struct source *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->url);
	free(s->block);
	free(s);
}

int source_open_as(const char *path, const struct source_identity *want, struct source **out, char *why,
		   size_t why_len)
{
	int ret = source_open(path, out, why, why_len);

	if (ret < 0 || !identity_growing(want) || (*out)->fd < 0)
		return ret;
	if ((*out)->id.ino == want->ino && (*out)->id.dev == want->dev && !(*out)->id.tag) {
		(*out)->grow_min = (*out)->id.size;
		(*out)->id = *want;
	}
	return 0;
}

const struct source_identity *source_identity(const struct source *s)
{
	return &s->id;
}

uint64_t source_size(const struct source *s)
{
	return identity_growing(&s->id) ? s->grow_min : s->id.size;
}

void source_will_read(struct source *s, uint64_t end)
{
	s->read_end = end;
}

const char *source_strerror(const struct source *s, int err)
{
	return s && s->why[0] ? s->why : strerror(-err);
}

static int local_pread(struct source *s, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(s->fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;  /* shorter than its index says: truncated or replaced */
		done += (size_t)r;
	}
	/* A file rewritten in place keeps its descriptor but not its identity: bytes read from it
	 * now may mix two versions, so they are refused. */
	{
		struct stat st;
		struct source_identity now;
		if (fstat(s->fd, &st) < 0)
			return -errno;
		identity_from_stat(&st, &now);
		/* A file being written only grows: what was written stays (append-only writers). */
		if (identity_growing(&s->id) ? (uint64_t)st.st_size < s->grow_min : !identity_equal(&now, &s->id))
			return -EIO;
	}
	return 0;
}

/* The block cache key of block b of the object info describes. */
static void block_key(const char *url, const struct remote_info *info, uint64_t b, char *key, size_t size)
{
	snprintf(key, size, "%s\n%" PRIu64 "\n%s\n%" PRId64 "\n%u\n%" PRIu64, url, info->size, info->etag, info->mtime,
		 SOURCE_BLOCK_SIZE, b);
}

static size_t block_len(const struct remote_info *info, uint64_t b)
{
	uint64_t start = b * SOURCE_BLOCK_SIZE;
	return (size_t)(info->size - start < SOURCE_BLOCK_SIZE ? info->size - start : SOURCE_BLOCK_SIZE);
}

/* Blocks being fetched: later readers of one wait, then read it from the block cache, so a crowd
 * starting one video asks the archive once per block. */
static struct flight_set block_flights = FLIGHT_SET_INIT;

/* A block whose fetch just failed fails again at once for FAIL_HOLD_S: the kernel asks again
 * at once for a page whose read failed, and a broken archive should cost one round of tries,
 * not two. */
#define FAIL_HOLD_S 1.0
#define FAIL_SLOTS 64

static pthread_mutex_t failed_lock = PTHREAD_MUTEX_INITIALIZER;  /* a leaf */
static struct {
	uint64_t hash;
	double at;
	int err;
	char why[256];
} failed[FAIL_SLOTS];

static bool failed_recently(uint64_t hash, int *err, char *why, size_t why_len)
{
	unsigned i = (unsigned)(hash % FAIL_SLOTS);
	bool yes;
	pthread_mutex_lock(&failed_lock);
	yes = failed[i].hash == hash && mono_s() - failed[i].at < FAIL_HOLD_S;
	if (yes) {
		*err = failed[i].err;
		snprintf(why, why_len, "%s", failed[i].why);
	}
	pthread_mutex_unlock(&failed_lock);
	return yes;
}

static void note_failure(uint64_t hash, int err, const char *why)
{
	unsigned i = (unsigned)(hash % FAIL_SLOTS);
	pthread_mutex_lock(&failed_lock);
	failed[i].hash = hash;
	failed[i].at = mono_s();
	failed[i].err = err;
	snprintf(failed[i].why, sizeof(failed[i].why), "%s", why);
	pthread_mutex_unlock(&failed_lock);
}

/* Fills buf with block b and, fetched in the same request, up to want - 1 blocks after it that
 * no one else is fetching: from the block cache (block b alone), else from the archive (then
 * kept). *got says how many blocks buf holds. */
static int fetch_run(const char *url, const struct remote_info *info, uint64_t b, unsigned want, uint8_t *buf,
		     unsigned *got, char *why, size_t why_len)
{
	char key[4096 + 256];
	uint64_t nb = (info->size + SOURCE_BLOCK_SIZE - 1) / SOURCE_BLOCK_SIZE, hash;
	struct flight *mine[SOURCE_RUN_MAX] = { 0 };
	unsigned n = 1;
	size_t len;
	int ret;

	*got = 1;
	block_key(url, info, b, key, sizeof(key));
	if (blocks.get && blocks.get(key, buf, block_len(info, b)) == 0) {
		stats_add(STATS_BLOCK_HITS, 1);
		return 0;
	}
	hash = hash_fnv1a(key, strlen(key), 0);
	if (failed_recently(hash, &ret, why, why_len))
		return ret;
	if (want > SOURCE_RUN_MAX)
		want = SOURCE_RUN_MAX;
	if (want > nb - b)
		want = (unsigned)(nb - b);
	if (blocks.get) {
		int r, landed;
		if ((r = flight_join(&block_flights, key, &mine[0], &landed)) == 0) {
			/* Someone was fetching it: read it from the cache. */
			if (blocks.get(key, buf, block_len(info, b)) == 0) {
				stats_add(STATS_BLOCK_HITS, 1);
				return 0;
			}
			if (failed_recently(hash, &ret, why, why_len))
				return ret;
			want = 1;  /* that fetch could not be kept: fetch it here */
			flight_join(&block_flights, key, &mine[0], &landed);
		}
		/* Our flights: block b, then the following ones until one is in flight or kept. An
		 * out-of-memory flight_join leaves block b fetched without a flight. */
		for (n = 1; n < want; n++) {
			char k2[4096 + 256];
			block_key(url, info, b + n, k2, sizeof(k2));
			if ((blocks.has && blocks.has(k2)) || flight_try(&block_flights, k2, &mine[n]) != 1)
				break;
		}
	}
	len = (size_t)((b + n) * SOURCE_BLOCK_SIZE > info->size ? info->size - b * SOURCE_BLOCK_SIZE
								: (uint64_t)n * SOURCE_BLOCK_SIZE);
	ret = remote_read(url, info, b * SOURCE_BLOCK_SIZE, len, buf, why, why_len);
	if (ret == 0) {
		stats_add(STATS_BLOCK_MISSES, n);
		for (unsigned k = 0; k < n && blocks.put; k++) {
			block_key(url, info, b + k, key, sizeof(key));
			blocks.put(key, buf + (size_t)k * SOURCE_BLOCK_SIZE, block_len(info, b + k));
		}
		*got = n;
	} else {
		note_failure(hash, ret, why);
	}
	for (unsigned k = 0; k < n; k++)
		flight_land(&block_flights, mine[k], ret);
	return ret;
}

static void prefetch_ask(struct source *s);

/* Makes room for n blocks in s->block. Returns false when there is no memory for it. */
static bool grow_buffer(struct source *s, unsigned n)
{
	uint8_t *p = realloc(s->block, (size_t)n * SOURCE_BLOCK_SIZE);
	if (!p)
		return false;
	s->block = p;
	s->cap = n;
	return true;
}

static int remote_pread(struct source *s, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	int ret;

	if (off > s->info.size || n > s->info.size - off)
		return -EIO;
	while (done < n) {
		uint64_t pos = off + done, b = pos / SOURCE_BLOCK_SIZE, in;
		size_t take;

		if (!s->nb_blocks || b < s->first_block || b >= s->first_block + s->nb_blocks) {
			char why[400], red[1024];
			/* A reader going through the file in order gets longer runs per request (up to
			 * SOURCE_RUN_MAX blocks): fewer round trips to a distant archive. */
			unsigned want = s->nb_blocks && b == s->first_block + s->nb_blocks ? s->run * 2 : 1, got;
			if (want > SOURCE_RUN_MAX)
				want = SOURCE_RUN_MAX;
			/* Not past the end of what the reader said it will read. */
			if (s->read_end && want > 1) {
				uint64_t last = (s->read_end - 1) / SOURCE_BLOCK_SIZE;
				want = last < b ? 1 : last - b + 1 < want ? (unsigned)(last - b + 1) : want;
			}
			if (s->cap < want && !grow_buffer(s, want))
				want = s->cap ? s->cap : 1;
			if (!s->cap)
				return -ENOMEM;
			s->nb_blocks = 0;
			if ((ret = fetch_run(s->url, &s->info, b, want, s->block, &got, why, sizeof(why))) < 0) {
				remote_redact(s->url, red, sizeof(red));
				snprintf(s->why, sizeof(s->why), "%s (%s)", why, red);
				if (ret == -ESTALE)
					remote_forget(s->url);
				return ret == -ENOMEM ? ret : -EIO;
			}
			s->first_block = b;
			s->nb_blocks = got;
			/* A hit from the cache keeps the run length: the next miss continues it. */
			s->run = got > 1 ? got : s->run ? s->run : 1;
		}
		in = pos - s->first_block * SOURCE_BLOCK_SIZE;
		take = (size_t)(block_len(&s->info, s->first_block + s->nb_blocks - 1) +
				(s->nb_blocks - 1) * (uint64_t)SOURCE_BLOCK_SIZE - in);
		if (take > n - done)
			take = n - done;
		memcpy((uint8_t *)buf + done, s->block + in, take);
		done += take;
	}
	if (cfg.prefetch_whole && !s->prefetch_asked)
		prefetch_ask(s);
	return 0;
}

int source_pread(struct source *s, void *buf, size_t n, uint64_t off)
{
	s->why[0] = '\0';
	return s->fd >= 0 ? local_pread(s, buf, n, off) : remote_pread(s, buf, n, off);
}

/* --- remote_prefetch=whole: one background thread fetches every block of a played remote -- */

static void prefetch_ask(struct source *s)
{
	s->prefetch_asked = true;
	if (!P.started)
		return;
	pthread_mutex_lock(&P.lock);
	for (unsigned i = 0; i < P.nb_done; i++)
		if (!strcmp(P.done[i], s->url))
			goto out;
	if (P.n < PREFETCH_QUEUE) {
		char *a = strdup(s->url), *b = strdup(s->url);
		const unsigned ring = sizeof(P.done) / sizeof(P.done[0]);
		if (a && b) {
			P.urls[P.n] = a;
			P.infos[P.n++] = s->info;
			if (P.nb_done < ring)
				P.nb_done++;
			free(P.done[P.done_next]);
			P.done[P.done_next] = b;
			P.done_next = (P.done_next + 1) % ring;
			pthread_cond_signal(&P.wake);
		} else {
			free(a);
			free(b);
		}
	}
out:
	pthread_mutex_unlock(&P.lock);
}

static void *prefetch_main(void *arg)
{
	uint8_t *buf = malloc((size_t)SOURCE_RUN_MAX * SOURCE_BLOCK_SIZE);

	(void)arg;
	pthread_mutex_lock(&P.lock);
	while (buf && !P.stop) {
		char *url, why[400], red[1024];
		struct remote_info info;
		uint64_t nb;

		if (!P.n) {
			pthread_cond_wait(&P.wake, &P.lock);
			continue;
		}
		url = P.urls[0];
		info = P.infos[0];
		memmove(P.urls, P.urls + 1, --P.n * sizeof(P.urls[0]));
		memmove(P.infos, P.infos + 1, P.n * sizeof(P.infos[0]));
		pthread_mutex_unlock(&P.lock);
		nb = (info.size + SOURCE_BLOCK_SIZE - 1) / SOURCE_BLOCK_SIZE;
		for (uint64_t b = 0; b < nb;) {
			unsigned got;
			int ret;
			pthread_mutex_lock(&P.lock);
			ret = P.stop;
			pthread_mutex_unlock(&P.lock);
			if (ret)
				break;
			/* One block at a time from the cache, runs of what is missing from the archive. */
			if ((ret = fetch_run(url, &info, b, SOURCE_RUN_MAX, buf, &got, why, sizeof(why))) < 0) {
				remote_redact(url, red, sizeof(red));
				log_warn("%s: fetching the whole file stopped at block %" PRIu64 ": %s", red, b, why);
				break;
			}
			b += got;
		}
		free(url);
		pthread_mutex_lock(&P.lock);
	}
	pthread_mutex_unlock(&P.lock);
	free(buf);
	return NULL;
}
