/* Protocol interoperability harness: two parties, "alice" and "bob", each
   with its own copy of a libotr 4.1.1 implementation loaded by dlmopen()
   into a separate link-map namespace, talk to each other through an
   in-memory network. Either party can be Debian's libotr or libotr-rs.

   Every function of a library is resolved with dlsym() into that party's
   function table; the program itself is not linked with libotr (only
   -ldl), and only uses the types and constants of Debian's headers.

   The program prints a trace of everything that must be identical whoever
   the parties are: the callbacks of both libraries, the class of every
   message on the wire (its OTR type, and for Data Messages the fields that
   the protocol fixes: keyids, counter, length of the ciphertext, number of
   revealed MAC keys), what otrl_message_receiving returns, and "check"
   lines. It prints nothing random: no keys, instance tag values, D-H values
   or lengths of messages that carry them. cross/interop.sh diffs the trace
   of each pairing against Debian <-> Debian.

   Scenarios (in this order; each prints a "=== name" section and starts
   from fresh user states): ake, messages, ake-variants (whitespace tag, v2,
   restarts, OTR errors, REQUIRE_ENCRYPTION and resending), fragments,
   symkey, disconnect, poll, malformed, smp, smp-abort (aborts at every step
   by either side), smp-again (SMPs in a row), smp-v2 (SMP on a v2 session),
   smp-inject (replayed, out-of-order and out-of-range SMP messages).

   Usage: interop --alice LIB --bob LIB [--dir DIR] [--keys CACHE]
                  [--only NAME] [--skip NAME]... [--trace-queries]
          interop --probe LIB
     --alice, --bob   the libotr.so.5 of each party (or INTEROP_ALICE and
                      INTEROP_BOB in the environment)
     --dir DIR        work directory (key, instance tag and fingerprint
                      files); default: a fresh directory in /tmp, removed
     --keys CACHE     reuse CACHE/alice.priv and CACHE/bob.priv, or generate
                      them there with each party's own library (without
                      --keys: generated in DIR by each party's library)
     --only NAME      run one scenario (its trace then differs from a full run)
     --skip NAME      leave a scenario out
     --trace-queries  also trace the query callbacks (policy,
                      max_message_size, is_logged_in, account_name, the
                      *_free callbacks), which are left out by default: how
                      often a library asks them is not part of the protocol
     --probe LIB      only check which functions LIB lacks (listed on stderr)
   Exit status: 0 all checks passed, 1 a check failed, 2 usage or setup
   error, 77 a library has no message layer (no otrl_message_sending or
   otrl_message_receiving). With --probe: 0 nothing missing, 77 the message
   layer is missing, 76 only the SMP functions are, 75 others are.

   Valgrind: each namespace has its own libc, whose allocator and string
   functions valgrind does not replace; valgrind.supp hides what that causes.
   Leaks are then only checked for the harness's own allocations (and the
   app_data strings it gives the libraries to free). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/message.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/userstate.h>
#include <libotr/tlv.h>

#define PROTO "prpl-interop"

/* ------------------------------------------------------------------------ */
/* Function tables                                                          */

/* Without these there is no message layer to test (exit status 77). */
#define CORE_FUNCS(X) \
    X(otrl_message_sending) \
    X(otrl_message_receiving)

/* Only the smp* scenarios use these (--skip smp leaves them all out). */
#define SMP_FUNCS(X) \
    X(otrl_message_initiate_smp) \
    X(otrl_message_initiate_smp_q) \
    X(otrl_message_respond_smp) \
    X(otrl_message_abort_smp) \
    X(otrl_proto_create_data) \
    X(otrl_tlv_new)

#define OTHER_FUNCS(X) \
    X(otrl_init) \
    X(otrl_version) \
    X(otrl_userstate_create) \
    X(otrl_userstate_free) \
    X(otrl_privkey_read) \
    X(otrl_privkey_generate) \
    X(otrl_privkey_fingerprint_raw) \
    X(otrl_privkey_write_fingerprints) \
    X(otrl_instag_read) \
    X(otrl_instag_generate) \
    X(otrl_instag_find) \
    X(otrl_context_find) \
    X(otrl_context_force_plaintext) \
    X(otrl_proto_default_query_msg) \
    X(otrl_proto_message_type) \
    X(otrl_tlv_free) \
    X(otrl_message_free) \
    X(otrl_message_disconnect) \
    X(otrl_message_disconnect_all_instances) \
    X(otrl_message_symkey) \
    X(otrl_message_poll_get_default_interval) \
    X(otrl_message_poll)

struct lib {
    void *handle;
    const char *path;
    void (*libc_free)(void *);      /* free() of the library's namespace */
#define DECLARE(f) typeof(&f) f;
    CORE_FUNCS(DECLARE)
    SMP_FUNCS(DECLARE)
    OTHER_FUNCS(DECLARE)
#undef DECLARE
};

/* ------------------------------------------------------------------------ */
/* Parties, the network, the trace                                          */

struct party {
    const char *name;       /* "alice" */
    const char *account;    /* "alice@example.net" */
    struct party *peer;
    struct lib L;
    OtrlMessageAppOps ops;
    OtrlUserState us;
    char keyfile[PATH_MAX], instagfile[PATH_MAX], fpfile[PATH_MAX];
    unsigned char fp[20];   /* fingerprint of our own key */

    OtrlPolicy policy;
    int mms;
    OtrlFragmentPolicy frag;
    const char *resent_prefix;  /* NULL: no resent_msg_prefix callback */

    /* What the callbacks saw. */
    int got_symkey;
    unsigned char symkey[OTRL_EXTRAKEY_BYTES];
    int smp_asked;                  /* ASK_FOR_SECRET/ANSWER arrived */
    ConnContext *smp_ctx;
    const char *smp_answer;         /* answer given after the delivery */
    int smp_abort;                  /* abort instead of answering */
    int smp_cb;                     /* act inside handle_smp_event: answer
                                       with smp_answer (when set) on ASK_*,
                                       abort on CHEATED/ERROR, print state */
    OtrlSMPEvent last_smp;
    OtrlMessageEvent last_event;
    int events;                     /* handle_msg_event calls */

    /* Reassembly of our own outgoing fragments (for the trace only). */
    char *fragbuf;
    size_t fraglen;
    int fragments;                  /* fragments injected */
    int oversize;                   /* injected messages longer than mms */
};

static struct party alice = { .name = "alice", .account = "alice@example.net" };
static struct party bob = { .name = "bob", .account = "bob@example.net" };

struct qent {
    struct qent *next;
    struct party *from, *to;
    char *msg;
    const char *expect;     /* when set: what the recipient must read */
    int raw;                /* made by the harness: always traced */
};
static struct qent *q_head, **q_tail = &q_head;

static int trace_queries;
/* While SMP messages fly, the lengths of flagged Data Messages depend on
   random values (MPIs): they are left out of the trace. */
static int hide_flagged_lengths;
static int checks, failures;
static int expect_ok, expect_bad;   /* per scenario, see deliver() */
/* When capture_type is set, deliver() keeps a copy of the first TLV of that
   type the recipient's library returns (its decrypted payload). */
