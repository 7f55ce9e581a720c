/* Private keys and the fingerprints file: key generation (one call, in
   steps, onto streams), reading key files back (list order, replacement of
   an account's key), lookups and fingerprints, pending generations, error
   codes of missing and malformed files, signing and verifying, forgetting,
   and reading and writing the fingerprints file.

   Keys are random, so only deterministic facts are printed: return codes,
   list walks, sizes of the fixed DSA parameters, and whether values agree
   between calls or with what libgcrypt computes itself. */
#include <errno.h>
#include <sys/stat.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/context.h>
#include <libotr/userstate.h>
#include "common.h"

#define KEYS "keys.priv"

/* ---- helpers ------------------------------------------------------------ */

static size_t count_keys(OtrlUserState us)
{
    size_t n = 0;
    OtrlPrivKey *k;
    for (k = us->privkey_root; k; k = k->next) n++;
    return n;
}

/* Reads one OTR MPI (4-byte big-endian length, then the bytes). */
static int read_mpi(const unsigned char **p, size_t *left, gcry_mpi_t *out)
{
    size_t n;
    if (*left < 4) return -1;
    n = ((size_t)(*p)[0] << 24) | ((size_t)(*p)[1] << 16) | ((size_t)(*p)[2] << 8) | (*p)[3];
    *p += 4; *left -= 4;
    if (n > *left) return -1;
    if (gcry_mpi_scan(out, GCRYMPI_FMT_USG, *p, n, NULL)) return -1;
    *p += n; *left -= n;
    return 0;
}

/* p, q, g, y of a key's pubkey_data; 0 on success. */
static int key_mpis(const OtrlPrivKey *k, gcry_mpi_t m[4])
{
    const unsigned char *p = k->pubkey_data;
    size_t left = k->pubkey_datalen;
    int i;
    for (i = 0; i < 4; i++) m[i] = NULL;
    for (i = 0; i < 4; i++)
        if (read_mpi(&p, &left, &m[i])) return -1;
    return left == 0 ? 0 : -1;
}

static void release_mpis(gcry_mpi_t m[4])
{
    int i;
    for (i = 0; i < 4; i++) gcry_mpi_release(m[i]);
}

/* One line per key: account, protocol, type and what is fixed about the
   public data (four MPIs filling it exactly, 1024-bit p, 160-bit q). The
   fingerprint is checked against SHA-1 of the data and the human form. */
static void walk_keys(const char *label, OtrlUserState us)
{
    OtrlPrivKey *k;
    int i = 0;
    SAY("%s: %zu keys", label, count_keys(us));
    for (k = us->privkey_root; k; k = k->next, i++) {
        gcry_mpi_t m[4];
        unsigned char raw[20], sha[20];
        char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN], human2[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
        int ok = key_mpis(k, m) == 0;
        CHECK(k->tous && *k->tous == k);
        CHECK(otrl_privkey_find(us, k->accountname, k->protocol) != NULL);
        gcry_md_hash_buffer(GCRY_MD_SHA1, sha, k->pubkey_data, k->pubkey_datalen);
        memset(raw, 0, sizeof raw);
        memset(human, 'x', sizeof human);
        CHECK(otrl_privkey_fingerprint_raw(us, raw, k->accountname, k->protocol) == raw);
        CHECK(otrl_privkey_fingerprint(us, human, k->accountname, k->protocol) == human);
        otrl_privkey_hash_to_human(human2, raw);
        SAY("  [%d] '%s' '%s' type=%u mpis=%d pbits=%u qbits=%u sha1=%d human=%zu/%d", i,
            k->accountname, k->protocol, k->pubkey_type, ok,
            ok ? gcry_mpi_get_nbits(m[0]) : 0, ok ? gcry_mpi_get_nbits(m[1]) : 0,
            otrl_privkey_find(us, k->accountname, k->protocol) != k ? -1 :
                memcmp(raw, sha, 20) == 0,
            strlen(human), strcmp(human, human2) == 0);
        release_mpis(m);
    }
}

static void walk_pending(const char *label, OtrlUserState us)
{
    OtrlPendingPrivKey *p;
    printf("%s: pending", label);
    for (p = us->pending_root; p; p = p->next) {
        CHECK(p->tous && *p->tous == p);
        printf(" %s/%s", p->accountname, p->protocol);
    }
    putchar('\n');
}

static int fp_of(OtrlUserState us, const char *acct, const char *proto, unsigned char out[20])
{
    return otrl_privkey_fingerprint_raw(us, out, acct, proto) != NULL;
}

static void write_file(const char *name, const char *text, size_t len)
{
    FILE *f = fopen(name, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(text, 1, len, f) == len);
    fclose(f);
}

