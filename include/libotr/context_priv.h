/* libotr-rs: <libotr/context_priv.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __CONTEXT_PRIV_H__
#define __CONTEXT_PRIV_H__

#include "otrabi.h"

#endif