static unsigned short capture_type;
static unsigned char *captured;
static size_t captured_len;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    checks++;
    printf("check ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(": %s\n", ok ? "ok" : "FAILED");
    if (!ok) {
        failures++;
        fprintf(stderr, "interop: check failed: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "interop: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* A printable rendering of text: short texts in full (escaped), long ones
   as their length and a hash. Returns a static buffer (two in rotation). */
/* Debian's libotr adds this sentence to the default query message; libotr-rs
   sends upstream 4.1.1's text. The trace shows both without it. */
static const char debian_sentence[] =
    "If you are using Pidgin in Debian or Ubuntu,install the pidgin-otr package.\n";

static const char *show(const char *s)
{
    static char bufs[2][256];
    static char plain[4096];
    static int which;
    char *out = bufs[which ^= 1], *o = out;
    const char *d;
    size_t n, i;
    if (!s) return "NULL";
    d = strstr(s, debian_sentence);
    if (d && strlen(s) < sizeof plain) {
        size_t head = (size_t)(d - s);
        memcpy(plain, s, head);
        strcpy(plain + head, d + sizeof debian_sentence - 1);
        s = plain;
    }
    n = strlen(s);
    *o++ = '"';
    for (i = 0; i < n && i < (n > 64 ? 24 : 64); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (c == '\t') { *o++ = '\\'; *o++ = 't'; }
        else if (c < 0x20 || c >= 0x7f) o += sprintf(o, "\\x%02x", c);
        else *o++ = (char)c;
    }
    *o++ = '"';
    *o = 0;
    if (n > 64) snprintf(o, 64, "...<%zu bytes fnv %08x>", n, fnv1a(s, n));
    return out;
}

/* show() for a message on the wire: the instance tags of a v3 fragment
   header are replaced by their labels. */
static const char *tag_label(otrl_instag_t v);
static void *xmalloc(size_t n);
static const char *show_wire(const char *m)
{
    static char buf[512];
    char *tmp;
    unsigned long s, r;
    char *e1, *e2;
    if (strncmp(m, "?OTR|", 5) != 0) return show(m);
    s = strtoul(m + 5, &e1, 16);
    if (*e1 != '|') return show(m);
    r = strtoul(e1 + 1, &e2, 16);
    if (*e2 != ',') return show(m);
    tmp = xmalloc(strlen(e2) + 64);
    sprintf(tmp, "?OTR|[%s]|[%s]%s", tag_label((otrl_instag_t)s), tag_label((otrl_instag_t)r), e2);
    snprintf(buf, sizeof buf, "%s", show(tmp));
    free(tmp);
    return buf;
}

static const char *msgstate_name(OtrlMessageState s)
{
    switch (s) {
    case OTRL_MSGSTATE_PLAINTEXT: return "PLAINTEXT";
    case OTRL_MSGSTATE_ENCRYPTED: return "ENCRYPTED";
    case OTRL_MSGSTATE_FINISHED: return "FINISHED";
    }
    return "?";
}

static const char *msgtype_name(OtrlMessageType t)
{
    static const char *names[] = { "NOTOTR", "TAGGEDPLAINTEXT", "QUERY", "DH_COMMIT",
        "DH_KEY", "REVEALSIG", "SIGNATURE", "V1_KEYEXCH", "DATA", "ERROR", "UNKNOWN" };
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

static const char *event_name(OtrlMessageEvent e)
{
    static const char *names[] = { "NONE", "ENCRYPTION_REQUIRED", "ENCRYPTION_ERROR",
        "CONNECTION_ENDED", "SETUP_ERROR", "MSG_REFLECTED", "MSG_RESENT",
        "RCVDMSG_NOT_IN_PRIVATE", "RCVDMSG_UNREADABLE", "RCVDMSG_MALFORMED",
        "LOG_HEARTBEAT_RCVD", "LOG_HEARTBEAT_SENT", "RCVDMSG_GENERAL_ERR",
        "RCVDMSG_UNENCRYPTED", "RCVDMSG_UNRECOGNIZED", "RCVDMSG_FOR_OTHER_INSTANCE" };
    return (unsigned)e < sizeof names / sizeof *names ? names[e] : "?";
}

static const char *smp_name(OtrlSMPEvent e)
{
    static const char *names[] = { "NONE", "ERROR", "ABORT", "CHEATED", "ASK_FOR_ANSWER",
        "ASK_FOR_SECRET", "IN_PROGRESS", "SUCCESS", "FAILURE" };
    return (unsigned)e < sizeof names / sizeof *names ? names[e] : "?";
}

static otrl_instag_t own_instag(struct party *p)
{
    OtrlInsTag *t = p->us ? p->L.otrl_instag_find(p->us, p->account, PROTO) : NULL;
    return t ? t->instag : 0;
}

/* An instance tag as a deterministic label. */
static const char *tag_label(otrl_instag_t v)
{
    static char bufs[4][16];
    static int which;
    char *b;
    if (v == 0) return "0";
    if (v == own_instag(&alice)) return "alice";
    if (v == own_instag(&bob)) return "bob";
    b = bufs[which = (which + 1) & 3];
    snprintf(b, sizeof bufs[0], "%s", v < OTRL_MIN_VALID_INSTAG ? "meta" : "other");
    return b;
}

/* "bob@example.net/child PLAINTEXT" etc. */
static const char *ctx_desc(ConnContext *c)
{
    static char bufs[2][160];
    static int which;
    char *b = bufs[which ^= 1];
    if (!c) return "ctx=NULL";
    snprintf(b, 160, "ctx=%s/%s inst=%s %s", c->username,
             c->m_context == c ? "master" : "child", tag_label(c->their_instance),
             msgstate_name(c->msgstate));
    return b;
}

/* ------------------------------------------------------------------------ */
/* Wire format decoding, for the trace (our own code, not the libraries')   */

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes base64 from s (up to n chars, stops at '=' or a non-base64
   character); returns the number of bytes written to out. */
static size_t b64dec(const char *s, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) break;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o;
}

static char *b64enc(const unsigned char *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
    size_t i;
    for (i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        *o++ = al[v >> 18];
        *o++ = al[(v >> 12) & 63];
        *o++ = i + 1 < n ? al[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? al[v & 63] : '=';
    }
    *o = 0;
    return out;
}

struct rd { const unsigned char *p; size_t n, off; int bad; };

static uint64_t rd_int(struct rd *r, int bytes)
{
    uint64_t v = 0;
    if (r->off + (size_t)bytes > r->n) { r->bad = 1; r->off = r->n; return 0; }
    while (bytes--) v = (v << 8) | r->p[r->off++];
    return v;
}

static size_t rd_skip_data(struct rd *r)
{
    size_t len = (size_t)rd_int(r, 4);
    if (r->bad || len > r->n - r->off) { r->bad = 1; r->off = r->n; return 0; }
    r->off += len;
    return len;
}

/* Describes an encoded OTR message ("?OTR:...."). */
static void describe_encoded(const char *m, char *out, size_t outn)
{
    const char *start = m + 5, *end = strchr(start, '.');
    size_t n = end ? (size_t)(end - start) : strlen(start);
    unsigned char *buf = xmalloc(n);
    struct rd r = { buf, 0, 0, 0 };
    unsigned ver, type;
    r.n = b64dec(start, n, buf);
    ver = (unsigned)rd_int(&r, 2);
    type = (unsigned)rd_int(&r, 1);
    if (r.bad) {
        snprintf(out, outn, "undecodable");
    } else {
        char inst[48] = "";
        int len = 0;
        if (ver == 3) {
            otrl_instag_t s = (otrl_instag_t)rd_int(&r, 4), t = (otrl_instag_t)rd_int(&r, 4);
            snprintf(inst, sizeof inst, " i=%s>%s", tag_label(s), tag_label(t));
        }
        len = snprintf(out, outn, "v%u%s", ver, inst);
        if (type == 0x03 && len > 0 && (size_t)len < outn) {
            unsigned flags = (unsigned)rd_int(&r, 1);
            unsigned skey = (unsigned)rd_int(&r, 4), rkey = (unsigned)rd_int(&r, 4);
            unsigned long long ctr;
            size_t enc, macs;
            rd_skip_data(&r);                   /* next D-H key (MPI) */
            ctr = (unsigned long long)rd_int(&r, 8);
            enc = rd_skip_data(&r);
            rd_int(&r, 4), rd_int(&r, 4), rd_int(&r, 4), rd_int(&r, 4), rd_int(&r, 4); /* MAC */
            macs = rd_skip_data(&r);
            if (r.bad)
                snprintf(out + len, outn - (size_t)len, " truncated");
            else if (hide_flagged_lengths && (flags & OTRL_MSGFLAGS_IGNORE_UNREADABLE))
                snprintf(out + len, outn - (size_t)len,
                         " flags=%u keys=%u/%u ctr=%llu enc=? oldmacs=%zu%s", flags, skey,
                         rkey, ctr, macs / 20, macs % 20 ? "+" : "");
            else
                snprintf(out + len, outn - (size_t)len,
                         " flags=%u keys=%u/%u ctr=%llu enc=%zu oldmacs=%zu%s", flags, skey,
                         rkey, ctr, enc, macs / 20, macs % 20 ? "+" : "");
        }
    }
    free(buf);
}

/* The class of a whole (unfragmented) message, as party p's library sees it. */
static void describe(struct party *p, const char *m, char *out, size_t outn)
{
    OtrlMessageType t = p->L.otrl_proto_message_type(m);
    int n = snprintf(out, outn, "%s", msgtype_name(t));
    if (n < 0 || (size_t)n >= outn) return;
    switch (t) {
    case OTRL_MSGTYPE_DH_COMMIT: case OTRL_MSGTYPE_DH_KEY: case OTRL_MSGTYPE_REVEALSIG:
    case OTRL_MSGTYPE_SIGNATURE: case OTRL_MSGTYPE_DATA:
        if (strncmp(m, "?OTR:", 5) == 0) {
            out[n++] = ' ';
            describe_encoded(m, out + n, outn - (size_t)n);
        }
        break;
    default:
        if (strncmp(m, "?OTR:", 5) == 0 && strlen(m) > 32) {
            /* An encoded message of an unknown type: no random bytes. */
            unsigned char head[3];
            size_t got = b64dec(m + 5, 4, head);
            snprintf(out + n, outn - (size_t)n, " encoded, starts %02x%02x%02x",
                     got > 0 ? head[0] : 0, got > 1 ? head[1] : 0, got > 2 ? head[2] : 0);
        } else {
            snprintf(out + n, outn - (size_t)n, " %s", show_wire(m));
        }
    }
}

/* Parses "?OTR|s|r,k,n,piece," (v3) or "?OTR,k,n,piece," (v2). Returns 0
   when m is not a fragment. */
static int parse_fragment(const char *m, unsigned *k, unsigned *n, const char **piece,
                          size_t *piecelen)
{
    const char *s;
    char *e;
    if (strncmp(m, "?OTR|", 5) == 0) {
        s = strchr(m + 5, ',');
        if (!s) return 0;
        s++;
    } else if (strncmp(m, "?OTR,", 5) == 0) {
        s = m + 5;
    } else {
        return 0;
    }
    *k = (unsigned)strtoul(s, &e, 10);
    if (*e != ',') return 0;
    *n = (unsigned)strtoul(e + 1, &e, 10);
    if (*e != ',') return 0;
    /* The piece runs to the final comma: it may contain commas itself
       (a fragmented query message does). */
    *piece = e + 1;
    s = *piece + strlen(*piece);
    if (s == *piece || s[-1] != ',') return 0;
    *piecelen = (size_t)(s - 1 - *piece);
    return 1;
}

/* Traces a message that p puts on the network ("inject" by the library,
   "app" when the application sends what otrl_message_sending returned).
   Fragments are reassembled so that the trace shows whole messages: how many
   fragments a message needs depends on the lengths of random values. */
static void trace_outgoing(struct party *p, const char *how, const char *to, const char *m)
{
    char desc[512];
    unsigned k, n;
    const char *piece;
    size_t plen;
    if (strcmp(how, "inject") == 0 && p->mms > 0 && strlen(m) > (size_t)p->mms) p->oversize++;
    if (strcmp(how, "raw") == 0) {
        if (parse_fragment(m, &k, &n, &piece, &plen))
            say("%s: %s to=%s FRAGMENT %s", p->name, how, to, show_wire(m));
        else {
            describe(p, m, desc, sizeof desc);
            say("%s: %s to=%s %s", p->name, how, to, desc);
        }
        return;
    }
    if (parse_fragment(m, &k, &n, &piece, &plen)) {
        p->fragments++;
        if (k == 1) p->fraglen = 0;
        p->fragbuf = realloc(p->fragbuf, p->fraglen + plen + 1);
        if (!p->fragbuf) die("out of memory");
        memcpy(p->fragbuf + p->fraglen, piece, plen);
        p->fraglen += plen;
        p->fragbuf[p->fraglen] = 0;
        if (k < n) return;
        describe(p, p->fragbuf, desc, sizeof desc);
        say("%s: %s to=%s FRAGMENTED %s", p->name, how, to, desc);
        return;
    }
    describe(p, m, desc, sizeof desc);
    say("%s: %s to=%s %s", p->name, how, to, desc);
}

static struct party *party_by_account(const char *account)
{
    if (account && strcmp(account, alice.account) == 0) return &alice;
    if (account && strcmp(account, bob.account) == 0) return &bob;
    return NULL;
}

static struct qent *enqueue(struct party *from, const char *to, const char *m)
{
    struct qent *e = xmalloc(sizeof *e);
    struct party *dest = party_by_account(to);
    if (!dest || dest == from) die("%s sends to unknown recipient %s", from->name, show(to));
    e->next = NULL;
    e->from = from;
    e->to = dest;
    e->msg = xstrdup(m);
    e->expect = NULL;
    e->raw = 0;
    *q_tail = e;
    q_tail = &e->next;
    return e;
}

static void free_entry(struct qent *e)
{
    free(e->msg);
    free(e);
}

static struct qent *q_last(void)
{
    struct qent *e = q_head;
    while (e && e->next) e = e->next;
    return e;
}

/* Removes and returns the last entry of the queue. */
static struct qent *q_take_last(void)
{
    struct qent **pp = &q_head;
    struct qent *e;
    if (!q_head) return NULL;
    while ((*pp)->next) pp = &(*pp)->next;
    e = *pp;
    *pp = NULL;
    q_tail = pp;
    return e;
}

static size_t q_count(void)
{
    size_t n = 0;
    struct qent *e;
    for (e = q_head; e; e = e->next) n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */

static void query(struct party *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void query(struct party *p, const char *fmt, ...)
{
    va_list ap;
    if (!trace_queries) return;
    printf("%s: (query) ", p->name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static OtrlPolicy cb_policy(void *opdata, ConnContext *context)
{
    struct party *p = opdata;
    query(p, "policy %s", ctx_desc(context));
    return p->policy;
}

static void cb_create_privkey(void *opdata, const char *accountname, const char *protocol)
{
    struct party *p = opdata;
    gcry_error_t e;
    say("%s: create_privkey %s %s", p->name, accountname, protocol);
    /* Generating a key is slow: load the one made at start-up instead. */
    e = p->L.otrl_privkey_read(p->us, p->keyfile);
    if (e) say("%s: reading %s failed: 0x%x", p->name, p->keyfile, e);
}

static int cb_is_logged_in(void *opdata, const char *accountname, const char *protocol,
                           const char *recipient)
{
    struct party *p = opdata;
    query(p, "is_logged_in %s %s %s", accountname, protocol, recipient);
    return 1;
}

static void cb_inject_message(void *opdata, const char *accountname, const char *protocol,
                              const char *recipient, const char *message)
{
    struct party *p = opdata;
    if (strcmp(accountname, p->account) != 0 || strcmp(protocol, PROTO) != 0)
        say("%s: inject_message from unexpected account %s %s", p->name, accountname, protocol);
    trace_outgoing(p, "inject", recipient, message);
    enqueue(p, recipient, message);
}

static void cb_update_context_list(void *opdata)
{
    struct party *p = opdata;
    say("%s: update_context_list", p->name);
}

static void cb_new_fingerprint(void *opdata, OtrlUserState us, const char *accountname,
                               const char *protocol, const char *username,
                               unsigned char fingerprint[20])
{
    struct party *p = opdata;
    const char *whose = memcmp(fingerprint, p->peer->fp, 20) == 0 ? "peer's key" : "UNKNOWN key";
    say("%s: new_fingerprint %s %s %s %s%s", p->name, accountname, protocol, username, whose,
        us == p->us ? "" : " (other userstate!)");
}

static void cb_write_fingerprints(void *opdata)
{
    struct party *p = opdata;
    gcry_error_t e = p->L.otrl_privkey_write_fingerprints(p->us, p->fpfile);
    FILE *f = fopen(p->fpfile, "r");
    int lines = 0, c;
    if (f) {
        while ((c = fgetc(f)) != EOF) lines += c == '\n';
        fclose(f);
    }
    say("%s: write_fingerprints -> 0x%x, %d lines", p->name, e, lines);
}

static void cb_gone_secure(void *opdata, ConnContext *context)
{
    struct party *p = opdata;
    say("%s: gone_secure %s pv=%u", p->name, ctx_desc(context), context->protocol_version);
}

static void cb_gone_insecure(void *opdata, ConnContext *context)
{
    struct party *p = opdata;
    say("%s: gone_insecure %s", p->name, ctx_desc(context));
}

static void cb_still_secure(void *opdata, ConnContext *context, int is_reply)
{
    struct party *p = opdata;
    say("%s: still_secure %s is_reply=%d", p->name, ctx_desc(context), is_reply);
}

static int cb_max_message_size(void *opdata, ConnContext *context)
{
    struct party *p = opdata;
    query(p, "max_message_size %s", ctx_desc(context));
    return p->mms;
}

static const char *cb_account_name(void *opdata, const char *account, const char *protocol)
{
    struct party *p = opdata;
    size_t n = strlen(account) + strlen(protocol) + 4;
    char *s = xmalloc(n);
    query(p, "account_name %s %s", account, protocol);
    snprintf(s, n, "%s (%s)", account, protocol);
    return s;
}

static void cb_account_name_free(void *opdata, const char *account_name)
{
    struct party *p = opdata;
    query(p, "account_name_free %s", show(account_name));
    free((char *)account_name);
}

static void cb_received_symkey(void *opdata, ConnContext *context, unsigned int use,
                               const unsigned char *usedata, size_t usedatalen,
                               const unsigned char *symkey)
{
    struct party *p = opdata;
    char ud[64];
    size_t n = usedatalen < sizeof ud - 1 ? usedatalen : sizeof ud - 1;
    if (n) memcpy(ud, usedata, n);
    ud[n] = 0;
    say("%s: received_symkey %s use=0x%x usedata=%s (%zu bytes)", p->name, ctx_desc(context),
        use, show(ud), usedatalen);
    memcpy(p->symkey, symkey, sizeof p->symkey);
    p->got_symkey++;
}

static const char *cb_otr_error_message(void *opdata, ConnContext *context, OtrlErrorCode code)
{
    struct party *p = opdata;
    char buf[64];
    say("%s: otr_error_message %s code=%d", p->name, ctx_desc(context), code);
    snprintf(buf, sizeof buf, "interop error text %d", code);
    return xstrdup(buf);
}

static void cb_otr_error_message_free(void *opdata, const char *err_msg)
{
    struct party *p = opdata;
    query(p, "otr_error_message_free %s", show(err_msg));
    free((char *)err_msg);
}

static const char *cb_resent_msg_prefix(void *opdata, ConnContext *context)
{
    struct party *p = opdata;
    say("%s: resent_msg_prefix %s", p->name, ctx_desc(context));
    return xstrdup(p->resent_prefix ? p->resent_prefix : "?");
}

static void cb_resent_msg_prefix_free(void *opdata, const char *prefix)
{
    struct party *p = opdata;
    query(p, "resent_msg_prefix_free %s", show(prefix));
    free((char *)prefix);
}

static const char *smp_expect_name(NextExpectedSMP n)
{
    static const char *names[] = { "EXPECT1", "EXPECT2", "EXPECT3", "EXPECT4", "EXPECT5" };
    return (unsigned)n < sizeof names / sizeof *names ? names[n] : "?";
}

static const char *smp_prog_name(int s)
{
    switch (s) {
    case OTRL_SMP_PROG_OK: return "OK";
    case OTRL_SMP_PROG_CHEATED: return "CHEATED";
    case OTRL_SMP_PROG_FAILED: return "FAILED";
    case OTRL_SMP_PROG_SUCCEEDED: return "SUCCEEDED";
    }
    return "?";
}

/* The SMP state of a context: nextExpected, received_question,
   sm_prog_state and the trust of the active fingerprint. */
static const char *smp_state_desc(ConnContext *c)
{
    static char buf[160];
    if (!c) return "ctx=NULL";
    snprintf(buf, sizeof buf, "next=%s question=%d prog=%s trust=%s",
             c->smstate ? smp_expect_name(c->smstate->nextExpected) : "(no smstate)",
             c->smstate ? c->smstate->received_question : -1,
             c->smstate ? smp_prog_name(c->smstate->sm_prog_state) : "-",
             !c->active_fingerprint ? "(no fingerprint)"
             : c->active_fingerprint->trust ? show(c->active_fingerprint->trust) : "NULL");
    return buf;
}

/* What an application does inside handle_smp_event (smp_cb set). */
static void smp_cb_act(struct party *p, OtrlSMPEvent ev, ConnContext *c)
{
    say("%s:   (in callback) %s", p->name, smp_state_desc(c));
    if (ev == OTRL_SMPEVENT_ASK_FOR_SECRET || ev == OTRL_SMPEVENT_ASK_FOR_ANSWER) {
        if (p->smp_answer) {
            say("%s:   (answers in the callback with %s)", p->name, show(p->smp_answer));
            p->L.otrl_message_respond_smp(p->us, &p->ops, p, c,
                                          (const unsigned char *)p->smp_answer,
                                          strlen(p->smp_answer));
            say("%s:   (after answering) %s", p->name, smp_state_desc(c));
        } else {
            say("%s:   (leaves the question unanswered)", p->name);
        }
    } else if (ev == OTRL_SMPEVENT_CHEATED || ev == OTRL_SMPEVENT_ERROR) {
        say("%s:   (aborts in the callback)", p->name);
        p->L.otrl_message_abort_smp(p->us, &p->ops, p, c);
        say("%s:   (after aborting) %s", p->name, smp_state_desc(c));
    }
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent smp_event, ConnContext *context,
                                unsigned short progress_percent, char *question)
{
    struct party *p = opdata;
    say("%s: handle_smp_event %s %s progress=%u question=%s", p->name, smp_name(smp_event),
        ctx_desc(context), progress_percent, show(question));
    p->last_smp = smp_event;
    if (p->smp_cb) {
        smp_cb_act(p, smp_event, context);
        return;
    }
    if (smp_event == OTRL_SMPEVENT_ASK_FOR_SECRET || smp_event == OTRL_SMPEVENT_ASK_FOR_ANSWER) {
        p->smp_asked = 1;
        p->smp_ctx = context;
    }
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent msg_event, ConnContext *context,
                                const char *message, gcry_error_t err)
{
    struct party *p = opdata;
    say("%s: handle_msg_event %s %s message=%s err=0x%x", p->name, event_name(msg_event),
        ctx_desc(context), show(message), err);
    p->last_event = msg_event;
    p->events++;
}

static void cb_create_instag(void *opdata, const char *accountname, const char *protocol)
{
    struct party *p = opdata;
    gcry_error_t e = p->L.otrl_instag_generate(p->us, p->instagfile, accountname, protocol);
    say("%s: create_instag %s %s -> 0x%x", p->name, accountname, protocol, e);
}

/* Used in the "convert" part of the messages scenario only. */
static void cb_convert_msg(void *opdata, ConnContext *context, OtrlConvertType convert_type,
                           char **dest, const char *src)
{
    struct party *p = opdata;
    say("%s: convert_msg %s %s src=%s", p->name, ctx_desc(context),
        convert_type == OTRL_CONVERT_SENDING ? "SENDING" : "RECEIVING", show(src));
    if (convert_type == OTRL_CONVERT_SENDING) {
        size_t n = strlen(src) + 4;
        *dest = xmalloc(n);
        snprintf(*dest, n, "[c]%s", src);
    } else if (strncmp(src, "[c]", 3) == 0) {
        *dest = xstrdup(src + 3);
    } else {
        *dest = NULL;
    }
}

static void cb_convert_free(void *opdata, ConnContext *context, char *dest)
{
    struct party *p = opdata;
    query(p, "convert_free %s %s", ctx_desc(context), show(dest));
    free(dest);
}

static void cb_timer_control(void *opdata, unsigned int interval)
{
    struct party *p = opdata;
    say("%s: timer_control interval=%u", p->name, interval);
}

static void cb_add_appdata(void *data, ConnContext *context)
{
    struct party *p = data;
    char *tag = xmalloc(64);
    snprintf(tag, 64, "%s's context for %s", p->name, context->username);
    context->app_data = tag;
    context->app_data_free = free;
    say("%s: add_appdata %s", p->name, ctx_desc(context));
}

static void init_ops(struct party *p)
{
    OtrlMessageAppOps o = {
        .policy = cb_policy,
        .create_privkey = cb_create_privkey,
        .is_logged_in = cb_is_logged_in,
        .inject_message = cb_inject_message,
        .update_context_list = cb_update_context_list,
        .new_fingerprint = cb_new_fingerprint,
        .write_fingerprints = cb_write_fingerprints,
        .gone_secure = cb_gone_secure,
        .gone_insecure = cb_gone_insecure,
        .still_secure = cb_still_secure,
        .max_message_size = cb_max_message_size,
        .account_name = cb_account_name,
        .account_name_free = cb_account_name_free,
        .received_symkey = cb_received_symkey,
        .otr_error_message = cb_otr_error_message,
        .otr_error_message_free = cb_otr_error_message_free,
        .resent_msg_prefix = NULL,
        .resent_msg_prefix_free = NULL,
        .handle_smp_event = cb_handle_smp_event,
        .handle_msg_event = cb_handle_msg_event,
        .create_instag = cb_create_instag,
        .convert_msg = NULL,
        .convert_free = NULL,
        .timer_control = cb_timer_control,
    };
    p->ops = o;
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                 */

/* Fresh user states for both parties. */
static void setup_party(struct party *p, OtrlPolicy policy, int mms, int load_key,
                        int load_instag)
{
    gcry_error_t e;
    init_ops(p);
    p->us = p->L.otrl_userstate_create();
    if (!p->us) die("%s: otrl_userstate_create failed", p->name);
    p->policy = policy;
    p->mms = mms;
    p->frag = OTRL_FRAGMENT_SEND_ALL;
    p->resent_prefix = NULL;
    p->got_symkey = 0;
    p->smp_asked = 0;
    p->smp_ctx = NULL;
    p->smp_answer = NULL;
    p->smp_abort = 0;
    p->smp_cb = 0;
    p->last_smp = OTRL_SMPEVENT_NONE;
    p->last_event = OTRL_MSGEVENT_NONE;
    p->events = 0;
    p->fraglen = 0;
    p->fragments = 0;
    p->oversize = 0;
    unlink(p->fpfile);
    if (load_key && (e = p->L.otrl_privkey_read(p->us, p->keyfile)))
        die("%s: otrl_privkey_read: 0x%x", p->name, e);
    /* Without a file (first scenario, or --only), create_instag makes one. */
    if (load_instag && access(p->instagfile, F_OK) == 0 &&
        (e = p->L.otrl_instag_read(p->us, p->instagfile)))
        die("%s: otrl_instag_read: 0x%x", p->name, e);
}

static void setup(OtrlPolicy pa, OtrlPolicy pb, int mms)
{
    setup_party(&alice, pa, mms, 1, 1);
    setup_party(&bob, pb, mms, 1, 1);
}

static void teardown(void)
{
    struct qent *e;
    size_t left = 0;
    while ((e = q_head)) {
        q_head = e->next;
        free_entry(e);
        left++;
    }
    q_tail = &q_head;
    if (left) say("(%zu undelivered messages dropped)", left);
    alice.L.otrl_userstate_free(alice.us);
    bob.L.otrl_userstate_free(bob.us);
    alice.us = bob.us = NULL;
    free(alice.fragbuf);
    free(bob.fragbuf);
    alice.fragbuf = bob.fragbuf = NULL;
}

/* The context p uses to talk to its peer (the best instance). */
static ConnContext *ctx_of(struct party *p)
{
    return p->L.otrl_context_find(p->us, p->peer->account, p->account, PROTO, OTRL_INSTAG_BEST,
                                  0, NULL, NULL, NULL);
}

static void print_tlvs(char *buf, size_t n, OtrlTLV *t)
{
    size_t o = 0;
    buf[0] = 0;
    if (!t) { snprintf(buf, n, "-"); return; }
    /* SMP TLVs carry MPIs: their lengths vary. */
    for (; t && o + 16 < n; t = t->next)
        if (t->type >= OTRL_TLV_SMP1 && t->type <= OTRL_TLV_SMP1Q && t->type != OTRL_TLV_SMP_ABORT)
            o += (size_t)snprintf(buf + o, n - o, "%s%u(?)", o ? "," : "", t->type);
        else
            o += (size_t)snprintf(buf + o, n - o, "%s%u(%u)", o ? "," : "", t->type, t->len);
}

/* Delivers one message: the recipient's otrl_message_receiving. */
static void deliver(struct qent *e)
{
    struct party *p = e->to;
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    ConnContext *ctx = NULL;
    char tl[128];
    unsigned k = 0, n = 0;
    const char *piece;
    size_t plen;
    int frag = parse_fragment(e->msg, &k, &n, &piece, &plen);
    int ret = p->L.otrl_message_receiving(p->us, &p->ops, p, p->account, PROTO, e->from->account,
                                          e->msg, &newmsg, &tlvs, &ctx, cb_add_appdata, p);
    const char *got = newmsg ? newmsg : ret == 0 ? e->msg : NULL;
    print_tlvs(tl, sizeof tl, tlvs);
    /* Non-final fragments are only traced when something happens. */
    if (e->raw || !(frag && k < n && ret == 1 && !newmsg && !tlvs))
        say("%s: recv from=%s ret=%d new=%s tlvs=%s %s%s", p->name, e->from->name, ret,
            newmsg ? show(newmsg) : "NULL", tl, ctx_desc(ctx),
            e->expect ? (got && strcmp(got, e->expect) == 0 ? " [as sent]" : " [NOT AS SENT]") : "");
    if (e->expect) {
        if (got && strcmp(got, e->expect) == 0) expect_ok++;
        else expect_bad++;
    }
    if (capture_type && !captured) {
        OtrlTLV *t;
        for (t = tlvs; t; t = t->next)
            if (t->type == capture_type) {
                captured = xmalloc(t->len);
                memcpy(captured, t->data, t->len);
                captured_len = t->len;
                say("(captured the TLV %u that %s received)", t->type, p->name);
                break;
            }
    }
    if (newmsg) p->L.otrl_message_free(newmsg);
    if (tlvs) p->L.otrl_tlv_free(tlvs);
    /* What a user does after the SMP question pops up. */
    if (p->smp_asked && p->smp_ctx) {
        ConnContext *c = p->smp_ctx;
        p->smp_asked = 0;
        p->smp_ctx = NULL;
        if (p->smp_abort) {
            say("%s: (user aborts the SMP)", p->name);
            p->L.otrl_message_abort_smp(p->us, &p->ops, p, c);
        } else if (p->smp_answer) {
            say("%s: (user answers the SMP with %s)", p->name, show(p->smp_answer));
            p->L.otrl_message_respond_smp(p->us, &p->ops, p, c,
                                          (const unsigned char *)p->smp_answer,
                                          strlen(p->smp_answer));
        }
    }
}

/* Delivers until the network is empty. */
static void run(void)
{
    int guard = 0;
    struct qent *e;
    while ((e = q_head)) {
        q_head = e->next;
        if (!q_head) q_tail = &q_head;
        deliver(e);
        free_entry(e);
        if (++guard > 100000) die("the parties do not stop talking");
    }
}

/* p sends text with otrl_message_sending, like an application: when the
   library returns nothing, the original text goes on the network; what it
   returns is sent unless the fragment policy is OTRL_FRAGMENT_SEND_ALL (then
   the library has injected it already). When expect is set, the message that carries the text is
   marked so that deliver() checks that the peer reads exactly the text. */
static gcry_error_t send_text(struct party *p, const char *text, int expect)
{
    char *newmsg = NULL;
    ConnContext *ctx = NULL;
    struct qent *before = q_last(), *carrier = NULL;
    gcry_error_t err = p->L.otrl_message_sending(p->us, &p->ops, p, p->account, PROTO,
                                                 p->peer->account, OTRL_INSTAG_BEST, text, NULL,
                                                 &newmsg, p->frag, &ctx, cb_add_appdata, p);
    struct qent *after = q_last();
    if (after != before) carrier = after;   /* the library injected it */
    say("%s: send %s -> err=0x%x new=%s %s", p->name, show(text), err,
        newmsg ? (newmsg[0] ? "(message)" : "\"\"") : "NULL", ctx_desc(ctx));
    if (!err) {
        /* With OTRL_FRAGMENT_SEND_ALL the library has injected what it
           returns; with the other policies the application sends it. */
        if (newmsg && newmsg[0] && p->frag != OTRL_FRAGMENT_SEND_ALL) {
            trace_outgoing(p, "app", p->peer->account, newmsg);
            carrier = enqueue(p, p->peer->account, newmsg);
        } else if (!newmsg) {
            trace_outgoing(p, "app", p->peer->account, text);
            carrier = enqueue(p, p->peer->account, text);
        }
    }
    if (newmsg) p->L.otrl_message_free(newmsg);
    if (expect && carrier) carrier->expect = text;
    return err;
}

/* Puts p's query message on the network, as an application would. */
static void send_query(struct party *p)
{
    char *q = p->L.otrl_proto_default_query_msg(p->account, p->policy);
    if (!q) die("%s: otrl_proto_default_query_msg returned NULL", p->name);
    trace_outgoing(p, "app", p->peer->account, q);
    enqueue(p, p->peer->account, q);
    p->L.libc_free(q);
}

/* Prints the state of p's conversation with its peer. */
static void print_state(struct party *p)
{
    ConnContext *c = ctx_of(p), *i;
    char all[512];
    size_t o = 0;
    /* Every context of the user state, in list order. */
    all[0] = 0;
    for (i = p->us->context_root; i && o + 80 < sizeof all; i = i->next)
        o += (size_t)snprintf(all + o, sizeof all - o, "%s%s:%s %s auth=%d pv=%u", o ? "; " : "",
                              i->m_context == i ? "master" : "child",
                              tag_label(i->their_instance), msgstate_name(i->msgstate),
                              i->auth.authstate, i->protocol_version);
    if (!c) {
        say("%s: state: no context [%s]", p->name, all);
        return;
    }
    say("%s: state %s pv=%u sessionid_len=%zu half=%s fp=%s trust=%s offer=%d [%s]", p->name,
        ctx_desc(c), c->protocol_version, c->sessionid_len,
        c->sessionid_half == OTRL_SESSIONID_FIRST_HALF_BOLD ? "FIRST" : "SECOND",
        !c->active_fingerprint ? "none"
        : !c->active_fingerprint->fingerprint ? "root"
        : memcmp(c->active_fingerprint->fingerprint, p->peer->fp, 20) == 0 ? "peer's" : "OTHER",
        c->active_fingerprint && c->active_fingerprint->trust
        ? show(c->active_fingerprint->trust) : "NULL",
        c->otr_offer, all);
}

static int encrypted(struct party *p)
{
    ConnContext *c = ctx_of(p);
    return c && c->msgstate == OTRL_MSGSTATE_ENCRYPTED;
}

/* Checks what both sides agree on once the session is up. */
static void check_session(unsigned pv)
{
    ConnContext *a = ctx_of(&alice), *b = ctx_of(&bob);
    print_state(&alice);
    print_state(&bob);
    check(a && b && a->msgstate == OTRL_MSGSTATE_ENCRYPTED && b->msgstate == OTRL_MSGSTATE_ENCRYPTED,
          "both ENCRYPTED");
    if (!a || !b) return;
    check(a->protocol_version == pv && b->protocol_version == pv, "protocol version %u", pv);
    check(a->sessionid_len == (pv == 3 ? 8u : 8u) && b->sessionid_len == a->sessionid_len &&
          memcmp(a->sessionid, b->sessionid, a->sessionid_len) == 0, "same session id");
    check(a->sessionid_half != b->sessionid_half, "opposite bold halves");
    check(a->active_fingerprint && a->active_fingerprint->fingerprint &&
          memcmp(a->active_fingerprint->fingerprint, bob.fp, 20) == 0, "alice sees bob's key");
    check(b->active_fingerprint && b->active_fingerprint->fingerprint &&
          memcmp(b->active_fingerprint->fingerprint, alice.fp, 20) == 0, "bob sees alice's key");
    if (pv == 3) {
        check(a->their_instance == own_instag(&bob) && b->their_instance == own_instag(&alice) &&
              a->their_instance != 0 && b->their_instance != 0, "instance tags exchanged");
        check(a->our_instance == own_instag(&alice) && b->our_instance == own_instag(&bob),
              "own instance tags");
        check(a->m_context != a && b->m_context != b, "sessions live in child contexts");
    } else {
        check(a->their_instance == 0 && b->their_instance == 0, "v2: no instance tags");
    }
}

/* Query from alice, AKE, both ENCRYPTED. */
static void establish(void)
{
    say("-- AKE (query from alice)");
    send_query(&alice);
    run();
    check(encrypted(&alice) && encrypted(&bob), "session established");
}

/* One message each way, checked. */
static void ping(const char *tag)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "ping from alice (%s)", tag);
    snprintf(b, sizeof b, "ping from bob (%s)", tag);
    expect_ok = expect_bad = 0;
    send_text(&alice, a, 1);
    run();
    send_text(&bob, b, 1);
    run();
    check(expect_ok == 2 && expect_bad == 0, "ping %s both ways", tag);
}

static void section(const char *name)
{
    putchar('\n');
    say("=== %s", name);
    expect_ok = expect_bad = 0;
}

/* ------------------------------------------------------------------------ */
/* Scenarios                                                                */

static void put(struct party *from, const char *m, const char *label);

/* 1. v3 AKE started by a query; bob's key and both instance tags are
   created through the callbacks. */
static void sc_ake(void)
{
    char *q;
    section("ake: v3 AKE started by a query");
    setup_party(&alice, OTRL_POLICY_MANUAL, 0, 1, 0);
    setup_party(&bob, OTRL_POLICY_MANUAL, 0, 0, 0);
    unlink(alice.instagfile);
    unlink(bob.instagfile);
    say("alice: default interval %u", alice.L.otrl_message_poll_get_default_interval(alice.us));
    q = alice.L.otrl_proto_default_query_msg(alice.account, OTRL_POLICY_MANUAL);
    check(q && strncmp(q, "?OTRv23?", 8) == 0, "query message starts with ?OTRv23?");
    if (q) alice.L.libc_free(q);
    establish();
    check_session(3);
    ping("after AKE");
    teardown();
}

/* 2. Many messages, odd payloads, convert_msg. */
static void sc_messages(void)
{
    static char big[20 * 1024 + 1];
    static char texts[200][48];
    static char burst[300][48];
    /* "" goes out as a Data Message the peer takes for a heartbeat; a
       message containing "?OTR?" is replaced by a query (README: it
       refreshes the session). Neither is expected to arrive. */
    static const char *payloads[] = { "", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93", big,
                                      "?OTR? inside", "line1\nline2\ttab", " " };
    size_t i, j;
    int sent, arrived_ok;
    for (i = 0; i < sizeof big - 1; i++) big[i] = (char)('a' + (i * 7 + i / 26) % 26);
    for (i = 0; i < sizeof big - 1; i += 61) big[i] = ' ';
    big[sizeof big - 1] = 0;

    section("messages: 200 alternating, 300 one way, odd payloads");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    establish();
    for (i = 0; i < 200; i++) {
        struct party *p = i % 2 ? &bob : &alice;
        snprintf(texts[i], sizeof texts[i], "message %zu from %s", i, p->name);
        send_text(p, texts[i], 1);
        run();
    }
    say("alternating: %d as sent, %d not", expect_ok, expect_bad);
    check(expect_ok == 200 && expect_bad == 0, "200 alternating messages arrive as sent");

    expect_ok = expect_bad = 0;
    for (i = 0; i < 300; i++) {
        snprintf(burst[i], sizeof burst[i], "burst %zu", i);
        send_text(&alice, burst[i], 1);
    }
    say("burst: %zu messages queued", q_count());
    run();
    say("burst: %d as sent, %d not", expect_ok, expect_bad);
    check(expect_ok == 300 && expect_bad == 0, "300 messages one way arrive as sent");
    ping("after burst");

    sent = arrived_ok = 0;
    for (j = 0; j < 2; j++) {
        struct party *p = j ? &bob : &alice;
        for (i = 0; i < sizeof payloads / sizeof *payloads; i++) {
            expect_ok = expect_bad = 0;
            int arrives = payloads[i][0] && !strstr(payloads[i], "?OTR?");
            send_text(p, payloads[i], arrives);
            run();
            if (arrives) {
                sent++;
                arrived_ok += expect_ok == 1 && expect_bad == 0;
            }
        }
    }
    say("payloads: %d of %d as sent", arrived_ok, sent);
    check(arrived_ok == sent, "odd payloads arrive byte for byte");

    say("-- convert_msg on both sides");
    alice.ops.convert_msg = bob.ops.convert_msg = cb_convert_msg;
    alice.ops.convert_free = bob.ops.convert_free = cb_convert_free;
    expect_ok = expect_bad = 0;
    send_text(&alice, "converted from alice", 1);
    run();
    send_text(&bob, "converted from bob", 1);
    run();
    check(expect_ok == 2 && expect_bad == 0, "converted messages arrive as sent");
    alice.ops.convert_msg = bob.ops.convert_msg = NULL;
    alice.ops.convert_free = bob.ops.convert_free = NULL;
    say("-- convert_msg only on the sender");
    alice.ops.convert_msg = cb_convert_msg;
    alice.ops.convert_free = cb_convert_free;
    send_text(&alice, "half converted", 0);
    run();
    alice.ops.convert_msg = NULL;
    alice.ops.convert_free = NULL;
    print_state(&alice);
    print_state(&bob);
    teardown();
}

/* 3. Other ways into a session. */
static void sc_ake_variants(void)
{
    section("ake-whitespace: OPPORTUNISTIC, the whitespace tag starts the AKE");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_OPPORTUNISTIC, 0);
    send_text(&alice, "hi there", 1);
    run();
    check(expect_ok == 1, "tagged plaintext arrives without its tag");
    check_session(3);
    ping("whitespace");
    teardown();

    section("ake-whitespace-refused: tag sent, receiver's policy MANUAL");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_MANUAL, 0);
    send_text(&alice, "tagged but ignored", 1);
    run();
    send_text(&alice, "second plaintext", 1);
    run();
    send_text(&bob, "reply in plaintext", 1);
    run();
    send_text(&alice, "third plaintext", 1);
    run();
    print_state(&alice);
    print_state(&bob);
    check(!encrypted(&alice) && !encrypted(&bob), "no session");
    teardown();

    section("ake-v2: bob allows only v2");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_ALLOW_V2, 0);
    establish();
    check_session(2);
    ping("v2 one side");
    teardown();

    section("ake-v2-both: both allow only v2");
    setup(OTRL_POLICY_ALLOW_V2, OTRL_POLICY_ALLOW_V2, 0);
    establish();
    check_session(2);
    ping("v2 both");
    teardown();

    section("ake-v2-whitespace: v2 only, whitespace tag");
    setup(OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_SEND_WHITESPACE_TAG | OTRL_POLICY_WHITESPACE_START_AKE,
          OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_WHITESPACE_START_AKE, 0);
    send_text(&alice, "v2 tag", 1);
    run();
    check_session(2);
    teardown();

    section("ake-no-common-version: alice v3 only, bob v2 only");
    setup(OTRL_POLICY_ALLOW_V3, OTRL_POLICY_ALLOW_V2, 0);
    send_query(&alice);
    run();
    print_state(&alice);
    print_state(&bob);
    check(!encrypted(&alice) && !encrypted(&bob), "no session");
    teardown();

    section("ake-after-forget: bob forgets the session, his tagged reply restarts it");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_OPPORTUNISTIC, 0);
    establish();
    say("-- bob: otrl_context_force_plaintext");
    bob.L.otrl_context_force_plaintext(ctx_of(&bob));
    print_state(&bob);
    send_text(&alice, "are you there?", 1);
    run();
    check(expect_bad == 1, "the message is lost");
    send_text(&bob, "what did you say?", 1);
    run();
    check(expect_bad == 2, "bob's plaintext reply is only reported to alice");
    check_session(3);
    ping("after restart");
    teardown();

    section("ake-by-error: an OTR Error with ERROR_START_AKE restarts the AKE");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_OPPORTUNISTIC, 0);
    establish();
    ping("first session");
    say("-- a replayed Data Message makes bob answer with an OTR Error");
    send_text(&alice, "replayed", 0);
    {
        struct qent *e = q_last();
        if (e) enqueue(&alice, bob.account, e->msg)->raw = 1;
    }
    run();
    check_session(3);
    ping("after the error");
    say("-- the same with a resent_msg_prefix callback on alice");
    alice.ops.resent_msg_prefix = cb_resent_msg_prefix;
    alice.ops.resent_msg_prefix_free = cb_resent_msg_prefix_free;
    alice.resent_prefix = "[again]";
    send_text(&alice, "replayed again", 0);
    {
        struct qent *e = q_last();
        if (e) enqueue(&alice, bob.account, e->msg)->raw = 1;
    }
    run();
    check_session(3);
    teardown();

    section("ake-by-error-v2: the same in a v2 session (no instance contexts)");
    setup(OTRL_POLICY_OPPORTUNISTIC & ~OTRL_POLICY_ALLOW_V3, OTRL_POLICY_OPPORTUNISTIC, 0);
    establish();
    say("-- the last message is resent after the new AKE (default prefix)");
    expect_ok = expect_bad = 0;
    send_text(&alice, "replayed in v2", 0);
    {
        struct qent *e = q_last();
        if (e) enqueue(&alice, bob.account, e->msg)->raw = 1;
    }
    run();
    check_session(2);
    say("-- again with a resent_msg_prefix callback");
    alice.ops.resent_msg_prefix = cb_resent_msg_prefix;
    alice.ops.resent_msg_prefix_free = cb_resent_msg_prefix_free;
    alice.resent_prefix = "[again]";
    send_text(&alice, "replayed in v2 again", 0);
    {
        struct qent *e = q_last();
        if (e) enqueue(&alice, bob.account, e->msg)->raw = 1;
    }
    run();
    check(alice.last_event == OTRL_MSGEVENT_MSG_RESENT, "MSG_RESENT event");
    ping("v2 after resend");
    teardown();

    section("ake-by-error-plaintext: an OTR Error to a PLAINTEXT party");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_MANUAL, 0);
    put(&bob, "?OTR Error: you are not in a private conversation", "error to alice (ERROR_START_AKE)");
    print_state(&alice);
    print_state(&bob);
    check(encrypted(&alice) && encrypted(&bob), "the error started a session");
    put(&alice, "?OTR Error: same the other way", "error to bob (MANUAL)");
    teardown();

    section("ake-by-error-manual: same with MANUAL policies (no restart)");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    establish();
    bob.L.otrl_context_force_plaintext(ctx_of(&bob));
    send_text(&alice, "are you there?", 1);
    run();
    print_state(&alice);
    print_state(&bob);
    check(encrypted(&alice) && !encrypted(&bob), "alice stays ENCRYPTED, bob PLAINTEXT");
    teardown();

    section("ake-require: REQUIRE_ENCRYPTION, the message is held and resent");
    setup(OTRL_POLICY_ALWAYS, OTRL_POLICY_ALWAYS, 0);
    send_text(&alice, "secret before the session", 0);
    run();
    check_session(3);
    say("-- the same with a resent_msg_prefix callback");
    teardown();
    setup(OTRL_POLICY_ALWAYS, OTRL_POLICY_ALWAYS, 0);
    alice.ops.resent_msg_prefix = cb_resent_msg_prefix;
    alice.ops.resent_msg_prefix_free = cb_resent_msg_prefix_free;
    alice.resent_prefix = "[again]";
    send_text(&alice, "secret again", 0);
    run();
    check(encrypted(&alice) && encrypted(&bob), "session established");
    say("-- bob (ALWAYS) receives plaintext while encrypted");
    {
        struct qent *e = enqueue(&alice, bob.account, "an unencrypted line");
        (void)e;
        trace_outgoing(&alice, "raw", bob.account, "an unencrypted line");
        run();
    }
    teardown();

    section("ake-restart: a second query while ENCRYPTED");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    establish();
    say("-- alice sends ?OTR? through otrl_message_sending");
    send_text(&alice, "?OTR?", 0);
    run();
    check_session(3);
    say("-- bob sends a query");
    send_query(&bob);
    run();
    check_session(3);
    ping("after refresh");
    teardown();
}

/* 4. Fragmentation. */
static void sc_fragments(void)
{
    static char long_text[3000];
    size_t i;
    for (i = 0; i < sizeof long_text - 1; i++) long_text[i] = (char)('A' + i % 23);
    long_text[sizeof long_text - 1] = 0;

    section("fragments: max_message_size 150, OTRL_FRAGMENT_SEND_ALL");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 150);
    say("-- alice sends ?OTR? through otrl_message_sending");
    send_text(&alice, "?OTR?", 0);
    run();
    check_session(3);
    expect_ok = expect_bad = 0;
    send_text(&alice, "short", 1);
    run();
    send_text(&bob, long_text, 1);
    run();
    send_text(&alice, long_text + 1000, 1);
    run();
    for (i = 0; i < 20; i++) {
        send_text(i % 2 ? &bob : &alice, long_text + 2000 + i * 37, 1);
        run();
    }
    say("fragmented: %d as sent, %d not", expect_ok, expect_bad);
    check(expect_ok == 23 && expect_bad == 0, "fragmented messages arrive as sent");
    check(alice.oversize == 0 && bob.oversize == 0, "no injected message exceeds 150 bytes");
    check(alice.fragments > 20 && bob.fragments > 20, "both sides fragmented");

    say("-- OTRL_FRAGMENT_SEND_ALL_BUT_LAST: the application sends the last piece");
    alice.frag = OTRL_FRAGMENT_SEND_ALL_BUT_LAST;
    expect_ok = expect_bad = 0;
    send_text(&alice, long_text + 2500, 1);
    run();
    check(expect_ok == 1 && expect_bad == 0, "SEND_ALL_BUT_LAST message arrives");

    say("-- OTRL_FRAGMENT_SEND_SKIP: the application sends the whole message");
    alice.frag = OTRL_FRAGMENT_SEND_SKIP;
    expect_ok = expect_bad = 0;
    send_text(&alice, long_text + 2600, 1);
    run();
    check(expect_ok == 1 && expect_bad == 0, "SEND_SKIP message arrives");
    alice.frag = OTRL_FRAGMENT_SEND_ALL;

    say("-- a message whose last fragment is lost, then a complete one");
    {
        /* (Interleaving the fragments of two messages would make the trace
           depend on how many fragments each needs, which varies.) */
        struct qent *last1, **pp;
        send_text(&alice, long_text + 2200, 0);
        last1 = q_last();
        send_text(&alice, long_text + 2300, 1);
        if (last1) {
            for (pp = &q_head; *pp != last1; pp = &(*pp)->next) {}
            *pp = last1->next;
            if (!*pp) q_tail = pp;
            free_entry(last1);
        }
        expect_ok = expect_bad = 0;
        run();
        check(expect_ok == 1, "the complete message after an incomplete one arrives");
    }
    ping("after fragments");
    teardown();

    section("fragments-ake-whitespace: max_message_size 150, whitespace start, v3");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_OPPORTUNISTIC, 150);
    send_text(&alice, "hello with a tag", 1);
    run();
    check_session(3);
    ping("fragmented whitespace");
    teardown();

    section("fragments-v2: max_message_size 150, v2");
    setup(OTRL_POLICY_ALLOW_V2, OTRL_POLICY_ALLOW_V2, 150);
    establish();
    check_session(2);
    expect_ok = expect_bad = 0;
    send_text(&alice, long_text + 1500, 1);
    run();
    send_text(&bob, long_text + 1600, 1);
    run();
    check(expect_ok == 2 && expect_bad == 0, "v2 fragmented messages arrive");
    check(alice.oversize == 0 && bob.oversize == 0, "no injected message exceeds 150 bytes");
    teardown();
}

