/* cpeer: an OTR party built on libotr's message layer, driven over
 * stdin/stdout by ffi-tests/potr/driver.py (which plays the other party with
 * python-potr). Policy: OTRL_POLICY_ALLOW_V2 only.
 *
 * Usage: cpeer DIR [MAXMSGSIZE]
 *   DIR/key and DIR/instag are loaded when present, generated otherwise.
 *   MAXMSGSIZE (default 0 = no fragmentation) is what max_message_size says.
 *
 * Framing: every line is ASCII. Byte strings travel as lowercase hex, so
 * messages with newlines (the query message) fit on one line.
 * stdin commands:
 *   RECV <hex>      an OTR message from the network -> otrl_message_receiving
 *   SEND <hex>      a message to send -> otrl_message_sending
 *   DISCONNECT      otrl_message_disconnect
 *   SMPINIT <hex>   otrl_message_initiate_smp with that secret
 *   SMPRESP <hex>   otrl_message_respond_smp with that secret
 *   STATUS          prints a STATUS line
 *   QUIT
 * stdout lines (each command's output ends with "END"):
 *   KEY generated|loaded, FP <human fingerprint of our key>  (at start)
 *   NET <hex>       a message for the network (injected or returned)
 *   GOT <hex>       a message for the user (decrypted, or plaintext)
 *   NOTHING-TO-SEND otrl_message_sending returned "" (send nothing)
 *   IGNORED         otrl_message_receiving said: ignore
 *   TLV <type>      a TLV returned by otrl_message_receiving
 *   EVENT <name> [...]   callbacks
 *   STATUS state=.. ver=.. ssid=<hex> half=<0|1> theirfp=<hex>
 * Everything is also logged to stderr.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/context.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/tlv.h>
#include <libotr/userstate.h>

#define ACCOUNT "c@potr.test"
#define PEER "py@potr.test"
#define PROTO "prpl-potr"

static OtrlUserState us;
static char keypath[4096], instagpath[4096];
static int maxmsg;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    fprintf(stderr, "cpeer: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void out_hex(const char *tag, const unsigned char *p, size_t n)
{
    printf("%s ", tag);
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
    fprintf(stderr, "cpeer: %s (%zu bytes)\n", tag, n);
    fflush(stdout);
}

static unsigned char *unhex(const char *s, size_t *len)
{
    size_t n = strlen(s) / 2;
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) { free(b); return NULL; }
        b[i] = (unsigned char)v;
    }
    b[n] = 0;
    *len = n;
    return b;
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

static OtrlPolicy cb_policy(void *o, ConnContext *c) { (void)o; (void)c; return OTRL_POLICY_ALLOW_V2; }
static void cb_create_privkey(void *o, const char *a, const char *p)
{
    (void)o;
    out("EVENT create_privkey\n");
    otrl_privkey_generate(us, keypath, a, p);
}
static int cb_is_logged_in(void *o, const char *a, const char *p, const char *r)
{
    (void)o; (void)a; (void)p; (void)r;
    return 1;
}
static void cb_inject(void *o, const char *a, const char *p, const char *r, const char *m)
{
    (void)o; (void)a; (void)p; (void)r;
    out_hex("NET", (const unsigned char *)m, strlen(m));
}
static void cb_update_context_list(void *o) { (void)o; }
static void cb_new_fingerprint(void *o, OtrlUserState u, const char *a, const char *p,
                               const char *user, unsigned char fp[20])
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    (void)o; (void)u; (void)a; (void)p;
    otrl_privkey_hash_to_human(human, fp);
    out("EVENT new_fingerprint %s %s\n", user, human);
}
static void cb_write_fingerprints(void *o) { (void)o; }
static void cb_gone_secure(void *o, ConnContext *c) { (void)o; (void)c; out("EVENT gone_secure\n"); }
static void cb_gone_insecure(void *o, ConnContext *c) { (void)o; (void)c; out("EVENT gone_insecure\n"); }
static void cb_still_secure(void *o, ConnContext *c, int r)
{
    (void)o; (void)c;
    out("EVENT still_secure %d\n", r);
}
static int cb_max_message_size(void *o, ConnContext *c) { (void)o; (void)c; return maxmsg; }
static const char *cb_account_name(void *o, const char *a, const char *p) { (void)o; (void)p; return a; }
static void cb_account_name_free(void *o, const char *n) { (void)o; (void)n; }
static void cb_received_symkey(void *o, ConnContext *c, unsigned int use, const unsigned char *d,
                               size_t dl, const unsigned char *k)
{
    (void)o; (void)c; (void)d; (void)k;
    out("EVENT received_symkey %u %zu\n", use, dl);
}
static const char *cb_otr_error_message(void *o, ConnContext *c, OtrlErrorCode e)
{
    (void)o; (void)c;
    out("EVENT otr_error_message %d\n", (int)e);
    return "cpeer error";
}
static void cb_otr_error_message_free(void *o, const char *m) { (void)o; (void)m; }
static const char *cb_resent_msg_prefix(void *o, ConnContext *c) { (void)o; (void)c; return "[resent]"; }
static void cb_resent_msg_prefix_free(void *o, const char *p) { (void)o; (void)p; }

static const char *smp_names[] = {"NONE", "ERROR", "ABORT", "CHEATED", "ASK_FOR_ANSWER",
                                  "ASK_FOR_SECRET", "IN_PROGRESS", "SUCCESS", "FAILURE"};
static void cb_handle_smp_event(void *o, OtrlSMPEvent e, ConnContext *c, unsigned short pct, char *q)
{
    (void)o; (void)c;
    out("EVENT smp %s %u%s%s\n", (unsigned)e < 9 ? smp_names[e] : "?", pct, q ? " " : "", q ? q : "");
}
static const char *msgev_names[] = {
    "NONE", "ENCRYPTION_REQUIRED", "ENCRYPTION_ERROR", "CONNECTION_ENDED", "SETUP_ERROR",
    "MSG_REFLECTED", "MSG_RESENT", "RCVDMSG_NOT_IN_PRIVATE", "RCVDMSG_UNREADABLE",
    "RCVDMSG_MALFORMED", "LOG_HEARTBEAT_RCVD", "LOG_HEARTBEAT_SENT", "RCVDMSG_GENERAL_ERR",
    "RCVDMSG_UNENCRYPTED", "RCVDMSG_UNRECOGNIZED", "RCVDMSG_FOR_OTHER_INSTANCE"};
static void cb_handle_msg_event(void *o, OtrlMessageEvent e, ConnContext *c, const char *m,
                                gcry_error_t err)
{
    (void)o; (void)c;
    out("EVENT msg %s err=%u%s%s\n", (unsigned)e < 16 ? msgev_names[e] : "?", (unsigned)err,
        m ? " msg=" : "", m ? "(present)" : "");
}
static void cb_create_instag(void *o, const char *a, const char *p)
{
    (void)o;
    out("EVENT create_instag\n");
    otrl_instag_generate(us, instagpath, a, p);
}
static void cb_timer_control(void *o, unsigned int interval)
{
    (void)o;
    fprintf(stderr, "cpeer: timer_control %u\n", interval);
}

static OtrlMessageAppOps ops = {
    .policy = cb_policy,
    .create_privkey = cb_create_privkey,
    .is_logged_in = cb_is_logged_in,
    .inject_message = cb_inject,
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
    .resent_msg_prefix = cb_resent_msg_prefix,
    .resent_msg_prefix_free = cb_resent_msg_prefix_free,
    .handle_smp_event = cb_handle_smp_event,
    .handle_msg_event = cb_handle_msg_event,
    .create_instag = cb_create_instag,
    .convert_msg = NULL,
    .convert_free = NULL,
    .timer_control = cb_timer_control,
};

static ConnContext *find_ctx(void)
{
    return otrl_context_find(us, PEER, ACCOUNT, PROTO, OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
}

static void do_status(void)
{
    ConnContext *c = find_ctx();
    if (!c) { out("STATUS none\n"); return; }
    printf("STATUS state=%s ver=%u ssid=", msgstate_name(c->msgstate), c->protocol_version);
    for (size_t i = 0; i < c->sessionid_len; i++) printf("%02x", c->sessionid[i]);
    printf(" half=%d theirfp=", (int)c->sessionid_half);
    if (c->active_fingerprint && c->active_fingerprint->fingerprint)
        for (int i = 0; i < 20; i++) printf("%02x", c->active_fingerprint->fingerprint[i]);
    else
        printf("none");
    printf("\n");
    fflush(stdout);
    fprintf(stderr, "cpeer: STATUS state=%s\n", msgstate_name(c->msgstate));
}

static void do_recv(const char *msg)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore = otrl_message_receiving(us, &ops, NULL, ACCOUNT, PROTO, PEER, msg, &newmsg, &tlvs,
                                        NULL, NULL, NULL);
    for (OtrlTLV *t = tlvs; t; t = t->next) out("TLV %u\n", (unsigned)t->type);
    if (ignore)
        out("IGNORED\n");
    else if (newmsg)
        out_hex("GOT", (const unsigned char *)newmsg, strlen(newmsg));
    else
        out_hex("GOT", (const unsigned char *)msg, strlen(msg));
    otrl_tlv_free(tlvs);
    otrl_message_free(newmsg);
}

static void do_send(const char *msg)
{
    char *newmsg = NULL;
    gcry_error_t err = otrl_message_sending(us, &ops, NULL, ACCOUNT, PROTO, PEER, OTRL_INSTAG_BEST,
                                            msg, NULL, &newmsg, OTRL_FRAGMENT_SEND_ALL_BUT_LAST,
                                            NULL, NULL, NULL);
    if (err) {
        out("SENDERR %u\n", (unsigned)err);
    } else if (newmsg && !*newmsg) {
        out("NOTHING-TO-SEND\n"); /* libotr's "send nothing" */
    } else if (newmsg) {
        out_hex("NET", (const unsigned char *)newmsg, strlen(newmsg));
    } else {
        out_hex("NET", (const unsigned char *)msg, strlen(msg));
    }
    otrl_message_free(newmsg);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: cpeer DIR [MAXMSGSIZE]\n"); return 2; }
    if (argc > 2) maxmsg = atoi(argv[2]);
    snprintf(keypath, sizeof keypath, "%s/key", argv[1]);
    snprintf(instagpath, sizeof instagpath, "%s/instag", argv[1]);
    OTRL_INIT;
    us = otrl_userstate_create();

    struct stat st;
    if (stat(keypath, &st) == 0) {
        gcry_error_t e = otrl_privkey_read(us, keypath);
        if (e) { out("FATAL privkey_read %u\n", (unsigned)e); return 1; }
        out("KEY loaded\n");
    } else {
        gcry_error_t e = otrl_privkey_generate(us, keypath, ACCOUNT, PROTO);
        if (e) { out("FATAL privkey_generate %u\n", (unsigned)e); return 1; }
        out("KEY generated\n");
    }
    if (stat(instagpath, &st) == 0) otrl_instag_read(us, instagpath);
    char fp[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    if (!otrl_privkey_fingerprint(us, fp, ACCOUNT, PROTO)) { out("FATAL no fingerprint\n"); return 1; }
    unsigned char raw[20];
    if (!otrl_privkey_fingerprint_raw(us, raw, ACCOUNT, PROTO)) { out("FATAL no raw fingerprint\n"); return 1; }
    out("FP %s\n", fp);
    out_hex("FPRAW", raw, 20);
    out("END\n");

    size_t cap = 1 << 20;
    char *line = malloc(cap);
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        char *arg = strchr(line, ' ');
        if (arg) *arg++ = 0;
        size_t len = 0;
        unsigned char *data = arg ? unhex(arg, &len) : NULL;
        if (arg && !data) {
            out("ERROR bad hex\n");
        } else if (!strcmp(line, "RECV") && data) {
            do_recv((const char *)data);
        } else if (!strcmp(line, "SEND") && data) {
            do_send((const char *)data);
        } else if (!strcmp(line, "DISCONNECT")) {
            otrl_message_disconnect(us, &ops, NULL, ACCOUNT, PROTO, PEER, OTRL_INSTAG_BEST);
        } else if (!strcmp(line, "SMPINIT") && data) {
            ConnContext *c = find_ctx();
            if (c) otrl_message_initiate_smp(us, &ops, NULL, c, data, len);
            else out("ERROR no context\n");
        } else if (!strcmp(line, "SMPRESP") && data) {
            ConnContext *c = find_ctx();
            if (c) otrl_message_respond_smp(us, &ops, NULL, c, data, len);
            else out("ERROR no context\n");
        } else if (!strcmp(line, "STATUS")) {
            do_status();
        } else if (!strcmp(line, "QUIT")) {
            free(data);
            out("END\n");
            break;
        } else {
            out("ERROR unknown command %s\n", line);
        }
        free(data);
        out("END\n");
    }
    free(line);
    otrl_userstate_free(us);
    return 0;
}
