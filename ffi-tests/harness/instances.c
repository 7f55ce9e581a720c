/* Receiving and instance tags: libotr asks for an instance tag (create_instag)
   for every message received on an account without one, whatever the
   message and the policy; a whole message of a version the policy does not
   allow is dropped silently; a v3 message (or fragment) addressed to
   another instance of ours is reported (RCVDMSG_FOR_OTHER_INSTANCE) and
   makes no context for its sender. Messages come from a real exchange
   between bob and an earlier alice; a fresh alice receives them. Callback
   order and the resulting contexts are printed. */
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/message.h>
#include <libotr/instag.h>
#include <libotr/privkey.h>
#include <libotr/b64.h>
#include "common.h"

static OtrlUserState cur;           /* user state the callbacks act on */
static OtrlPolicy pol = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
static char *q[64]; static int qn;
static int verbose;
static OtrlPolicy policy_cb(void *o, ConnContext *c) { (void)o; if (verbose) printf("    policy(%s)\n", c ? "ctx" : "NULL"); return pol; }
static void ucl(void *o) { (void)o; if (verbose) printf("    update_context_list\n"); }
static void create_instag(void *o, const char *a, const char *p) {
    (void)o; if (verbose) printf("    create_instag(%s)\n", a);
    otrl_instag_generate(cur, "/dev/null", a, p);
}
static void create_privkey(void *o, const char *a, const char *p) {
    (void)o; if (verbose) printf("    create_privkey(%s)\n", a);
    otrl_privkey_generate(cur, "k.tmp", a, p);
}
static int logged(void *o, const char *a, const char *p, const char *r) { (void)o;(void)a;(void)p;(void)r; return 1; }
static void inject(void *o, const char *a, const char *p, const char *r, const char *m) {
    (void)o; (void)a; (void)p; (void)r;
    if (verbose) printf("    inject %.9s\n", m);
    else q[qn++] = strdup(m);
}
static void ev(void *o, OtrlMessageEvent e, ConnContext *c, const char *m, gcry_error_t err) {
    (void)o; (void)m; (void)err;
    if (verbose) printf("    event %d on %s\n", e, c ? (c->m_context == c ? "master" : "child") : "NULL");
}
static const char *errmsg(void *o, ConnContext *c, OtrlErrorCode code) { (void)o; (void)c; (void)code; return "x"; }
static OtrlMessageAppOps ops;

static void show(OtrlUserState us) {
    ConnContext *c;
    for (c = us->context_root; c; c = c->next)
        printf("    ctx %s their=%s our=%s state=%d auth=%d\n", c->m_context == c ? "master" : "child ",
               c->their_instance ? "set" : "0", c->our_instance ? "set" : "0", c->msgstate, c->auth.authstate);
    printf("    instags: %s\n", us->instag_root ? "yes" : "none");
}
/* A fresh receiver with a key but (optionally) no instance tag receives m. */
static void feed(const char *label, const char *m, int with_tag, OtrlPolicy p) {
    OtrlUserState r = otrl_userstate_create();
    char *nm = NULL; OtrlTLV *t = NULL; int ret;
    otrl_privkey_read(r, "alice.key");
    if (with_tag) otrl_instag_generate(r, "/dev/null", "alice", "x");
    cur = r; verbose = 1; pol = p;
    printf("%s (%s tag):\n", label, with_tag ? "with" : "no");
    ret = otrl_message_receiving(r, &ops, NULL, "alice", "x", "bob", m, &nm, &t, NULL, NULL, NULL);
    printf("    returned %d, new %s\n", ret, nm ? "text" : "NULL");
    show(r);
    otrl_message_free(nm); otrl_tlv_free(t);
    verbose = 0;
    otrl_userstate_free(r);
}
/* m with its v3 instance tags replaced: the sender's by `sender`, the
   receiver's by the receiving user state's own tag when `to_us`, else 0. */