static char *slurp(const char *name, size_t *len)
{
    FILE *f = fopen(name, "rb");
    char *buf;
    long n;
    *len = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void print_file(const char *label, const char *name)
{
    size_t n, i;
    char *data = slurp(name, &n);
    SAY("%s (%zu bytes):", label, n);
    for (i = 0; data && i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\t') fputs("\\t", stdout);
        else if (c == '\n') fputs("\\n\n", stdout);
        else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    if (n && data[n - 1] != '\n') putchar('\n');
    free(data);
}

/* ---- generation and reading ----------------------------------------------- */

static const char *accounts[][2] = {
    { "alice@example.com", "prpl-jabber" },
    { "bob", "irc" },
    { "carol@example.net", "prpl-jabber" },
    { "alice@example.com", "prpl-icq" },
};
#define NACCOUNTS (sizeof accounts / sizeof accounts[0])

static void test_generate_and_read(void)
{
    OtrlUserState us = otrl_userstate_create(), us2, us3;
    unsigned char before[NACCOUNTS][20], after[20];
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    size_t i;

    SAY("== generate several accounts into one file");
    for (i = 0; i < NACCOUNTS; i++) {
        gcry_error_t e = otrl_privkey_generate(us, KEYS, accounts[i][0], accounts[i][1]);
        SAY("generate %s/%s: 0x%08x", accounts[i][0], accounts[i][1], e);
    }
    walk_keys("after generating", us);
    walk_pending("after generating", us);
    {
        struct stat st;
        CHECK(stat(KEYS, &st) == 0);
        SAY("key file mode %03o", (unsigned)(st.st_mode & 0777));
        CHECK(chmod(KEYS, 0640) == 0);
        SAY("generate again: 0x%08x", otrl_privkey_generate(us, KEYS, accounts[0][0], accounts[0][1]));
        CHECK(stat(KEYS, &st) == 0);
        SAY("existing key file keeps mode: %03o", (unsigned)(st.st_mode & 0777));
        CHECK(chmod(KEYS, 0600) == 0);
    }

    SAY("find and fingerprint");
    SAY("  find missing account: %s", otrl_privkey_find(us, "nobody", "irc") ? "found" : "NULL");
    SAY("  find wrong protocol: %s", otrl_privkey_find(us, "bob", "prpl-jabber") ? "found" : "NULL");
    SAY("  fingerprint missing: %s",
        otrl_privkey_fingerprint(us, human, "nobody", "irc") ? "found" : "NULL");
    SAY("  fingerprint_raw missing: %s",
        otrl_privkey_fingerprint_raw(us, after, "bob", "xmpp") ? "found" : "NULL");
    {
        unsigned char h[20];
        for (i = 0; i < 20; i++) h[i] = (unsigned char)(i * 13 + 0x0f);
        otrl_privkey_hash_to_human(human, h);
        SAY("  hash_to_human: '%s'", human);
    }
    for (i = 0; i < NACCOUNTS; i++) CHECK(fp_of(us, accounts[i][0], accounts[i][1], before[i]));

    SAY("== read back into a fresh user state");
    us2 = otrl_userstate_create();
    SAY("read: 0x%08x", otrl_privkey_read(us2, KEYS));
    walk_keys("read back", us2);
    for (i = 0; i < NACCOUNTS; i++) {
        int same = fp_of(us2, accounts[i][0], accounts[i][1], after) && !memcmp(after, before[i], 20);
        SAY("  %s/%s same fingerprint: %d", accounts[i][0], accounts[i][1], same);
    }
    SAY("read again into the same state: 0x%08x", otrl_privkey_read(us2, KEYS));
    walk_keys("read twice", us2);

    SAY("== regenerate bob/irc (from the read-back state)");
    SAY("generate: 0x%08x", otrl_privkey_generate(us2, KEYS, "bob", "irc"));
    walk_keys("after regenerating", us2);
    for (i = 0; i < NACCOUNTS; i++) {
        int same = fp_of(us2, accounts[i][0], accounts[i][1], after) && !memcmp(after, before[i], 20);
        SAY("  %s/%s same fingerprint: %d", accounts[i][0], accounts[i][1], same);
        memcpy(before[i], after, 20);
    }
    us3 = otrl_userstate_create();
    SAY("re-read: 0x%08x", otrl_privkey_read(us3, KEYS));
    walk_keys("file after regenerating", us3);
    for (i = 0; i < NACCOUNTS; i++) {
        int same = fp_of(us3, accounts[i][0], accounts[i][1], after) && !memcmp(after, before[i], 20);
        SAY("  %s/%s same as in memory: %d", accounts[i][0], accounts[i][1], same);
    }

    SAY("== read_FILEp");
    {
        FILE *f = fopen(KEYS, "rb");
        OtrlUserState us4 = otrl_userstate_create();
        SAY("read_FILEp: 0x%08x", otrl_privkey_read_FILEp(us4, f));
        fclose(f);
        walk_keys("read_FILEp", us4);
        SAY("read_FILEp(NULL): 0x%08x keys=%zu", otrl_privkey_read_FILEp(us4, NULL), count_keys(us4));
        otrl_userstate_free(us4);
    }
    otrl_userstate_free(us);
    otrl_userstate_free(us2);
    otrl_userstate_free(us3);
}

/* Account names that libgcrypt prints quoted or in hex, and an empty one. */
static void test_names(void)
{
    static const char *names[][2] = {
        { "Bj\xc3\xb6rn \xc3\x86r\xc3\xb8", "xmpp" },
        { "", "prpl-empty" },
        { "Alice \"work\" Smith", "prpl-jabber" },
        { "123456789", "prpl-icq" },
        { "tab\tand\\backslash", "a b" },
        { "\xa0\xff", "#hex#" },
    };
    OtrlUserState us = otrl_userstate_create(), us2 = otrl_userstate_create();
    unsigned char a[20], b[20];
    size_t i;

    SAY("== awkward account names");
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        SAY("generate #%zu: 0x%08x", i, otrl_privkey_generate(us, "names.priv", names[i][0], names[i][1]));
    SAY("read: 0x%08x", otrl_privkey_read(us2, "names.priv"));
    walk_keys("names read back", us2);
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        SAY("  #%zu same fingerprint: %d", i, fp_of(us, names[i][0], names[i][1], a) &&
            fp_of(us2, names[i][0], names[i][1], b) && !memcmp(a, b, 20));
    otrl_userstate_free(us);
    otrl_userstate_free(us2);
}

/* A file with two entries for one account: the later one is found. */
static void test_duplicates(void)
{
    OtrlUserState ua = otrl_userstate_create(), ub = otrl_userstate_create();
    OtrlUserState us = otrl_userstate_create();
    unsigned char fa[20], fb[20], got[20];
    char *da, *db, *both;
    size_t na, nb, n;

    SAY("== one account twice in a file");
    otrl_privkey_generate(ua, "dupA.priv", "dup", "p");
    otrl_privkey_generate(ub, "dupB.priv", "dup", "p");
    CHECK(fp_of(ua, "dup", "p", fa) && fp_of(ub, "dup", "p", fb));
    da = slurp("dupA.priv", &na);
    db = slurp("dupB.priv", &nb);
    CHECK(da && db && na > 12 && nb > 12);
    /* "(privkeys\n" + A's account + B's account + ")\n" */
    both = malloc(na + nb);
    n = 0;
    memcpy(both + n, da, na - 2); n += na - 2;
    memcpy(both + n, db + 10, nb - 10); n += nb - 10;
    write_file("dup.priv", both, n);
    SAY("read: 0x%08x", otrl_privkey_read(us, "dup.priv"));
    walk_keys("duplicates", us);
    CHECK(fp_of(us, "dup", "p", got));
    SAY("  found is the file's second: %d, first: %d", !memcmp(got, fb, 20), !memcmp(got, fa, 20));
    SAY("  head of the list is the second: %d", us->privkey_root &&
        us->privkey_root->pubkey_datalen == otrl_privkey_find(ub, "dup", "p")->pubkey_datalen &&
        !memcmp(us->privkey_root->pubkey_data, otrl_privkey_find(ub, "dup", "p")->pubkey_data,
                us->privkey_root->pubkey_datalen));
    SAY("generate another account: 0x%08x", otrl_privkey_generate(us, "dup.priv", "other", "p"));
    walk_keys("both kept", us);
    /* The file was written in list order (second, first) and read back
       reversed, so the first entry of the original file is now found. */
    CHECK(fp_of(us, "dup", "p", got));
    SAY("  found is the original file's second: %d, first: %d", !memcmp(got, fb, 20),
        !memcmp(got, fa, 20));
    SAY("generate dup: 0x%08x", otrl_privkey_generate(us, "dup.priv", "dup", "p"));
    walk_keys("both replaced", us);
    CHECK(fp_of(us, "dup", "p", got));
    SAY("  new key: %d", memcmp(got, fa, 20) != 0 && memcmp(got, fb, 20) != 0);
    free(da);
    free(db);
    free(both);
    otrl_userstate_free(ua);
    otrl_userstate_free(ub);
    otrl_userstate_free(us);
}

/* ---- generation in steps ---------------------------------------------------- */

static void test_steps(void)
{
    OtrlUserState us = otrl_userstate_create();
    void *a = NULL, *b = NULL, *again = (void *)&again, *c = NULL, *d = NULL;
    gcry_error_t e;
    FILE *f;

    SAY("== generation in steps");
    e = otrl_privkey_generate_start(us, "a", "p", &a);
    SAY("start a: 0x%08x newkey=%d", e, a != NULL);
    e = otrl_privkey_generate_start(us, "b", "p", &b);
    SAY("start b: 0x%08x newkey=%d", e, b != NULL);
    e = otrl_privkey_generate_start(us, "a", "p", &again);
    SAY("start a again: 0x%08x newkey=%s", e, again ? "set" : "NULL");
    e = otrl_privkey_generate_start(us, "a", "other", &c);
    SAY("start a/other: 0x%08x", e);
    walk_pending("three started", us);
    SAY("generate a while pending: 0x%08x", otrl_privkey_generate(us, "steps.priv", "a", "p"));
    {
        FILE *g = fopen("steps-stream.priv", "w+b");
        SAY("generate_FILEp a while pending: 0x%08x", otrl_privkey_generate_FILEp(us, g, "a", "p"));
        fclose(g);
    }
    walk_pending("still", us);

    SAY("calculate a: 0x%08x", otrl_privkey_generate_calculate(a));
    SAY("finish a: 0x%08x", otrl_privkey_generate_finish(us, a, "steps.priv"));
    walk_pending("a finished", us);
    walk_keys("a finished", us);

    SAY("cancel b");
    otrl_privkey_generate_cancelled(us, b);
    walk_pending("b cancelled", us);

    SAY("calculate a/other, finish onto a w+ stream");
    SAY("calculate: 0x%08x", otrl_privkey_generate_calculate(c));
    f = fopen("steps-stream.priv", "w+b");
    SAY("finish_FILEp: 0x%08x", otrl_privkey_generate_finish_FILEp(us, c, f));
    walk_pending("a/other finished", us);
    walk_keys("a/other finished", us);
    rewind(f);
    {
        OtrlUserState us2 = otrl_userstate_create();
        SAY("stream read back: 0x%08x", otrl_privkey_read_FILEp(us2, f));
        walk_keys("stream read back", us2);
        otrl_userstate_free(us2);
    }
    fclose(f);

    SAY("generate_FILEp onto NULL: 0x%08x", otrl_privkey_generate_FILEp(us, NULL, "y", "p"));
    walk_pending("  after", us);
    SAY("generate_FILEp onto a w+ stream");
    f = fopen("steps-stream2.priv", "w+b");
    SAY("generate_FILEp z: 0x%08x", otrl_privkey_generate_FILEp(us, f, "z", "p"));
    walk_keys("z generated", us);
    fclose(f);

    SAY("pending_forget_all");
    otrl_privkey_generate_start(us, "c", "p", &c);
    otrl_privkey_generate_start(us, "d", "p", &d);
    walk_pending("c, d started", us);
    otrl_privkey_pending_forget_all(us);
    walk_pending("forgotten", us);
    e = otrl_privkey_generate_start(us, "c", "p", &b);
    SAY("start c again: 0x%08x newkey=%d", e, b != NULL);
    otrl_privkey_generate_cancelled(us, b);
    /* The handles of forgotten generations are still the caller's. */
    otrl_privkey_generate_cancelled(us, c);
    otrl_privkey_generate_cancelled(us, d);
    walk_pending("handles cancelled", us);
    walk_keys("unchanged", us);
    otrl_privkey_pending_forget_all(us);
    otrl_userstate_free(us);
}

/* Failures while finishing: the generation stays pending when the file
   cannot be opened; it ends when the stream is bad. Each case starts from a
   fresh user state without keys. */
static void test_finish_failures(void)
{
    OtrlUserState us;
    void *k = NULL;
    FILE *f;

    SAY("== finishing failures");
    us = otrl_userstate_create();
    otrl_privkey_generate_start(us, "a", "p", &k);
    otrl_privkey_generate_calculate(k);
    SAY("finish to NULL filename: 0x%08x", otrl_privkey_generate_finish(us, k, NULL));
    walk_pending("  after", us);
    SAY("finish into a missing directory: 0x%08x",
        otrl_privkey_generate_finish(us, k, "no/such/dir/keys"));
    walk_pending("  after", us);
    SAY("finish_FILEp to NULL: 0x%08x keys=%zu", otrl_privkey_generate_finish_FILEp(us, k, NULL),
        count_keys(us));
    walk_pending("  after", us);

    otrl_privkey_generate_start(us, "a", "p", &k);
    otrl_privkey_generate_calculate(k);
    f = fopen("write-only.priv", "wb");
    SAY("finish_FILEp on a write-only stream: 0x%08x keys=%zu",
        otrl_privkey_generate_finish_FILEp(us, k, f), count_keys(us));
    fclose(f);
    walk_pending("  after", us);

    /* The file opens but cannot be written: the generation ends. */
    otrl_privkey_generate_start(us, "a", "p", &k);
    otrl_privkey_generate_calculate(k);
    SAY("finish into /dev/full: 0x%08x keys=%zu", otrl_privkey_generate_finish(us, k, "/dev/full"),
        count_keys(us));
    walk_pending("  after", us);
    SAY("generate into /dev/full: 0x%08x keys=%zu", otrl_privkey_generate(us, "/dev/full", "a", "p"),
        count_keys(us));
    walk_pending("  after", us);

    SAY("generate to NULL filename: 0x%08x", otrl_privkey_generate(us, NULL, "a", "p"));
    walk_pending("  after", us);
    SAY("generate into a missing directory: 0x%08x",
        otrl_privkey_generate(us, "no/such/dir/keys", "a", "p"));
    walk_pending("  after", us);
    SAY("keys=%zu", count_keys(us));

    otrl_privkey_generate_start(us, "u", "p", &k);
    SAY("finish without calculating: 0x%08x keys=%zu",
        otrl_privkey_generate_finish(us, k, "uncalculated.priv"), count_keys(us));
    walk_pending("  after", us);
    otrl_userstate_free(us);
}

/* ---- reading bad files ------------------------------------------------------ */

static void read_case(const char *label, const char *text, size_t len, int show_count)
{
    OtrlUserState us = otrl_userstate_create();
    gcry_error_t e;
    write_file("case.priv", text, len);
    errno = 0;
    e = otrl_privkey_read(us, "case.priv");
    if (show_count) SAY("  %-28s 0x%08x keys=%zu", label, e, count_keys(us));
    else SAY("  %-28s 0x%08x", label, e);
    otrl_userstate_free(us);
}

static void test_bad_files(void)
{
    OtrlUserState us = otrl_userstate_create();
    char *real, *two;
    size_t n, n2;
    FILE *f;

    SAY("== missing and malformed key files");
    SAY("missing file: 0x%08x", otrl_privkey_read(us, "does-not-exist.priv"));
    SAY("read(NULL filename) is not called: libotr crashes");

    real = slurp(KEYS, &n);
    CHECK(real != NULL && n > 100);
    otrl_privkey_generate(us, "one.priv", "solo", "prpl");
    two = slurp("one.priv", &n2);
    read_case("empty", "", 0, 1);
    read_case("(", "(", 1, 1);
    read_case("()", "()", 2, 1);
    read_case("(privkeys)", "(privkeys)", 10, 1);
    read_case("(privkeys) newline", "(privkeys)\n", 11, 1);
    read_case("(foo)", "(foo)", 5, 1);
    read_case("privkeys atom", "privkeys", 8, 1);
    read_case("garbage", "\x01\x02garbage\xff(", 11, 1);
    read_case("unbalanced close", "(privkeys))", 11, 1);
    read_case("account missing protocol",
              "(privkeys (account (name a) (private-key (dsa (p #01#)(q #02#)(g #03#)(y #04#)(x #05#)))))",
              90, 1);
    read_case("account missing name",
              "(privkeys (account (protocol p) (private-key (dsa (p #01#)(q #02#)(g #03#)(y #04#)(x #05#)))))",
              94, 1);
    read_case("account missing key", "(privkeys (account (name a) (protocol p)))", 42, 1);
    read_case("key missing y",
              "(privkeys (account (name a) (protocol p) (private-key (dsa (p #01#)(q #02#)(g #03#)(x #05#)))))",
              95, 1);
    read_case("not an account", "(privkeys (acount (name a)))", 28, 1);
    read_case("truncated real file", real, n / 2, 1);
    read_case("real file minus last byte", real, n - 2, 1);
    real[n / 3] = 0;
    read_case("real file, NUL inside", real, n, 1);
    {
        /* A good account, then a bad one: libotr keeps the first. */
        char buf[4096];
        int len = snprintf(buf, sizeof buf, "%.*s (foo))\n", (int)(n2 - 2), two);
        CHECK(len > 0 && (size_t)len < sizeof buf);
        read_case("good account then bad", buf, (size_t)len, 0);
    }
    free(real);
    free(two);

    SAY("hand-made keys (not real DSA groups)");
    {
        static const char *made[] = {
            "(privkeys (account (name a) (protocol p) (private-key (dsa (p #01#)(q #02#)(g #03#)(y #04#)(x #05#)))))",
            "(privkeys (account (name \"\") (protocol \"\") (private-key (dsa (p \"\")(q \"\")(g \"\")(y \"\")(x \"\")))))",
            "(privkeys (account (name n) (protocol p) (private-key (dsa (p #0000FF#)(q #80#)(g #00#)(y #7F#)))))",
            "(privkeys (account (protocol p) (junk (name deep)) (private-key (foo) (dsa (q #02#)(p #01#)(g #03#)(y #04#)(x #05#)))))",
        };
        size_t i;
        for (i = 0; i < sizeof made / sizeof made[0]; i++) {
            OtrlUserState u = otrl_userstate_create();
            OtrlPrivKey *k;
            write_file("made.priv", made[i], strlen(made[i]));
            gcry_error_t e = otrl_privkey_read(u, "made.priv");
            SAY("  #%zu read: 0x%08x keys=%zu", i, e, count_keys(u));
            for (k = u->privkey_root; k; k = k->next) {
                char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
                CHECK(otrl_privkey_fingerprint(u, human, k->accountname, k->protocol) == human);
                printf("    '%s' '%s' ", k->accountname, k->protocol);
                print_hex("pubkey_data", k->pubkey_data, k->pubkey_datalen);
                SAY("    fingerprint %s", human);
            }
            otrl_userstate_free(u);
        }
    }

    SAY("empty file and errno (libotr reports the errno it finds)");
    write_file("empty.priv", "", 0);
    errno = 0;
    SAY("  read, errno 0: 0x%08x", otrl_privkey_read(us, "empty.priv"));
    errno = EINVAL;
    SAY("  read, errno EINVAL: 0x%08x", otrl_privkey_read(us, "empty.priv"));
    f = fopen("empty.priv", "rb");
    errno = EACCES;
    SAY("  read_FILEp, errno EACCES: 0x%08x", otrl_privkey_read_FILEp(us, f));
    fclose(f);

    SAY("stream not at its start (libotr reads the file's size from there)");
    f = fopen("one.priv", "rb");
    CHECK(fgetc(f) == '(');
    errno = 0;
    SAY("  one byte in, errno 0: 0x%08x", otrl_privkey_read_FILEp(us, f));
    rewind(f);
    CHECK(fgetc(f) == '(');
    errno = ENOSPC;
    SAY("  one byte in, errno ENOSPC: 0x%08x", otrl_privkey_read_FILEp(us, f));
    fclose(f);
    f = fopen("one.priv", "wb");
    errno = 0;
    SAY("  write-only stream: 0x%08x", otrl_privkey_read_FILEp(us, f));
    fclose(f);
    otrl_userstate_free(us);
}

/* ---- signing and verifying --------------------------------------------------- */

static gcry_sexp_t public_sexp(const OtrlPrivKey *k)
{
    gcry_mpi_t m[4];
    gcry_sexp_t s = NULL;
    if (key_mpis(k, m) == 0)
        CHECK(gcry_sexp_build(&s, NULL, "(public-key (dsa (p %m)(q %m)(g %m)(y %m)))",
                              m[0], m[1], m[2], m[3]) == 0);
    release_mpis(m);
    return s;
}

/* libgcrypt's own verdict on a 40-byte r || s over a 20-byte hash. */
static gcry_error_t gcrypt_verify(gcry_sexp_t pubs, const unsigned char *sig,
                                  const unsigned char *data, size_t len)
{
    gcry_sexp_t sigs = NULL, datas = NULL;
    gcry_mpi_t r = NULL, s = NULL, h = NULL;
    gcry_error_t e;
    gcry_mpi_scan(&r, GCRYMPI_FMT_USG, sig, 20, NULL);
    gcry_mpi_scan(&s, GCRYMPI_FMT_USG, sig + 20, 20, NULL);
    gcry_mpi_scan(&h, GCRYMPI_FMT_USG, data, len, NULL);
    gcry_sexp_build(&sigs, NULL, "(sig-val (dsa (r %m)(s %m)))", r, s);
    gcry_sexp_build(&datas, NULL, "(%m)", h);
    e = gcry_pk_verify(sigs, datas, pubs);
    gcry_sexp_release(sigs);
    gcry_sexp_release(datas);
    gcry_mpi_release(r);
    gcry_mpi_release(s);
    gcry_mpi_release(h);
    return e;
}

static void sign_case(OtrlPrivKey *k, gcry_sexp_t pubs, const char *label,
                      const unsigned char *data, size_t len)
{
    unsigned char *sig = NULL;
    size_t siglen = 0;
    gcry_error_t e = otrl_privkey_sign(&sig, &siglen, k, data, len);
    SAY("  sign %s: 0x%08x siglen=%zu", label, e, siglen);
    if (e == 0 && sig) {
        SAY("    verify: 0x%08x", otrl_privkey_verify(sig, siglen, k->pubkey_type, pubs, data, len));
        if (len == 20)
            SAY("    libgcrypt verify: 0x%08x", gcrypt_verify(pubs, sig, data, len));
    }
    free(sig);
}

static void test_sign_verify(void)
{
    OtrlUserState us = otrl_userstate_create();
    OtrlPrivKey *k, *other;
    gcry_sexp_t pubs, otherpubs;
    unsigned char data[64], *sig = NULL, bad[40];
    size_t siglen = 0, i;

    SAY("== sign and verify");
    SAY("read: 0x%08x", otrl_privkey_read(us, KEYS));
    k = otrl_privkey_find(us, "alice@example.com", "prpl-jabber");
    other = otrl_privkey_find(us, "bob", "irc");
    CHECK(k && other);
    if (!k || !other) { otrl_userstate_free(us); return; }
    pubs = public_sexp(k);
    otherpubs = public_sexp(other);
    for (i = 0; i < sizeof data; i++) data[i] = (unsigned char)(0xa5 ^ (i * 7));

    sign_case(k, pubs, "20 bytes", data, 20);
    sign_case(k, pubs, "1 byte", data, 1);
    sign_case(k, pubs, "19 bytes", data + 1, 19);
    sign_case(k, pubs, "0 bytes", data, 0);
    sign_case(k, pubs, "32 bytes", data, 32);
    sign_case(k, pubs, "64 bytes", data, 64);

    CHECK(otrl_privkey_sign(&sig, &siglen, k, data, 20) == 0);
    SAY("  verify good: 0x%08x", otrl_privkey_verify(sig, siglen, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    SAY("  verify with another key: 0x%08x",
        otrl_privkey_verify(sig, siglen, OTRL_PUBKEY_TYPE_DSA, otherpubs, data, 20));
    data[5] ^= 1;
    SAY("  verify tampered data: 0x%08x", otrl_privkey_verify(sig, siglen, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    data[5] ^= 1;
    SAY("  verify shorter data: 0x%08x", otrl_privkey_verify(sig, siglen, OTRL_PUBKEY_TYPE_DSA, pubs, data, 19));
    memcpy(bad, sig, 40);
    bad[3] ^= 0x10;
    SAY("  verify tampered r: 0x%08x", otrl_privkey_verify(bad, 40, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    memcpy(bad, sig, 40);
    bad[39] ^= 0x01;
    SAY("  verify tampered s: 0x%08x", otrl_privkey_verify(bad, 40, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    SAY("  verify siglen 39: 0x%08x", otrl_privkey_verify(sig, 39, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    SAY("  verify siglen 38: 0x%08x", otrl_privkey_verify(sig, 38, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    SAY("  verify siglen 1: 0x%08x", otrl_privkey_verify(sig, 1, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    memset(bad, 0, sizeof bad);
    SAY("  verify all-zero signature: 0x%08x", otrl_privkey_verify(bad, 40, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    memset(bad, 0xff, sizeof bad);
    SAY("  verify all-ones signature: 0x%08x", otrl_privkey_verify(bad, 40, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    SAY("  verify pubkey_type 1: 0x%08x", otrl_privkey_verify(sig, siglen, 1, pubs, data, 20));
    {
        /* r || s with r and s each padded out to 21 bytes still verify. */
        unsigned char wide[42];
        wide[0] = 0;
        memcpy(wide + 1, sig, 20);
        wide[21] = 0;
        memcpy(wide + 22, sig + 20, 20);
        SAY("  verify zero-padded 42 bytes: 0x%08x",
            otrl_privkey_verify(wide, 42, OTRL_PUBKEY_TYPE_DSA, pubs, data, 20));
    }
    free(sig);

    k->pubkey_type = 1;
    sig = NULL;
    siglen = 0;
    SAY("  sign with pubkey_type 1: 0x%08x sig=%s siglen=%zu",
        otrl_privkey_sign(&sig, &siglen, k, data, 20), sig ? "set" : "NULL", siglen);
    k->pubkey_type = OTRL_PUBKEY_TYPE_DSA;
    free(sig);

    gcry_sexp_release(pubs);
    gcry_sexp_release(otherpubs);
    otrl_userstate_free(us);
}

/* ---- forgetting ---------------------------------------------------------------- */

static void test_forget(void)
{
    OtrlUserState us = otrl_userstate_create();
    SAY("== forget");
    SAY("read: 0x%08x", otrl_privkey_read(us, KEYS));
    walk_keys("loaded", us);
    otrl_privkey_forget(otrl_privkey_find(us, "bob", "irc"));
    walk_keys("bob forgotten", us);
    otrl_privkey_forget(us->privkey_root);
    walk_keys("head forgotten", us);
    {
        OtrlPrivKey *tail = us->privkey_root;
        while (tail && tail->next) tail = tail->next;
        CHECK(tail != NULL);
        if (tail) otrl_privkey_forget(tail);
    }
    walk_keys("tail forgotten", us);
    otrl_privkey_forget_all(us);
    walk_keys("all forgotten", us);
    otrl_privkey_forget_all(us);
    SAY("read again: 0x%08x", otrl_privkey_read(us, KEYS));
    SAY("keys=%zu", count_keys(us));
    otrl_userstate_free(us);
}

/* ---- fingerprints file ---------------------------------------------------------- */

static int app_calls;

static void app_free(void *p)
{
    free(p);
}

static void add_app(void *data, ConnContext *ctx)
{
    char *tag = malloc(80);
    snprintf(tag, 80, "%s#%d", (const char *)data, ++app_calls);
    ctx->app_data = tag;
    ctx->app_data_free = app_free;
    SAY("  add_app_data %s %s/%s/%s", tag, ctx->username, ctx->accountname, ctx->protocol);
}

static void walk_contexts(const char *label, OtrlUserState us)
{
    ConnContext *c;
    SAY("%s:", label);
    for (c = us->context_root; c; c = c->next) {
        Fingerprint *f;
        SAY("  %s/%s/%s inst=%u master=%d app=%s", c->username, c->accountname, c->protocol,
            c->their_instance, c->m_context == c, c->app_data ? (char *)c->app_data : "-");
        for (f = c->fingerprint_root.next; f; f = f->next) {
            char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
            CHECK(f->context == c);
            otrl_privkey_hash_to_human(human, f->fingerprint);
            SAY("    %s trust=%s%s%s", human, f->trust ? "'" : "", f->trust ? f->trust : "NULL",
                f->trust ? "'" : "");
        }
    }
}

static const char fingerprints[] =
    "zed\talice@example.com\tprpl-jabber\t0123456789abcdef0123456789abcdef01234567\tverified\n"
    "bob@example.org\talice@example.com\tprpl-jabber\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\t\n"
    "bob@example.org\talice@example.com\tprpl-jabber\tBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\tsmp\n"
    "bob@example.org\talice@example.com\tprpl-jabber\tcccccccccccccccccccccccccccccccccccccccc\n"
    "bob@example.org\talice@example.com\tirc\tdddddddddddddddddddddddddddddddddddddddd\tverified by phone, twice\n"
    "amy\taaron\tprpl-jabber\t00000000000000000000000000000000000000ff\tsmp\r\n"
    "this line has no tabs\n"
    "short\ta\tb\t0123\tsmp\n"
    "bob@example.org\talice@example.com\tprpl-jabber\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\tsmp\n"
    "\n"
    "carol\talice@example.com\tprpl-jabber\t1111111111111111111111111111111111111111\t a b \n";

static void test_fingerprints(void)
{
    OtrlUserState us = otrl_userstate_create(), us2;
    ConnContext *child, *dave;
    Fingerprint *fp;
    unsigned char hash[20];
    char *first, *second;
    size_t n1, n2;
    FILE *f;
    int added = 0;

    SAY("== fingerprints file");
    SAY("read missing file: 0x%08x",
        otrl_privkey_read_fingerprints(us, "no-such.fp", add_app, "m"));
    SAY("read_FILEp(NULL): 0x%08x", otrl_privkey_read_fingerprints_FILEp(us, NULL, add_app, "n"));
    SAY("write_FILEp(NULL): 0x%08x", otrl_privkey_write_fingerprints_FILEp(us, NULL));
    write_file("in.fp", fingerprints, sizeof fingerprints - 1);
    /* An existing master context keeps its app data. */
    otrl_context_find(us, "carol", "alice@example.com", "prpl-jabber", OTRL_INSTAG_MASTER, 1,
                      &added, add_app, "pre");
    SAY("read: 0x%08x", otrl_privkey_read_fingerprints(us, "in.fp", add_app, "r"));
    walk_contexts("contexts after reading", us);

    /* A child context and a NULL-trust fingerprint added in memory. */
    child = otrl_context_find(us, "bob@example.org", "alice@example.com", "prpl-jabber", 0x1234, 1,
                              &added, add_app, "child");
    memset(hash, 0xee, sizeof hash);
    fp = otrl_context_find_fingerprint(child, hash, 1, &added);
    SAY("added via child: %d trust=%s", added, fp->trust ? fp->trust : "NULL");
    dave = otrl_context_find(us, "dave", "alice@example.com", "prpl-jabber", OTRL_INSTAG_MASTER, 1,
                             &added, NULL, NULL);
    CHECK(dave != NULL);
    SAY("context without fingerprints: dave");

    SAY("write: 0x%08x", otrl_privkey_write_fingerprints(us, "out.fp"));
    print_file("written", "out.fp");
    {
        struct stat st;
        mode_t mask = umask(022);
        CHECK(stat("out.fp", &st) == 0);
        umask(mask);
        SAY("new fingerprints file mode %03o (umask %03o)", (unsigned)(st.st_mode & 0777),
            (unsigned)mask);
        CHECK(chmod("out.fp", 0640) == 0);
        SAY("rewrite: 0x%08x", otrl_privkey_write_fingerprints(us, "out.fp"));
        CHECK(stat("out.fp", &st) == 0);
        SAY("existing fingerprints file keeps mode: %03o", (unsigned)(st.st_mode & 0777));
    }

    us2 = otrl_userstate_create();
    SAY("read the written file, add_app_data NULL: 0x%08x",
        otrl_privkey_read_fingerprints(us2, "out.fp", NULL, NULL));
    walk_contexts("contexts read back", us2);
    SAY("write again: 0x%08x", otrl_privkey_write_fingerprints(us2, "out2.fp"));
    first = slurp("out.fp", &n1);
    second = slurp("out2.fp", &n2);
    /* Reading puts each new fingerprint first, so a context's fingerprints
       come back in reverse order: a second round trip restores the bytes. */
    print_file("written again", "out2.fp");
    SAY("read-then-write gives the same bytes: %d", n1 == n2 && first && second && !memcmp(first, second, n1));
    free(second);

    f = fopen("stream.fp", "w+b");
    SAY("write_FILEp: 0x%08x", otrl_privkey_write_fingerprints_FILEp(us2, f));
    rewind(f);
    {
        OtrlUserState us3 = otrl_userstate_create();
        SAY("read_FILEp: 0x%08x", otrl_privkey_read_fingerprints_FILEp(us3, f, add_app, "s"));
        fclose(f);
        second = slurp("stream.fp", &n2);
        SAY("stream has the same bytes: %d", n1 == n2 && second && !memcmp(first, second, n1));
        free(second);
        SAY("write after the second round trip: 0x%08x",
            otrl_privkey_write_fingerprints(us3, "out3.fp"));
        second = slurp("out3.fp", &n2);
        SAY("same bytes as the first write: %d", n1 == n2 && second && !memcmp(first, second, n1));
        free(second);
        SAY("reading it again adds nothing: 0x%08x",
            otrl_privkey_read_fingerprints(us3, "stream.fp", add_app, "t"));
        walk_contexts("after reading again", us3);
        otrl_userstate_free(us3);
    }
    free(first);

    {
        /* fgets pieces of at most 999 bytes: the tail of an over-long line
           reads as a line with an empty username. No final newline: the
           last line is skipped. */
        char odd[2048];
        size_t m = 0;
        OtrlUserState u4 = otrl_userstate_create();
        memset(odd, 'u', 999);
        m = 999;
        m += (size_t)sprintf(odd + m, "\tacct\tproto\t%s\tlong\n", "9999999999999999999999999999999999999999");
        m += (size_t)sprintf(odd + m, "x\ty\tz\t%s\t\ttabbed trust\n", "1234567890123456789012345678901234567890");
        m += (size_t)sprintf(odd + m, "x\ty\tz\t%s\n", "zz34567890123456789012345678901234567890");
        m += (size_t)sprintf(odd + m, "x\ty\tz\t%s\tlast", "8888888888888888888888888888888888888888");
        write_file("odd.fp", odd, m);
        SAY("read odd file: 0x%08x", otrl_privkey_read_fingerprints(u4, "odd.fp", add_app, "o"));
        walk_contexts("odd file", u4);
        SAY("write: 0x%08x", otrl_privkey_write_fingerprints(u4, "odd-out.fp"));
        print_file("written", "odd-out.fp");
        otrl_userstate_free(u4);
    }

    SAY("write into a missing directory: 0x%08x",
        otrl_privkey_write_fingerprints(us, "no/such/dir/fp"));
    write_file("empty.fp", "", 0);
    SAY("read empty file: 0x%08x", otrl_privkey_read_fingerprints(us2, "empty.fp", NULL, NULL));
    otrl_userstate_free(us);
    otrl_userstate_free(us2);
    {
        OtrlUserState e = otrl_userstate_create();
        SAY("write with no contexts: 0x%08x", otrl_privkey_write_fingerprints(e, "none.fp"));
        print_file("written", "none.fp");
        otrl_userstate_free(e);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* The harness uses libgcrypt itself, so it initialises it. */
    if (!gcry_check_version(NULL)) return 2;
    OTRL_INIT;

    test_generate_and_read();
    test_names();
    test_duplicates();
    test_steps();
    test_finish_failures();
    test_bad_files();
    test_sign_verify();
    test_forget();
    test_fingerprints();
    return harness_exit();
}
