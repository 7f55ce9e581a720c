/* libotr-rs demo: two users, alice and bob, as an OTR application would set
   them up and use them, all through the libotr 4.1.1 API, built with
   `pkg-config --cflags --libs libotr`: private keys, instance tags,
   fingerprints, then a conversation: query message, AKE, encrypted messages
   (their wire form shown), the Socialist Millionaires' Protocol with a
   question (which marks the fingerprints trusted) and disconnect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/context.h>
#include <libotr/userstate.h>
#include <libotr/message.h>
#include <libotr/tlv.h>

struct user {
    const char *name;
    OtrlUserState us;
    char keyfile[256], tagfile[256], fpfile[256];
};

static void setup(struct user *u, const char *dir)
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    gcry_error_t err;

    u->us = otrl_userstate_create();
    snprintf(u->keyfile, sizeof u->keyfile, "%s/%s.private_key", dir, u->name);
    snprintf(u->tagfile, sizeof u->tagfile, "%s/%s.instance_tags", dir, u->name);
    snprintf(u->fpfile, sizeof u->fpfile, "%s/%s.fingerprints", dir, u->name);

    err = otrl_privkey_read(u->us, u->keyfile);
    if (err) {
        printf("%s: no key yet (%s), generating a DSA-1024 key...\n", u->name, gcry_strerror(err));
        err = otrl_privkey_generate(u->us, u->keyfile, u->name, "demo");
        if (err) { fprintf(stderr, "keygen failed: %u\n", err); exit(1); }
    }
    if (otrl_instag_read(u->us, u->tagfile) || !otrl_instag_find(u->us, u->name, "demo"))
        otrl_instag_generate(u->us, u->tagfile, u->name, "demo");
    otrl_privkey_read_fingerprints(u->us, u->fpfile, NULL, NULL);
    printf("%s: fingerprint %s, instance tag %08x\n", u->name,
           otrl_privkey_fingerprint(u->us, human, u->name, "demo"),
           otrl_instag_find(u->us, u->name, "demo")->instag);
}

/* Records the peer's fingerprint as an OTR client does after the AKE; it
   becomes trusted once SMP succeeds (or the user checks it by hand). */
static void learn(struct user *me, struct user *peer)
{
    unsigned char raw[20];
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    ConnContext *ctx;
    Fingerprint *fp;
    int added;

    otrl_privkey_fingerprint_raw(peer->us, raw, peer->name, "demo");
    ctx = otrl_context_find(me->us, peer->name, me->name, "demo", OTRL_INSTAG_MASTER, 1, NULL, NULL, NULL);
    fp = otrl_context_find_fingerprint(ctx, raw, 1, &added);
    otrl_privkey_hash_to_human(human, fp->fingerprint);
    printf("%s: %s fingerprint of %s: %s (trusted: %s)\n", me->name, added ? "new" : "known",
           peer->name, human, otrl_context_is_fingerprint_trusted(fp) ? "yes" : "no");
    otrl_privkey_write_fingerprints(me->us, me->fpfile);
}

/* The network: messages injected by the library wait here for delivery. */
struct wire_msg { struct user *to; char *text; };
static struct wire_msg queue[256];
static int queue_len;
static struct user *users[2];

static struct user *by_name(const char *name)
{
    return strcmp(name, users[0]->name) ? users[1] : users[0];
}

static OtrlPolicy cb_policy(void *opdata, ConnContext *ctx) { (void)opdata; (void)ctx; return OTRL_POLICY_DEFAULT; }
static int cb_logged_in(void *o, const char *a, const char *p, const char *r) { (void)o; (void)a; (void)p; (void)r; return 1; }
static void cb_inject(void *opdata, const char *acct, const char *proto, const char *to, const char *msg)
{
    (void)opdata; (void)acct; (void)proto;
    if (queue_len < 256) {
        queue[queue_len].to = by_name(to);
        queue[queue_len++].text = strdup(msg);
    }
}
static void cb_gone_secure(void *opdata, ConnContext *ctx)
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    otrl_privkey_hash_to_human(human, ctx->active_fingerprint->fingerprint);
    printf("  %s: private conversation with %s (OTR v%u), their fingerprint %s\n",
           ((struct user *)opdata)->name, ctx->username, ctx->protocol_version, human);
}
static void cb_event(void *opdata, OtrlMessageEvent ev, ConnContext *ctx, const char *msg, gcry_error_t err)
{
    (void)ctx; (void)err;
    /* SMP messages travel in data messages without text, logged as heartbeats. */
    if (ev == OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD || ev == OTRL_MSGEVENT_LOG_HEARTBEAT_SENT)
        return;
    printf("  %s: event %s%s%s\n", ((struct user *)opdata)->name,
           ev == OTRL_MSGEVENT_CONNECTION_ENDED ? "CONNECTION_ENDED (the other side ended it)" : "",
           msg ? " " : "", msg ? msg : "");
    if (ev != OTRL_MSGEVENT_CONNECTION_ENDED)
        printf("  (event %d)\n", ev);
}

static OtrlMessageAppOps ops;

/* Fingerprints file of the user whose trust changed (SMP). */
static void cb_write_fingerprints(void *opdata)
{
    struct user *u = opdata;
    otrl_privkey_write_fingerprints(u->us, u->fpfile);
}

