# bookd - build, test and run.
#
#   make            build/bookd, build/bookctl, build/bookd-replay,
#                   build/bookd-bench, build/libbookd.a, build/libbookd.so
#   make run        install missing packages, build, start bookd on ./var
#   make test       install missing packages, build normally and with
#                   ASan+UBSan, run every test (Check, black-box, Python)
#   make soak       the crash storm for longer (SOAK_CYCLES, default 30)
#   make fuzz       hostile requests for longer (FUZZ_FRAMES, default 500000)
#   make fuzz-parsers  libFuzzer over the parsers (FUZZ_SECONDS, default 120)
#   make bench      the standard benchmark set (bench/RESULTS.md)
#   make bench-peers  bookd against Redis and PostgreSQL, side by side
#   make lint       clang-format check and cppcheck
#   make format     clang-format in place
#
# O selects the output directory; SAN=1 builds the sanitizer variant
# (make test uses O=build/asan SAN=1).  Sources are found by directory, so a
# new module is a new .c file and nothing else.

.DEFAULT_GOAL := all
O ?= build
SAN ?=
CC ?= cc
PYTHON ?= /usr/bin/python3

PKGS := msgpack liburing libbsd-overlay libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g -fPIC -Wall -Wextra -Werror \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers \
	-Iproto -Iengine -Iclients/c -Itests/lib -Itools/common $(PKG_CFLAGS)
ifeq ($(SAN),1)
OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
LDSAN := -fsanitize=address,undefined
else
OPT := -O2
LDSAN :=
endif
CFLAGS := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := $(LDSAN) $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

