/* Instance tags (file and list), TLVs, base64, mem, version and init. */
#include <libotr/proto.h>
#include <libotr/instag.h>
#include <libotr/tlv.h>
#include <libotr/b64.h>
#include <libotr/mem.h>
#include <libotr/sm.h>
#include <libotr/userstate.h>
#include "common.h"

static void print_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    int c;
    printf("--- %s\n", path);
    if (!f) { printf("(missing)\n"); return; }
    while ((c = fgetc(f)) != EOF) putchar(c);
    fclose(f);
    printf("---\n");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void dump_instags(OtrlUserState us)
{
    OtrlInsTag *t;
    for (t = us->instag_root; t; t = t->next) {
        CHECK(*t->tous == t);
        SAY("  %s %s %08x", t->accountname, t->protocol, t->instag);
    }
}

static void instags(void)
{
    OtrlUserState us = otrl_userstate_create();
    OtrlInsTag *t;
    unsigned int i, low = 0;
    FILE *f;

    SAY("instag_get_new never below 0x100");
    for (i = 0; i < 2000; i++) low |= otrl_instag_get_new() < OTRL_MIN_VALID_INSTAG;
    SAY("  low=%u", low);

    SAY("read missing file: %08x", otrl_instag_read(us, "no-such-file"));
    SAY("read NULL FILE*: %08x", otrl_instag_read_FILEp(us, NULL));

    write_file("tags.txt",
        "# WARNING! comment\n"
        "alice\txmpp\t12345678\n"
        "bob\tirc\t0000abcd\n"
        "bad line without tabs\n"
        "low\tirc\t000000ff\n"
        "short\tirc\t1234\n"
        "upper\tirc\tDEADBEEF\n"
        "alice\txmpp\t87654321\n"
        "extra\tirc\t12345678\tmore\n");
    SAY("read file: %08x", otrl_instag_read(us, "tags.txt"));
    dump_instags(us);
    t = otrl_instag_find(us, "alice", "xmpp");
    SAY("find alice: %08x", t ? t->instag : 0);
    SAY("find none: %s", otrl_instag_find(us, "nobody", "xmpp") ? "found" : "NULL");
    SAY("write: %08x", otrl_instag_write(us, "tags-out.txt"));
    print_file("tags-out.txt");

    SAY("read again adds to the list");
    SAY("  %08x", otrl_instag_read(us, "tags.txt"));
    i = 0;
    for (t = us->instag_root; t; t = t->next) i++;
    SAY("  count=%u", i);

    SAY("forget one, forget all");
    otrl_instag_forget(otrl_instag_find(us, "bob", "irc"));
    otrl_instag_forget(NULL);
    i = 0;
    for (t = us->instag_root; t; t = t->next) i++;
    SAY("  count=%u", i);
    otrl_instag_forget_all(us);
    SAY("  root=%s", us->instag_root ? "set" : "NULL");

    SAY("generate into a file");
    SAY("  %08x", otrl_instag_generate(us, "gen.txt", "carol", "xmpp"));
    SAY("  %08x", otrl_instag_generate(us, "gen.txt", "dave", "irc"));
    t = otrl_instag_find(us, "carol", "xmpp");
    SAY("  carol valid=%d", t && t->instag >= OTRL_MIN_VALID_INSTAG);
    SAY("  regenerate carol: %08x", otrl_instag_generate(us, "gen.txt", "carol", "xmpp"));
    i = 0;
    for (t = us->instag_root; t; t = t->next) {
        i++;
        SAY("  entry %s %s", t->accountname, t->protocol);
    }
    SAY("  count=%u", i);
    {
        OtrlUserState us2 = otrl_userstate_create();
        SAY("  reread: %08x", otrl_instag_read(us2, "gen.txt"));
        for (t = us2->instag_root; t; t = t->next) {
            OtrlInsTag *o = otrl_instag_find(us, t->accountname, t->protocol);
            SAY("  reread %s %s same=%d", t->accountname, t->protocol, o && o->instag == t->instag);
        }
        otrl_userstate_free(us2);
    }
    SAY("generate to /dev/null still adds: %08x", otrl_instag_generate(us, "/dev/null", "eve", "irc"));
    SAY("  eve=%s", otrl_instag_find(us, "eve", "irc") ? "found" : "NULL");
    SAY("generate with NULL account: %08x", otrl_instag_generate(us, "gen2.txt", NULL, "irc"));
    f = fopen("gen-fp.txt", "w+b");
    SAY("generate_FILEp: %08x", otrl_instag_generate_FILEp(us, f, "frank", "xmpp"));
    fclose(f);
    SAY("read directory: %08x", otrl_instag_read(us, "."));
    otrl_userstate_free(us);
}