/* 5. The extra symmetric key. */
static void sc_symkey(void)
{
    unsigned char key[OTRL_EXTRAKEY_BYTES];
    static const unsigned char usedata[] = "file-transfer #42";
    gcry_error_t e;
    ConnContext *c;
    section("symkey: otrl_message_symkey and received_symkey");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    say("-- before the session");
    c = alice.L.otrl_context_find(alice.us, bob.account, alice.account, PROTO,
                                  OTRL_INSTAG_MASTER, 1, NULL, cb_add_appdata, &alice);
    memset(key, 0xAA, sizeof key);
    e = alice.L.otrl_message_symkey(alice.us, &alice.ops, &alice, c, 7, usedata,
                                    sizeof usedata - 1, key);
    say("alice: otrl_message_symkey (PLAINTEXT) -> 0x%x, key %s", e,
        key[0] == 0xAA && key[31] == 0xAA ? "untouched" : "written");
    run();
    establish();
    c = ctx_of(&alice);
    memset(key, 0, sizeof key);
    e = alice.L.otrl_message_symkey(alice.us, &alice.ops, &alice, c, 0x12345678, usedata,
                                    sizeof usedata - 1, key);
    say("alice: otrl_message_symkey use=0x12345678 -> 0x%x", e);
    run();
    check(e == 0 && bob.got_symkey == 1 && memcmp(key, bob.symkey, sizeof key) == 0,
          "bob receives alice's key");
    bob.got_symkey = 0;
    e = bob.L.otrl_message_symkey(bob.us, &bob.ops, &bob, ctx_of(&bob), 1, NULL, 0, key);
    say("bob: otrl_message_symkey use=1 no usedata -> 0x%x", e);
    run();
    check(e == 0 && alice.got_symkey == 1 && memcmp(key, alice.symkey, sizeof key) == 0,
          "alice receives bob's key");
    say("-- after a message each way (new D-H keys), two keys with the same D-H keys");
    {
        unsigned char k2[OTRL_EXTRAKEY_BYTES];
        send_text(&alice, "between keys", 1);
        run();
        send_text(&bob, "between keys", 1);
        run();
        e = alice.L.otrl_message_symkey(alice.us, &alice.ops, &alice, ctx_of(&alice), 2, usedata,
                                        3, k2);
        run();
        check(e == 0 && memcmp(k2, bob.symkey, sizeof k2) == 0, "second key received");
        e = alice.L.otrl_message_symkey(alice.us, &alice.ops, &alice, ctx_of(&alice), 3, usedata,
                                        3, key);
        run();
        check(e == 0 && memcmp(key, bob.symkey, sizeof key) == 0, "third key received");
        say("symkey: second and third keys %s", memcmp(k2, key, sizeof key) ? "differ" : "equal");
    }
    teardown();
}

