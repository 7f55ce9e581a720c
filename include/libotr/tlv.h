/* libotr-rs: <libotr/tlv.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __TLV_H__
#define __TLV_H__

#include "otrabi.h"

#endif