static char *retag(const char *m, unsigned int sender, int to_us, OtrlUserState r) {
    unsigned char *b = NULL; size_t len = 0; unsigned int recv = 0; char *out;
    if (otrl_base64_otr_decode(m, &b, &len) || len < 11) { free(b); return strdup(m); }
    if (to_us && r->instag_root) recv = r->instag_root->instag;
    b[3] = sender >> 24; b[4] = sender >> 16; b[5] = sender >> 8; b[6] = sender;
    b[7] = recv >> 24; b[8] = recv >> 16; b[9] = recv >> 8; b[10] = recv;
    out = otrl_base64_otr_encode(b, len);
    free(b);
    return out;
}
/* As feed, with m retagged for the receiver first (it has a tag). */
static void feed_retagged(const char *label, const char *m, unsigned int sender, int to_us) {
    OtrlUserState r = otrl_userstate_create();
    char *nm = NULL, *t2; OtrlTLV *t = NULL; int ret;
    otrl_privkey_read(r, "alice.key");
    otrl_instag_generate(r, "/dev/null", "alice", "x");
    t2 = retag(m, sender, to_us, r);
    cur = r; verbose = 1; pol = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
    printf("%s:\n", label);
    ret = otrl_message_receiving(r, &ops, NULL, "alice", "x", "bob", t2, &nm, &t, NULL, NULL, NULL);
    printf("    returned %d, new %s\n", ret, nm ? "text" : "NULL");
    show(r);
    otrl_message_free(nm); otrl_tlv_free(t); free(t2);
    verbose = 0;
    otrl_userstate_free(r);
}
/* Two plain messages; the account's tag is forgotten in between (the
   master context keeps the tag it took). */
static void forgotten_tag(void) {
    OtrlUserState r = otrl_userstate_create();
    char *nm = NULL; OtrlTLV *t = NULL;
    otrl_instag_generate(r, "/dev/null", "alice", "x");
    cur = r; verbose = 1; pol = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
    printf("plain text, then the tag forgotten, then plain text again:\n");
    otrl_message_receiving(r, &ops, NULL, "alice", "x", "bob", "one", &nm, &t, NULL, NULL, NULL);
    otrl_instag_forget(r->instag_root);
    otrl_message_receiving(r, &ops, NULL, "alice", "x", "bob", "two", &nm, &t, NULL, NULL, NULL);
    show(r);
    verbose = 0;
    otrl_userstate_free(r);
}
/* An application without a create_instag callback (profanity). */
static void no_create_instag(void) {
    OtrlUserState r = otrl_userstate_create();
    char *nm = NULL; OtrlTLV *t = NULL;
    OtrlMessageAppOps o = ops;
    o.create_instag = NULL;
    cur = r; verbose = 1; pol = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
    printf("plain text, no create_instag callback:\n");
    otrl_message_receiving(r, &o, NULL, "alice", "x", "bob", "one", &nm, &t, NULL, NULL, NULL);
    show(r);
    verbose = 0;
    otrl_userstate_free(r);
}

/* bob talks to "alice" (an old alice with her own key and tag): run the
   exchange and keep every message bob sends, by kind. */
