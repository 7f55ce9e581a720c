/* Helper of cross/files.sh: one program, built once against Debian's
   libotr headers, run on Debian's libotr or (with LD_LIBRARY_PATH) on
   libotr-rs, so that files written by one library can be read by the other.
   Each command prints only what must agree between the libraries.

   Commands (FILE arguments are paths):
     genkeys FILE ACCT PROTO [ACCT PROTO ...]   generate keys into FILE
     addkey FILE ACCT PROTO     read FILE, then generate one more key into it
     keys FILE                  read FILE; per key: account, protocol, fingerprint
     sign FILE ACCT PROTO SIG   sign a fixed 20-byte message, write r||s to SIG
     verify FILE ACCT PROTO SIG verify SIG over the message with the key's public part
     writefp FILE               write a fixed set of fingerprints
     readfp FILE                read a fingerprints file, list contexts and trust
     rewritefp IN OUT           read IN, write OUT
     geninstag FILE ACCT PROTO [ACCT PROTO ...]  generate instance tags
     instags FILE               read FILE, list the instance tags
     rewriteinstag IN OUT       read IN, write OUT */
#include <errno.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/userstate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char message[20] = "cross-library check!";

static int fail(const char *what, gcry_error_t e)
{
    fprintf(stderr, "%s: 0x%08x\n", what, e);
    return 1;
}

static int gen_keys(OtrlUserState us, const char *file, int n, char **pairs)
{
    int i;
    for (i = 0; i + 1 < n; i += 2) {
        gcry_error_t e = otrl_privkey_generate(us, file, pairs[i], pairs[i + 1]);
        if (e) return fail("otrl_privkey_generate", e);
    }
    return 0;
}

static int list_keys(OtrlUserState us, const char *file)
{
    OtrlPrivKey *k;
    gcry_error_t e = otrl_privkey_read(us, file);
    if (e) return fail("otrl_privkey_read", e);
    for (k = us->privkey_root; k; k = k->next) {
        char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
        if (!otrl_privkey_fingerprint(us, human, k->accountname, k->protocol))
            return fail("otrl_privkey_fingerprint", 0);
        printf("key '%s' '%s' %s\n", k->accountname, k->protocol, human);
    }
    return 0;
}

/* (public-key (dsa ...)) from the four MPIs of a key's pubkey_data. */
static gcry_sexp_t public_sexp(const OtrlPrivKey *k)
{
    const unsigned char *p = k->pubkey_data;
    size_t left = k->pubkey_datalen;
    gcry_mpi_t m[4] = { NULL, NULL, NULL, NULL };
    gcry_sexp_t s = NULL;
    int i, ok = 1;
    for (i = 0; i < 4 && ok; i++) {
        size_t n;
        if (left < 4) { ok = 0; break; }
        n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
        p += 4; left -= 4;
        if (n > left || gcry_mpi_scan(&m[i], GCRYMPI_FMT_USG, p, n, NULL)) ok = 0;
        p += n; left -= n;
    }
    if (ok && left == 0)
        gcry_sexp_build(&s, NULL, "(public-key (dsa (p %m)(q %m)(g %m)(y %m)))",
                        m[0], m[1], m[2], m[3]);
    for (i = 0; i < 4; i++) gcry_mpi_release(m[i]);
    return s;
}

static int sign(OtrlUserState us, char **a)
{
    OtrlPrivKey *k;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    gcry_error_t e = otrl_privkey_read(us, a[0]);
    FILE *f;
    if (e) return fail("otrl_privkey_read", e);
    k = otrl_privkey_find(us, a[1], a[2]);
    if (!k) return fail("otrl_privkey_find", 0);
    e = otrl_privkey_sign(&sig, &siglen, k, message, sizeof message);
    if (e) return fail("otrl_privkey_sign", e);
    printf("signed: siglen=%zu\n", siglen);
    f = fopen(a[3], "wb");
    if (!f || fwrite(sig, 1, siglen, f) != siglen) return fail("write signature", 0);
    fclose(f);
    free(sig);
    return 0;
}

static int verify(OtrlUserState us, char **a)
{
    OtrlPrivKey *k;
    unsigned char sig[64];
    size_t siglen;
    gcry_sexp_t pubs;
    gcry_error_t e = otrl_privkey_read(us, a[0]);
    FILE *f;
    if (e) return fail("otrl_privkey_read", e);
    k = otrl_privkey_find(us, a[1], a[2]);
    if (!k) return fail("otrl_privkey_find", 0);
    f = fopen(a[3], "rb");
    if (!f) return fail("open signature", 0);
    siglen = fread(sig, 1, sizeof sig, f);
    fclose(f);
    pubs = public_sexp(k);
    if (!pubs) return fail("public key", 0);
    printf("verify: 0x%08x\n", otrl_privkey_verify(sig, siglen, k->pubkey_type, pubs, message, sizeof message));
    sig[7] ^= 0x40;
    printf("verify tampered: 0x%08x\n", otrl_privkey_verify(sig, siglen, k->pubkey_type, pubs, message, sizeof message));
    gcry_sexp_release(pubs);
    return 0;
}

