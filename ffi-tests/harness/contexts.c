/* Contexts and fingerprints: creation and lookup (master, children, meta
   instance tags), list order, app data callbacks, trust, forgetting. */
#include <libotr/proto.h>
#include <libotr/context.h>
#include <libotr/userstate.h>
#include "common.h"

static int appdata_calls;
static int appdata_frees;

static void app_free(void *p)
{
    appdata_frees++;
    free(p);
}

static void add_app(void *data, ConnContext *ctx)
{
    char *tag = malloc(64);
    snprintf(tag, 64, "%s#%d/%s/%u", (const char *)data, ++appdata_calls,
             ctx->username, ctx->their_instance);
    ctx->app_data = tag;
    ctx->app_data_free = app_free;
    SAY("add_app_data %s m_context_is_self=%d", tag, ctx->m_context == ctx);
}

static void dump(OtrlUserState us)
{
    ConnContext *c;
    int i = 0;
    for (c = us->context_root; c; c = c->next, i++) {
        Fingerprint *f;
        int nfp = 0;
        CHECK(c->tous && *c->tous == c);
        CHECK(c->smstate != NULL);
        CHECK(c->context_priv != NULL);
        for (f = c->fingerprint_root.next; f; f = f->next) {
            nfp++;
            CHECK(f->context == c);
            CHECK(*f->tous == f);
        }
        SAY("  [%d] %s %s %s inst=%u master=%s msgstate=%d fps=%d smexp=%d app=%s", i,
            c->username, c->accountname, c->protocol, c->their_instance,
            c->m_context == c ? "self" : c->m_context->username, c->msgstate, nfp,
            c->smstate->nextExpected, c->app_data ? (char *)c->app_data : "-");
    }
}

static const char *who(ConnContext *master, ConnContext *c)
{
    static char buf[64];
    if (!c) return "NULL";
    if (c == master) return "master";
    snprintf(buf, sizeof buf, "child %u", c->their_instance);
    return buf;
}

