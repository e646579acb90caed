/* hlsfs entry point: parse options (fuse_opt built from config.h's table, then the config file),
 * check them and SOURCE before anything is mounted, mount, daemonize, serve, and unwind in reverse order. */
#include "fs.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <ini.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "catalog.h"
#include "config.h"
#include "cytube.h"
#include "log.h"
#include "scan.h"
#include "media.h"
#include "remote.h"
#include "segment.h"
#include "shared_store.h"
#include "source.h"
#include "stats.h"
#include "store.h"
#include "transcode.h"

#ifndef HLSFS_VERSION
#define HLSFS_VERSION "unknown"
#endif

struct opts {
	struct config conf;
	char *source;
	int nonopts;
	int rw;  /* rw was asked for: the mount is read-only all the same, and says so once */
	int bad;
};

enum { KEY_DISCARD, KEY_RW };

/* Every option of the table as "name=%s" into its text field; the last -o value wins. */
#define HLSFS_OPT(name, ...) { #name "=%s", offsetof(struct opts, conf.name), 0 },
static const struct fuse_opt hlsfs_opts[] = {
	CONFIG_OPTIONS(HLSFS_OPT)
	/* mount(8) and fstab pass these; they mean nothing to a FUSE daemon. */
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("defaults", KEY_DISCARD),
	FUSE_OPT_KEY("comment=", KEY_DISCARD),
	/* mount(8) adds rw to every mount not marked ro, fstab lines included */
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_END
};
#undef HLSFS_OPT

_Static_assert(CONFIG_MAX_RUNGS <= PLAN_MAX_RUNGS, "config.h allows more rungs than a plan holds");

/* The option lines come from config.h's table; the rest is written here. */
static int usage(const char *prog)
{
	char *opts;

	if (config_help(&opts) < 0) {
		fprintf(stderr, "hlsfs: %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	printf("usage: %s [options] SOURCE MOUNTPOINT\n"
	       "\n"
	       "Mounts SOURCE, a folder of videos (MP4/MOV, Matroska/WebM, MPEG-TS/PS, AVI, FLV,\n"
	       "Ogg, ASF), read-only at MOUNTPOINT, where every video is a directory of HLS playlists\n"
	       "and MPEG-TS segments made on read. A file NAME.mp4.url holding an http(s) URL is shown\n"
	       "as the remote video NAME.mp4. SOURCE may also be an http(s) URL serving a list of\n"
	       "videos in hlsfs.list, or s3://BUCKET/PREFIX.\n"
	       "\n"
	       "hlsfs options:\n"
	       "    -h   --help            print help and exit\n"
	       "    -V   --version         print version and exit\n"
	       "    -f                     stay in the foreground\n"
	       "    -d                     debug output (implies -f)\n"
	       "%s"
	       "\n", prog, opts);
	free(opts);
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct opts *o = data;
	(void)outargs;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->source) {
			o->source = strdup(arg);
			return 0;
		}
		if (++o->nonopts > 1) {
			fprintf(stderr, "hlsfs: too many arguments: '%s' (usage: hlsfs [options] SOURCE MOUNTPOINT)\n", arg);
			o->bad = 1;
			return -1;
		}
		return 1;
	case FUSE_OPT_KEY_OPT:
		if (!strncmp(arg, "x-systemd.", 10) || !strncmp(arg, "x-gvfs-", 7))
			return 0;
		return 1;
	case KEY_DISCARD:
		return 0;
	case KEY_RW:
		o->rw = 1;
		return 0;
	default:
		return 1;
	}
}

struct ini_state {
	struct opts *o;
	const char *file;
	int err;
};

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	int ret;

	if (section[0] && strcmp(section, "hlsfs")) {
		fprintf(stderr, "hlsfs: %s: unknown section [%s]\n", st->file, section);
		st->err = 1;
		return 0;
	}
	ret = config_set_default(&st->o->conf, name, value);
	if (ret == -ENOENT) {
		fprintf(stderr, "hlsfs: %s: unknown key '%s'\n", st->file, name);
		st->err = 1;
		return 0;
	}
	return ret == 0;
}

