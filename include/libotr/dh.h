/* libotr-rs: <libotr/dh.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __DH_H__
#define __DH_H__

#include "otrabi.h"

#endif
