/* libotr-rs: <libotr/message.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __MESSAGE_H__
#define __MESSAGE_H__

#include "otrabi.h"

#define OTR_ERROR_PREFIX "?OTR Error: "

#endif
