/* dh.h and auth.h: D-H key pairs, session and AKE keys, counters, and the
   AKE driven through otrl_auth_* alone between two user states. Numbers,
   handles and keys are never printed (they are random, and the library's
   own objects): only return codes, which fields are set, lengths, and
   whether the two sides agree. */
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/context.h>
#include <libotr/privkey.h>
#include <libotr/auth.h>
#include <libotr/dh.h>
#include <libotr/b64.h>
#include "common.h"

static int zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;
    for (i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* ---- dh.h --------------------------------------------------------------- */

static void say_keypair(const char *label, const DH_keypair *kp)
{
    SAY("%s: groupid=%u priv=%s pub=%s", label, kp->groupid,
        kp->priv ? "set" : "NULL", kp->pub ? "set" : "NULL");
}

static void say_sess(const char *label, const DH_sesskeys *s)
{
    SAY("%s: ctr0=%d/%d enc=%d/%d mac=%d/%d used=%d/%d mackeys0=%d/%d extra0=%d", label,
        zero(s->sendctr, 16), zero(s->rcvctr, 16), s->sendenc != NULL, s->rcvenc != NULL,
        s->sendmac != NULL, s->rcvmac != NULL, s->sendmacused, s->rcvmacused,
        zero(s->sendmackey, 20), zero(s->rcvmackey, 20), zero(s->extrakey, 32));
}

/* Handles made by otrl_dh_compute_v2_auth_keys are released through an
   OtrlAuthInfo, the only owner either library knows how to free them from. */
static void test_dh(ConnContext *holder)
{
    DH_keypair a, b, c, empty;
    DH_sesskeys sa, sb;
    OtrlAuthInfo *h = &holder->auth;
    unsigned char ida[20], idb[20];
    size_t lena, lenb;
    OtrlSessionIdHalf halfa, halfb;
    gcry_error_t e;
    unsigned int groups[] = { 0, 1, 4, 6, 0xffffffffu };
    size_t i;

    SAY("== dh key pairs");
    otrl_dh_init();
    memset(&a, 0x55, sizeof a);
    otrl_dh_keypair_init(&a);
    say_keypair("init", &a);
    for (i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        e = otrl_dh_gen_keypair(groups[i], &a);
        SAY("gen group %u: 0x%08x", groups[i], e);
        say_keypair("  after", &a);
    }
    SAY("gen group 5: 0x%08x", otrl_dh_gen_keypair(DH1536_GROUP_ID, &a));
    say_keypair("  after", &a);
    otrl_dh_keypair_init(&b);
    SAY("gen b: 0x%08x", otrl_dh_gen_keypair(DH1536_GROUP_ID, &b));
    memset(&c, 0x55, sizeof c);
    otrl_dh_keypair_copy(&c, &a);
    say_keypair("copy", &c);
    SAY("copy has its own numbers: %d %d", c.priv != a.priv, c.pub != a.pub);
    otrl_dh_keypair_free(&c);
    say_keypair("copy freed", &c);
    otrl_dh_keypair_free(&c);
    say_keypair("copy freed twice", &c);
    otrl_dh_keypair_init(&empty);
    empty.groupid = 7;
    memset(&c, 0x55, sizeof c);
    otrl_dh_keypair_copy(&c, &empty);
    say_keypair("copy of empty", &c);

    SAY("== dh sessions");
    memset(&sa, 0x55, sizeof sa);
    memset(&sb, 0x55, sizeof sb);
    e = otrl_dh_session(&sa, &a, b.pub);
    SAY("session a->b: 0x%08x", e);
    e = otrl_dh_session(&sb, &b, a.pub);
    SAY("session b->a: 0x%08x", e);
    say_sess("  a", &sa);
    say_sess("  b", &sb);
    SAY("  a.send==b.rcv %d a.rcv==b.send %d extra equal %d send!=rcv %d",
        !memcmp(sa.sendmackey, sb.rcvmackey, 20), !memcmp(sa.rcvmackey, sb.sendmackey, 20),
        !memcmp(sa.extrakey, sb.extrakey, 32), memcmp(sa.sendmackey, sa.rcvmackey, 20) != 0);
    otrl_dh_session_free(&sa);
    say_sess("session freed", &sa);
    otrl_dh_session_free(&sa);
    say_sess("session freed twice", &sa);
    otrl_dh_session_free(&sb);
    memset(&sa, 0x55, sizeof sa);
    otrl_dh_session_blank(&sa);
    say_sess("blank", &sa);
    memset(&sa, 0x55, sizeof sa);
    SAY("session with an empty key pair: 0x%08x", otrl_dh_session(&sa, &empty, b.pub));
    say_sess("  after", &sa);
    SAY("session with a key pair of group 7: 0x%08x", otrl_dh_session(&sa, &c, b.pub));
    say_sess("  after", &sa);

    SAY("== v2 auth keys");
    lena = lenb = 77;
    memset(ida, 0x55, sizeof ida);
    memset(idb, 0x55, sizeof idb);
    h->enc_c = h->enc_cp = (void *)&lena;
    e = otrl_dh_compute_v2_auth_keys(&empty, b.pub, ida, &lena, &h->enc_c, &h->enc_cp,
                                     &h->mac_m1, &h->mac_m1p, &h->mac_m2, &h->mac_m2p);
    SAY("empty key pair: 0x%08x len=%zu id untouched=%d handles=%d%d%d%d%d%d", e, lena,
        ida[0] == 0x55, h->enc_c != NULL, h->enc_cp != NULL, h->mac_m1 != NULL,
        h->mac_m1p != NULL, h->mac_m2 != NULL, h->mac_m2p != NULL);
    e = otrl_dh_compute_v2_auth_keys(&a, b.pub, ida, &lena, &h->enc_c, &h->enc_cp,
                                     &h->mac_m1, &h->mac_m1p, &h->mac_m2, &h->mac_m2p);
    SAY("a: 0x%08x len=%zu handles=%d%d%d%d%d%d rest untouched=%d", e, lena,
        h->enc_c != NULL, h->enc_cp != NULL, h->mac_m1 != NULL, h->mac_m1p != NULL,
        h->mac_m2 != NULL, h->mac_m2p != NULL, ida[8] == 0x55 && ida[19] == 0x55);
    otrl_auth_clear(h);
    e = otrl_dh_compute_v2_auth_keys(&b, a.pub, idb, &lenb, &h->enc_c, &h->enc_cp,
                                     &h->mac_m1, &h->mac_m1p, &h->mac_m2, &h->mac_m2p);
    SAY("b: 0x%08x len=%zu same id=%d", e, lenb, !memcmp(ida, idb, 8));
    otrl_auth_clear(h);
    SAY("handles freed: %d", h->enc_c == NULL && h->mac_m2p == NULL);

    SAY("== v1 session id");
    lena = lenb = 77;
    halfa = halfb = 9;
    e = otrl_dh_compute_v1_session_id(&a, b.pub, ida, &lena, &halfa);
    SAY("a: 0x%08x len=%zu", e, lena);
    e = otrl_dh_compute_v1_session_id(&b, a.pub, idb, &lenb, &halfb);
    SAY("b: 0x%08x len=%zu same id=%d halves differ=%d (%d)", e, lenb, !memcmp(ida, idb, 20),
        halfa != halfb, halfa + halfb);
    lena = 77;
    halfa = 9;
    memset(ida, 0x55, sizeof ida);
    e = otrl_dh_compute_v1_session_id(&empty, b.pub, ida, &lena, &halfa);
    SAY("empty key pair: 0x%08x len=%zu half=%d id untouched=%d", e, lena, halfa, ida[0] == 0x55);
    e = otrl_dh_compute_v1_session_id(&a, a.pub, ida, &lena, &halfa);
    SAY("own public value: 0x%08x len=%zu half=%d", e, lena, halfa);

    otrl_dh_keypair_free(&a);
    otrl_dh_keypair_free(&b);
}

static void say_ctr(const char *label, const unsigned char *ctr)
{
    print_hex(label, ctr, 16);
}

static void test_counters(void)
{
    unsigned char ctr[16];
    static const unsigned char c[][8] = {
        { 0, 0, 0, 0, 0, 0, 0, 5 },
        { 0, 0, 0, 0, 0, 0, 0, 9 },
        { 1, 0, 0, 0, 0, 0, 0, 0 },
        { 0xff, 0, 0, 0, 0, 0, 0, 0 },
        { 0, 0, 0, 0, 0, 0, 0xff, 0xff },
        { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
    };
    size_t i, j;

    SAY("== counters");
    memset(ctr, 0, sizeof ctr);
    otrl_dh_incctr(ctr);
    say_ctr("inc 0", ctr);
    memset(ctr, 0, sizeof ctr);
    ctr[6] = ctr[7] = 0xff;
    ctr[8] = 0xee;
    otrl_dh_incctr(ctr);
    say_ctr("inc 0xffff (low half kept)", ctr);
    memset(ctr, 0, sizeof ctr);
    ctr[0] = 0x7f;
    memset(ctr + 1, 0xff, 7);
    otrl_dh_incctr(ctr);
    say_ctr("inc 0x7fff..ff", ctr);
    memset(ctr, 0xff, sizeof ctr);
    otrl_dh_incctr(ctr);
    say_ctr("inc wraps", ctr);
    for (i = 0; i < sizeof c / sizeof c[0]; i++)
        for (j = 0; j < sizeof c / sizeof c[0]; j++)
            printf("%4d%s", otrl_dh_cmpctr(c[i], c[j]), j + 1 < sizeof c / sizeof c[0] ? "" : "\n");
}

/* ---- auth.h ------------------------------------------------------------- */

/* DSA keys made once by Debian's libotr (otrl_privkey_generate): generating
   keys at each run would dominate the time under valgrind. */
static const char KEY_A[] =
    "(privkeys\n"
    " (account\n"
    "(name alice)\n"
    "(protocol prpl)\n"
    "(private-key \n"
    " (dsa \n"
    "  (p #00AD6364C4CFC3CD65DBC11044B7ED1EB00C9BF20D0B2911E7EDDFDBE93C760DDBF0B468E014A396F33FD517F388B11A8ECA56D71863092EB14A01FBF019C4F6BF2791EF17AD12B05C46FE0FC5C550802F495B45D642A8C1FE8AFB1D1E365023F0D15B7CE4A04A469A5271EF4B8B6FEA4A04B7B54B3B2EA2D01CD6688819C6A7A7#)\n"
    "  (q #00882A86400E1ECEE4A7CDC26B82651F4D31B480FD#)\n"
    "  (g #254259B705B784330A4F46761BFE3B0471ADBC7E36800DE953FBBFAE594A433B572C47CAFDE029B5B3DE15A74012C3E6FFAFA99A452072F77DCAC376C1688548B7B488CF055BF0FFBD47023D46FFFB4EDFD13E8F71122CDAAF6DE45EF0931F9BA3BE930209FB7498C864A2326F72A06EB0AC5BE315EE09B20A7053C766433807#)\n"
    "  (y #39FE42DF8F36CD0885ABB32F5D1B0C6820B4B06C11EA248C64FC4EDAB1788E5C3BBB195FB3981F8F102AE6765A3B6F1A10E6773CBEE557D2FDAD722255CDCA0718709F827D5AD23613DF4054F9F564772E650FDFCA31247F4E37AB862BF158F75AB386D8D8EC12827C86D04D7CE912C0046641EA8F2E276B8F0DE101311C06BE#)\n"
    "  (x #11156CD7052A579D475A831E6B9F83422E37101D#)\n"
    "  )\n"
    " )\n"
    " )\n"
    ")\n";

static const char KEY_B[] =
    "(privkeys\n"
    " (account\n"
    "(name bob)\n"
    "(protocol prpl)\n"
    "(private-key \n"
    " (dsa \n"
    "  (p #0092AC200EC143EEC5C7B994DB22C663335F458FEF9DA70D28E7B2892F62B5CDBCA3CB79AAF27C0F7F3AA87BE62515C2FB1E53F713719136F65F17CF8A63E7A17780F47D7C431256C85B427A82EBE4A4114BD0227B7CD8CDB79FF357EBB61855BC82D42B47956FB62C111C7303609D23885DCAC5ADD7C831AB32D987F49CE8A0A7#)\n"
    "  (q #008F74CBDFBE6A738157B8857F742C45BFF1802097#)\n"
    "  (g #008AE9B84098A039759E19BFF84B8655904BDE5B0BCFBA9185A8DB873A86F605A59E1960676F7D91D9A28DF73ABA7D8D7442652771F8AFAC0E77D49A21F4A14A5958E1B0D82E1018E4822982301D61B76997BF73A22E09B41DE115D8E97890CE52A6EB7026B9566A99D818BD40B0B5E3A16ED4D38C75E9C07AE92D4CF96DDBA0B9#)\n"
    "  (y #79ACA850C9E6D02A889E3BF72119B46115769D1EEDF6CE6B75D271C12844BB7943B8493DA0BB37DE028D9E9172B646C8CD6A680E9F452749229E856B85CD3B4CEA602A41D1C24B4ABC39C3DBB3133A69FB4560AAD308794A940713CDC9C5E66E88BBF7FEA802F4117FF32B24AEAD812FD344B69A3E3B1502342F9BB05B998877#)\n"
    "  (x #6C953B880AC953E351BE9B41C2FC5D8C65B755BA#)\n"
    "  )\n"
    " )\n"
    " )\n"
    ")\n";

static OtrlUserState ua, ub;

static gcry_error_t read_key(OtrlUserState us, const char *file, const char *text)
{
    FILE *f = fopen(file, "w");
    if (!f) return 1;
    fputs(text, f);
    fclose(f);
    return otrl_privkey_read(us, file);
}
static ConnContext *A, *B;
static OtrlPrivKey *ka, *kb;
static unsigned char fpa[20], fpb[20];
static gcry_error_t cb_result;
static int cb_calls;

/* The type byte of the binary message in an ?OTR: text (-1 for NULL). */
static int msgtype(const char *m)
{
    unsigned char *buf;
    size_t len;
    int t;
    if (!m) return -1;
    if (otrl_base64_otr_decode(m, &buf, &len)) return -2;
    t = len > 2 ? buf[2] : -3;
    free(buf);
    return t;
}

/* The 3-byte header of a binary message; with `tags`, also the two tags.
   (Its length is not printed: it shrinks when a random g^x happens to
   start with a zero byte.) */
static void say_header(const char *label, const char *m, int tags)
{
    unsigned char *buf;
    size_t len, i, n = tags ? 11 : 3;
    if (!m || otrl_base64_otr_decode(m, &buf, &len)) {
        SAY("%s: no message", label);
        return;
    }
    printf("%s: header", label);
    for (i = 0; i < len && i < n; i++) printf(" %02x", buf[i]);
    putchar('\n');
    free(buf);
}

/* Every field of an OtrlAuthInfo as far as it is deterministic;
   session_id_half only with HALF (when the exchange has set it), encgx_len
   not with NOLEN (4.1.1 does not copy it in copy_on_key). */
#define HALF 1
#define NOLEN 2
static int cb_flags = HALF;
static void dump_auth(const char *who, const OtrlAuthInfo *a, int flags)
{
    printf("  %s: state=%d ctx=%s dh=%u/%s/%s keyid=%u encgx=%s/%s r0=%d hashgx0=%d "
           "their_pub=%s their_keyid=%u handles=%d%d%d%d%d%d fp0=%d initiated=%d pv=%u "
           "ssid0=%d ssidlen=%zu last=%d sent=%ld ctxpv=%u",
           who, a->authstate, a->context && &a->context->auth == a ? "ok" : "bad",
           a->our_dh.groupid, a->our_dh.priv ? "set" : "NULL", a->our_dh.pub ? "set" : "NULL",
           a->our_keyid, a->encgx ? "set" : "NULL",
           flags & NOLEN ? "-" : a->encgx_len == 195 || a->encgx_len == 196 ? "gx"
                               : a->encgx_len ? "?" : "0",
           zero(a->r, 16), zero(a->hashgx, 32), a->their_pub ? "set" : "NULL", a->their_keyid,
           a->enc_c != NULL, a->enc_cp != NULL, a->mac_m1 != NULL, a->mac_m1p != NULL,
           a->mac_m2 != NULL, a->mac_m2p != NULL, zero(a->their_fingerprint, 20),
           a->initiated, a->protocol_version, zero(a->secure_session_id, 20),
           a->secure_session_id_len, msgtype(a->lastauthmsg), (long)a->commit_sent_time,
           a->context ? a->context->protocol_version : 99u);
    if (flags & HALF) printf(" half=%d", a->session_id_half);
    putchar('\n');
}

static gcry_error_t succeeded(const OtrlAuthInfo *auth, void *asdata)
{
    const unsigned char *fp = auth == &A->auth ? fpb : fpa;
    cb_calls++;
    SAY("  auth_succeeded(%s)", (const char *)asdata);
    dump_auth((const char *)asdata, auth, cb_flags);
    SAY("    their fingerprint is the other's key: %d", !memcmp(auth->their_fingerprint, fp, 20));
    return cb_result;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The ?OTR: text of a binary message edited at byte `off` (from the end
   when negative), or with `extra` zero bytes appended. */
static char *edited(const char *m, long off, int xor, size_t extra)
{
    unsigned char *buf;
    size_t len, i;
    char *out;
    if (otrl_base64_otr_decode(m, &buf, &len)) return NULL;
    buf = realloc(buf, len + extra + 1);
    memset(buf + len, 0, extra);
    if (xor) {
        i = off >= 0 ? (size_t)off : len - (size_t)(-off);
        buf[i] ^= (unsigned char)xor;
    }
    out = otrl_base64_otr_encode(buf, len + extra);
    free(buf);
    return out;
}

/* A message with a different header: version byte `ver`, instance tags
   dropped or kept. */
static char *reheadered(const char *m, int ver, int tags)
{
    unsigned char *buf, *out;
    size_t len, n = 0, body;
    char *text;
    if (otrl_base64_otr_decode(m, &buf, &len)) return NULL;
    out = malloc(len + 8);
    out[n++] = 0;
    out[n++] = (unsigned char)ver;
    out[n++] = buf[2];
    body = buf[1] == 3 ? 11 : 3;
    if (tags) {
        memcpy(out + n, buf[1] == 3 ? buf + 3 : (const unsigned char *)"\0\0\1\1\0\0\2\2", 8);
        n += 8;
    }
    memcpy(out + n, buf + body, len - body);
    n += len - body;
    text = otrl_base64_otr_encode(out, n);
    free(buf);
    free(out);
    return text;
}

static char *commit_msg, *key_msg, *reveal_msg, *sig_msg;

static void forget_msgs(void)
{
    free(commit_msg);
    free(key_msg);
    free(reveal_msg);
    free(sig_msg);
    commit_msg = key_msg = reveal_msg = sig_msg = NULL;
}

/* Runs an AKE of `version` from scratch up to `steps` messages (1 commit,
   2 key, 3 reveal signature, 4 signature), keeping each message. */
static void run(int version, int steps)
{
    int hav;
    forget_msgs();
    otrl_auth_clear(&A->auth);
    otrl_auth_clear(&B->auth);
    CHECK(otrl_auth_start_v23(&A->auth, version) == 0);
    commit_msg = dup_or_null(A->auth.lastauthmsg);
    if (steps < 2) return;
    CHECK(otrl_auth_handle_commit(&B->auth, commit_msg, version) == 0);
    key_msg = dup_or_null(B->auth.lastauthmsg);
    if (steps < 3) return;
    CHECK(otrl_auth_handle_key(&A->auth, key_msg, &hav, ka) == 0 && hav == 1);
    reveal_msg = dup_or_null(A->auth.lastauthmsg);
    if (steps < 4) return;
    CHECK(otrl_auth_handle_revealsig(&B->auth, reveal_msg, &hav, kb, NULL, NULL) == 0 && hav == 1);
    sig_msg = dup_or_null(B->auth.lastauthmsg);
}

static void compare_sessions(void)
{
    DH_sesskeys sa, sb;
    gcry_error_t e = otrl_dh_session(&sa, &A->auth.our_dh, A->auth.their_pub);
    gcry_error_t f = otrl_dh_session(&sb, &B->auth.our_dh, B->auth.their_pub);
    SAY("  data keys: 0x%08x 0x%08x a.send==b.rcv %d a.rcv==b.send %d extra equal %d", e, f,
        !memcmp(sa.sendmackey, sb.rcvmackey, 20), !memcmp(sa.rcvmackey, sb.sendmackey, 20),
        !memcmp(sa.extrakey, sb.extrakey, 32));
    otrl_dh_session_free(&sa);
    otrl_dh_session_free(&sb);
}

static void full_ake(int version)
{
    int hav;
    gcry_error_t e;
    char *again;

    SAY("== full v%d AKE", version);
    otrl_auth_clear(&A->auth);
    otrl_auth_clear(&B->auth);
    dump_auth("A cleared", &A->auth, 0);
    e = otrl_auth_start_v23(&A->auth, version);
    SAY("A start: 0x%08x", e);
    dump_auth("A", &A->auth, 0);
    say_header("  commit", A->auth.lastauthmsg, version == 3);
    commit_msg = dup_or_null(A->auth.lastauthmsg);

    e = otrl_auth_handle_commit(&B->auth, commit_msg, version);
    SAY("B commit: 0x%08x", e);
    dump_auth("B", &B->auth, 0);
    say_header("  key", B->auth.lastauthmsg, version == 3);
    SAY("  same encgx %d same hashgx %d", A->auth.encgx_len == B->auth.encgx_len &&
        !memcmp(A->auth.encgx, B->auth.encgx, A->auth.encgx_len),
        !memcmp(A->auth.hashgx, B->auth.hashgx, 32));
    key_msg = dup_or_null(B->auth.lastauthmsg);

    hav = 7;
    e = otrl_auth_handle_key(&A->auth, key_msg, &hav, ka);
    SAY("A key: 0x%08x havemsg=%d", e, hav);
    dump_auth("A", &A->auth, 0);
    say_header("  reveal", A->auth.lastauthmsg, version == 3);
    reveal_msg = dup_or_null(A->auth.lastauthmsg);
    hav = 7;
    e = otrl_auth_handle_key(&A->auth, key_msg, &hav, ka);
    SAY("A key again: 0x%08x havemsg=%d same reveal %d", e, hav,
        !strcmp(reveal_msg, A->auth.lastauthmsg));
    hav = 7;
    e = otrl_auth_handle_key(&A->auth, key_msg, &hav, NULL);
    SAY("A key again without a key: 0x%08x havemsg=%d", e, hav);

    hav = 7;
    cb_calls = 0;
    e = otrl_auth_handle_revealsig(&B->auth, reveal_msg, &hav, kb, succeeded, "B");
    SAY("B reveal: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);
    dump_auth("B", &B->auth, HALF);
    say_header("  signature", B->auth.lastauthmsg, version == 3);
    SAY("  same r %d same ssid %d", !memcmp(A->auth.r, B->auth.r, 16),
        !memcmp(A->auth.secure_session_id, B->auth.secure_session_id, 20));
    sig_msg = dup_or_null(B->auth.lastauthmsg);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, reveal_msg, &hav, kb, succeeded, "B");
    SAY("B reveal again: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);

    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, sig_msg, &hav, succeeded, "A");
    SAY("A signature: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);
    dump_auth("A", &A->auth, HALF);
    SAY("  same ssid %d", !memcmp(A->auth.secure_session_id, B->auth.secure_session_id, 20));
    compare_sessions();
    again = dup_or_null(sig_msg);
    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, again, &hav, succeeded, "A");
    SAY("A signature again: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);
    free(again);

    otrl_auth_clear(&B->auth);
    dump_auth("B cleared", &B->auth, HALF);
    forget_msgs();
}

static void malformed(void)
{
    int hav;
    gcry_error_t e;
    char *m;
    static const int versions[] = { 0, 1, 2, 3, 4, 7 };
    size_t i;

    SAY("== malformed and unexpected messages");
    run(3, 1);
    e = otrl_auth_handle_commit(&B->auth, "not an OTR message", 3);
    SAY("commit garbage: 0x%08x", e);
    dump_auth("B", &B->auth, 0);
    e = otrl_auth_handle_commit(&B->auth, "?OTR:AAMC.", 3);
    SAY("commit header only: 0x%08x", e);
    dump_auth("B", &B->auth, 0);
    e = otrl_auth_handle_commit(&B->auth, commit_msg, 2);
    SAY("v3 commit as v2: 0x%08x", e);
    dump_auth("B", &B->auth, 0);
    for (i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        otrl_auth_clear(&B->auth);
        m = reheadered(commit_msg, versions[i], 1);
        e = otrl_auth_handle_commit(&B->auth, m, 3);
        SAY("commit with version byte %d and tags, as v3: 0x%08x state=%d pv=%u", versions[i], e,
            B->auth.authstate, B->auth.protocol_version);
        free(m);
    }
    m = edited(commit_msg, 0, 0, 1);
    e = otrl_auth_handle_commit(&B->auth, m, 3);
    SAY("commit with a trailing byte: 0x%08x", e);
    free(m);
    otrl_auth_clear(&B->auth);
    e = otrl_auth_handle_commit(&B->auth, commit_msg, 7);
    SAY("commit as version 7: 0x%08x state=%d pv=%u ctxpv=%u", e, B->auth.authstate,
        B->auth.protocol_version, B->protocol_version);

    run(3, 2);
    e = otrl_auth_handle_commit(&B->auth, key_msg, 3);
    SAY("key message as a commit: 0x%08x", e);
    hav = 7;
    e = otrl_auth_handle_key(&A->auth, "?OTR:AAMK.", &hav, ka);
    SAY("key header only: 0x%08x havemsg=%d", e, hav);
    m = edited(key_msg, 0, 0, 1);
    hav = 7;
    e = otrl_auth_handle_key(&A->auth, m, &hav, ka);
    SAY("key with a trailing byte: 0x%08x havemsg=%d", e, hav);
    free(m);
    m = edited(key_msg, 2, 0x18, 0);
    hav = 7;
    e = otrl_auth_handle_key(&A->auth, m, &hav, ka);
    SAY("key with the signature type: 0x%08x havemsg=%d", e, hav);
    free(m);
    {
        static const int cases[][2] = { { 2, 0 }, { 2, 1 }, { 1, 0 }, { 3, 0 }, { 4, 1 } };
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            m = reheadered(key_msg, cases[i][0], cases[i][1]);
            hav = 7;
            e = otrl_auth_handle_key(&A->auth, m, &hav, ka);
            SAY("key with version byte %d tags %d: 0x%08x havemsg=%d state=%d their_pub=%s",
                cases[i][0], cases[i][1], e, hav, A->auth.authstate,
                A->auth.their_pub ? "set" : "NULL");
            free(m);
        }
    }
    {
        /* g^y = 1: refused, but 4.1.1 keeps it in their_pub. */
        unsigned char bin[16] = { 0, 3, 0x0a, 0, 0, 1, 1, 0, 0, 2, 2, 0, 0, 0, 1, 1 };
        m = otrl_base64_otr_encode(bin, sizeof bin);
        hav = 7;
        e = otrl_auth_handle_key(&B->auth, m, &hav, kb);
        SAY("key g^y=1 in AWAITING_REVEALSIG: 0x%08x havemsg=%d", e, hav);
        hav = 7;
        e = otrl_auth_handle_key(&A->auth, m, &hav, ka);
        SAY("key g^y=1 in AWAITING_DHKEY: 0x%08x havemsg=%d", e, hav);
        dump_auth("A", &A->auth, 0);
        hav = 7;
        e = otrl_auth_handle_key(&A->auth, key_msg, &hav, ka);
        SAY("then the real key: 0x%08x havemsg=%d", e, hav);
        dump_auth("A", &A->auth, 0);
        hav = 7;
        e = otrl_auth_handle_key(&A->auth, m, &hav, ka);
        SAY("key g^y=1 in AWAITING_SIG: 0x%08x havemsg=%d state=%d", e, hav, A->auth.authstate);
        free(m);
        m = edited(key_msg, -1, 0x01, 0);
        hav = 7;
        e = otrl_auth_handle_key(&A->auth, m, &hav, ka);
        SAY("another key in AWAITING_SIG: 0x%08x havemsg=%d state=%d", e, hav, A->auth.authstate);
        free(m);
        otrl_auth_clear(&B->auth);
        hav = 7;
        e = otrl_auth_handle_key(&B->auth, key_msg, &hav, kb);
        SAY("key in NONE: 0x%08x havemsg=%d state=%d", e, hav, B->auth.authstate);
        hav = 7;
        e = otrl_auth_handle_key(&B->auth, "junk", &hav, kb);
        SAY("junk key in NONE: 0x%08x havemsg=%d", e, hav);
    }

    SAY("-- reveal signature");
    run(3, 3);
    m = edited(reveal_msg, 11 + 4, 0x40, 0);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, succeeded, "B");
    SAY("wrong r: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, 0);
    free(m);
    m = edited(reveal_msg, 11 + 20 + 4 + 5, 0x40, 0);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, succeeded, "B");
    SAY("altered signature part: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, 0);
    free(m);
    run(3, 3);
    m = edited(reveal_msg, -1, 0x40, 0);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, succeeded, "B");
    SAY("altered MAC: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, 0);
    free(m);
    run(3, 3);
    m = edited(reveal_msg, 11 + 3, 1, 0);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, succeeded, "B");
    SAY("r of 17 bytes: 0x%08x havemsg=%d r0=%d", e, hav, zero(B->auth.r, 16));
    free(m);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, "?OTR:AAMR.", &hav, kb, succeeded, "B");
    SAY("header only: 0x%08x havemsg=%d", e, hav);
    m = edited(reveal_msg, 0, 0, 1);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, succeeded, "B");
    SAY("trailing byte: 0x%08x havemsg=%d", e, hav);
    free(m);
    hav = 7;
    e = otrl_auth_handle_revealsig(&A->auth, reveal_msg, &hav, ka, succeeded, "A");
    SAY("in AWAITING_SIG: 0x%08x havemsg=%d state=%d", e, hav, A->auth.authstate);
    for (i = 1; i <= 3; i++) {
        run(3, 3);
        m = reheadered(reveal_msg, (int)i, i == 3);
        hav = 7;
        e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, NULL, NULL);
        SAY("version byte %zu: 0x%08x havemsg=%d state=%d", i, e, hav, B->auth.authstate);
        free(m);
    }
    run(3, 3);
    m = reheadered(reveal_msg, 3, 0);
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, m, &hav, kb, NULL, NULL);
    SAY("version byte 3 without tags: 0x%08x havemsg=%d", e, hav);
    free(m);

    SAY("-- signature");
    run(3, 4);
    m = edited(sig_msg, -1, 0x40, 0);
    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, m, &hav, succeeded, "A");
    SAY("altered MAC: 0x%08x havemsg=%d", e, hav);
    dump_auth("A", &A->auth, 0);
    free(m);
    m = edited(sig_msg, 11 + 4 + 3, 0x40, 0);
    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, m, &hav, succeeded, "A");
    SAY("altered signature part: 0x%08x havemsg=%d", e, hav);
    free(m);
    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, "?OTR:AAMS.", &hav, succeeded, "A");
    SAY("header only: 0x%08x havemsg=%d", e, hav);
    hav = 7;
    e = otrl_auth_handle_signature(&B->auth, sig_msg, &hav, succeeded, "B");
    SAY("in NONE: 0x%08x havemsg=%d", e, hav);
    hav = 7;
    e = otrl_auth_handle_signature(&B->auth, "junk", &hav, succeeded, "B");
    SAY("junk in NONE: 0x%08x havemsg=%d", e, hav);
    m = reheadered(sig_msg, 2, 0);
    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, m, &hav, NULL, NULL);
    SAY("v2 header, no callback: 0x%08x havemsg=%d state=%d", e, hav, A->auth.authstate);
    dump_auth("A", &A->auth, HALF);
    free(m);
    forget_msgs();
}

