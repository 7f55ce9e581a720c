/* libotr-rs: <libotr/auth.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __AUTH_H__
#define __AUTH_H__

#include "otrabi.h"

#endif