static void add_fp(OtrlUserState us, const char *user, const char *acct, const char *proto,
                   unsigned char byte, const char *trust)
{
    unsigned char hash[20];
    ConnContext *c = otrl_context_find(us, user, acct, proto, OTRL_INSTAG_MASTER, 1, NULL, NULL, NULL);
    Fingerprint *f;
    int i;
    for (i = 0; i < 20; i++) hash[i] = (unsigned char)(byte + i * 3);
    f = otrl_context_find_fingerprint(c, hash, 1, NULL);
    otrl_context_set_trust(f, trust);
}

static int write_fps(OtrlUserState us, const char *file)
{
    gcry_error_t e;
    add_fp(us, "zoe@example.org", "alice@example.com", "prpl-jabber", 0x10, "verified");
    add_fp(us, "bob@example.org", "alice@example.com", "prpl-jabber", 0x20, NULL);
    add_fp(us, "bob@example.org", "alice@example.com", "prpl-jabber", 0x30, "smp");
    add_fp(us, "bob@example.org", "alice@example.com", "prpl-jabber", 0x40, "");
    add_fp(us, "bob@example.org", "alice@example.com", "irc", 0x50, "checked by phone");
    add_fp(us, "Björn Ærø", "alice@example.com", "prpl-jabber", 0xf0, "vérifié");
    add_fp(us, "carol", "aaron", "prpl-icq", 0x00, "smp");
    e = otrl_privkey_write_fingerprints(us, file);
    return e ? fail("otrl_privkey_write_fingerprints", e) : 0;
}

static int read_fps(OtrlUserState us, const char *file)
{
    ConnContext *c;
    gcry_error_t e = otrl_privkey_read_fingerprints(us, file, NULL, NULL);
    if (e) return fail("otrl_privkey_read_fingerprints", e);
    for (c = us->context_root; c; c = c->next) {
        Fingerprint *f;
        printf("context '%s' '%s' '%s' inst=%u\n", c->username, c->accountname, c->protocol,
               c->their_instance);
        for (f = c->fingerprint_root.next; f; f = f->next) {
            char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
            otrl_privkey_hash_to_human(human, f->fingerprint);
            printf("  %s trust=%s%s%s\n", human, f->trust ? "'" : "", f->trust ? f->trust : "NULL",
                   f->trust ? "'" : "");
        }
    }
    return 0;
}

static int list_instags(OtrlUserState us, const char *file)
{
    OtrlInsTag *t;
    gcry_error_t e = otrl_instag_read(us, file);
    if (e) return fail("otrl_instag_read", e);
    for (t = us->instag_root; t; t = t->next) {
        OtrlInsTag *found = otrl_instag_find(us, t->accountname, t->protocol);
        printf("instag '%s' '%s' %08x found=%d\n", t->accountname, t->protocol, t->instag,
               found && found->instag == t->instag);
    }
    return 0;
}

int main(int argc, char **argv)
{
    OtrlUserState us;
    int rc = 2;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!gcry_check_version(NULL)) return 2;
    OTRL_INIT;
    us = otrl_userstate_create();
    if (!strcmp(cmd, "genkeys") && argc >= 5) {
        rc = gen_keys(us, argv[2], argc - 3, argv + 3);
    } else if (!strcmp(cmd, "addkey") && argc == 5) {
        gcry_error_t e = otrl_privkey_read(us, argv[2]);
        rc = e ? fail("otrl_privkey_read", e) : gen_keys(us, argv[2], 2, argv + 3);
    } else if (!strcmp(cmd, "keys") && argc == 3) {
        rc = list_keys(us, argv[2]);
    } else if (!strcmp(cmd, "sign") && argc == 6) {
        rc = sign(us, argv + 2);
    } else if (!strcmp(cmd, "verify") && argc == 6) {
        rc = verify(us, argv + 2);
    } else if (!strcmp(cmd, "writefp") && argc == 3) {
        rc = write_fps(us, argv[2]);
    } else if (!strcmp(cmd, "readfp") && argc == 3) {
        rc = read_fps(us, argv[2]);
    } else if (!strcmp(cmd, "rewritefp") && argc == 4) {
        gcry_error_t e = otrl_privkey_read_fingerprints(us, argv[2], NULL, NULL);
        if (!e) e = otrl_privkey_write_fingerprints(us, argv[3]);
        rc = e ? fail("rewrite fingerprints", e) : 0;
    } else if (!strcmp(cmd, "geninstag") && argc >= 5) {
        int i;
        rc = 0;
        for (i = 2 + 1; i + 1 < argc && rc == 0; i += 2) {
            gcry_error_t e = otrl_instag_generate(us, argv[2], argv[i], argv[i + 1]);
            if (e) rc = fail("otrl_instag_generate", e);
        }
    } else if (!strcmp(cmd, "instags") && argc == 3) {
        rc = list_instags(us, argv[2]);
    } else if (!strcmp(cmd, "rewriteinstag") && argc == 4) {
        gcry_error_t e = otrl_instag_read(us, argv[2]);
        if (!e) e = otrl_instag_write(us, argv[3]);
        rc = e ? fail("rewrite instance tags", e) : 0;
    } else {
        fprintf(stderr, "usage: see the comment at the top of files-helper.c\n");
    }
    otrl_userstate_free(us);
    fflush(stdout);
    return rc;
}
