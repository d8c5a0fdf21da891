/* The platform a scanner detected, and the directory it selects (the
 * policy's filter-platform, platform-env and platform-file; Ollama's
 * cudaJetpack(), discover/gpu.go): from the server's recorded
 * environment and the platform file as the server read it. */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "diagnose/model.h"

/* "35=cuda_jetpack5" for VALUE "35": the directory, or NULL. */
static const char *map_value(const PolicyPlatform *pl, const char *value, size_t *len)
{
	for (size_t i = 0; i < pl->n_file_map; i++) {
		const char *eq = strchr(pl->file_map[i], '=');
		if (eq && (size_t)(eq - pl->file_map[i]) == strlen(value) &&
		    !strncmp(pl->file_map[i], value, strlen(value))) {
			*len = strlen(eq + 1);
			return eq + 1;
		}
	}
	return NULL;
}

void diag_platform(const Model *d, PlatformPick *ret)
{
	*ret = (PlatformPick){ 0 };
	const PolicyPlatform *pl = &d->policy.platform;
	if (!d->have_policy || !pl->arch)
		return;
	ret->applies = true;
	if (strcmp(pl->arch, d->arch->uname)) {
		/* the scanner looks for its platform on pl->arch only */
		snprintf(ret->why, sizeof(ret->why), "the platform is detected on %s only; this host is %s", pl->arch,
			 d->arch->uname);
		return;
	}
	/* the variable first, as it is (Ollama does not trim it) */
	const char *v = pl->env_var && d->server ? diag_env(d->server, pl->env_var) : NULL;
	if (v && *v) {
		const char *pc = strstr(pl->env_dir, "%s");
		int major = (int)strcspn(v, ".");
		ret->how = PLATFORM_BY_ENV;
		snprintf(ret->dir, sizeof(ret->dir), "%.*s%.*s%s", (int)(pc - pl->env_dir), pl->env_dir, major, v, pc + 2);
		snprintf(ret->why, sizeof(ret->why), "%s=%s", pl->env_var, v);
		ret->seq = d->server->exec_seq;
		return;
	}
	json_object *ev = pl->file ? d->platform : NULL;
	if (!ev) {
		snprintf(ret->why, sizeof(ret->why), "no platform detected: %s%s%s not read by the server",
			 pl->env_var ? pl->env_var : "", pl->env_var ? " unset, " : "", pl->file ? pl->file : "");
		return;
	}
	ret->seq = (uint64_t)jnum(ev, "seq", 0);
	const char *line = jstr(ev, "line"), *value = jstr(ev, "value"), *err = jstr(ev, "error");
	size_t len = 0;
	const char *dir = value ? map_value(pl, value, &len) : NULL;
	if (err)
		snprintf(ret->why, sizeof(ret->why), "no platform detected: %s: %s", pl->file, err);
	else if (!dir)
		snprintf(ret->why, sizeof(ret->why), "no platform detected: %s: %s", pl->file, line ? line : "");
	else {
		ret->how = PLATFORM_BY_FILE;
		snprintf(ret->dir, sizeof(ret->dir), "%.*s", (int)len, dir);
		snprintf(ret->why, sizeof(ret->why), "%s: %s", pl->file, line ? line : "");
	}
}
