/* SMP callbacks that re-enter the library as applications do: bitlbee
   frees the SMP state in place from inside handle_smp_event, pidgin aborts
   from inside it. Two users in one process, one library. */
#include <libotr/proto.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/sm.h>
#include "common.h"

struct party { const char *name; OtrlUserState us; };
static struct party A = { "alice", NULL }, B = { "bob", NULL };
static char *queue[256];
static struct party *queue_to[256];
static int qlen;
static OtrlMessageAppOps ops;
static int free_in_callback, abort_in_callback;

static struct party *by_name(const char *n) { return strcmp(n, "alice") ? &B : &A; }
static OtrlPolicy pol(void *o, ConnContext *c) { (void)o; (void)c; return OTRL_POLICY_MANUAL; }
static int logged_in(void *o, const char *a, const char *p, const char *r) { (void)o; (void)a; (void)p; (void)r; return 1; }
static void inj(void *o, const char *a, const char *p, const char *r, const char *m)
{
    (void)o; (void)a; (void)p;
    queue_to[qlen] = by_name(r);
    queue[qlen++] = strdup(m);
}
static void smp_ev(void *o, OtrlSMPEvent ev, ConnContext *c, unsigned short pct, char *q)
{
    struct party *me = by_name(c->accountname);
    (void)o;
    SAY("  %s: smp event %d %u%s%s next=%d prog=%d question=%d secret=%s", me->name, ev, pct,
        q ? " q=" : "", q ? q : "", c->smstate->nextExpected, c->smstate->sm_prog_state,
        c->smstate->received_question, c->smstate->secret ? "set" : "NULL");
    if (ev == OTRL_SMPEVENT_ASK_FOR_SECRET || ev == OTRL_SMPEVENT_ASK_FOR_ANSWER)
        otrl_message_respond_smp(me->us, &ops, NULL, c, (const unsigned char *)"pass", 4);
    if ((ev == OTRL_SMPEVENT_SUCCESS || ev == OTRL_SMPEVENT_FAILURE) && free_in_callback) {
        otrl_sm_state_free(c->smstate);
        SAY("  %s: freed in callback: next=%d prog=%d secret=%s", me->name, c->smstate->nextExpected,
            c->smstate->sm_prog_state, c->smstate->secret ? "set" : "NULL");
    }
    if (ev == OTRL_SMPEVENT_IN_PROGRESS && abort_in_callback)
        otrl_message_abort_smp(me->us, &ops, NULL, c);
}
static void pump(void)
{
    int i;
    while (qlen) {
        int n = qlen;
        char *msgs[256];
        struct party *to[256];
        memcpy(msgs, queue, sizeof(char *) * n);
        memcpy(to, queue_to, sizeof(void *) * n);
        qlen = 0;
        for (i = 0; i < n; i++) {
            struct party *from = to[i] == &A ? &B : &A;
            char *nm = NULL;
            OtrlTLV *t = NULL;
            otrl_message_receiving(to[i]->us, &ops, NULL, to[i]->name, "p", from->name, msgs[i], &nm, &t, NULL, NULL, NULL);
            otrl_message_free(nm);
            otrl_tlv_free(t);
            free(msgs[i]);
        }
    }
}
static ConnContext *ctx_of(struct party *me, struct party *peer)
{
    return otrl_context_find(me->us, peer->name, me->name, "p", OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
}

int main(int argc, char **argv)
{
    static const unsigned char keys[2][1] = { { 0 }, { 0 } };
    char path[512];
    ConnContext *ca, *cb;
    (void)keys;
    (void)argc;
    OTRL_INIT;
    A.us = otrl_userstate_create();
    B.us = otrl_userstate_create();
    ops.policy = pol;
    ops.inject_message = inj;
    ops.is_logged_in = logged_in;
    ops.handle_smp_event = smp_ev;
    snprintf(path, sizeof path, "%s/keys", argv[1]);
    otrl_privkey_generate(A.us, path, "alice", "p");
    otrl_privkey_generate(B.us, path, "bob", "p");
    otrl_instag_generate(A.us, "/dev/null", "alice", "p");
    otrl_instag_generate(B.us, "/dev/null", "bob", "p");
    inj(NULL, "alice", "p", "bob", "?OTRv3?");
    pump();
    ca = ctx_of(&A, &B);
    cb = ctx_of(&B, &A);
    SAY("encrypted: %d %d", ca->msgstate, cb->msgstate);

    SAY("SMP, both free the state inside the SUCCESS callback");
    free_in_callback = 1;
    otrl_message_initiate_smp(A.us, &ops, NULL, ca, (const unsigned char *)"pass", 4);
    pump();
    SAY("  after: alice next=%d prog=%d, bob next=%d prog=%d", ca->smstate->nextExpected,
        ca->smstate->sm_prog_state, cb->smstate->nextExpected, cb->smstate->sm_prog_state);
    free_in_callback = 0;

    SAY("SMP with a question, alice aborts inside IN_PROGRESS");
    abort_in_callback = 1;
    otrl_message_initiate_smp_q(A.us, &ops, NULL, ca, "colour?", (const unsigned char *)"pass", 4);
    pump();
    abort_in_callback = 0;
    SAY("  after: alice next=%d, bob next=%d", ca->smstate->nextExpected, cb->smstate->nextExpected);

    SAY("a normal SMP afterwards");
    otrl_message_initiate_smp(B.us, &ops, NULL, cb, (const unsigned char *)"pass", 4);
    pump();
    SAY("  trust: alice sees %s, bob sees %s", ca->active_fingerprint->trust ? ca->active_fingerprint->trust : "NULL",
        cb->active_fingerprint->trust ? cb->active_fingerprint->trust : "NULL");
    otrl_userstate_free(A.us);
    otrl_userstate_free(B.us);
    return harness_exit();
}