static void callbacks(void)
{
    int hav;
    gcry_error_t e;
    SAY("== auth_succeeded results");
    run(3, 3);
    cb_result = 0x12345;
    hav = 7;
    e = otrl_auth_handle_revealsig(&B->auth, reveal_msg, &hav, kb, succeeded, "B");
    SAY("reveal with a failing callback: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, HALF);
    sig_msg = dup_or_null(B->auth.lastauthmsg);
    hav = 7;
    e = otrl_auth_handle_signature(&A->auth, sig_msg, &hav, succeeded, "A");
    SAY("signature with a failing callback: 0x%08x havemsg=%d", e, hav);
    dump_auth("A", &A->auth, HALF);
    cb_result = 0;
    forget_msgs();
}

static void races(void)
{
    gcry_error_t e;
    char *mine, *theirs, *m;
    int v;
    SAY("== commits crossing");
    for (v = 2; v <= 3; v++) {
        /* Their hash is the largest possible: ours gives way (both libraries). */
        otrl_auth_clear(&A->auth);
        otrl_auth_clear(&B->auth);
        otrl_auth_start_v23(&A->auth, v);
        otrl_auth_start_v23(&B->auth, v);
        mine = strdup(A->auth.lastauthmsg);
        theirs = strdup(B->auth.lastauthmsg);
        {
            unsigned char *buf;
            size_t len;
            otrl_base64_otr_decode(theirs, &buf, &len);
            memset(buf + len - 32, 0xff, 32);
            m = otrl_base64_otr_encode(buf, len);
            free(buf);
        }
        e = otrl_auth_handle_commit(&A->auth, m, v);
        SAY("v%d commit with hash ff..ff while awaiting a key: 0x%08x kept mine %d", v, e,
            !strcmp(mine, A->auth.lastauthmsg));
        dump_auth("A", &A->auth, 0);
        free(m);
        free(mine);
        free(theirs);
    }
    SAY("== a new commit in each state");
    run(3, 2);
    mine = strdup(B->auth.lastauthmsg);
    otrl_auth_start_v23(&A->auth, 3);
    m = strdup(A->auth.lastauthmsg);
    e = otrl_auth_handle_commit(&B->auth, m, 3);
    SAY("in AWAITING_REVEALSIG: 0x%08x same key message %d new hashgx %d", e,
        !strcmp(mine, B->auth.lastauthmsg), !memcmp(A->auth.hashgx, B->auth.hashgx, 32));
    dump_auth("B", &B->auth, 0);
    free(mine);
    free(m);
    run(3, 3);
    otrl_auth_start_v23(&B->auth, 3);
    m = strdup(B->auth.lastauthmsg);
    e = otrl_auth_handle_commit(&A->auth, m, 3);
    SAY("in AWAITING_SIG: 0x%08x", e);
    dump_auth("A", &A->auth, 0);
    free(m);
    forget_msgs();
}

static void copy_on_key(void)
{
    int st, hav;
    gcry_error_t e;
    SAY("== copy_on_key");
    for (st = 0; st <= 3; st++) {
        ConnContext *c = otrl_context_find(ua, "bob", "alice", "prpl", 0x3000u + (unsigned)st, 1,
                                           NULL, NULL, NULL);
        OtrlAuthInfo *m = &A->auth;
        c->our_instance = A->our_instance;
        c->their_instance = 0x3000u + (unsigned)st;
        run(3, st == 0 ? 1 : st + 1);
        if (st == 0) otrl_auth_clear(&A->auth);
        if (st == 2) m = &B->auth;
        c->auth.their_keyid = 9;
        c->auth.initiated = 5;
        c->auth.our_keyid = 7;
        c->auth.protocol_version = 3;
        otrl_auth_copy_on_key(m, &c->auth);
        SAY("master in state %d:", m->authstate);
        dump_auth("child", &c->auth, NOLEN);
        if (c->auth.encgx)
            SAY("  same r %d hashgx %d encgx %d own key pair %d", !memcmp(m->r, c->auth.r, 16),
                !memcmp(m->hashgx, c->auth.hashgx, 32),
                !memcmp(m->encgx, c->auth.encgx, m->encgx_len),
                c->auth.our_dh.pub != m->our_dh.pub);
        if (st == 1) {
            hav = 7;
            e = otrl_auth_handle_key(&c->auth, key_msg, &hav, ka);
            SAY("  the child takes the D-H key: 0x%08x havemsg=%d", e, hav);
            dump_auth("child", &c->auth, NOLEN);
            say_header("  its reveal", c->auth.lastauthmsg, 1);
            hav = 7;
            e = otrl_auth_handle_revealsig(&B->auth, c->auth.lastauthmsg, &hav, kb, NULL, NULL);
            SAY("  B accepts it: 0x%08x havemsg=%d", e, hav);
        }
        otrl_auth_clear(&c->auth);
    }
    forget_msgs();
}

static void versions(void)
{
    static const int v[] = { 0, 1, 2, 3, 4, 0x103, -1 };
    size_t i;
    SAY("== start_v23 versions");
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        gcry_error_t e = otrl_auth_start_v23(&A->auth, v[i]);
        SAY("version %d: 0x%08x state=%d pv=%u ctxpv=%u", v[i], e, A->auth.authstate,
            A->auth.protocol_version, A->protocol_version);
        say_header("  commit", A->auth.lastauthmsg, v[i] == 3);
    }
    {
        int hav;
        gcry_error_t e;
        run(2, 2);
        otrl_auth_clear(&B->auth);
        e = otrl_auth_handle_commit(&B->auth, commit_msg, 0);
        SAY("v2 commit as version 0: 0x%08x pv=%u", e, B->auth.protocol_version);
        say_header("  key", B->auth.lastauthmsg, 0);
        A->auth.protocol_version = 0;
        hav = 7;
        e = otrl_auth_handle_key(&A->auth, B->auth.lastauthmsg, &hav, ka);
        SAY("that key with our pv 0: 0x%08x havemsg=%d state=%d", e, hav, A->auth.authstate);
        A->auth.protocol_version = 3;
        hav = 7;
        e = otrl_auth_handle_key(&A->auth, key_msg, &hav, ka);
        SAY("a v2 key with our pv 3: 0x%08x havemsg=%d state=%d", e, hav, A->auth.authstate);
        run(2, 3);
        B->auth.protocol_version = 5;
        hav = 7;
        e = otrl_auth_handle_revealsig(&B->auth, reveal_msg, &hav, kb, NULL, NULL);
        SAY("reveal answered with pv 5: 0x%08x havemsg=%d", e, hav);
        say_header("  signature", B->auth.lastauthmsg, 0);
    }
    forget_msgs();
}

