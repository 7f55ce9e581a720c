/* libotr-rs: <libotr/privkey-t.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __PRIVKEY_T_H__
#define __PRIVKEY_T_H__

#include "otrabi.h"

#endif
