/* Hostile input through the C API: real messages of every kind (query,
   whitespace tag, OTR error, the four AKE messages, data messages, SMP
   messages, fragments), captured from a conversation between alice and bob,
   are mutated and fed to the party waiting for them, in the state where it
   waits for them: bits flipped and lengths changed inside the base64, the
   text cut, spliced and salted with OTR punctuation, fragments with hostile
   numbers. The program must survive every case; the caller runs it under
   valgrind too. What libotr does with each case is not printed (keys and
   tags are random, so the cases differ between runs); only totals.
   Usage: hostile-helper DIR ROUNDS SEED */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <libotr/proto.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/b64.h>

struct party { const char *name; OtrlUserState us; };
static struct party A = { "alice", NULL }, B = { "bob", NULL };
static char *queue[256];
static struct party *queue_to[256];
static int qlen;
static int mms;
static unsigned long events, smp_events, cases;
static OtrlMessageAppOps ops;
static uint64_t rng;

static uint64_t next(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}
static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }

static OtrlPolicy pol(void *o, ConnContext *c) { (void)o; (void)c; return OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3 | OTRL_POLICY_SEND_WHITESPACE_TAG | OTRL_POLICY_WHITESPACE_START_AKE | OTRL_POLICY_ERROR_START_AKE; }
static int mmsz(void *o, ConnContext *c) { (void)o; (void)c; return mms; }
static int logged(void *o, const char *a, const char *p, const char *r) { (void)o; (void)a; (void)p; (void)r; return 1; }
static void inj(void *o, const char *a, const char *p, const char *r, const char *m)
{
    (void)o; (void)a; (void)p;
    if (qlen < 256) {
        queue_to[qlen] = strcmp(r, "alice") ? &B : &A;
        queue[qlen++] = strdup(m);
    }
}
static void ev(void *o, OtrlMessageEvent e, ConnContext *c, const char *m, gcry_error_t err)
{
    (void)o; (void)e; (void)c; (void)m; (void)err;
    events++;
}
static void smp_ev(void *o, OtrlSMPEvent e, ConnContext *c, unsigned short pct, char *q)
{
    (void)o; (void)pct; (void)q;
    smp_events++;
    if (e == OTRL_SMPEVENT_ASK_FOR_SECRET || e == OTRL_SMPEVENT_ASK_FOR_ANSWER) {
        OtrlUserState us = strcmp(c->accountname, "alice") ? B.us : A.us;
        otrl_message_respond_smp(us, &ops, NULL, c, (const unsigned char *)"s", 1);
    } else if (e == OTRL_SMPEVENT_CHEATED || e == OTRL_SMPEVENT_ERROR) {
        OtrlUserState us = strcmp(c->accountname, "alice") ? B.us : A.us;
        otrl_message_abort_smp(us, &ops, NULL, c);
    }
}
static const char *errmsg(void *o, ConnContext *c, OtrlErrorCode code) { (void)o; (void)c; (void)code; return "hostile"; }

static void drop_queue(void)
{
    int i;
    for (i = 0; i < qlen; i++) free(queue[i]);
    qlen = 0;
}
static struct party *peer(struct party *p) { return p == &A ? &B : &A; }
static void receive(struct party *to, const char *msg)
{
    char *nm = NULL;
    OtrlTLV *t = NULL;
    otrl_message_receiving(to->us, &ops, NULL, to->name, "hostile", peer(to)->name, msg, &nm, &t, NULL, NULL, NULL);
    otrl_message_free(nm);
    otrl_tlv_free(t);
}
/* Delivers the queue in order until it is empty (bounded). */
static void pump(void)
{
    int round;
    for (round = 0; round < 20 && qlen; round++) {
        char *msgs[256]; struct party *to[256];
        int i, n = qlen;
        memcpy(msgs, queue, sizeof(char *) * n);
        memcpy(to, queue_to, sizeof(struct party *) * n);
        qlen = 0;
        for (i = 0; i < n; i++) { receive(to[i], msgs[i]); free(msgs[i]); }
    }
    drop_queue();
}
/* The first queued message for `to`, taken out; the rest is dropped. */
static char *take(struct party *to)
{
    char *m = NULL;
    int i;
    for (i = 0; i < qlen; i++)
        if (queue_to[i] == to && !m) { m = queue[i]; queue[i] = NULL; }
    drop_queue();
    return m;
}
static void reset(void)
{
    drop_queue();
    otrl_context_forget_all(A.us);
    otrl_context_forget_all(B.us);
}
static char *send_text(struct party *from, const char *text)
{
    char *out = NULL;
    otrl_message_sending(from->us, &ops, NULL, from->name, "hostile", peer(from)->name, OTRL_INSTAG_BEST,
                         text, NULL, &out, OTRL_FRAGMENT_SEND_ALL_BUT_LAST, NULL, NULL, NULL);
    return out;
}

