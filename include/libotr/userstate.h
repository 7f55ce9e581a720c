/* libotr-rs: <libotr/userstate.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __USERSTATE_H__
#define __USERSTATE_H__

#include "otrabi.h"

#endif
