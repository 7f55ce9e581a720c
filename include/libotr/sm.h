/* libotr-rs: <libotr/sm.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __SM_H__
#define __SM_H__

#include "otrabi.h"

#define SM_HASH_ALGORITHM GCRY_MD_SHA256

#endif
