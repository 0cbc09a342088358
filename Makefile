# tenantd — build, test and run.
#
#   make               release build of the four programs into $(BUILDDIR)
#   make BUILD=debug   -O0 -g
#   make BUILD=asan    clang, AddressSanitizer + UndefinedBehaviorSanitizer
#   make deps          install the Debian packages listed in deploy/debian-packages.txt
#   make run           deps + build + start tenantd on the demo config in this checkout
#   make test          deps + build + unit tests + fuzz corpus replay + integration tests
#   make check-asan    the unit and integration suites under ASan+UBSan
#   make bench         the benchmark scripts (print figures; not tests)
#   make soak          the bounded soak run (MINUTES=2), by hand
#   make format-check  clang-format --dry-run on every C file
#   make cleanroom     `make run` and `make test` as the first commands on a fresh Debian 12
#                      (debootstrap minbase in a chroot, checkout in /root/tenantd; as root;
#                      see tests/cleanroom.sh). The machine running it needs debootstrap, git,
#                      curl and iproute2: the target installs the missing ones from
#                      deploy/cleanroom-packages.txt. The minbase tarball and the downloaded
#                      .deb files are cached in /var/cache/tenantd-cleanroom (CLEANROOM_CACHE).
#
# Source layout (the file list is the process diagram):
#   common/*.c                 linked into every program (no libuv, no h2o)
#   supervisor/jail_*.c        tenant-jail   (main in jail_main.c)
#   supervisor/ctl_*.c         tenantctl     (main in ctl_main.c)
#   supervisor/*.c (the rest)  tenantd       (main in tenantd_main.c)
#   worker/*.c                 tenant-worker (main in worker_main.c)
#   tests/unit/<prog>_*.c      one cmocka binary each, linked with that program's objects
#                              minus its main (<prog> = common, sup, ctl, jail, worker);
#                              an optional tests/unit/<name>.wrap holds extra link flags
#   tests/fuzz/fuzz_*.c        libFuzzer targets (clang), corpus in tests/fuzz/corpus/<name>/
#   tests/helpers/*.c          small programs the integration tests run as workers

BUILD    ?= release
BUILDDIR ?= build/$(BUILD)
PREFIX   ?= /usr/local
DESTDIR  ?=
PYTHON   ?= /usr/bin/python3