/* The SMP side of a chat client: bob knows the answer to alice's question. */
static void cb_smp(void *opdata, OtrlSMPEvent ev, ConnContext *ctx, unsigned short progress, char *question)
{
    struct user *u = opdata;
    static const char *names[] = { "none", "error", "abort", "cheated", "asks for the answer",
                                   "asks for the secret", "in progress", "success", "failure" };
    printf("  %s: SMP %s (%u%%)%s%s\n", u->name, ev <= OTRL_SMPEVENT_FAILURE ? names[ev] : "?", progress,
           question ? ", question: " : "", question ? question : "");
    if (ev == OTRL_SMPEVENT_ASK_FOR_ANSWER)
        otrl_message_respond_smp(u->us, &ops, u, ctx, (const unsigned char *)"the old mill", 12);
    else if (ev == OTRL_SMPEVENT_CHEATED || ev == OTRL_SMPEVENT_ERROR)
        otrl_message_abort_smp(u->us, &ops, u, ctx);
    else if ((ev == OTRL_SMPEVENT_SUCCESS || ev == OTRL_SMPEVENT_FAILURE) && ctx->smstate->received_question)
        printf("  %s answered a question: only the one who asked learns whom they talk to\n", u->name);
    else if (ev == OTRL_SMPEVENT_SUCCESS || ev == OTRL_SMPEVENT_FAILURE)
        printf("  %s: %s's fingerprint is %s\n", u->name, ctx->username,
               otrl_context_is_fingerprint_trusted(ctx->active_fingerprint) ? "now trusted (\"smp\")" : "not trusted");
}

static void show(const char *what, const char *text)
{
    printf("  wire %s: %.60s%s\n", what, text, strlen(text) > 60 ? "..." : "");
}

/* Delivers everything queued, as the IM network would. */
static void deliver(void)
{
    int i;
    for (i = 0; i < queue_len; i++) {
        struct user *to = queue[i].to;
        struct user *from = to == users[0] ? users[1] : users[0];
        char *plain = NULL;
        OtrlTLV *tlvs = NULL;
        int internal;
        show(from == users[0] ? "alice->bob" : "bob->alice", queue[i].text);
        internal = otrl_message_receiving(to->us, &ops, to, to->name, "demo", from->name,
                                          queue[i].text, &plain, &tlvs, NULL, NULL, NULL);
        if (!internal)
            printf("  %s reads: %s\n", to->name, plain ? plain : queue[i].text);
        otrl_message_free(plain);
        otrl_tlv_free(tlvs);
        free(queue[i].text);
    }
    queue_len = 0;
}

static void say(struct user *from, struct user *to, const char *text)
{
    char *out = NULL;
    gcry_error_t err;
    printf("%s says: %s\n", from->name, text);
    err = otrl_message_sending(from->us, &ops, from, from->name, "demo", to->name, OTRL_INSTAG_BEST,
                               text, NULL, &out, OTRL_FRAGMENT_SEND_ALL_BUT_LAST, NULL, NULL, NULL);
    if (!err && out && !*out)
        printf("  (nothing sent: the conversation was ended)\n");
    else if (!err)
        cb_inject(NULL, from->name, "demo", to->name, out ? out : text);
    otrl_message_free(out);
    deliver();
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    struct user alice = { "alice", NULL, "", "", "" }, bob = { "bob", NULL, "", "", "" };
    char *query;

    OTRL_INIT;
    printf("libotr API %s\n", otrl_version());
    setup(&alice, dir);
    setup(&bob, dir);
    learn(&alice, &bob);
    learn(&bob, &alice);

    users[0] = &alice;
    users[1] = &bob;
    ops.policy = cb_policy;
    ops.is_logged_in = cb_logged_in;
    ops.inject_message = cb_inject;
    ops.gone_secure = cb_gone_secure;
    ops.handle_msg_event = cb_event;
    ops.handle_smp_event = cb_smp;
    ops.write_fingerprints = cb_write_fingerprints;

    printf("alice asks bob for a private conversation\n");
    query = otrl_proto_default_query_msg(alice.name, OTRL_POLICY_DEFAULT);
    cb_inject(NULL, "alice", "demo", "bob", query);
    free(query);
    deliver();
    while (queue_len) deliver();
    say(&alice, &bob, "Hello Bob, this travels encrypted.");
    say(&bob, &alice, "Hi Alice! Keys rotate with every reply.");
    say(&alice, &bob, "Grüße, ✓ UTF-8 too.");
    printf("alice checks that she talks to the real bob (SMP with a question)\n");
    otrl_message_initiate_smp_q(alice.us, &ops, &alice,
                                otrl_context_find(alice.us, "bob", "alice", "demo", OTRL_INSTAG_BEST, 0,
                                                  NULL, NULL, NULL),
                                "Where did we first meet?", (const unsigned char *)"the old mill", 12);
    while (queue_len) deliver();
    printf("alice ends the private conversation\n");
    otrl_message_disconnect_all_instances(alice.us, &ops, &alice, "alice", "demo", "bob");
    deliver();
    say(&bob, &alice, "Are you still there?");

    otrl_userstate_free(alice.us);
    otrl_userstate_free(bob.us);
    printf("files written to %s\n", dir);
    return 0;
}