/* 6. Ending a session. */
static void sc_disconnect(void)
{
    ConnContext *c;
    section("disconnect: otrl_message_disconnect from alice");
    setup(OTRL_POLICY_OPPORTUNISTIC, OTRL_POLICY_OPPORTUNISTIC, 0);
    establish();
    c = ctx_of(&alice);
    alice.L.otrl_message_disconnect(alice.us, &alice.ops, &alice, alice.account, PROTO,
                                    bob.account, c->their_instance);
    print_state(&alice);
    run();
    print_state(&bob);
    check(ctx_of(&bob) && ctx_of(&bob)->msgstate == OTRL_MSGSTATE_FINISHED, "bob FINISHED");
    check(ctx_of(&alice) && ctx_of(&alice)->msgstate == OTRL_MSGSTATE_PLAINTEXT,
          "alice PLAINTEXT");
    bob.events = 0;
    {
        char *newmsg = NULL;
        gcry_error_t e = bob.L.otrl_message_sending(bob.us, &bob.ops, &bob, bob.account, PROTO,
                                                    alice.account, OTRL_INSTAG_BEST,
                                                    "still there?", NULL, &newmsg,
                                                    OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
        say("bob: send \"still there?\" -> err=0x%x new=%s", e, show(newmsg));
        check(bob.last_event == OTRL_MSGEVENT_CONNECTION_ENDED, "CONNECTION_ENDED event");
        check(newmsg && newmsg[0] == 0, "bob's message replaced by \"\"");
        if (newmsg) bob.L.otrl_message_free(newmsg);
        run();
    }
    say("-- bob disconnects too (FINISHED -> PLAINTEXT)");
    bob.L.otrl_message_disconnect(bob.us, &bob.ops, &bob, bob.account, PROTO, alice.account,
                                  ctx_of(&bob)->their_instance);
    run();
    print_state(&bob);
    send_text(&bob, "plain again", 1);
    run();
    send_text(&alice, "plain from alice", 1);
    run();
    say("-- a new session, then otrl_message_disconnect_all_instances from bob");
    establish();
    bob.L.otrl_message_disconnect_all_instances(bob.us, &bob.ops, &bob, bob.account, PROTO,
                                                alice.account);
    run();
    print_state(&alice);
    print_state(&bob);
    check(ctx_of(&alice) && ctx_of(&alice)->msgstate == OTRL_MSGSTATE_FINISHED, "alice FINISHED");
    say("-- alice (FINISHED) receives a plaintext message");
    send_text(&bob, "plaintext to a finished session", 1);
    run();
    say("-- a query restarts the session from FINISHED");
    send_query(&bob);
    run();
    check_session(3);
    teardown();

    section("disconnect-v2: v2 session ended");
    setup(OTRL_POLICY_ALLOW_V2, OTRL_POLICY_ALLOW_V2, 0);
    establish();
    alice.L.otrl_message_disconnect(alice.us, &alice.ops, &alice, alice.account, PROTO,
                                    bob.account, OTRL_INSTAG_BEST);
    run();
    print_state(&alice);
    print_state(&bob);
    check(ctx_of(&bob) && ctx_of(&bob)->msgstate == OTRL_MSGSTATE_FINISHED, "bob FINISHED");
    teardown();
}

/* 7. Polling. The library uses time(): only what does not depend on the
   clock is traced (the run takes far less than the libraries' intervals). */
static void sc_poll(void)
{
    section("poll: otrl_message_poll and the timer");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    say("alice: default interval %u", alice.L.otrl_message_poll_get_default_interval(alice.us));
    say("bob: default interval %u", bob.L.otrl_message_poll_get_default_interval(bob.us));
    say("-- poll with no contexts");
    alice.L.otrl_message_poll(alice.us, &alice.ops, &alice);
    say("alice: timer_running=%d", alice.us->timer_running);
    establish();
    say("alice: timer_running=%d bob: timer_running=%d", alice.us->timer_running,
        bob.us->timer_running);
    ping("before poll");
    say("-- poll right after the messages");
    alice.L.otrl_message_poll(alice.us, &alice.ops, &alice);
    bob.L.otrl_message_poll(bob.us, &bob.ops, &bob);
    say("alice: timer_running=%d bob: timer_running=%d", alice.us->timer_running,
        bob.us->timer_running);
    ping("after poll");
    say("-- poll with NULL ops callbacks for the timer");
    alice.ops.timer_control = NULL;
    alice.L.otrl_message_poll(alice.us, &alice.ops, &alice);
    alice.ops.timer_control = cb_timer_control;
    say("-- disconnect, then poll");
    alice.L.otrl_message_disconnect_all_instances(alice.us, &alice.ops, &alice, alice.account,
                                                  PROTO, bob.account);
    run();
    alice.L.otrl_message_poll(alice.us, &alice.ops, &alice);
    bob.L.otrl_message_poll(bob.us, &bob.ops, &bob);
    say("alice: timer_running=%d bob: timer_running=%d", alice.us->timer_running,
        bob.us->timer_running);
    teardown();
}

/* Detaches the message alice sends with text (a single Data Message). */
static struct qent *capture(const char *text)
{
    struct qent *e;
    size_t before = q_count();
    send_text(&alice, text, 0);
    if (q_count() != before + 1) die("capture: %s produced %zu messages", text, q_count() - before);
    e = q_take_last();
    return e;
}

static void put(struct party *from, const char *m, const char *label)
{
    say("-- %s", label);
    trace_outgoing(from, "raw", from->peer->account, m);
    enqueue(from, from->peer->account, m)->raw = 1;
    run();
}

/* A Data Message with one field changed: which selects the field. */
static char *mangle(const char *m, int which)
{
    const char *start = m + 5, *end = strchr(start, '.');
    size_t n = end ? (size_t)(end - start) : strlen(start), len;
    unsigned char *buf = xmalloc(n);
    char *b64, *out;
    len = b64dec(start, n, buf);
    if (which == 0 && len > 10) {           /* receiver instance tag + 1 */
        buf[10] = (unsigned char)(buf[10] + 1);
    } else if (which == 1 && len > 30) {    /* a byte of the MAC area */
        buf[len - 25] ^= 0x01;
    } else if (which == 2 && len > 2) {     /* unknown message type */
        buf[2] = 0x7f;
    } else if (which == 3 && len > 11) {    /* flags: IGNORE_UNREADABLE; breaks the MAC */
        buf[11] |= OTRL_MSGFLAGS_IGNORE_UNREADABLE;
        buf[len - 25] ^= 0x01;
    }
    b64 = b64enc(buf, len);
    out = xmalloc(strlen(b64) + 7);
    sprintf(out, "?OTR:%s.", b64);
    free(b64);
    free(buf);
    return out;
}

/* 8. Malformed input. */
static void sc_malformed(void)
{
    struct qent *e;
    char *m;
    char buf[256];
    section("malformed: replay, truncation, bad base64, bad fragments");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    establish();
    ping("before");

    say("-- the same Data Message twice");
    e = capture("only once");
    e->expect = "only once";
    put(&alice, e->msg, "first copy");
    m = xstrdup(e->msg);
    free_entry(e);
    put(&alice, m, "second copy (replay)");
    free(m);
    ping("after replay");

    e = capture("to be truncated");
    {
        size_t n = strlen(e->msg);
        m = xmalloc(n + 2);
        memcpy(m, e->msg, n / 2);
        strcpy(m + n / 2, ".");
        put(&alice, m, "truncated Data Message");
        free(m);
    }
    free_entry(e);
    ping("after truncation");

    put(&alice, "?OTR:!!!!.", "bad base64 ?OTR:!!!!.");
    put(&alice, "?OTR:AAMD.", "short Data Message ?OTR:AAMD.");
    put(&alice, "?OTR:.", "empty ?OTR:.");

    e = capture("for another instance");
    m = mangle(e->msg, 0);
    put(&alice, m, "Data Message for another instance");
    free(m);
    m = mangle(e->msg, 1);
    put(&alice, m, "Data Message with a bad MAC");
    free(m);
    m = mangle(e->msg, 3);
    put(&alice, m, "unreadable Data Message flagged IGNORE_UNREADABLE");
    free(m);
    m = mangle(e->msg, 2);
    put(&alice, m, "unknown message type 0x7f");
    free(m);
    free_entry(e);
    ping("after mangling");

    snprintf(buf, sizeof buf, "?OTR|%08x|%08x,00003,00002,?OTR:AAMD,", own_instag(&alice),
             own_instag(&bob));
    put(&alice, buf, "fragment k=3 > n=2");
    snprintf(buf, sizeof buf, "?OTR|%08x|%08x,00000,00002,?OTR:AAMD,", own_instag(&alice),
             own_instag(&bob));
    put(&alice, buf, "fragment k=0");
    snprintf(buf, sizeof buf, "?OTR|%08x|%08x,00002,00002,AAAA.,", own_instag(&alice),
             own_instag(&bob));
    put(&alice, buf, "last fragment without a first one");
    snprintf(buf, sizeof buf, "?OTR|%08x|%08x,00001,00002,?OTR:AAMD,", own_instag(&alice),
             own_instag(&bob) + 1);
    put(&alice, buf, "first fragment for another instance");
    snprintf(buf, sizeof buf, "?OTR|%08x|%08x,00001,00001,?OTR:AAMD.", own_instag(&alice),
             own_instag(&bob));
    put(&alice, buf, "fragment without the final comma");
    snprintf(buf, sizeof buf, "?OTR|%08x|%08x,00001,00001,just text, with a comma,",
             own_instag(&alice), own_instag(&bob));
    put(&alice, buf, "a single fragment holding plain text");
    put(&alice, "?OTR,00001,00002,?OTR:AAMD,", "a v2 fragment in a v3 session");
    ping("after bad fragments");

    put(&alice, "?OTR Error: something went wrong", "an OTR Error message");
    put(&alice, "?OTR?v?", "a query that offers nothing usable");
    put(&alice, "?OTRv4?", "a query for v4 only");
    put(&alice, "plain text while encrypted", "plaintext while ENCRYPTED");
    put(&alice, "plain with tag \x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"
        "\x20\x20\x09\x09\x20\x20\x09\x09", "tagged plaintext while ENCRYPTED");
    print_state(&alice);
    print_state(&bob);
    ping("at the end");
    teardown();

    section("malformed-plaintext: Data Messages while PLAINTEXT");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    establish();
    e = capture("orphan");
    teardown();
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    put(&alice, e->msg, "Data Message to a fresh user state");
    m = mangle(e->msg, 3);
    put(&alice, m, "IGNORE_UNREADABLE Data Message to a fresh user state");
    free(m);
    free_entry(e);
    put(&alice, "?OTR:!!!!.", "bad base64 while PLAINTEXT");
    print_state(&bob);
    teardown();
}

/* 9. The Socialist Millionaires' Protocol. */
static void sc_smp(void)
{
    ConnContext *c;
    section("smp: question, secret, wrong secret, abort");
    setup(OTRL_POLICY_MANUAL, OTRL_POLICY_MANUAL, 0);
    establish();
    hide_flagged_lengths = 1;
    say("-- with a question, right answer");
    bob.smp_answer = "blue";
    c = ctx_of(&alice);
    alice.L.otrl_message_initiate_smp_q(alice.us, &alice.ops, &alice, c, "favourite colour?",
                                        (const unsigned char *)"blue", 4);
    run();
    check(alice.last_smp == OTRL_SMPEVENT_SUCCESS && bob.last_smp == OTRL_SMPEVENT_SUCCESS,
          "SMP succeeds on both sides");
    print_state(&alice);
    print_state(&bob);
    say("-- without a question, wrong answer (started by bob)");
    alice.smp_answer = "green";
    bob.L.otrl_message_initiate_smp(bob.us, &bob.ops, &bob, ctx_of(&bob),
                                    (const unsigned char *)"red", 3);
    run();
    check(alice.last_smp == OTRL_SMPEVENT_FAILURE && bob.last_smp == OTRL_SMPEVENT_FAILURE,
          "SMP fails on both sides");
    print_state(&alice);
    print_state(&bob);
    say("-- the responder aborts");
    bob.smp_abort = 1;
    alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                      (const unsigned char *)"x", 1);
    run();
    check(bob.last_smp != OTRL_SMPEVENT_SUCCESS && alice.last_smp != OTRL_SMPEVENT_SUCCESS,
          "aborted SMP does not succeed");
    say("-- the initiator aborts before the answer");
    bob.smp_abort = 0;
    bob.smp_answer = NULL;
    alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                      (const unsigned char *)"y", 1);
    run();
    alice.L.otrl_message_abort_smp(alice.us, &alice.ops, &alice, ctx_of(&alice));
    run();
    say("-- a new SMP after the abort");
    bob.smp_answer = "z";
    alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                      (const unsigned char *)"z", 1);
    run();
    check(alice.last_smp == OTRL_SMPEVENT_SUCCESS && bob.last_smp == OTRL_SMPEVENT_SUCCESS,
          "SMP after an abort succeeds");
    print_state(&alice);
    print_state(&bob);
    hide_flagged_lengths = 0;
    ping("after SMP");
    teardown();
}

