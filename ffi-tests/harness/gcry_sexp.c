/* The libgcrypt coupling applications rely on (Psi's OTR plugin):
   - otrl_init initialises the process's libgcrypt;
   - OtrlPrivKey->privkey is a genuine gcry_sexp_t of that libgcrypt, which
     the application prints with gcry_sexp_sprint, saves in its own key file
     and reads back with otrl_privkey_read_FILEp.
   Keys are random, so only structure and agreement are printed. */
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/userstate.h>
#include "common.h"

/* gcry_sexp_sprint into a malloc'd string. */
static char *sprint(gcry_sexp_t s, int mode)
{
    size_t n = gcry_sexp_sprint(s, mode, NULL, 0);
    char *buf = malloc(n + 1);
    if (!buf) return NULL;
    n = gcry_sexp_sprint(s, mode, buf, n);
    buf[n] = '\0';
    return buf;
}

/* Number of bits of DSA parameter `name` inside the key. */
static unsigned int param_bits(gcry_sexp_t key, const char *name)
{
    gcry_sexp_t l = gcry_sexp_find_token(key, name, 0);
    gcry_mpi_t m = l ? gcry_sexp_nth_mpi(l, 1, GCRYMPI_FMT_USG) : NULL;
    unsigned int bits = m ? gcry_mpi_get_nbits(m) : 0;
    gcry_mpi_release(m);
    gcry_sexp_release(l);
    return bits;
}

/* Writes the keys of `us` the way Psi's plugin does: its own file, each
   key's expression printed by libgcrypt. */
static int write_like_psi(OtrlUserState us, const char *path)
{
    FILE *f = fopen(path, "w");
    OtrlPrivKey *k;
    if (!f) return -1;
    fputs("(privkeys\n", f);
    for (k = us->privkey_root; k; k = k->next) {
        char *text = sprint(k->privkey, GCRYSEXP_FMT_ADVANCED);
        if (!text) { fclose(f); return -1; }
        fprintf(f, " (account\n(name \"%s\")\n(protocol \"%s\")\n%s )\n",
                k->accountname, k->protocol, text);
        free(text);
    }
    fputs(")\n", f);
    return fclose(f);
}

int main(int argc, char **argv)
{
    OtrlUserState us, back;
    OtrlPrivKey *k, *kb;
    char fp1[OTRL_PRIVKEY_FPRINT_HUMAN_LEN], fp2[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    char *a, *b;
    FILE *f;
    const char *names[] = { "p", "q", "g", "y", "x" };
    size_t i;
    (void)argc; (void)argv;

    SAY("libgcrypt initialised before otrl_init: %s",
        gcry_control(GCRYCTL_ANY_INITIALIZATION_P) ? "yes" : "no");
    CHECK(otrl_init(OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR, OTRL_VERSION_SUB) == 0);
    SAY("libgcrypt initialised after otrl_init: %s",
        gcry_control(GCRYCTL_ANY_INITIALIZATION_P) ? "yes" : "no");

    us = otrl_userstate_create();
    CHECK(otrl_privkey_generate(us, "keys.priv", "alice@example.org", "prpl-jabber") == 0);
    CHECK(otrl_privkey_generate(us, "keys.priv", "bob", "irc") == 0);

    for (k = us->privkey_root; k; k = k->next) {
        CHECK(k->privkey != NULL);
        if (!k->privkey) continue;
        {
            gcry_sexp_t dsa = gcry_sexp_find_token(k->privkey, "dsa", 0);
            const char *head;
            size_t len;
            head = gcry_sexp_nth_data(k->privkey, 0, &len);
            SAY("key %s/%s: privkey is a gcry_sexp_t; first token %.*s; dsa list of %d",
                k->accountname, k->protocol, (int)len, head ? head : "", gcry_sexp_length(dsa));
            gcry_sexp_release(dsa);
        }
        for (i = 0; i < sizeof names / sizeof *names; i++)
            SAY("  %s: %s", names[i],
                param_bits(k->privkey, names[i]) > (i == 1 || i == 4 ? 150u : 1000u)
                ? "present, full size" : "missing or short");
    }

    /* Psi saves the keys through libgcrypt, then reads its file back. */
    CHECK(write_like_psi(us, "psi.keys") == 0);
    back = otrl_userstate_create();
    f = fopen("psi.keys", "r");
    CHECK(f != NULL);
    SAY("read back Psi's file: %d", f ? (int)otrl_privkey_read_FILEp(back, f) : -1);
    if (f) fclose(f);

    for (k = us->privkey_root; k; k = k->next) {
        kb = otrl_privkey_find(back, k->accountname, k->protocol);
        CHECK(kb != NULL);
        if (!kb) continue;
        CHECK(otrl_privkey_fingerprint(us, fp1, k->accountname, k->protocol) != NULL);
        CHECK(otrl_privkey_fingerprint(back, fp2, k->accountname, k->protocol) != NULL);
        CHECK(kb->privkey != NULL);
        a = sprint(k->privkey, GCRYSEXP_FMT_ADVANCED);
        b = kb->privkey ? sprint(kb->privkey, GCRYSEXP_FMT_ADVANCED) : NULL;
        SAY("key %s: same fingerprint after the round trip: %s; same expression: %s",
            k->accountname, strcmp(fp1, fp2) == 0 ? "yes" : "no",
            a && b && strcmp(a, b) == 0 ? "yes" : "no");
        free(a);
        free(b);
    }

    /* Keys read from libotr's own file get one too. */
    otrl_userstate_free(back);
    back = otrl_userstate_create();
    SAY("read libotr's file: %d", (int)otrl_privkey_read(back, "keys.priv"));
    for (kb = back->privkey_root; kb; kb = kb->next)
        SAY("key %s: privkey set: %s; x %s", kb->accountname, kb->privkey ? "yes" : "no",
            kb->privkey && param_bits(kb->privkey, "x") > 150 ? "present" : "missing");

    /* Forgetting a key releases its expression (valgrind checks). */
    otrl_privkey_forget(back->privkey_root);
    otrl_userstate_free(back);
    otrl_userstate_free(us);
    return harness_exit();
}
