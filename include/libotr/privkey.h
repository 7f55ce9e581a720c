/* libotr-rs: <libotr/privkey.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __PRIVKEY_H__
#define __PRIVKEY_H__

#include "otrabi.h"

#endif