static char *msgs[16];
static void pump(OtrlUserState from, OtrlUserState to, const char *fromname, const char *toname) {
    int i, n = qn; char *local[64];
    memcpy(local, q, sizeof(char *) * n); qn = 0;
    for (i = 0; i < n; i++) {
        char *nm = NULL; OtrlTLV *t = NULL;
        cur = to;
        otrl_message_receiving(to, &ops, NULL, toname, "x", fromname, local[i], &nm, &t, NULL, NULL, NULL);
        otrl_message_free(nm); otrl_tlv_free(t);
        free(local[i]);
    }
    (void)from;
}
int main(int argc, char **argv) {
    OtrlUserState a, b; char *out = NULL; int i;
    (void)argc; (void)argv;
    OTRL_INIT;
    memset(&ops, 0, sizeof ops);
    ops.policy = policy_cb; ops.create_instag = create_instag; ops.create_privkey = create_privkey;
    ops.is_logged_in = logged; ops.inject_message = inject; ops.handle_msg_event = ev;
    ops.otr_error_message = errmsg; ops.update_context_list = ucl;
    a = otrl_userstate_create(); b = otrl_userstate_create();
    if (otrl_privkey_read(a, "alice.key")) otrl_privkey_generate(a, "alice.key", "alice", "x");
    otrl_privkey_generate(b, "bob.key", "bob", "x");
    otrl_instag_generate(a, "/dev/null", "alice", "x");
    otrl_instag_generate(b, "/dev/null", "bob", "x");
    /* alice queries; bob commits (receiver 0), alice keys (to bob), bob reveals (to alice), ... */
    cur = b;
    { char *nm = NULL; OtrlTLV *t = NULL; char *qm = otrl_proto_default_query_msg("alice", pol);
      otrl_message_receiving(b, &ops, NULL, "bob", "x", "alice", qm, &nm, &t, NULL, NULL, NULL); free(qm); }
    msgs[0] = strdup(q[0]);                 /* bob's DH commit */
    pump(b, a, "bob", "alice");             /* alice answers with DH key */
    pump(a, b, "alice", "bob");             /* bob: reveal sig */
    msgs[1] = strdup(q[0]);                 /* bob's reveal signature (to old alice) */
    pump(b, a, "bob", "alice");             /* alice: signature */
    pump(a, b, "alice", "bob");
    cur = b;
    otrl_message_sending(b, &ops, NULL, "bob", "x", "alice", OTRL_INSTAG_BEST, "hello", NULL, &out,
                         OTRL_FRAGMENT_SEND_SKIP, NULL, NULL, NULL);
    msgs[2] = out;                          /* bob's data message (to old alice) */
    {   /* the same exchange in v2 */
        OtrlUserState a2 = otrl_userstate_create(), b2 = otrl_userstate_create();
        char *nm = NULL; OtrlTLV *t = NULL; char *qm;
        otrl_privkey_read(a2, "alice.key"); otrl_privkey_read(b2, "bob.key");
        pol = OTRL_POLICY_ALLOW_V2; cur = b2; qn = 0;
        qm = otrl_proto_default_query_msg("alice", pol);
        otrl_message_receiving(b2, &ops, NULL, "bob", "x", "alice", qm, &nm, &t, NULL, NULL, NULL); free(qm);
        msgs[3] = strdup(q[0]);
        pump(b2, a2, "bob", "alice"); pump(a2, b2, "alice", "bob"); pump(b2, a2, "bob", "alice"); pump(a2, b2, "alice", "bob");
        cur = b2; out = NULL;
        otrl_message_sending(b2, &ops, NULL, "bob", "x", "alice", OTRL_INSTAG_BEST, "hello", NULL, &out,
                             OTRL_FRAGMENT_SEND_SKIP, NULL, NULL, NULL);
        msgs[4] = out;
        otrl_userstate_free(a2); otrl_userstate_free(b2);
        pol = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;
    }
    feed("v2 DH commit, v3 only", msgs[3], 0, OTRL_POLICY_ALLOW_V3);
    feed("v2 data, v3 only", msgs[4], 0, OTRL_POLICY_ALLOW_V3);
    feed("v2 data, v2 and v3", msgs[4], 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 fragment for another instance, v2 only", "?OTR|5a5a5a5a|12345678,00001,00002,?OTR:AAMD,", 0, OTRL_POLICY_ALLOW_V2);
    feed("v3 fragment for no instance, v2 only", "?OTR|5a5a5a5a|00000000,00001,00002,?OTR:AAMD,", 0, OTRL_POLICY_ALLOW_V2);
    feed("v3 data, sender tag too small, v2 only", "?OTR:AAMDAAAAAQAAAAI=.", 0, OTRL_POLICY_ALLOW_V2);
    feed("v3 DH commit (receiver 0)", msgs[0], 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 reveal signature for another instance", msgs[1], 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 reveal signature for another instance", msgs[1], 1, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 data for another instance", msgs[2], 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 data for another instance", msgs[2], 1, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 data, v2-only policy", msgs[2], 0, OTRL_POLICY_ALLOW_V2);
    feed("plain text", "hello there", 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("OTR error", "?OTR Error: bad", 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("unknown ?OTR: type", "?OTR:AAMJAAAAAQAAAAIx.", 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 fragment for another instance", "?OTR|5a5a5a5a|12345678,00001,00002,?OTR:AAMD,", 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v3 data, sender tag too small", "?OTR:AAMDAAAAAQAAAAI=.", 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed("v1 data message", "?OTR:AAEDAAAAAQAAAAEAAAAA.", 0, OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    feed_retagged("v3 data, receiver tag 0", msgs[2], 0x12345678, 0);
    feed_retagged("v3 reveal signature, receiver tag 0", msgs[1], 0x12345678, 0);
    feed_retagged("v3 data to us, sender tag 5", msgs[2], 5, 1);
    feed_retagged("v3 reveal signature to us, sender tag 5", msgs[1], 5, 1);
    feed_retagged("v3 data to us from a new instance", msgs[2], 0x12345678, 1);
    forgotten_tag();
    no_create_instag();
    feed("plain text, policy NEVER", "hello there", 0, 0);
    feed("plain text, v2 only", "hello there", 0, OTRL_POLICY_ALLOW_V2);
    feed("v3 DH commit, v2 only", msgs[0], 0, OTRL_POLICY_ALLOW_V2);
    for (i = 0; i < 5; i++) free(msgs[i]);
    otrl_userstate_free(a); otrl_userstate_free(b);
    return harness_exit();
}
