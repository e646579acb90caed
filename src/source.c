/* Local-file sources: pread on a descriptor opened once, with the identity from fstat.
 * Reads never follow a replaced path: the open descriptor keeps the bytes of its identity. */
#include "source.h"

#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct source {
	int fd;
	struct source_identity id;
};

static void identity_from_stat(const struct stat *st, struct source_identity *id)
{
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ino = st->st_ino;
	id->dev = st->st_dev;
}

int source_open(const char *path, struct source **out)
{
	struct source *s;
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
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
	close(s->fd);
	free(s);
}

const struct source_identity *source_identity(const struct source *s)
{
	return &s->id;
}

int source_pread(struct source *s, void *buf, size_t n, uint64_t off)
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
		if (!source_identity_equal(&now, &s->id))
			return -EIO;
	}
	return 0;
}

int source_stat(const char *path, struct source_identity *out)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	identity_from_stat(&st, out);
	return 0;
}
