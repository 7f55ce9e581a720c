/* libotr-rs: <libotr/version.h>. libotr-rs implements the API of libotr 4.1.1.
   This header stands alone so that build-time checks can include it by itself. */
#ifndef __VERSION_H__
#define __VERSION_H__

#define OTRL_VERSION "4.1.1"

#define OTRL_VERSION_MAJOR 4
#define OTRL_VERSION_MINOR 1
#define OTRL_VERSION_SUB 1

#endif
