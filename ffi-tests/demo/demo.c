/* libotr-rs demo: two users, alice and bob, set up as an OTR application
   would: private keys, instance tags, fingerprints and trust, all through the
   libotr 4.1.1 API, built with `pkg-config --cflags --libs libotr`.
   (The conversation itself, AKE and encrypted messages, joins this demo with
   the protocol work.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/context.h>
#include <libotr/userstate.h>

struct user {
    const char *name;
    OtrlUserState us;
    char keyfile[256], tagfile[256], fpfile[256];
};

static void setup(struct user *u, const char *dir)
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    gcry_error_t err;

    u->us = otrl_userstate_create();
    snprintf(u->keyfile, sizeof u->keyfile, "%s/%s.private_key", dir, u->name);
    snprintf(u->tagfile, sizeof u->tagfile, "%s/%s.instance_tags", dir, u->name);
    snprintf(u->fpfile, sizeof u->fpfile, "%s/%s.fingerprints", dir, u->name);

    err = otrl_privkey_read(u->us, u->keyfile);
    if (err) {
        printf("%s: no key yet (%s), generating a DSA-1024 key...\n", u->name, gcry_strerror(err));
        err = otrl_privkey_generate(u->us, u->keyfile, u->name, "demo");
        if (err) { fprintf(stderr, "keygen failed: %u\n", err); exit(1); }
    }
    if (otrl_instag_read(u->us, u->tagfile) || !otrl_instag_find(u->us, u->name, "demo"))
        otrl_instag_generate(u->us, u->tagfile, u->name, "demo");
    otrl_privkey_read_fingerprints(u->us, u->fpfile, NULL, NULL);
    printf("%s: fingerprint %s, instance tag %08x\n", u->name,
           otrl_privkey_fingerprint(u->us, human, u->name, "demo"),
           otrl_instag_find(u->us, u->name, "demo")->instag);
}

/* Records the peer's fingerprint as an OTR client does after the AKE, and
   marks it trusted as after a successful SMP or a manual check. */
static void learn(struct user *me, struct user *peer)
{
    unsigned char raw[20];
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    ConnContext *ctx;
    Fingerprint *fp;
    int added;

    otrl_privkey_fingerprint_raw(peer->us, raw, peer->name, "demo");
    ctx = otrl_context_find(me->us, peer->name, me->name, "demo", OTRL_INSTAG_MASTER, 1, NULL, NULL, NULL);
    fp = otrl_context_find_fingerprint(ctx, raw, 1, &added);
    otrl_context_set_trust(fp, "verified");
    otrl_privkey_hash_to_human(human, fp->fingerprint);
    printf("%s: %s fingerprint of %s: %s (trusted: %s)\n", me->name, added ? "new" : "known",
           peer->name, human, otrl_context_is_fingerprint_trusted(fp) ? "yes" : "no");
    otrl_privkey_write_fingerprints(me->us, me->fpfile);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    struct user alice = { "alice", NULL, "", "", "" }, bob = { "bob", NULL, "", "", "" };

    OTRL_INIT;
    printf("libotr API %s\n", otrl_version());
    setup(&alice, dir);
    setup(&bob, dir);
    learn(&alice, &bob);
    learn(&bob, &alice);
    otrl_userstate_free(alice.us);
    otrl_userstate_free(bob.us);
    printf("files written to %s\n", dir);
    return 0;
}
