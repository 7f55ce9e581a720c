dnl AM_PATH_LIBOTR([MINIMUM-VERSION [, ACTION-IF-FOUND [, ACTION-IF-NOT-FOUND]]])
dnl
dnl libotr-rs's version of libotr's autoconf macro, with the same interface:
dnl finds the libotr 4.1.1 API (headers <libotr/...> and -lotr) and sets
dnl LIBOTR_CFLAGS and LIBOTR_LIBS.
dnl
dnl   --with-libotr-prefix=DIR      the directory holding libotr.so (-L DIR)
dnl   --with-libotr-inc-prefix=DIR  the directory holding libotr/*.h (-I DIR)
dnl
dnl MINIMUM-VERSION is MAJOR.MINOR.SUB (default 4.0.0). As with libotr's
dnl macro, the major version must be equal (libotr 4 is not libotr 3) and
dnl the rest at least as new. When libotr is missing or too old and no
dnl ACTION-IF-NOT-FOUND is given, configure stops with an error. A working
dnl library also defines HAVE_LIBOTR. CFLAGS keeps LIBOTR_CFLAGS afterwards,
dnl as libotr's macro leaves it; LIBS and LDFLAGS are restored.
dnl
AC_DEFUN([AM_PATH_LIBOTR],
[dnl
AC_ARG_WITH([libotr-prefix],
  [AS_HELP_STRING([--with-libotr-prefix=DIR], [directory of the libotr library (optional)])],
  [libotr_libdir="$withval"], [libotr_libdir=""])
AC_ARG_WITH([libotr-inc-prefix],
  [AS_HELP_STRING([--with-libotr-inc-prefix=DIR], [directory of the libotr headers (optional)])],
  [libotr_incdir="$withval"], [libotr_incdir=""])

otr_save_LDFLAGS="$LDFLAGS"
otr_save_LIBS="$LIBS"
otr_found=yes

AC_MSG_CHECKING([for libotr CFLAGS])
if test -n "$libotr_incdir"; then
  LIBOTR_CFLAGS="$LIBOTR_CFLAGS -I$libotr_incdir"
  CFLAGS="$CFLAGS $LIBOTR_CFLAGS"
fi
AC_MSG_RESULT([$LIBOTR_CFLAGS])

AC_MSG_CHECKING([for libotr LIBS])
if test -n "$libotr_libdir"; then
  LIBOTR_LIBS="$LIBOTR_LIBS -L$libotr_libdir"
  LDFLAGS="$LDFLAGS -L$libotr_libdir"
fi
LIBOTR_LIBS="$LIBOTR_LIBS -lotr"
AC_MSG_RESULT([$LIBOTR_LIBS])

otr_wanted=ifelse([$1], , [4.0.0], [$1])
otr_want_major=`echo "$otr_wanted" | sed 's/^\([[0-9]]*\).*/\1/'`
otr_want_minor=`echo "$otr_wanted" | sed 's/^[[0-9]]*\.\([[0-9]]*\).*/\1/'`
otr_want_sub=`echo "$otr_wanted" | sed 's/^[[0-9]]*\.[[0-9]]*\.\([[0-9]]*\).*/\1/'`

AC_MSG_CHECKING([for libotr headers version $otr_want_major.x >= $otr_wanted])
AC_LANG_PUSH([C])
AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
#include <libotr/version.h>
]], [[
#if OTRL_VERSION_MAJOR != $otr_want_major
#error libotr has another major version
#elif (OTRL_VERSION_MINOR * 256 + OTRL_VERSION_SUB) < ($otr_want_minor * 256 + $otr_want_sub)
#error libotr is too old
#endif
]])],
  [AC_MSG_RESULT([found.])],
  [AC_MSG_RESULT([not present.])
   ifelse([$3], , [AC_MSG_ERROR([Sufficiently new version of libotr not found.])])
   otr_found=no])
AC_LANG_POP([C])

dnl The headers alone are not enough: the library must link. Like libotr's
dnl macro, this runs even after a failed version check (so HAVE_LIBOTR may
dnl be defined while ACTION-IF-NOT-FOUND runs).
AC_CHECK_LIB([otr], [otrl_message_receiving], [],
  [ifelse([$3], , [AC_MSG_ERROR([No linkable libotr was found.])])
   otr_found=no],
  [$LIBGCRYPT_LIBS])

LDFLAGS="$otr_save_LDFLAGS"
LIBS="$otr_save_LIBS"

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