/* Delivers the first message of the network only. */
static void step(void)
{
    struct qent *e = q_head;
    if (!e) {
        say("(nothing to deliver)");
        return;
    }
    q_head = e->next;
    if (!q_head) q_tail = &q_head;
    deliver(e);
    free_entry(e);
}

static void print_smp(struct party *p)
{
    say("%s: smp %s", p->name, smp_state_desc(ctx_of(p)));
}

static int smp_idle(struct party *p)
{
    ConnContext *c = ctx_of(p);
    return c && c->smstate && c->smstate->nextExpected == OTRL_SMP_EXPECT1;
}

static int trusted(struct party *p)
{
    ConnContext *c = ctx_of(p);
    return c && c->active_fingerprint && c->active_fingerprint->trust &&
           strcmp(c->active_fingerprint->trust, "smp") == 0;
}

/* A complete SMP started by alice (bob answers in the callback). */
static void smp_ok(const char *label, const char *question)
{
    say("-- %s", label);
    alice.last_smp = bob.last_smp = OTRL_SMPEVENT_NONE;
    bob.smp_answer = "right";
    if (question)
        alice.L.otrl_message_initiate_smp_q(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                            question, (const unsigned char *)"right", 5);
    else
        alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                          (const unsigned char *)"right", 5);
    run();
    print_smp(&alice);
    print_smp(&bob);
    check(alice.last_smp == OTRL_SMPEVENT_SUCCESS && bob.last_smp == OTRL_SMPEVENT_SUCCESS,
          "%s: SMP succeeds on both sides", label);
    check(smp_idle(&alice) && smp_idle(&bob), "%s: both expect SMP1 again", label);
    /* The responder sets its trust only when it was not asked a question
       (then it has only answered, not checked the initiator's secret). */
    check(trusted(&alice) && (question || trusted(&bob)),
          "%s: alice trusts \"smp\"%s", label, question ? "" : ", bob too");
}

