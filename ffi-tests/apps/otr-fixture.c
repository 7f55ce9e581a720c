/*
 * Writes the OTR files an application reads at start-up, with whichever
 * libotr this is linked against, and prints what an application reading
 * them back must find:
 *
 *   otr-fixture DIR ACCOUNT PROTOCOL
 *
 * creates DIR/otr.private_key (a fresh DSA key) and DIR/otr.instance_tags
 * (a fresh instance tag) for ACCOUNT/PROTOCOL, then prints
 *
 *   privkey <fingerprint in libotr's human form>
 *   instag <tag as 8 hex digits>
 *
 * The file names are pidgin-otr's (otr.private_key, otr.instance_tags).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libotr/proto.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/userstate.h>

int main(int argc, char **argv)
{
    char keyfile[4096], tagfile[4096], human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    OtrlUserState us;
    OtrlInsTag *tag;
    gcry_error_t err;

    if (argc != 4) {
        fprintf(stderr, "usage: %s DIR ACCOUNT PROTOCOL\n", argv[0]);
        return 2;
    }
    OTRL_INIT;
    snprintf(keyfile, sizeof keyfile, "%s/otr.private_key", argv[1]);
    snprintf(tagfile, sizeof tagfile, "%s/otr.instance_tags", argv[1]);

    us = otrl_userstate_create();
    err = otrl_privkey_generate(us, keyfile, argv[2], argv[3]);
    if (err) {
        fprintf(stderr, "otr-fixture: generating %s: %s\n", keyfile, gcry_strerror(err));
        return 1;
    }
    err = otrl_instag_generate(us, tagfile, argv[2], argv[3]);
    if (err) {
        fprintf(stderr, "otr-fixture: generating %s: %s\n", tagfile, gcry_strerror(err));
        return 1;
    }
    tag = otrl_instag_find(us, argv[2], argv[3]);
    if (!otrl_privkey_fingerprint(us, human, argv[2], argv[3]) || !tag) {
        fprintf(stderr, "otr-fixture: the generated key or tag is not in the user state\n");
        return 1;
    }
    printf("privkey %s\ninstag %08x\n", human, tag->instag);
    otrl_userstate_free(us);
    return 0;
}
