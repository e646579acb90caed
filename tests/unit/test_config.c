/* Option values: durations and the config-file key table. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "config.h"

int main(void)
{
	struct config c = { 0 };
	uint32_t t = 0;

	CHECK_EQ(config_seconds("6", 1, 60, &t), 0);
	CHECK_EQ(t, 540000);
	CHECK_EQ(config_seconds("4.5", 1, 60, &t), 0);
	CHECK_EQ(t, 405000);
	CHECK_EQ(config_seconds("10s", 1, 60, &t), 0);
	CHECK_EQ(t, 900000);
	CHECK_EQ(config_seconds("60", 1, 60, &t), 0);
	const char *bad[] = { "", "0", "0.5", "61", "abc", "6x", "-6", "6.", ".5", "1e3", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(config_seconds(bad[i], 1, 60, &t), -EINVAL);

	CHECK_EQ(config_set_default(&c, "segment", "4"), 0);
	CHECK_EQ(config_set_default(&c, "segment", "8"), 0);  /* first value (the command line) wins */
	CHECK(!strcmp(c.segment, "4"));
	CHECK_EQ(config_set_default(&c, "cache_dir", "/tmp/x"), 0);
	CHECK(!strcmp(c.cache_dir, "/tmp/x"));
	CHECK_EQ(config_set_default(&c, "nonsense", "1"), -ENOENT);
	config_release(&c);
	return check_report("config");
}
