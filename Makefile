# libotr-rs: build, install, demo, tests and benchmarks.
#
#   make                      build the release library
#   make install PREFIX=DIR   install into DIR (DESTDIR= is honoured)
#   make demo                 install into ./stage and run the C demo against it
#   make check                every test: Rust, ABI, C harnesses on both libraries
#   make bench                benchmarks side by side with Debian's libotr
#   make headers              regenerate include/libotr/otrabi.h with cbindgen
#   make miri                 the list tests under Miri (needs a nightly toolchain with miri)

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
STAGE := $(CURDIR)/stage
TARGET_DIR := $(CURDIR)/target
SO_VERSION := 5.1.1
HEADERS := $(wildcard include/libotr/*.h)

.PHONY: all build headers check-headers install demo check bench miri clean

all: build

build:
	$(CARGO) build --release --locked

headers:
	LIBOTR_RS_HEADER_OUT=$(CURDIR)/include/libotr/otrabi.h $(CARGO) build --locked
	@touch build.rs

# Fails when the committed header differs from a fresh cbindgen run.
check-headers:
	LIBOTR_RS_HEADER_OUT=$(TARGET_DIR)/otrabi.check.h $(CARGO) build --locked
	@touch build.rs
	diff -u include/libotr/otrabi.h $(TARGET_DIR)/otrabi.check.h

install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/libotr \
		$(DESTDIR)$(PREFIX)/share/aclocal
	install -m 0755 $(TARGET_DIR)/release/libotr.so $(DESTDIR)$(PREFIX)/lib/libotr.so.$(SO_VERSION)
	ln -sf libotr.so.$(SO_VERSION) $(DESTDIR)$(PREFIX)/lib/libotr.so.5
	ln -sf libotr.so.5 $(DESTDIR)$(PREFIX)/lib/libotr.so
	install -m 0644 $(TARGET_DIR)/release/libotr.a $(DESTDIR)$(PREFIX)/lib/libotr.a
	install -m 0644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/libotr/
	sed 's|@PREFIX@|$(PREFIX)|' pkgconfig/libotr.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libotr.pc
	install -m 0644 pkgconfig/libotr.m4 $(DESTDIR)$(PREFIX)/share/aclocal/libotr.m4

demo:
	bash ffi-tests/ensure-packages.sh
	$(MAKE) install PREFIX=$(STAGE)
	$(MAKE) -C ffi-tests demo STAGE=$(STAGE)

check:
	bash ffi-tests/run-all.sh

bench:
	bash ffi-tests/ensure-packages.sh
	$(MAKE) install PREFIX=$(STAGE)
	$(MAKE) -C ffi-tests bench STAGE=$(STAGE)

# libotr's linked lists are raw-pointer code: Miri checks it for aliasing
# errors under both borrow models (not part of `make check`: it needs nightly).
miri:
	MIRIFLAGS=-Zmiri-disable-isolation $(CARGO) +nightly miri test --test lists_miri
	MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-tree-borrows" $(CARGO) +nightly miri test --test lists_miri

clean:
	$(CARGO) clean
	rm -rf $(STAGE) ffi-tests/out
