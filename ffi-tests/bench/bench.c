/* libotr-rs benchmark: the same program is built against Debian's libotr
   4.1.1 and against libotr-rs, and `make bench` prints the two side by side.
   Two parties in one process; messages pass through inject_message into an
   in-memory queue. Prints "name median_microseconds" lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libotr/proto.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>

struct party { const char *name; OtrlUserState us; };
static struct party A = { "alice", NULL }, B = { "bob", NULL };
static char *queue[4096];
static struct party *queue_to[4096];
static int qlen;
static int mms;
static OtrlMessageAppOps ops;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}
static OtrlPolicy pol(void *o, ConnContext *c) { (void)o; (void)c; return OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3; }
static int mmsz(void *o, ConnContext *c) { (void)o; (void)c; return mms; }
static void inj(void *o, const char *a, const char *p, const char *r, const char *m)
{
    (void)o; (void)a; (void)p;
    queue_to[qlen] = strcmp(r, "alice") ? &B : &A;
    queue[qlen++] = strdup(m);
}
static int smp_done;
static void smp_ev(void *o, OtrlSMPEvent ev, ConnContext *c, unsigned short pct, char *q)
{
    (void)o; (void)pct; (void)q;
    if (ev == OTRL_SMPEVENT_ASK_FOR_SECRET) {
        OtrlUserState us = strcmp(c->accountname, "alice") ? B.us : A.us;
        otrl_message_respond_smp(us, &ops, NULL, c, (const unsigned char *)"secret", 6);
    } else if (ev == OTRL_SMPEVENT_SUCCESS) {
        smp_done++;
    }
}
static void pump(void)
{
    int i;
    for (i = 0; i < qlen; i++) {
        struct party *to = queue_to[i], *from = to == &A ? &B : &A;
        char *nm = NULL;
        OtrlTLV *t = NULL;
        otrl_message_receiving(to->us, &ops, NULL, to->name, "bench", from->name, queue[i], &nm, &t, NULL, NULL, NULL);
        otrl_message_free(nm);
        otrl_tlv_free(t);
        free(queue[i]);
    }
    qlen = 0;
}
static void pump_all(void) { while (qlen) { int n = qlen; pump(); if (!n) break; } }
static void send_msg(struct party *from, struct party *to, const char *text)
{
    char *out = NULL;
    otrl_message_sending(from->us, &ops, NULL, from->name, "bench", to->name, OTRL_INSTAG_BEST, text, NULL, &out,
                         OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    otrl_message_free(out);
}
static void reset(void)
{
    otrl_context_forget_all(A.us);
    otrl_context_forget_all(B.us);
}
static void ake(void)
{
    char *q = otrl_proto_default_query_msg("alice", OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3);
    queue_to[qlen] = &B;
    queue[qlen++] = q;
    pump_all();
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static double median(double *v, int n) { qsort(v, n, sizeof *v, cmp); return v[n / 2]; }

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[512];
    int r, i, sizes[] = { 16, 1024, 16384 };
    double t[64];
    char *text;

    OTRL_INIT;
    A.us = otrl_userstate_create();
    B.us = otrl_userstate_create();
    ops.policy = pol;
    ops.inject_message = inj;
    ops.max_message_size = mmsz;
    ops.handle_smp_event = smp_ev;

    /* Key generation time depends on a random prime search: a median of
       many runs is needed for a stable figure. */
    for (r = 0; r < 41; r++) {
        OtrlUserState u = otrl_userstate_create();
        double s = now_us();
        snprintf(path, sizeof path, "%s/keygen.tmp", dir);
        otrl_privkey_generate(u, path, "x", "bench");
        t[r] = now_us() - s;
        otrl_userstate_free(u);
    }
    printf("keygen %.1f\n", median(t, 41));
    snprintf(path, sizeof path, "%s/alice.key", dir);
    if (otrl_privkey_read(A.us, path)) otrl_privkey_generate(A.us, path, "alice", "bench");
    snprintf(path, sizeof path, "%s/bob.key", dir);
    if (otrl_privkey_read(B.us, path)) otrl_privkey_generate(B.us, path, "bob", "bench");
    otrl_instag_generate(A.us, "/dev/null", "alice", "bench");
    otrl_instag_generate(B.us, "/dev/null", "bob", "bench");

    for (r = 0; r < 15; r++) {
        double s;
        reset();
        s = now_us();
        ake();
        t[r] = now_us() - s;
    }
    printf("ake %.1f\n", median(t, 15));

    for (r = 0; r < 7; r++) {
        ConnContext *c;
        double s;
        reset();
        ake();
        c = otrl_context_find(A.us, "bob", "alice", "bench", OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
        smp_done = 0;
        s = now_us();
        otrl_message_initiate_smp(A.us, &ops, NULL, c, (const unsigned char *)"secret", 6);
        pump_all();
        t[r] = now_us() - s;
        if (smp_done != 2) fprintf(stderr, "smp did not succeed on both sides\n");
    }
    printf("smp %.1f\n", median(t, 7));

    text = malloc(16385);
    for (i = 0; i < 3; i++) {
        int n, k;
        memset(text, 'a', sizes[i]);
        text[sizes[i]] = 0;
        for (r = 0; r < 5; r++) {
            double s = now_us();
            for (k = 0; k < 20; k++) {
                send_msg(&A, &B, text); pump();
                send_msg(&B, &A, text); pump();
            }
            t[r] = (now_us() - s) / 40;
        }
        printf("alternating_%d %.2f\n", sizes[i], median(t, 5));
        n = sizes[i] >= 16384 ? 500 : 2000;
        for (r = 0; r < 5; r++) {
            double s = now_us();
            for (k = 0; k < n; k++) {
                send_msg(&A, &B, text);
                if (qlen > 4000) pump();
            }
            pump();
            t[r] = (now_us() - s) / n;
        }
        printf("oneway_%d %.2f\n", sizes[i], median(t, 5));
    }
    mms = 200;
    memset(text, 'b', 16384);
    text[16384] = 0;
    for (r = 0; r < 7; r++) {
        double s = now_us();
        int k;
        for (k = 0; k < 20; k++) { send_msg(&A, &B, text); pump(); }
        t[r] = (now_us() - s) / 20;
    }
    printf("fragmented_16384_mms200 %.2f\n", median(t, 7));
    free(text);
    otrl_userstate_free(A.us);
    otrl_userstate_free(B.us);
    return 0;
}