/* An SMP with its Data Message encrypted by the sender's library: one TLV of
   the given type and payload, as otrl_proto_create_data makes it. */
static void forge(struct party *from, unsigned short type, const unsigned char *data,
                  size_t len, int first, const char *label)
{
    OtrlTLV *t = from->L.otrl_tlv_new(type, (unsigned short)len, data);
    char *m = NULL;
    gcry_error_t e = from->L.otrl_proto_create_data(&m, ctx_of(from), "", t,
                                                     OTRL_MSGFLAGS_IGNORE_UNREADABLE, NULL);
    from->L.otrl_tlv_free(t);
    if (e || !m) die("%s: otrl_proto_create_data: 0x%x", from->name, e);
    if (first) {
        /* Ahead of what is already on the network. */
        struct qent *e;
        say("-- %s", label);
        trace_outgoing(from, "raw", from->peer->account, m);
        e = enqueue(from, from->peer->account, m);
        e->raw = 1;
        q_take_last();                      /* e, moved to the front: */
        e->next = q_head;
        q_head = e;
        if (!e->next) q_tail = &e->next;
        step();
    } else {
        put(from, m, label);
    }
    from->L.libc_free(m);
}

static void smp_scenario_start(const char *title, OtrlPolicy pol, unsigned pv)
{
    section(title);
    setup(pol, pol, 0);
    establish();
    check_session(pv);
    alice.smp_cb = bob.smp_cb = 1;
    hide_flagged_lengths = 1;
}