PROTO_SRC := $(wildcard proto/*.c)
ENGINE_SRC := $(filter-out engine/main.c,$(wildcard engine/*.c))
CLIENT_SRC := $(wildcard clients/c/*.c)
BOOKCTL_SRC := $(wildcard tools/bookctl/*.c tools/common/*.c)
REPLAY_SRC := $(wildcard tools/replay/*.c tools/common/*.c)
BENCH_SRC := $(wildcard bench/*.c)
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TEST_SRC := $(wildcard tests/unit/test_*.c tests/blackbox/test_*.c)

PROTO_OBJ := $(call obj,$(PROTO_SRC))
ENGINE_OBJ := $(call obj,$(ENGINE_SRC))
CLIENT_OBJ := $(call obj,$(CLIENT_SRC))
TESTLIB_OBJ := $(call obj,$(TESTLIB_SRC))
TEST_BINS := $(patsubst %.c,$(O)/%,$(TEST_SRC))

BINS := $(O)/bookd $(O)/libbookd.a $(O)/libbookd.so
ifneq ($(BOOKCTL_SRC),)
BINS += $(O)/bookctl
endif
ifneq ($(REPLAY_SRC),)
BINS += $(O)/bookd-replay
endif
ifneq ($(BENCH_SRC),)
BINS += $(O)/bookd-bench
endif

# bookd-notify: webhooks and emails from the events feed (tools/notify),
# linked against libbookd and libcurl.
NOTIFY_SRC := $(wildcard tools/notify/*.c)
ifneq ($(NOTIFY_SRC),)
BINS += $(O)/bookd-notify
endif
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)

# bookd-http, the web gateway (tools/http): libmicrohttpd, jansson and
# OpenSSL from Debian, over libbookd.a.
HTTP_SRC := $(wildcard tools/http/*.c)
HTTP_PKGS := libmicrohttpd jansson
HTTP_CFLAGS := $(shell pkg-config --cflags $(HTTP_PKGS) 2>/dev/null)
HTTP_LIBS := $(shell pkg-config --libs $(HTTP_PKGS) 2>/dev/null)
ifneq ($(HTTP_SRC),)
BINS += $(O)/bookd-http
endif
$(call obj,$(HTTP_SRC)): CFLAGS += $(HTTP_CFLAGS) -Itools/http
$(O)/bookd-http: $(call obj,$(HTTP_SRC)) $(O)/libbookd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(HTTP_LIBS) $(LDLIBS)

.SECONDARY:
.PHONY: all deps run test test-bins soak fuzz fuzz-parsers bench bench-peers lint format clean \
	install uninstall
all: $(BINS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(O)/bookd: $(O)/obj/engine/main.o $(ENGINE_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bookctl: $(call obj,$(BOOKCTL_SRC)) $(O)/libbookd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bookd-replay: $(call obj,$(REPLAY_SRC)) $(ENGINE_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bookd-bench: $(call obj,$(BENCH_SRC)) $(O)/libbookd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bookd-notify: $(call obj,$(NOTIFY_SRC) $(wildcard tools/common/*.c)) $(O)/libbookd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(LDLIBS)

# Every test links the whole engine (minus main), the client library and
# the test helpers, so a unit test can reach any module.
$(O)/tests/%: $(O)/obj/tests/%.o $(TESTLIB_OBJ) $(ENGINE_OBJ) $(CLIENT_OBJ) $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

test-bins: $(BINS) $(TEST_BINS)

# The iCalendar writer (tools/common/ical.c) in its unit test and in the
# gateway's calendar feeds, which map bookings with tools/common/icalfeed.c.
$(O)/tests/unit/test_ical: $(O)/obj/tools/common/ical.o $(O)/obj/tools/common/text.o
$(O)/bookd-http: $(O)/obj/tools/common/ical.o $(O)/obj/tools/common/text.o \
	$(O)/obj/tools/common/icalfeed.o

# The test build of the engine: bookd compiled with BOOKD_TEST_HOOKS, which
# adds the fault-injection flags of the tests (--fail-sync-at,
# --test-sync-delay-ms, --test-wal-max-payload).  Only tests run it
# ($BOOKD_TEST_BIN); the bookd that is built and installed has none of them.
TEST_ENGINE_OBJ := $(patsubst %.c,$(O)/tobj/%.o,engine/main.c $(ENGINE_SRC))

$(O)/tobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DBOOKD_TEST_HOOKS -MMD -MP -c $< -o $@

$(O)/bookd-test: $(TEST_ENGINE_OBJ) $(PROTO_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test-bins: $(O)/bookd-test

# tests/abuse: attacks on a real engine, one Check binary each (connection
# level and caller level).
ABUSE_BINS := $(patsubst %.c,$(O)/%,$(wildcard tests/abuse/test_*.c))
test-bins: $(ABUSE_BINS)

-include $(shell find $(O)/tobj -name '*.d' 2>/dev/null)

# ---- libbookd, installed as a system library --------------------------------
# The library is the client (clients/c) and the protocol pieces it uses;
# token.c (libcrypto), schedule.c and ops.c stay with the engine and tools.
# Its objects are compiled with hidden visibility and without the libbsd
# overlay, the version script exports bookd_* only, and unused sections are
# dropped from the shared object.  proto/wbuf.c (abort on out of memory)
# stays out too.  libbookd.so.$(LIB_VERSION) carries the SONAME libbookd.so.$(LIB_MAJOR).
#
#   make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]
#   make uninstall [PREFIX=...] [DESTDIR=...]
LIB_MAJOR := 1
LIB_VERSION := $(LIB_MAJOR).0.0
LIB_PROTO_SRC := proto/wire.c proto/errors.c proto/tz.c proto/quanta.c
LIB_OBJ := $(CLIENT_OBJ) $(call obj,$(LIB_PROTO_SRC))
LIB_LIBS := $(shell pkg-config --libs msgpack 2>/dev/null)
LIB_HEADERS := clients/c/bookd.h clients/c/bookd_reader.h proto/bookd_errors.h
LIB_MAP := clients/c/libbookd.map
LIB_NOUNDEF := $(if $(filter 1,$(SAN)),,-Wl,--no-undefined)
BSD_CFLAGS := $(shell pkg-config --cflags libbsd-overlay 2>/dev/null)
$(LIB_OBJ): CFLAGS := $(filter-out $(BSD_CFLAGS),$(CFLAGS)) \
	-fvisibility=hidden -ffunction-sections -fdata-sections

# bookctl mints tokens (libcrypto), which the library leaves out; the
# bench parses its numbers as the tools do, builds raw frames (wbuf.c) and
# removes its engines' pages files with them (pagesdir.c).
$(O)/bookctl: $(O)/obj/proto/token.o $(O)/obj/proto/num.o
$(O)/bookd-bench: $(O)/obj/proto/num.o $(O)/obj/proto/wbuf.o \
	$(O)/obj/engine/pagesdir.o
$(O)/bookd-http: $(O)/obj/proto/num.o

$(O)/libbookd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/libbookd.so.$(LIB_VERSION): $(LIB_OBJ) $(LIB_MAP)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libbookd.so.$(LIB_MAJOR) \
		-Wl,--version-script=$(LIB_MAP) -Wl,--gc-sections $(LIB_NOUNDEF) \
		-o $@ $(LIB_OBJ) $(LIB_LIBS)

$(O)/libbookd.so.$(LIB_MAJOR): $(O)/libbookd.so.$(LIB_VERSION)
	ln -sf $(notdir $<) $@

$(O)/libbookd.so: $(O)/libbookd.so.$(LIB_MAJOR)
	ln -sf $(notdir $<) $@

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL_BINS := bookd bookctl bookd-replay

install: $(addprefix $(O)/,$(INSTALL_BINS)) $(O)/libbookd.a $(O)/libbookd.so
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(addprefix $(O)/,$(INSTALL_BINS)) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIB_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(O)/libbookd.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(O)/libbookd.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libbookd.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/libbookd.so.$(LIB_MAJOR)
	ln -sf libbookd.so.$(LIB_MAJOR) $(DESTDIR)$(LIBDIR)/libbookd.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(LIB_VERSION)|' \
		clients/c/bookd.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/bookd.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_BINS)) \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(LIB_HEADERS))) \
		$(DESTDIR)$(LIBDIR)/libbookd.a $(DESTDIR)$(LIBDIR)/libbookd.so \
		$(DESTDIR)$(LIBDIR)/libbookd.so.$(LIB_MAJOR) \
		$(DESTDIR)$(LIBDIR)/libbookd.so.$(LIB_VERSION) \
		$(DESTDIR)$(PKGCONFIGDIR)/bookd.pc
# ---- end of libbookd ---------------------------------------------------------

# Missing headers or tools mean missing Debian packages: install them when
# root, otherwise say which command to run.
DEB_PKGS := liburing-dev libmsgpack-dev check libbsd-dev libssl-dev \
	pkg-config tzdata python3-msgpack python3-pytest g++ \
	libmicrohttpd-dev libjansson-dev python3-cryptography \
	libcurl4-openssl-dev python3-aiosmtpd python3-icalendar
# The booking page's tests run in a real browser (tests/browser).
DEB_PKGS += chromium chromium-driver python3-selenium
deps:
	@missing=""; \
	for f in /usr/include/liburing.h /usr/include/msgpack.h \
		/usr/include/check.h /usr/include/bsd/string.h \
		/usr/include/openssl/hmac.h /usr/bin/pkg-config /usr/bin/c++ \
		/usr/share/zoneinfo/Europe/Berlin \
		/usr/include/microhttpd.h /usr/include/jansson.h \
		/usr/bin/chromium /usr/bin/chromedriver; do \
		[ -e $$f ] || missing="$$missing $$f"; done; \
	$(PYTHON) -c 'import msgpack, pytest, cryptography' 2>/dev/null || missing="$$missing python3-msgpack/pytest"; \
	$(PYTHON) -c 'import selenium' 2>/dev/null || missing="$$missing python3-selenium"; \
	pkg-config --exists libcurl 2>/dev/null || missing="$$missing libcurl4-openssl-dev"; \
	$(PYTHON) -c 'import aiosmtpd, icalendar' 2>/dev/null || missing="$$missing python3-aiosmtpd/icalendar"; \
	if [ -n "$$missing" ]; then \
		echo "deps: missing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS); \
		else \
			echo "deps: run as root: apt-get install -y $(DEB_PKGS)"; exit 1; \
		fi; \
	fi

run: deps
	@$(MAKE) --no-print-directory all
	./$(O)/bookd --data ./var

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory O=build/asan SAN=1 test-bins
	@tests/run.sh build/asan

soak: deps
	@$(MAKE) --no-print-directory all test-bins
	@BOOKD_SOAK_CYCLES=$${SOAK_CYCLES:-30} tests/run.sh build soak

# bookd, then Redis, then PostgreSQL, one after another; writes the ratio
# tables into bench/RESULTS.md.
bench-peers: deps
	@$(MAKE) --no-print-directory all
	BENCH=./$(O)/bookd-bench bench/peers/run.sh

# Hostile input for longer: FUZZ_FRAMES random and mutated requests against
# the sanitizer build (make test runs a few thousand).
fuzz: deps
	@$(MAKE) --no-print-directory O=build/asan SAN=1 test-bins
	@BOOKD_FUZZ_FRAMES=$${FUZZ_FRAMES:-500000} BOOKD_BIN=$(CURDIR)/build/asan/bookd \
		build/asan/tests/blackbox/test_fuzz

# libFuzzer over the parsers of outside bytes (tests/fuzz), FUZZ_SECONDS.
FUZZ_CC := clang
fuzz-parsers: deps
	@command -v $(FUZZ_CC) >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev
	@mkdir -p build/fuzz/corpus
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-Iproto $(PKG_CFLAGS) tests/fuzz/fuzz_parsers.c proto/wire.c proto/ops.c \
		proto/quanta.c proto/schedule.c proto/holidays.c proto/tz.c proto/errors.c \
		-o build/fuzz/fuzz_parsers $(PKG_LIBS) -lpthread
	build/fuzz/fuzz_parsers -max_total_time=$${FUZZ_SECONDS:-120} build/fuzz/corpus

bench: deps
	@$(MAKE) --no-print-directory all
	./$(O)/bookd-bench standard

lint:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem -Iproto -Iengine -Iclients/c \
		proto engine clients/c tools

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
