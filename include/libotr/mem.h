/* libotr-rs: <libotr/mem.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __MEM_H__
#define __MEM_H__

#include "otrabi.h"

#endif