/* The 4-byte header (version, type, reply flag) of a v1 Key Exchange. */
static void say_v1(const char *label, const char *m)
{
    unsigned char *buf;
    size_t len;
    if (!m || otrl_base64_otr_decode(m, &buf, &len)) {
        SAY("%s: no message", label);
        return;
    }
    SAY("%s: %.9s header %02x %02x %02x reply=%d", label, m, buf[0], buf[1], buf[2], buf[3]);
    free(buf);
}

static void v1(void)
{
    int hav;
    gcry_error_t e;
    char *ma, *mb, *m;
    DH_keypair kp;

    SAY("== OTR v1 key exchange");
    /* Which half is bold depends on the random D-H values: compared below. */
    cb_flags = 0;
    otrl_auth_clear(&A->auth);
    otrl_auth_clear(&B->auth);
    A->protocol_version = B->protocol_version = 0;
    e = otrl_auth_start_v1(&A->auth, NULL, 0, ka);
    SAY("A start_v1: 0x%08x", e);
    dump_auth("A", &A->auth, 0);
    say_v1("  message", A->auth.lastauthmsg);
    ma = strdup(A->auth.lastauthmsg);
    hav = 7;
    cb_calls = 0;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, ma, &hav, kb, NULL, 0, succeeded, "B");
    SAY("B handles it: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);
    dump_auth("B", &B->auth, 0);
    say_v1("  reply", B->auth.lastauthmsg);
    mb = strdup(B->auth.lastauthmsg);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&A->auth, mb, &hav, ka, NULL, 0, succeeded, "A");
    SAY("A handles the reply: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);
    dump_auth("A", &A->auth, 0);
    say_v1("  A's last message", A->auth.lastauthmsg);
    SAY("  same ssid %d halves differ %d", !memcmp(A->auth.secure_session_id,
        B->auth.secure_session_id, 20), A->auth.session_id_half != B->auth.session_id_half);
    compare_sessions();
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&A->auth, mb, &hav, ka, NULL, 0, succeeded, "A");
    SAY("A gets the reply again: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, ma, &hav, kb, NULL, 0, succeeded, "B");
    SAY("B gets the first message again: 0x%08x havemsg=%d callbacks=%d", e, hav, cb_calls);

    SAY("-- with a given key pair");
    otrl_dh_keypair_init(&kp);
    otrl_dh_gen_keypair(DH1536_GROUP_ID, &kp);
    otrl_auth_clear(&A->auth);
    e = otrl_auth_start_v1(&A->auth, &kp, 5, ka);
    SAY("A start_v1: 0x%08x own copy %d", e, A->auth.our_dh.pub != kp.pub);
    dump_auth("A", &A->auth, 0);
    free(ma);
    ma = strdup(A->auth.lastauthmsg);
    otrl_auth_clear(&B->auth);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, ma, &hav, kb, &kp, 9, succeeded, "B");
    SAY("B handles it with the same key pair, key id 9: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, HALF);
    otrl_dh_keypair_free(&kp);

    SAY("-- both start");
    otrl_auth_clear(&A->auth);
    otrl_auth_clear(&B->auth);
    otrl_auth_start_v1(&A->auth, NULL, 0, ka);
    otrl_auth_start_v1(&B->auth, NULL, 0, kb);
    free(ma);
    free(mb);
    ma = strdup(A->auth.lastauthmsg);
    mb = strdup(B->auth.lastauthmsg);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&A->auth, mb, &hav, ka, NULL, 0, succeeded, "A");
    SAY("A gets B's first message: 0x%08x havemsg=%d", e, hav);
    dump_auth("A", &A->auth, 0);
    say_v1("  A's last message", A->auth.lastauthmsg);

    SAY("-- bad messages");
    otrl_auth_clear(&B->auth);
    m = edited(ma, -1, 0x01, 0);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, m, &hav, kb, NULL, 0, succeeded, "B");
    SAY("altered signature: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, 0);
    free(m);
    m = edited(ma, 3, 0x01, 0);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, m, &hav, kb, NULL, 0, succeeded, "B");
    SAY("reply flag flipped: 0x%08x havemsg=%d", e, hav);
    free(m);
    m = edited(ma, 0, 0, 1);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, m, &hav, kb, NULL, 0, succeeded, "B");
    SAY("trailing byte: 0x%08x havemsg=%d", e, hav);
    free(m);
    m = edited(ma, 1, 0x03, 0);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, m, &hav, kb, NULL, 0, succeeded, "B");
    SAY("version 2: 0x%08x havemsg=%d", e, hav);
    free(m);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, "?OTR:AAEK.", &hav, kb, NULL, 0, succeeded, "B");
    SAY("header only: 0x%08x havemsg=%d", e, hav);
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, "junk", &hav, kb, NULL, 0, succeeded, "B");
    SAY("junk: 0x%08x havemsg=%d", e, hav);

    SAY("-- during a v3 exchange, with a failing callback");
    otrl_auth_start_v23(&B->auth, 3);
    cb_result = 0x777;
    hav = 7;
    e = otrl_auth_handle_v1_key_exchange(&B->auth, ma, &hav, kb, NULL, 0, succeeded, "B");
    SAY("B: 0x%08x havemsg=%d", e, hav);
    dump_auth("B", &B->auth, 0);
    cb_result = 0;
    free(ma);
    free(mb);
    otrl_auth_clear(&A->auth);
    otrl_auth_clear(&B->auth);
    cb_flags = HALF;
}