/* ---- mutations ---------------------------------------------------------- */

/* A binary mutation of an OTR message's payload, re-armoured. */
static char *mutate_binary(const char *msg)
{
    unsigned char *buf = NULL, *b;
    size_t len = 0, i, n;
    char *out;
    if (otrl_base64_otr_decode(msg, &buf, &len) || len == 0) { free(buf); return strdup(msg); }
    b = malloc(len + 64);
    memcpy(b, buf, len);
    free(buf);
    switch (below(6)) {
    case 0: b[below(len)] ^= (unsigned char)(1u << below(8)); break;
    case 1: b[below(len)] = (unsigned char)next(); break;
    case 2: len = below(len); break;
    case 3: /* a 4-byte length somewhere becomes huge, zero or one off */
        i = below(len > 4 ? len - 4 : 1);
        if (len >= 4) {
            uint32_t v = ((uint32_t)b[i] << 24) | ((uint32_t)b[i + 1] << 16) | ((uint32_t)b[i + 2] << 8) | b[i + 3];
            static const uint32_t pick[] = { 0, 0xffffffffu, 0x7fffffffu, 0x10000u };
            v = below(2) ? pick[below(4)] : v + (below(2) ? 1u : (uint32_t)-1);
            b[i] = (unsigned char)(v >> 24); b[i + 1] = (unsigned char)(v >> 16);
            b[i + 2] = (unsigned char)(v >> 8); b[i + 3] = (unsigned char)v;
        }
        break;
    case 4: n = 1 + below(32); for (i = 0; i < n && len < 60000; i++) b[len++] = (unsigned char)next(); break;
    default: /* the header's version or type byte */
        if (len >= 3) b[below(3)] = (unsigned char)below(20);
        break;
    }
    out = otrl_base64_otr_encode(b, len);
    free(b);
    return out ? out : strdup(msg);
}

/* A textual mutation: cut, salted with OTR punctuation, or spliced. */
static char *mutate_text(const char *msg)
{
    static const char salt[] = "?OTR:|,.=\t 0123456789v";
    size_t len = strlen(msg), i, n;
    char *out = malloc(2 * len + 64);
    memcpy(out, msg, len + 1);
    switch (below(5)) {
    case 0: out[below(len + 1)] = '\0'; break;
    case 1: if (len) out[below(len)] = salt[below(sizeof salt - 1)]; break;
    case 2: /* insert a few salt characters */
        n = 1 + below(4);
        for (i = 0; i < n; i++) {
            size_t at = below(len + 1);
            memmove(out + at + 1, out + at, len - at + 1);
            out[at] = salt[below(sizeof salt - 1)];
            len++;
        }
        break;
    case 3: /* duplicate a slice */
        if (len) {
            size_t from = below(len), cnt = 1 + below(len - from);
            memmove(out + from + cnt, out + from, len - from + 1);
            len += cnt;
        }
        break;
    default: /* a very long number at a random place */
        if (len < 4000) {
            size_t at = below(len + 1);
            memmove(out + at + 20, out + at, len - at + 1);
            memcpy(out + at, "99999999999999999999", 20);
        }
        break;
    }
    return out;
}

/* Fragments of msg with hostile headers, fed to `to` one by one. */
static void hostile_fragments(struct party *to, const char *msg, unsigned int ours, unsigned int theirs)
{
    size_t len = strlen(msg), pos = 0, piece;
    unsigned int k, n = 2 + (unsigned int)below(5);
    char *frag = malloc(len + 128);
    for (k = 1; k <= n && pos < len; k++) {
        unsigned int kk = k, nn = n;
        piece = k == n ? len - pos : 1 + below(len - pos);
        switch (below(8)) {
        case 0: kk = 0; break;
        case 1: nn = 65535; break;
        case 2: kk = n + 1; break;
        case 3: nn = (unsigned int)(next() % 100000); break;
        default: break;
        }
        if (below(2))
            sprintf(frag, "?OTR|%x|%x,%05u,%05u,%.*s,", theirs, ours, kk, nn, (int)piece, msg + pos);
        else
            sprintf(frag, "?OTR,%hu,%hu,%.*s,", (unsigned short)kk, (unsigned short)nn, (int)piece, msg + pos);
        receive(to, frag);
        pos += piece;
    }
    free(frag);
}

/* Each case is written here before it is fed, so that a crash leaves the
   input that caused it (keys are random: seeds alone do not reproduce). */
static const char *case_path;

static void save_case(const struct party *to, const char *m)
{
    FILE *f = fopen(case_path, "w");
    if (!f) return;
    fprintf(f, "to %s\n%s\n", to->name, m);
    fclose(f);
}

