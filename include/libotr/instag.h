/* libotr-rs: <libotr/instag.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __INSTAG_H__
#define __INSTAG_H__

#include "otrabi.h"

#endif
