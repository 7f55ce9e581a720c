/*
 * A libpurple plugin that reports what the real pidgin-otr plugin did when
 * Pidgin loaded it. It depends on the plugin with id "otr", so libpurple
 * loads (and initialises) pidgin-otr first; then it reads pidgin-otr's own
 * user state (its global otrg_plugin_userstate) and writes to the file named
 * by $OTRPROBE_REPORT:
 *
 *   pid <pidgin's process id>
 *   plugin <path> <version> <name>       the loaded "otr" plugin
 *   version <otrl_version()>
 *   privkey <account> <protocol> <fingerprint>
 *   instag <account> <protocol> <tag, 8 hex digits>
 *   fingerprint <user> <account> <protocol> <fingerprint> <trust>
 *   maps <path>                          every libotr mapped in the process
 *   done
 *
 * Everything after "plugin" comes from the files pidgin-otr read in its
 * load function (otr.private_key, otr.instance_tags, otr.fingerprints).
 * The plugin then waits for the file $OTRPROBE_STOP to appear (so the test
 * can look at /proc/PID/maps from outside) and quits Pidgin cleanly.
 */
#define PURPLE_PLUGINS

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <gmodule.h>

#include <core.h>
#include <debug.h>
#include <eventloop.h>
#include <plugin.h>
#include <version.h>

#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/context.h>
#include <libotr/userstate.h>

static guint stop_timer;
static int stop_polls;

static void report_maps(FILE *out)
{
    char line[4096];
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    FILE *maps = fopen("/proc/self/maps", "r");

    if (!maps) {
        fprintf(out, "error cannot read /proc/self/maps\n");
        return;
    }
    while (fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');

        if (!path || !strstr(path, "/libotr.so"))
            continue;
        path[strcspn(path, "\n")] = '\0';
        if (!g_hash_table_contains(seen, path)) {
            g_hash_table_add(seen, g_strdup(path));
            fprintf(out, "maps %s\n", path);
        }
    }
    fclose(maps);
    g_hash_table_destroy(seen);
}

static void report_userstate(FILE *out, OtrlUserState us)
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    OtrlPrivKey *key;
    OtrlInsTag *tag;
    ConnContext *ctx;

    for (key = us->privkey_root; key; key = key->next) {
        if (otrl_privkey_fingerprint(us, human, key->accountname, key->protocol))
            fprintf(out, "privkey %s %s %s\n", key->accountname, key->protocol, human);
    }
    for (tag = us->instag_root; tag; tag = tag->next)
        fprintf(out, "instag %s %s %08x\n", tag->accountname, tag->protocol, tag->instag);
    for (ctx = us->context_root; ctx; ctx = ctx->next) {
        Fingerprint *fp;

        /* Known fingerprints hang off master contexts only. */
        if (ctx->m_context != ctx)
            continue;
        for (fp = ctx->fingerprint_root.next; fp; fp = fp->next) {
            otrl_privkey_hash_to_human(human, fp->fingerprint);
            fprintf(out, "fingerprint %s %s %s %s %s\n", ctx->username, ctx->accountname,
                    ctx->protocol, human, fp->trust && *fp->trust ? fp->trust : "-");
        }
    }
}

static gboolean wait_for_stop(gpointer data)
{
    const char *stop = getenv("OTRPROBE_STOP");

    (void)data;
    /* 0.2 s polls: give up waiting after two minutes rather than hang. */
    if ((stop && access(stop, F_OK) == 0) || ++stop_polls > 600) {
        stop_timer = 0;
        /* Quitting unloads and unmaps this plugin, so it must not happen
         * inside this function: libpurple's own callback does it next. */
        purple_timeout_add(0, purple_core_quit_cb, NULL);
        return FALSE;
    }
    return TRUE;
}

static gboolean probe_load(PurplePlugin *plugin)
{
    const char *path = getenv("OTRPROBE_REPORT");
    PurplePlugin *otr = purple_plugins_find_with_id("otr");
    gpointer sym = NULL;
    FILE *out;

    (void)plugin;
    if (!path || !(out = fopen(path, "w"))) {
        purple_debug_error("otrprobe", "cannot write the report ($OTRPROBE_REPORT)\n");
        return FALSE;
    }
    fprintf(out, "pid %ld\n", (long)getpid());
    if (!otr || !purple_plugin_is_loaded(otr)) {
        fprintf(out, "error the otr plugin is not loaded\n");
    } else {
        fprintf(out, "plugin %s %s %s\n", otr->path, purple_plugin_get_version(otr),
                purple_plugin_get_name(otr));
        fprintf(out, "version %s\n", otrl_version());
        if (!otr->handle || !g_module_symbol((GModule *)otr->handle, "otrg_plugin_userstate", &sym) ||
            !sym || !*(OtrlUserState *)sym)
            fprintf(out, "error pidgin-otr has no user state\n");
        else
            report_userstate(out, *(OtrlUserState *)sym);
    }
    report_maps(out);
    fprintf(out, "done\n");
    fclose(out);
    purple_debug_info("otrprobe", "report written to %s\n", path);
    stop_timer = purple_timeout_add(200, wait_for_stop, NULL);
    return TRUE;
}

static gboolean probe_unload(PurplePlugin *plugin)
{
    (void)plugin;
    if (stop_timer)
        purple_timeout_remove(stop_timer);
    stop_timer = 0;
    return TRUE;
}

static PurplePluginInfo probe_info = {
    PURPLE_PLUGIN_MAGIC, PURPLE_MAJOR_VERSION, PURPLE_MINOR_VERSION,
    PURPLE_PLUGIN_STANDARD,
    NULL,                       /* no UI requirement */
    0,
    NULL,                       /* dependencies: set in init_probe */
    PURPLE_PRIORITY_DEFAULT,
    "core-libotrrs-otrprobe",
    "OTR probe (libotr-rs test)",
    "1",
    "Reports pidgin-otr's state",
    "Reports what pidgin-otr read at start-up, then quits.",
    "libotr-rs tests",
    NULL,
    probe_load, probe_unload, NULL,
    NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL
};

static void init_probe(PurplePlugin *plugin)
{
    (void)plugin;
    probe_info.dependencies = g_list_append(NULL, (gpointer) "otr");
}

PURPLE_INIT_PLUGIN(otrprobe, init_probe, probe_info)
