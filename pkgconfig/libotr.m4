dnl AM_PATH_LIBOTR([MINIMUM-VERSION [, ACTION-IF-FOUND [, ACTION-IF-NOT-FOUND]]])
dnl
dnl Finds libotr (here: libotr-rs, which provides the libotr 4.1.1 API) and
dnl sets LIBOTR_CFLAGS and LIBOTR_LIBS. MINIMUM-VERSION is MAJOR.MINOR.SUB.
dnl --with-libotr-prefix=DIR looks in DIR/include and DIR/lib first.
dnl
AC_DEFUN([AM_PATH_LIBOTR],
[dnl
AC_ARG_WITH([libotr-prefix],
  [AS_HELP_STRING([--with-libotr-prefix=DIR], [where libotr is installed (optional)])],
  [libotr_prefix="$withval"], [libotr_prefix=""])

otr_wanted=ifelse([$1], , [0.0.0], [$1])
otr_want_major=`echo "$otr_wanted" | sed 's/^\([[0-9]]*\).*/\1/'`
otr_want_minor=`echo "$otr_wanted" | sed 's/^[[0-9]]*\.\([[0-9]]*\).*/\1/'`
otr_want_sub=`echo "$otr_wanted" | sed 's/^[[0-9]]*\.[[0-9]]*\.\([[0-9]]*\).*/\1/'`

if test -n "$libotr_prefix"; then
  LIBOTR_CFLAGS="-I$libotr_prefix/include"
  LIBOTR_LIBS="-L$libotr_prefix/lib -lotr"
else
  LIBOTR_CFLAGS=""
  LIBOTR_LIBS="-lotr"
fi

AC_MSG_CHECKING([for libotr - version >= $otr_wanted])
otr_save_CFLAGS="$CFLAGS"
otr_save_LIBS="$LIBS"
CFLAGS="$CFLAGS $LIBOTR_CFLAGS"
LIBS="$LIBOTR_LIBS $LIBS"
AC_LINK_IFELSE([AC_LANG_PROGRAM([[
#include <stdlib.h>
#include <libotr/version.h>
#include <libotr/proto.h>
]], [[
#if (OTRL_VERSION_MAJOR * 65536 + OTRL_VERSION_MINOR * 256 + OTRL_VERSION_SUB) < ($otr_want_major * 65536 + $otr_want_minor * 256 + $otr_want_sub)
#error libotr is too old
#endif
return otrl_version() == NULL;
]])], [otr_found=yes], [otr_found=no])
CFLAGS="$otr_save_CFLAGS"
LIBS="$otr_save_LIBS"
AC_MSG_RESULT([$otr_found])

if test "x$otr_found" = xyes; then
  ifelse([$2], , :, [$2])
else
  LIBOTR_CFLAGS=""
  LIBOTR_LIBS=""
  ifelse([$3], , :, [$3])
fi
AC_SUBST([LIBOTR_CFLAGS])
AC_SUBST([LIBOTR_LIBS])
])