static void smp_scenario_end(const char *tag)
{
    hide_flagged_lengths = 0;
    print_state(&alice);
    print_state(&bob);
    ping(tag);
    free(captured);
    captured = NULL;
    capture_type = 0;
    teardown();
}

/* 10. Aborts at every step of the SMP, by either side, each followed by a
   successful SMP. Steps: SMP1 delivered and not answered; SMP2 sent (not
   delivered); SMP2 delivered (SMP3 sent); SMP3 delivered (SMP4 sent). */
static void sc_smp_abort(void)
{
    static const char *points[] = { "after SMP1 (not answered)", "after SMP2 is sent",
                                    "after SMP3 is sent", "after SMP4 is sent" };
    int point, who;
    char label[128];
    smp_scenario_start("smp-abort: aborts at every step, by either side", OTRL_POLICY_MANUAL, 3);
    for (point = 0; point < 4; point++)
        for (who = 0; who < 2; who++) {
            struct party *ab = who ? &bob : &alice;
            int steps = point == 0 ? 1 : point, i;
            snprintf(label, sizeof label, "%s aborts %s", ab->name, points[point]);
            say("-- %s", label);
            alice.last_smp = bob.last_smp = OTRL_SMPEVENT_NONE;
            bob.smp_answer = point == 0 ? NULL : "s";
            alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                              (const unsigned char *)"s", 1);
            for (i = 0; i < steps; i++) step();
            print_smp(&alice);
            print_smp(&bob);
            say("(%s calls otrl_message_abort_smp, %zu messages queued)", ab->name, q_count());
            ab->L.otrl_message_abort_smp(ab->us, &ab->ops, ab, ctx_of(ab));
            print_smp(ab);
            run();
            print_smp(&alice);
            print_smp(&bob);
            check(alice.last_smp != OTRL_SMPEVENT_SUCCESS, "%s: alice does not succeed", label);
            check(smp_idle(&alice) && smp_idle(&bob), "%s: both expect SMP1 again", label);
            snprintf(label, sizeof label, "new SMP after %s aborts %s", ab->name, points[point]);
            smp_ok(label, point & 1 ? "q?" : NULL);
        }
    smp_scenario_end("after the aborts");
}

/* 11. A second SMP right after a successful one, then one started by bob. */
static void sc_smp_again(void)
{
    smp_scenario_start("smp-again: two SMPs in a row", OTRL_POLICY_MANUAL, 3);
    smp_ok("first SMP", "q1?");
    smp_ok("second SMP right after", NULL);
    say("-- third SMP, started by bob, with a question");
    alice.last_smp = bob.last_smp = OTRL_SMPEVENT_NONE;
    alice.smp_answer = "x";
    bob.L.otrl_message_initiate_smp_q(bob.us, &bob.ops, &bob, ctx_of(&bob), "q3?",
                                      (const unsigned char *)"x", 1);
    run();
    print_smp(&alice);
    print_smp(&bob);
    check(alice.last_smp == OTRL_SMPEVENT_SUCCESS && bob.last_smp == OTRL_SMPEVENT_SUCCESS,
          "third SMP succeeds on both sides");
    smp_scenario_end("after three SMPs");
}

/* 12. The SMP on a protocol version 2 session. */
static void sc_smp_v2(void)
{
    smp_scenario_start("smp-v2: SMP on a v2 session", OTRL_POLICY_ALLOW_V2, 2);
    smp_ok("v2 SMP with a question", "v2?");
    say("-- v2 SMP with a wrong answer");
    alice.last_smp = bob.last_smp = OTRL_SMPEVENT_NONE;
    bob.smp_answer = "wrong";
    alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                      (const unsigned char *)"right", 5);
    run();
    print_smp(&alice);
    print_smp(&bob);
    check(alice.last_smp == OTRL_SMPEVENT_FAILURE && bob.last_smp == OTRL_SMPEVENT_FAILURE,
          "v2 SMP with a wrong answer fails on both sides");
    smp_ok("v2 SMP again", NULL);
    smp_scenario_end("v2 after SMP");
}