PKGS     := libuv libh2o openssl sqlite3 jansson libsodium inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The flags above are read when make parses this file. On a fresh machine that
# is before `make deps` has installed anything, so `run` and `test` install the
# packages first and then run make again for the rest (run-only, test-only).
# Any other goal that compiles stops here with what to do.
NO_PKG_GOALS := deps run test clean format format-check cleanroom
ifneq ($(filter-out $(NO_PKG_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(PKG_LIBS),)
$(error pkg-config finds none of the build libraries ($(PKGS)): run `make deps` first (or `make run` / `make test`, which do))
endif
endif

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wcast-align -Wstrict-prototypes \
        -Wmissing-prototypes -Wno-unused-parameter -Wvla -Wnull-dereference
ifeq ($(CI),true)
WARN += -Werror
endif
ifneq ($(WERROR),)
WARN += -Werror
endif

ifeq ($(BUILD),asan)
CC       := clang
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
OPT      := -O0 -g
else
OPT      := -O2 -g -D_FORTIFY_SOURCE=2
endif

CFLAGS   ?=
override CFLAGS += -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong -fPIE \
        -Icommon -Isupervisor -Iworker $(PKG_CFLAGS) -MMD -MP \
        -DTENANTD_VERSION=\"$(VERSION)\"
LDFLAGS  ?=
override LDFLAGS += -pie -Wl,-z,relro,-z,now $(LDSAN)
VERSION  := 0.1.0

COMMON_SRC := $(wildcard common/*.c)
JAIL_SRC   := $(wildcard supervisor/jail_*.c)
CTL_SRC    := $(wildcard supervisor/ctl_*.c)
SUP_SRC    := $(filter-out $(JAIL_SRC) $(CTL_SRC),$(wildcard supervisor/*.c))
WORKER_SRC := $(wildcard worker/*.c)

obj = $(patsubst %.c,$(BUILDDIR)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
JAIL_OBJ   := $(call obj,$(JAIL_SRC))
CTL_OBJ    := $(call obj,$(CTL_SRC))
SUP_OBJ    := $(call obj,$(SUP_SRC))
WORKER_OBJ := $(call obj,$(WORKER_SRC))
# Objects without their program's main(), for unit tests and fuzzers.
nomain = $(filter-out %_main.o,$(1))

BINS := $(BUILDDIR)/tenantd $(BUILDDIR)/tenantctl $(BUILDDIR)/tenant-jail $(BUILDDIR)/tenant-worker

UNIT_SRC  := $(wildcard tests/unit/*_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILDDIR)/tests/%,$(UNIT_SRC))
HELPER_SRC  := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILDDIR)/helpers/%,$(HELPER_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILDDIR)/fuzz/%,$(FUZZ_SRC))

.PHONY: all deps soak deps-test run run-only test test-only unit fuzz-replay integration check-asan bench format format-check install clean cleanroom
all: $(BINS) $(HELPER_BINS)

$(BUILDDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILDDIR)/libcommon.a: $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILDDIR)/tenantd: $(SUP_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILDDIR)/tenantctl: $(CTL_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILDDIR)/tenant-jail: $(JAIL_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILDDIR)/tenant-worker: $(WORKER_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lpthread

# Unit tests: the prefix of the file name says which program's objects it links.
unit_objs = $(if $(filter common_%,$(1)),,\
            $(if $(filter sup_%,$(1)),$(call nomain,$(SUP_OBJ)),\
            $(if $(filter ctl_%,$(1)),$(call nomain,$(CTL_OBJ)),\
            $(if $(filter jail_%,$(1)),$(call nomain,$(JAIL_OBJ)),\
            $(if $(filter worker_%,$(1)),$(call nomain,$(WORKER_OBJ)))))))
.SECONDEXPANSION:
$(BUILDDIR)/tests/%: tests/unit/%.c $$(call unit_objs,$$*) $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o %.a,$^) $(shell cat tests/unit/$*.wrap 2>/dev/null) \
		$(PKG_LIBS) $(shell pkg-config --libs cmocka) -lm -lpthread

$(BUILDDIR)/helpers/%: tests/helpers/%.c $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o %.a,$^) $(PKG_LIBS) -lm

# Fuzzers are always built with clang and libFuzzer, in their own object tree.
FUZZDIR := $(BUILDDIR)/fuzzobj
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
        -Icommon -Isupervisor -Iworker $(PKG_CFLAGS)
fuzz_objs = $(patsubst %.c,$(FUZZDIR)/obj/%.o,$(COMMON_SRC) $(filter-out %_main.c,$(1)))
$(FUZZDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
FUZZ_WORKER_BINS := $(filter $(BUILDDIR)/fuzz/fuzz_worker_%,$(FUZZ_BINS))
FUZZ_OTHER_BINS  := $(filter-out $(FUZZ_WORKER_BINS),$(FUZZ_BINS))
$(FUZZ_WORKER_BINS): $(BUILDDIR)/fuzz/%: tests/fuzz/%.c $(call fuzz_objs,$(WORKER_SRC))
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(filter %.o %.a,$^) $(PKG_LIBS) -lm -lpthread
$(FUZZ_OTHER_BINS): $(BUILDDIR)/fuzz/%: tests/fuzz/%.c $(call fuzz_objs,)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(filter %.o %.a,$^) $(PKG_LIBS) -lm

# ---------------------------------------------------------------------------
deps:
	@deploy/install-deps.sh deploy/debian-packages.txt

run: deps
	@$(MAKE) --no-print-directory run-only

run-only: all
	@deploy/run-demo.sh $(BUILDDIR)

test: deps
	@$(MAKE) --no-print-directory test-only

unit: all $(UNIT_BINS)
	@tests/run-unit.sh $(BUILDDIR)

fuzz-replay: $(FUZZ_BINS)
	@tests/run-fuzz-replay.sh $(BUILDDIR)

integration: all
	@TENANTD_BUILDDIR=$(abspath $(BUILDDIR)) $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

check-asan:
	@$(MAKE) --no-print-directory BUILD=asan test-only

test-only: all $(UNIT_BINS)
	@tests/run-all.sh $(BUILDDIR)

bench: all
	@for b in tests/bench/bench_*.sh; do echo "== $$b"; $$b $(BUILDDIR) || exit 1; done

# The soak test is long and run by hand: make soak MINUTES=10
soak: all
	@tests/bench/soak.sh $(BUILDDIR) $(or $(MINUTES),2)

cleanroom:
	@deploy/install-deps.sh deploy/cleanroom-packages.txt
	@tests/cleanroom.sh

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $(shell git ls-files '*.c' '*.h')

install: all
	@# Programs: the two an operator runs in sbin; the jail and the worker, which only
	@# tenantd runs, in lib/tenantd (tenantd looks for them beside itself unless
	@# [tenantd] jail and worker name them, as the installed example config does).
	@# Files that name installed paths get /usr/local replaced by $$(PREFIX).
	@# The unit goes to $$(PREFIX)/lib/systemd/system (override with UNITDIR=...).
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/tenantd \
		$(DESTDIR)$(PREFIX)/share/tenantd/templates $(DESTDIR)$(PREFIX)/share/tenantd/examples \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/doc/tenantd \
		$(DESTDIR)$(or $(UNITDIR),$(PREFIX)/lib/systemd/system)
	install -m 0755 $(BUILDDIR)/tenantd $(BUILDDIR)/tenantctl $(DESTDIR)$(PREFIX)/sbin/
	install -m 0755 $(BUILDDIR)/tenant-jail $(BUILDDIR)/tenant-worker $(DESTDIR)$(PREFIX)/lib/tenantd/
	cp -R templates/. $(DESTDIR)$(PREFIX)/share/tenantd/templates/
	chmod -R u=rwX,go=rX $(DESTDIR)$(PREFIX)/share/tenantd/templates
	sed 's#/usr/local#$(PREFIX)#g' deploy/tenantd.ini.example \
		>$(DESTDIR)$(PREFIX)/share/tenantd/examples/tenantd.ini.example
	install -m 0644 plans.ini deploy/nginx-external.conf $(DESTDIR)$(PREFIX)/share/tenantd/examples/
	chmod 0644 $(DESTDIR)$(PREFIX)/share/tenantd/examples/tenantd.ini.example
	sed 's#/usr/local#$(PREFIX)#g' deploy/tenantd.service \
		>$(DESTDIR)$(or $(UNITDIR),$(PREFIX)/lib/systemd/system)/tenantd.service
	chmod 0644 $(DESTDIR)$(or $(UNITDIR),$(PREFIX)/lib/systemd/system)/tenantd.service
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 README.md LICENSE docs/*.md $(DESTDIR)$(PREFIX)/share/doc/tenantd/

clean:
	rm -rf build

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)