int main(void)
{
    OtrlUserState us;
    ConnContext *m, *c1, *c2, *c3, *x;
    Fingerprint *f1, *f2, *f3;
    unsigned char fp1[20], fp2[20], fp3[20];
    int added = -1;

    OTRL_INIT;
    us = otrl_userstate_create();
    CHECK(us && !us->context_root && !us->privkey_root && !us->instag_root && !us->pending_root);

    SAY("find missing without add");
    x = otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_MASTER, 0, &added, add_app, "t");
    SAY("  result=%s added=%d", x ? "ctx" : "NULL", added);
    CHECK(otrl_context_find(us, NULL, "alice", "xmpp", 0, 1, NULL, NULL, NULL) == NULL);

    SAY("create masters in unsorted order");
    otrl_context_find(us, "zed", "alice", "xmpp", OTRL_INSTAG_MASTER, 1, &added, add_app, "t");
    otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_MASTER, 1, &added, add_app, "t");
    otrl_context_find(us, "bob", "alice", "irc", OTRL_INSTAG_MASTER, 1, &added, add_app, "t");
    otrl_context_find(us, "bob", "aaron", "xmpp", OTRL_INSTAG_MASTER, 1, &added, add_app, "t");
    dump(us);

    SAY("children (master exists)");
    c2 = otrl_context_find(us, "bob", "alice", "xmpp", 0x2000, 1, &added, add_app, "t");
    SAY("  added=%d", added);
    c1 = otrl_context_find(us, "bob", "alice", "xmpp", 0x1000, 1, &added, add_app, "t");
    c3 = otrl_context_find(us, "bob", "alice", "xmpp", 0x3000, 1, &added, add_app, "t");
    m = otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_MASTER, 0, &added, NULL, NULL);
    SAY("  found master again added=%d", added);
    CHECK(c1->m_context == m && c2->m_context == m && c3->m_context == m);
    CHECK(otrl_context_find(us, "bob", "alice", "xmpp", 0x2000, 0, NULL, NULL, NULL) == c2);
    dump(us);

    SAY("child before its master exists");
    otrl_context_find(us, "carol", "alice", "xmpp", 0x4444, 1, &added, add_app, "t");
    SAY("  added=%d", added);
    dump(us);

    SAY("meta tags");
    SAY("  BEST=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_BEST, 0, NULL, NULL, NULL)));
    SAY("  RECENT=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_RECENT, 0, NULL, NULL, NULL)));
    otrl_context_update_recent_child(c2, 0);
    otrl_context_update_recent_child(c3, 1);
    otrl_context_update_recent_child(m, 1);
    SAY("  after updates: RECENT=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_RECENT, 0, NULL, NULL, NULL)));
    SAY("  RECENT_RECEIVED=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_RECENT_RECEIVED, 0, NULL, NULL, NULL)));
    SAY("  RECENT_SENT=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_RECENT_SENT, 0, NULL, NULL, NULL)));
    SAY("  find_recent_instance(c1, RECENT)=%s", who(m, otrl_context_find_recent_instance(c1, OTRL_INSTAG_RECENT)));
    SAY("  find_recent_instance(c1, 99)=%s", who(m, otrl_context_find_recent_instance(c1, 99)));
    SAY("  instance 5 (reserved)=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", 5, 0, NULL, NULL, NULL)));
    c1->msgstate = OTRL_MSGSTATE_FINISHED;
    SAY("  BEST with a FINISHED child=%s", who(m, otrl_context_find_recent_secure_instance(c2)));
    c3->msgstate = OTRL_MSGSTATE_ENCRYPTED;
    SAY("  BEST with an ENCRYPTED child=%s", who(m, otrl_context_find(us, "bob", "alice", "xmpp", OTRL_INSTAG_BEST, 0, NULL, NULL, NULL)));
    c3->msgstate = OTRL_MSGSTATE_PLAINTEXT;
    c1->msgstate = OTRL_MSGSTATE_PLAINTEXT;

    SAY("meta tag on a missing context, with add");
    x = otrl_context_find(us, "dave", "alice", "xmpp", OTRL_INSTAG_BEST, 1, &added, add_app, "t");
    SAY("  added=%d inst=%u master_self=%d recent=%s", added, x->their_instance, x->m_context == x,
        x->recent_child ? "set" : "NULL");

    SAY("fingerprints");
    memset(fp1, 0x11, 20); memset(fp2, 0x22, 20); memset(fp3, 0x33, 20);
    f1 = otrl_context_find_fingerprint(c1, fp1, 1, &added);
    SAY("  add via child: added=%d context_is_master=%d", added, f1->context == m);
    f2 = otrl_context_find_fingerprint(m, fp2, 1, &added);
    f3 = otrl_context_find_fingerprint(m, fp3, 0, &added);
    SAY("  missing without add: %s added=%d", f3 ? "found" : "NULL", added);
    SAY("  first in list is fp2: %d", m->fingerprint_root.next == f2);
    CHECK(otrl_context_find_fingerprint(c2, fp1, 0, NULL) == f1);
    SAY("  child list empty: %d", c1->fingerprint_root.next == NULL);
    SAY("  trusted(NULL)=%d trusted(f1)=%d", otrl_context_is_fingerprint_trusted(NULL),
        otrl_context_is_fingerprint_trusted(f1));
    otrl_context_set_trust(f1, "verified");
    SAY("  after set: trust=%s trusted=%d", f1->trust, otrl_context_is_fingerprint_trusted(f1));
    otrl_context_set_trust(f1, "");
    SAY("  empty: trust='%s' trusted=%d", f1->trust, otrl_context_is_fingerprint_trusted(f1));
    otrl_context_set_trust(f1, NULL);
    SAY("  NULL: trust=%s", f1->trust ? f1->trust : "(null)");
    free(f2->trust);
    f2->trust = strdup("app-owned");
    dump(us);

    SAY("force finished / plaintext");
    c2->active_fingerprint = f2;
    c2->msgstate = OTRL_MSGSTATE_ENCRYPTED;
    c2->sessionid_len = 8;
    c2->protocol_version = 3;
    c2->smstate->nextExpected = OTRL_SMP_EXPECT3;
    otrl_context_force_finished(c2);
    SAY("  msgstate=%d active=%s sidlen=%zu pv=%u smexp=%d", c2->msgstate,
        c2->active_fingerprint ? "set" : "NULL", c2->sessionid_len, c2->protocol_version,
        c2->smstate->nextExpected);
    otrl_context_force_plaintext(c2);
    SAY("  plaintext msgstate=%d", c2->msgstate);

    SAY("forget fingerprint without context");
    otrl_context_forget_fingerprint(f1, 1);
    SAY("  fps left on master: %s", m->fingerprint_root.next == f2 && !f2->next ? "fp2" : "?");

    SAY("forget child");
    added = otrl_context_forget(c3);
    SAY("  forget(c3)=%d frees=%d", added, appdata_frees);
    dump(us);

    SAY("forget encrypted child refused");
    c1->msgstate = OTRL_MSGSTATE_ENCRYPTED;
    SAY("  forget(c1)=%d", otrl_context_forget(c1));
    c1->msgstate = OTRL_MSGSTATE_PLAINTEXT;

    SAY("forget last fingerprint with and_maybe_context on a lone master");
    x = otrl_context_find(us, "zed", "alice", "xmpp", OTRL_INSTAG_MASTER, 0, NULL, NULL, NULL);
    f3 = otrl_context_find_fingerprint(x, fp3, 1, NULL);
    otrl_context_forget_fingerprint(f3, 1);
    SAY("  zed still there: %s", otrl_context_find(us, "zed", "alice", "xmpp", 0, 0, NULL, NULL, NULL) ? "yes" : "no");
    dump(us);

    SAY("forget_all");
    otrl_context_forget_all(us);
    SAY("  root=%s frees=%d calls=%d", us->context_root ? "set" : "NULL", appdata_frees, appdata_calls);
    otrl_userstate_free(us);
    SAY("  after userstate_free frees=%d", appdata_frees);
    return harness_exit();
}