static void feed_mutations(struct party *to, const char *base, int rounds)
{
    int i;
    for (i = 0; i < rounds; i++) {
        char *m = below(3) ? mutate_binary(base) : mutate_text(base);
        save_case(to, m);
        receive(to, m);
        free(m);
        drop_queue();
        cases++;
    }
}

/* ---- states ------------------------------------------------------------- */

/* Runs the AKE step by step; stops with the message of step `stop`
   (0 commit, 1 key, 2 reveal signature, 3 signature) captured, its
   receiver waiting for it. */
static char *ake_until(int stop, struct party **to)
{
    char *q = otrl_proto_default_query_msg("alice", pol(NULL, NULL));
    char *m;
    int step;
    reset();
    receive(&B, q);              /* bob answers alice's query with a commit */
    free(q);
    m = take(&A);
    *to = &A;
    for (step = 0; step < stop && m; step++) {
        struct party *next_to = peer(*to);
        receive(*to, m);
        free(m);
        m = take(next_to);
        *to = next_to;
    }
    return m;
}

static void encrypted(void)
{
    char *q = otrl_proto_default_query_msg("alice", pol(NULL, NULL));
    reset();
    receive(&B, q);
    free(q);
    pump();
}

int main(int argc, char **argv)
{
    char path[512];
    int rounds = argc > 2 ? atoi(argv[2]) : 20, r, stop;
    const char *dir = argc > 1 ? argv[1] : ".";
    rng = argc > 3 ? strtoull(argv[3], NULL, 10) : 88172645463325252ull;
    if (!rng) rng = 1;
    snprintf(path, sizeof path, "%s/last-case.txt", dir);
    case_path = strdup(path);

    OTRL_INIT;
    A.us = otrl_userstate_create();
    B.us = otrl_userstate_create();
    ops.policy = pol; ops.inject_message = inj; ops.max_message_size = mmsz;
    ops.handle_msg_event = ev; ops.handle_smp_event = smp_ev; ops.is_logged_in = logged;
    ops.otr_error_message = errmsg;
    snprintf(path, sizeof path, "%s/alice.key", dir);
    if (otrl_privkey_read(A.us, path)) otrl_privkey_generate(A.us, path, "alice", "hostile");
    snprintf(path, sizeof path, "%s/bob.key", dir);
    if (otrl_privkey_read(B.us, path)) otrl_privkey_generate(B.us, path, "bob", "hostile");
    otrl_instag_generate(A.us, "/dev/null", "alice", "hostile");
    otrl_instag_generate(B.us, "/dev/null", "bob", "hostile");

    for (r = 0; r < rounds; r++) {
        struct party *to;
        char *m;
        /* Plaintext-state texts: query, whitespace-tagged text, OTR error. */
        reset();
        feed_mutations(&B, "?OTRv23?", 4);
        feed_mutations(&B, "hello \x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20\x20\x20\x09\x09\x20\x20\x09\x09", 4);
        feed_mutations(&B, "?OTR Error: something went wrong", 2);
        /* Each AKE message, fed mutated to the party waiting for it. */
        for (stop = 0; stop < 4; stop++) {
            m = ake_until(stop, &to);
            if (m) { feed_mutations(to, m, 6); free(m); }
        }
        /* Data messages, v3 and fragments. */
        encrypted();
        m = send_text(&A, "a message with some length to it, and UTF-8: \xc3\xa9");
        drop_queue();
        if (m) {
            ConnContext *c = otrl_context_find(B.us, "alice", "bob", "hostile", OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
            feed_mutations(&B, m, 10);
            hostile_fragments(&B, m, c ? c->our_instance : 0, c ? c->their_instance : 0);
            cases++;
            free(m);
        }
        /* An SMP message in flight. */
        {
            ConnContext *c = otrl_context_find(A.us, "bob", "alice", "hostile", OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
            if (c && c->msgstate == OTRL_MSGSTATE_ENCRYPTED) {
                otrl_message_initiate_smp_q(A.us, &ops, NULL, c, "q?", (const unsigned char *)"s", 1);
                m = take(&B);
                if (m) {
                    char *reply;
                    feed_mutations(&B, m, 6);
                    /* The real SMP1 next: bob answers, and alice gets
                       mutated versions of his SMP2. */
                    receive(&B, m);
                    free(m);
                    reply = take(&A);
                    if (reply) { feed_mutations(&A, reply, 6); free(reply); }
                }
            }
        }
        drop_queue();
    }
    reset();
    otrl_userstate_free(A.us);
    otrl_userstate_free(B.us);
    free((char *)case_path);
    printf("hostile: %lu mutated messages survived (%lu events, %lu SMP events)\n", cases, events, smp_events);
    return 0;
}
