/* libotr-rs: <libotr/serial.h> of libotr 4.1.1. The declarations come from otrabi.h. */
#ifndef __SERIAL_H__
#define __SERIAL_H__

#include "otrabi.h"

/* 4.1.1's serial.h holds libotr's private wire-format macros, which work on
   libgcrypt numbers; libotr-rs serialises in Rust and provides none of them. */

#endif
