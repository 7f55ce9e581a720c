/* libotr-rs: <libotr/context.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __CONTEXT_H__
#define __CONTEXT_H__

#include "otrabi.h"

#endif