static void tlvs(void)
{
    unsigned char buf[64];
    unsigned char ser[] = { 0, 1, 0, 0, 0, 7, 0, 3, 'a', 'b', 'c', 0, 2, 0, 9, 'x' };
    OtrlTLV *a, *b, *list, *t;
    size_t n;

    SAY("tlv new/serialize");
    a = otrl_tlv_new(OTRL_TLV_SMP1Q, 5, (const unsigned char *)"hello");
    SAY("  type=%u len=%u nul=%d", a->type, a->len, a->data[5] == 0);
    b = otrl_tlv_new(OTRL_TLV_DISCONNECTED, 0, NULL);
    SAY("  empty data non-NULL=%d", b->data != NULL);
    a->next = b;
    n = otrl_tlv_seriallen(a);
    SAY("  seriallen=%zu", n);
    memset(buf, 0xee, sizeof buf);
    otrl_tlv_serialize(buf, a);
    print_hex("  bytes", buf, n + 1);
    SAY("  find DISCONNECTED=%d find SMP1=%d", otrl_tlv_find(a, OTRL_TLV_DISCONNECTED) == b,
        otrl_tlv_find(a, OTRL_TLV_SMP1) != NULL);
    otrl_tlv_free(a);
    otrl_tlv_free(NULL);

    SAY("tlv parse (last record truncated)");
    list = otrl_tlv_parse(ser, sizeof ser);
    for (t = list; t; t = t->next) print_hex("  tlv", t->data, t->len);
    for (t = list; t; t = t->next) SAY("  type=%u len=%u", t->type, t->len);
    otrl_tlv_free(list);
    SAY("  parse of 3 bytes: %s", otrl_tlv_parse(ser, 3) ? "list" : "NULL");
    SAY("  seriallen(NULL)=%zu", otrl_tlv_seriallen(NULL));
}

static void base64(void)
{
    const char *inputs[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *decodes[] = { "Zm9vYmFy", "Zg==", "Zg", "Zm9=v", "Z m\n9v", "!!Zm9v??", "Zh==", "" };
    char out[64];
    unsigned char dec[64];
    unsigned char *buf;
    size_t i, n, len;
    char *enc;

    SAY("base64");
    for (i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        memset(out, 0, sizeof out);
        n = otrl_base64_encode(out, (const unsigned char *)inputs[i], strlen(inputs[i]));
        SAY("  encode '%s' -> %zu '%s'", inputs[i], n, out);
    }
    for (i = 0; i < sizeof decodes / sizeof *decodes; i++) {
        n = otrl_base64_decode(dec, decodes[i], strlen(decodes[i]));
        printf("  decode '%s' -> %zu ", decodes[i], n);
        print_hex("", dec, n);
    }
    enc = otrl_base64_otr_encode((const unsigned char *)"\x00\x03\x02", 3);
    SAY("  otr_encode: %s", enc);
    buf = NULL;
    SAY("  otr_decode: %d", otrl_base64_otr_decode(enc, &buf, &len));
    print_hex("  decoded", buf, len);
    free(buf);
    free(enc);
    buf = NULL;
    SAY("  otr_decode no prefix: %d", otrl_base64_otr_decode("hello", &buf, &len));
    SAY("  otr_decode no dot: %d", otrl_base64_otr_decode("?OTR:AAMC", &buf, &len));
    SAY("  otr_decode embedded: %d", otrl_base64_otr_decode("x ?OTR:AAMC. y", &buf, &len));
    print_hex("  decoded", buf, len);
    free(buf);
    SAY("  MAX_DECODED_SIZE(9)=%d", (int)OTRL_B64_MAX_DECODED_SIZE(9));
}

static void misc(void)
{
    OtrlSMState sm;
    SAY("mem_differ same=%d diff=%d empty=%d", otrl_mem_differ((const unsigned char *)"abc", (const unsigned char *)"abc", 3),
        otrl_mem_differ((const unsigned char *)"abc", (const unsigned char *)"abd", 3),
        otrl_mem_differ((const unsigned char *)"a", (const unsigned char *)"b", 0));
    otrl_mem_init();
    SAY("version %s", otrl_version());
    SAY("init 4.0.0=%u 4.1.0=%u 4.1.1=%u", otrl_init(4, 0, 0), otrl_init(4, 1, 0), otrl_init(4, 1, 1));
    otrl_sm_init();
    memset(&sm, 0x5a, sizeof sm);
    otrl_sm_state_new(&sm);
    SAY("sm_state_new: secret=%s exp=%d q=%d prog=%d", sm.secret ? "set" : "NULL", sm.nextExpected,
        sm.received_question, sm.sm_prog_state);
    sm.nextExpected = OTRL_SMP_EXPECT3;
    sm.received_question = 1;
    sm.sm_prog_state = OTRL_SMP_PROG_SUCCEEDED;
    otrl_sm_state_free(&sm);
    SAY("sm_state_free: secret=%s exp=%d q=%d prog=%d", sm.secret ? "set" : "NULL", sm.nextExpected,
        sm.received_question, sm.sm_prog_state);
}

int main(void)
{
    OTRL_INIT;
    instags();
    tlvs();
    base64();
    misc();
    return harness_exit();
}