static int load_config(struct opts *o)
{
	struct ini_state st = { o, o->conf.config, 0 };
	int ret = ini_parse(o->conf.config, config_ini_line, &st);

	if (ret == -1) {
		fprintf(stderr, "hlsfs: config=%s: %s\n", o->conf.config, strerror(errno));
		return -1;
	}
	if (ret > 0 && !st.err)
		fprintf(stderr, "hlsfs: %s:%d: cannot parse this line\n", o->conf.config, ret);
	return ret != 0 || st.err ? -1 : 0;
}

static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return access(buf, W_OK | X_OK) < 0 ? -errno : 0;
}

/* Checks every option by its kind (config.h's table), then what one option asks of another and
 * what only the modules can tell; one line on stderr for the first problem. */
static int check_options(const struct config *c, struct config_values *v, struct plan_config *pc,
			 struct cache_config *cc, struct segment_config *gc, struct transcode_config *tc,
			 struct remote_config *rc, struct source_config *sc)
{
	char why[512];

	if (config_check(c, v, why, sizeof(why)) < 0) {
		fprintf(stderr, "hlsfs: %s\n", why);
		return -1;
	}
	pc->target = v->segment;

	cc->dir = v->cache_dir;
	cc->max_bytes = v->cache_max;
	cc->ttl_seconds = v->cache_ttl;
	gc->cache_passthrough = v->cache_passthrough;
	gc->prefetch = v->prefetch;
	gc->workers = v->workers;
	if ((c->cache_max || c->cache_ttl || c->cache_passthrough) && !c->cache_dir) {
		fprintf(stderr, "hlsfs: cache_max, cache_ttl and cache_passthrough need cache_dir\n");
		return -1;
	}

	pc->nb_rungs = v->ladder.nb_rungs;
	for (unsigned i = 0; i < v->ladder.nb_rungs; i++) {
		pc->rungs[i].height = v->ladder.height[i];
		pc->rungs[i].kbps = v->ladder.kbps[i];
	}
	tc->encoder = v->encoder;
	tc->preset = v->preset;
	tc->profile = v->profile;
	/* profile_idc of the SPS; the table lets through only these three names */
	pc->profile_idc = !strcmp(v->profile, "baseline") ? 66 : !strcmp(v->profile, "high") ? 100 : 77;
	if (!transcode_encoder_exists(tc->encoder)) {
		fprintf(stderr, "hlsfs: encoder=%s: no such H.264 encoder in this FFmpeg\n", tc->encoder);
		return -1;
	}