/* 13. SMP messages out of order, replayed, and with a value out of range. */
static void sc_smp_inject(void)
{
    char *smp2wire;
    unsigned char *smp2 = NULL, *smp3 = NULL;
    size_t smp2len = 0, smp3len = 0;
    /* count 6, then six MPIs: g2a = 1 (out of range), then small values */
    static const unsigned char bad1[] = { 0, 0, 0, 6, 0, 0, 0, 1, 1, 0, 0, 0, 1, 5,
        0, 0, 0, 1, 7, 0, 0, 0, 1, 2, 0, 0, 0, 1, 5, 0, 0, 0, 1, 7 };
    smp_scenario_start("smp-inject: replayed, out-of-order and out-of-range SMP messages",
                       OTRL_POLICY_MANUAL, 3);
    say("-- an SMP step by step; SMP2 and SMP3 are captured");
    bob.smp_answer = "s";
    alice.L.otrl_message_initiate_smp(alice.us, &alice.ops, &alice, ctx_of(&alice),
                                      (const unsigned char *)"s", 1);
    step();                                 /* SMP1 -> bob, SMP2 queued */
    if (!q_head) die("no SMP2 was sent");
    smp2wire = xstrdup(q_head->msg);
    capture_type = OTRL_TLV_SMP2;
    step();                                 /* SMP2 -> alice, SMP3 queued */
    if (captured) { smp2 = captured; smp2len = captured_len; captured = NULL; }
    capture_type = OTRL_TLV_SMP3;
    step();                                 /* SMP3 -> bob, SMP4 queued */
    if (captured) { smp3 = captured; smp3len = captured_len; captured = NULL; }
    capture_type = 0;
    check(smp2 && smp3, "SMP2 and SMP3 captured");
    if (!smp2 || !smp3) die("no SMP TLVs captured");
    print_smp(&alice);
    print_smp(&bob);
    forge(&bob, OTRL_TLV_SMP2, smp2, smp2len, 1,
          "SMP2 again (re-encrypted, ahead of SMP4), alice expects SMP4");
    print_smp(&alice);
    print_smp(&bob);
    run();
    print_smp(&alice);
    print_smp(&bob);
    check(smp_idle(&alice) && smp_idle(&bob), "both expect SMP1 after the disorder");
    put(&bob, smp2wire, "the SMP2 Data Message replayed as it was");
    print_smp(&alice);
    forge(&bob, OTRL_TLV_SMP2, smp2, smp2len, 0, "SMP2 (re-encrypted) when alice expects SMP1");
    print_smp(&alice);
    print_smp(&bob);
    forge(&alice, OTRL_TLV_SMP3, smp3, smp3len, 0, "SMP3 (re-encrypted) when bob expects SMP1");
    print_smp(&alice);
    print_smp(&bob);
    check(smp_idle(&alice) && smp_idle(&bob), "both expect SMP1 after the out-of-order messages");
    smp_ok("a good SMP after the out-of-order messages", NULL);
    bob.last_smp = OTRL_SMPEVENT_NONE;
    forge(&alice, OTRL_TLV_SMP1, bad1, sizeof bad1, 0, "SMP1 with g2a = 1 from alice");
    print_smp(&alice);
    print_smp(&bob);
    check(bob.last_smp == OTRL_SMPEVENT_CHEATED || bob.last_smp == OTRL_SMPEVENT_ERROR,
          "bob sees CHEATED or ERROR");
    check(smp_idle(&alice) && smp_idle(&bob), "both expect SMP1 after the bad SMP1");
    hide_flagged_lengths = 0;
    ping("after the bad SMP1");
    hide_flagged_lengths = 1;
    smp_ok("a good SMP after the bad SMP1", "after?");
    free(smp2wire);
    free(smp2);
    free(smp3);
    smp_scenario_end("after the injections");
}

/* ------------------------------------------------------------------------ */
/* Start-up                                                                 */

/* Missing functions of a library, by group. */
enum { MISSING_CORE = 1, MISSING_SMP = 2, MISSING_OTHER = 4 };

/* Resolves p's function table; returns the MISSING_* groups of the functions
   dlsym() did not find, and lists those functions on stderr. */
static int load(struct party *p, const char *path)
{
    int missing = 0;
    p->L.path = path;
    p->L.handle = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
    if (!p->L.handle) die("%s: dlmopen %s: %s", p->name, path, dlerror());
    p->L.libc_free = (void (*)(void *))dlsym(p->L.handle, "free");
    if (!p->L.libc_free) die("%s: no free() in the namespace of %s", p->name, path);
#define RESOLVE(f, group) \
    p->L.f = (typeof(&f))dlsym(p->L.handle, #f); \
    if (!p->L.f) { fprintf(stderr, "interop: missing %s\n", #f); missing |= group; }
#define RESOLVE_CORE(f) RESOLVE(f, MISSING_CORE)
#define RESOLVE_SMP(f) RESOLVE(f, MISSING_SMP)
#define RESOLVE_OTHER(f) RESOLVE(f, MISSING_OTHER)
    CORE_FUNCS(RESOLVE_CORE)
    SMP_FUNCS(RESOLVE_SMP)
    OTHER_FUNCS(RESOLVE_OTHER)
#undef RESOLVE
    if (missing) fprintf(stderr, "interop: (in %s, loaded for %s)\n", path, p->name);
    return missing;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out;
    char buf[4096];
    size_t n;
    int ok = 1;
    if (!in) return 0;
    out = fopen(to, "wb");
    if (!out) { fclose(in); return 0; }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) ok = 0;
    fclose(in);
    if (fclose(out)) ok = 0;
    chmod(to, 0600);
    return ok;
}

/* The key of p: from the cache, or generated with p's own library. */
static void prepare_key(struct party *p, const char *cache)
{
    char cached[PATH_MAX];
    OtrlUserState us;
    gcry_error_t e;
    if (cache) {
        snprintf(cached, sizeof cached, "%s/%s.priv", cache, p->name);
        if (access(cached, R_OK) == 0 && copy_file(cached, p->keyfile)) {
            fprintf(stderr, "interop: %s: key from %s\n", p->name, cached);
            goto fingerprint;
        }
    }
    us = p->L.otrl_userstate_create();
    unlink(p->keyfile);
    e = p->L.otrl_privkey_generate(us, p->keyfile, p->account, PROTO);
    p->L.otrl_userstate_free(us);
    if (e) die("%s: otrl_privkey_generate: 0x%x", p->name, e);
    fprintf(stderr, "interop: %s: key generated by %s\n", p->name, p->L.path);
    if (cache) {
        mkdir(cache, 0700);
        if (!copy_file(p->keyfile, cached)) die("cannot write %s", cached);
    }
fingerprint:
    us = p->L.otrl_userstate_create();
    if ((e = p->L.otrl_privkey_read(us, p->keyfile))) die("%s: otrl_privkey_read: 0x%x", p->name, e);
    if (!p->L.otrl_privkey_fingerprint_raw(us, p->fp, p->account, PROTO))
        die("%s: no fingerprint for the key", p->name);
    p->L.otrl_userstate_free(us);
}

/* The work directory made by mkdtemp(), removed at exit (also after die()). */
static char tmp_dir[] = "/tmp/otr-interop-XXXXXX";
static int own_dir;

static void remove_tmp_dir(void)
{
    int i;
    if (!own_dir) return;
    for (i = 0; i < 2; i++) {
        struct party *p = i ? &bob : &alice;
        unlink(p->keyfile);
        unlink(p->instagfile);
        unlink(p->fpfile);
    }
    rmdir(tmp_dir);
}

static const struct { const char *name; void (*fn)(void); } scenarios[] = {
    { "ake", sc_ake },
    { "messages", sc_messages },
    { "ake-variants", sc_ake_variants },
    { "fragments", sc_fragments },
    { "symkey", sc_symkey },
    { "disconnect", sc_disconnect },
    { "poll", sc_poll },
    { "malformed", sc_malformed },
    { "smp", sc_smp },
    { "smp-abort", sc_smp_abort },
    { "smp-again", sc_smp_again },
    { "smp-v2", sc_smp_v2 },
    { "smp-inject", sc_smp_inject },
};

int main(int argc, char **argv)
{
    const char *alib = NULL, *blib = NULL, *dir = NULL, *cache = NULL, *only = NULL;
    const char *probe = NULL, *skip[8];
    int missing, i, ran = 0, nskip = 0, skip_smp = 0;
    size_t s;
    gcry_error_t e;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--alice") == 0 && i + 1 < argc) alib = argv[++i];
        else if (strcmp(argv[i], "--bob") == 0 && i + 1 < argc) blib = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) cache = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--skip") == 0 && i + 1 < argc && nskip < 8) skip[nskip++] = argv[++i];
        else if (strcmp(argv[i], "--probe") == 0 && i + 1 < argc) probe = argv[++i];
        else if (strcmp(argv[i], "--trace-queries") == 0) trace_queries = 1;
        else {
            fprintf(stderr, "usage: %s --alice LIB --bob LIB [--dir DIR] [--keys CACHE] "
                    "[--only SCENARIO] [--skip SCENARIO]... [--trace-queries]\n"
                    "       %s --probe LIB\n", argv[0], argv[0]);
            return 2;
        }
    }
    for (i = 0; i < nskip; i++) skip_smp |= strcmp(skip[i], "smp") == 0;
    if (probe) {
        /* Which functions LIB lacks: 0 none, 77 the message layer, 76 only
           the SMP functions, 75 others. */
        missing = load(&alice, probe);
        dlclose(alice.L.handle);
        return missing & MISSING_CORE ? 77 : missing & MISSING_OTHER ? 75 : missing ? 76 : 0;
    }
    if (!alib) alib = getenv("INTEROP_ALICE");
    if (!blib) blib = getenv("INTEROP_BOB");
    if (!alib || !blib) die("--alice and --bob (or INTEROP_ALICE/INTEROP_BOB) are required");
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);

    alice.peer = &bob;
    bob.peer = &alice;
    missing = load(&alice, alib) | load(&bob, blib);
    if (missing & MISSING_CORE) {
        fprintf(stderr, "interop: no message layer\n");
        dlclose(alice.L.handle);
        dlclose(bob.L.handle);
        return 77;
    }
    if (missing & MISSING_OTHER || (missing & MISSING_SMP && !skip_smp))
        die("functions missing (see above)");
    if ((e = alice.L.otrl_init(OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR, OTRL_VERSION_SUB)) ||
        (e = bob.L.otrl_init(OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR, OTRL_VERSION_SUB)))
        die("otrl_init: 0x%x", e);

    if (!dir) {
        if (!mkdtemp(tmp_dir)) die("mkdtemp: %s", strerror(errno));
        dir = tmp_dir;
        own_dir = 1;
        atexit(remove_tmp_dir);
    } else {
        mkdir(dir, 0700);
    }
    for (i = 0; i < 2; i++) {
        struct party *p = i ? &bob : &alice;
        snprintf(p->keyfile, sizeof p->keyfile, "%s/%s.priv", dir, p->name);
        snprintf(p->instagfile, sizeof p->instagfile, "%s/%s.instag", dir, p->name);
        snprintf(p->fpfile, sizeof p->fpfile, "%s/%s.fp", dir, p->name);
        prepare_key(p, cache);
    }
    fprintf(stderr, "interop: alice %s (%s), bob %s (%s)\n", alib, alice.L.otrl_version(), blib,
            bob.L.otrl_version());
    say("interop trace (libotr %d.%d.%d API)", OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR,
        OTRL_VERSION_SUB);

    for (s = 0; s < sizeof scenarios / sizeof *scenarios; s++) {
        int skipped = 0;
        for (i = 0; i < nskip; i++) skipped |= strcmp(skip[i], scenarios[s].name) == 0;
        /* --skip smp leaves out every SMP scenario */
        skipped |= skip_smp && strncmp(scenarios[s].name, "smp", 3) == 0;
        if (skipped || (only && strcmp(only, scenarios[s].name) != 0)) continue;
        scenarios[s].fn();
        ran++;
        fflush(stdout);
    }
    if (only && !ran) die("no scenario %s", only);

    putchar('\n');
    say("=== %d checks, %d failed", checks, failures);
    fflush(stdout);

    dlclose(alice.L.handle);
    dlclose(bob.L.handle);
    return failures ? 1 : 0;
}
