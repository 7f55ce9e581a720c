/* libotr-rs: <libotr/b64.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __B64_H__
#define __B64_H__

#include "otrabi.h"

/* An upper bound on the bytes decoded from encoded_len base64 characters. */
#define OTRL_B64_MAX_DECODED_SIZE(encoded_len) \
    (((encoded_len + OTRL_B64_ENCODED_LEN - 1) / OTRL_B64_ENCODED_LEN) \
	* OTRL_B64_DECODED_LEN)

#endif
