/* libotr-rs: <libotr/proto.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __PROTO_H__
#define __PROTO_H__

#include "otrabi.h"

#include "version.h"

/* The whitespace tag: a base, then one 8-character tag per offered version. */
#define OTRL_MESSAGE_TAG_BASE " \t  \t\t\t\t \t \t \t  "
#define OTRL_MESSAGE_TAG_V1 " \t \t  \t "
#define OTRL_MESSAGE_TAG_V2 "  \t\t  \t "
#define OTRL_MESSAGE_TAG_V3 "  \t\t  \t\t"

/* Initialise the library for the API version this program was built
   against; exits if the library refuses it. */
#define OTRL_INIT do { \
	if (otrl_init(OTRL_VERSION_MAJOR, OTRL_VERSION_MINOR, \
		OTRL_VERSION_SUB)) { \
	    exit(1); \
	} \
    } while(0)

#endif