	rc->timeout_s = v->remote_timeout;
	rc->retries = v->remote_retries;
	sc->revalidate_s = (unsigned)v->remote_revalidate;
	cc->block_ttl_seconds = v->remote_ttl;
	sc->prefetch_whole = !strcmp(v->remote_prefetch, "whole");
	if (sc->prefetch_whole && !c->cache_dir) {
		fprintf(stderr, "hlsfs: remote_prefetch=whole needs cache_dir (the fetched blocks are kept there)\n");
		return -1;
	}
	rc->s3_endpoint = v->s3_endpoint;
	rc->s3_region = v->s3_region;
	rc->s3_access_key = v->s3_access_key;
	rc->s3_secret_key = v->s3_secret_key;
	if ((c->s3_endpoint || c->s3_region || c->s3_access_key || c->s3_secret_key) &&
	    !(c->s3_endpoint && c->s3_region && c->s3_access_key && c->s3_secret_key)) {
		fprintf(stderr, "hlsfs: s3 sources need all of s3_endpoint, s3_region, s3_access_key and s3_secret_key\n");
		return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts = { 0 };
	struct fuse_loop_config *loop = NULL;
	struct opts o = { 0 };
	struct config_values v;
	struct fs_ctx fctx = { 0 };
	struct plan_config pcfg = { 0 };
	struct cache_config ccfg = { 0 };
	struct segment_config gcfg = { 0 };
	struct transcode_config tcfg = { 0 };
	struct remote_config rcfg = { 0 };
	struct source_config scfg = { 0 };
	struct source_blocks blocks = { cache_block_get, cache_block_put, cache_block_has };
	struct store *store = NULL;
	struct fuse *fuse = NULL;
	struct stat st;
	char *fsname = NULL, *escaped = NULL, fsname_url[1024];
	int ret = 1;

	if (fuse_opt_parse(&args, &o, hlsfs_opts, opt_proc) < 0)
		goto out_args;
	if (fuse_parse_cmdline(&args, &copts) < 0)
		goto out_args;
	if (copts.show_help) {
		if (usage(argv[0]) < 0)
			goto out_args;
		fuse_cmdline_help();
		fuse_lib_help(&args);
		ret = 0;
		goto out_args;
	}
	if (copts.show_version) {
		printf("hlsfs version %s\n", HLSFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		/* fuse_lowlevel_version() runs fusermount3, whose line would overtake ours still in
		 * stdio's buffer when stdout is a pipe or a file */
		fflush(stdout);
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!o.source || !copts.mountpoint) {
		fprintf(stderr, "hlsfs: missing %s (usage: hlsfs [options] SOURCE MOUNTPOINT; see hlsfs --help)\n",
			o.source ? "MOUNTPOINT" : "SOURCE and MOUNTPOINT");
		goto out_args;
	}
	if (o.conf.config && load_config(&o) < 0)
		goto out_args;

	if (remote_is_url(o.source)) {
		/* A remote base: checked once remote settings are known, listed once the store is open. */
		if (!(fctx.root = strdup(o.source)))
			goto out_args;
		while (strlen(fctx.root) > 1 && fctx.root[strlen(fctx.root) - 1] == '/')
			fctx.root[strlen(fctx.root) - 1] = '\0';
		fctx.root_len = strlen(fctx.root);
	} else {
		if (stat(o.source, &st) < 0) {
			fprintf(stderr, "hlsfs: source '%s': %s\n", o.source, strerror(errno));
			goto out_args;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "hlsfs: source '%s': not a directory\n", o.source);
			goto out_args;
		}
		if (access(o.source, R_OK | X_OK) < 0) {
			fprintf(stderr, "hlsfs: source '%s': %s\n", o.source, strerror(errno));
			goto out_args;
		}
		if (!(fctx.root = realpath(o.source, NULL))) {
			fprintf(stderr, "hlsfs: source '%s': %s\n", o.source, strerror(errno));
			goto out_args;
		}
		fctx.root_len = strlen(fctx.root);
		if (fctx.root_len == 1)
			fctx.root_len = 0;  /* "/": children are "/x", not "//x" */
	}
	if (check_options(&o.conf, &v, &pcfg, &ccfg, &gcfg, &tcfg, &rcfg, &scfg) < 0)
		goto out_args;
	if (remote_init(&rcfg) < 0) {
		fprintf(stderr, "hlsfs: cannot start libcurl\n");
		goto out_args;
	}
	if (remote_is_url(o.source)) {
		char why[256], red[1024];
		remote_redact(o.source, red, sizeof(red));
		if (remote_check_url(o.source, why, sizeof(why)) < 0) {
			fprintf(stderr, "hlsfs: source '%s': %s\n", red, why);
			goto out_args;
		}
	}
	transcode_init(&tcfg);
	if (o.conf.base_url && cytube_check_base_url(o.conf.base_url) < 0) {
		fprintf(stderr, "hlsfs: base_url=%s: expected an https URL with a host name (CyTube accepts no other)\n",
			o.conf.base_url);
		goto out_args;
	}
	if (o.conf.cache_dir) {
		/* The cache is an accelerator: a cache folder that cannot be used (unwritable, disk
		 * full) is said once and the mount serves uncached. */
		if ((ret = make_dirs(o.conf.cache_dir)) < 0 || (ret = store_open(o.conf.cache_dir, &store)) < 0 ||
		    (ret = cache_init(&ccfg, store)) < 0) {
			fprintf(stderr, "hlsfs: %s: cannot write the cache (%s); serving segments uncached\n",
				o.conf.cache_dir, strerror(-ret));
			stats_add(STATS_CACHE_ERRORS, 1);
			cache_shutdown();
			store_close(store);
			store = NULL;
			ccfg.dir = NULL;
			cache_init(&ccfg, NULL);
		}
	}
	segment_init(&gcfg);
	ret = 1;
	if (remote_is_url(o.source)) {
		char why[512], red[1024], *clean;
		int r;
		remote_redact(o.source, red, sizeof(red));
		log_set_debug(copts.debug);
	/* The read lease that tells whether a source is open for writing (source_open_for_writing)
	 * is held for an instant; a writer opening the file then makes the kernel send SIGIO, whose
	 * default would end the mount. */
	signal(SIGIO, SIG_IGN);
		/* Media paths of a remote base are its URLs, and they reach logs: no credentials in them. */
		if (remote_strip_credentials(fctx.root, &clean) < 0) {
			fprintf(stderr, "hlsfs: source '%s': cannot parse it\n", red);
			goto out_args;
		}
		free(fctx.root);
		fctx.root = clean;
		fctx.root_len = strlen(clean);
		if ((r = catalog_open(fctx.root, store, scfg.revalidate_s, &fctx.catalog, why, sizeof(why))) < 0) {
			fprintf(stderr, "hlsfs: source '%s': cannot list it: %s\n", red, why);
			goto out_args;
		}
		fctx.remote_st.st_mode = S_IFDIR | 0555;
		fctx.remote_st.st_uid = getuid();
		fctx.remote_st.st_gid = getgid();
	}

	/* Read-only always; name the mount after its source so mount(8) and df show it (a URL
	 * without its credentials). */
	if (o.rw)
		fprintf(stderr, "hlsfs: %s: mounting read-only (hlsfs is a read-only file system)\n", copts.mountpoint);
	if (fctx.catalog)
		remote_redact(o.source, fsname_url, sizeof(fsname_url));
	if (fuse_opt_add_arg(&args, "-oro,subtype=hlsfs") < 0 ||
	    fuse_opt_add_opt_escaped(&escaped, fctx.catalog ? fsname_url : o.source) < 0 ||
	    asprintf(&fsname, "-ofsname=%s", escaped) < 0 ||
	    fuse_opt_add_arg(&args, fsname) < 0)
		goto out_args;

	log_set_debug(copts.debug);
	scan_init();
	media_init(&pcfg, store, fctx.root_len ? fctx.root : "", o.conf.base_url);
	if (o.conf.shared_cache) {
		char why[512];
		if (!o.conf.cache_dir) {
			fprintf(stderr, "hlsfs: shared_cache=%s needs cache_dir (segments from it are kept there)\n",
				o.conf.shared_cache);
			goto out_args;
		}
		if (shared_store_init(o.conf.shared_cache, fctx.root_len ? fctx.root : "", why, sizeof(why)) < 0) {
			fprintf(stderr, "hlsfs: %s\n", why);
			goto out_args;
		}
	}
	media_set_thumbnails(v.thumbnails);
	media_set_growing_idle((unsigned)v.growing_idle);
	source_init(&scfg, store, &blocks);
	fctx.store = store;
	fuse = fuse_new(&args, &fs_operations, sizeof(fs_operations), &fctx);
	if (!fuse)
		goto out_args;  /* fuse_new printed why (an unknown option, most often) */
	if (fuse_mount(fuse, copts.mountpoint) != 0)
		goto out_new;
	if (fuse_daemonize(copts.foreground) != 0)
		goto out_mount;
	if (!copts.foreground)
		log_use_syslog(true);
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_mount;

	if (copts.singlethread) {
		ret = fuse_loop(fuse);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, (unsigned)copts.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, copts.max_threads);
		ret = fuse_loop_mt(fuse, loop);
	}
	/* A positive value is the signal (TERM, INT, HUP) that ended the loop: a clean stop. */
	ret = ret >= 0 ? 0 : 1;

	fuse_remove_signal_handlers(fuse_get_session(fuse));
out_mount:
	fuse_unmount(fuse);
out_new:
	fuse_destroy(fuse);
out_args:
	source_shutdown();
	segment_shutdown();
	cache_shutdown();
	media_shutdown();
	store_close(store);
	remote_shutdown();
	fuse_loop_cfg_destroy(loop);
	free(copts.mountpoint);
	fuse_opt_free_args(&args);
	config_release(&o.conf);
	free(o.source);
	catalog_close(fctx.catalog);
	free(fctx.root);
	free(fsname);
	free(escaped);
	return ret;
}