static void auth_new(void)
{
    SAY("== auth_new");
    otrl_auth_clear(&A->auth);
    memset(&A->auth, 0x55, sizeof A->auth);
    A->auth.context = NULL;
    otrl_auth_new(A);
    dump_auth("A", &A->auth, 0);
    A->auth.commit_sent_time = 5;
    A->auth.session_id_half = OTRL_SESSIONID_SECOND_HALF_BOLD;
    otrl_auth_clear(&A->auth);
    SAY("clear: sent=%ld half=%d", (long)A->auth.commit_sent_time, A->auth.session_id_half);
}

int main(void)
{
    OTRL_INIT;
    ua = otrl_userstate_create();
    ub = otrl_userstate_create();
    SAY("keys: 0x%08x 0x%08x", read_key(ua, "a.priv", KEY_A), read_key(ub, "b.priv", KEY_B));
    ka = otrl_privkey_find(ua, "alice", "prpl");
    kb = otrl_privkey_find(ub, "bob", "prpl");
    CHECK(otrl_privkey_fingerprint_raw(ua, fpa, "alice", "prpl") != NULL);
    CHECK(otrl_privkey_fingerprint_raw(ub, fpb, "bob", "prpl") != NULL);
    A = otrl_context_find(ua, "bob", "alice", "prpl", OTRL_INSTAG_MASTER, 1, NULL, NULL, NULL);
    B = otrl_context_find(ub, "alice", "bob", "prpl", OTRL_INSTAG_MASTER, 1, NULL, NULL, NULL);
    A->our_instance = 0x1111;
    A->their_instance = 0x2222;
    B->our_instance = 0x2222;
    B->their_instance = 0x1111;

    test_dh(A);
    test_counters();
    full_ake(3);
    full_ake(2);
    malformed();
    callbacks();
    races();
    copy_on_key();
    versions();
    v1();
    auth_new();

    otrl_userstate_free(ua);
    otrl_userstate_free(ub);
    return harness_exit();
}
