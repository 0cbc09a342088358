# tenantd — build, test and run.
#
#   make               release build of the four programs into $(BUILDDIR)
#   make BUILD=debug   -O0 -g; tenant_check_invariants() asserted after every transition
#   make BUILD=asan    clang, AddressSanitizer + UndefinedBehaviorSanitizer, and the same checks
#   make deps          install the Debian packages listed in deploy/debian-packages.txt
#   make run           deps + build + start tenantd on the demo config in this checkout
#   make test          deps + build + unit tests + fuzz corpus replay + integration tests
#   make check-asan    the unit and integration suites under ASan+UBSan
#   make bench         the benchmark scripts (print figures; not tests)
#   make bench-peers   tenantd beside uWSGI Emperor, same tenants, one table (PEERS_N="100 1000";
#                      about 15 minutes; tests/bench/bench_peers.py; prints figures, not a test)
#   make soak          the bounded soak run (MINUTES=2), by hand
#   make format-check  clang-format --dry-run on every C file
#   make cleanroom     `make run` and `make test` as the first commands on a fresh Debian 12
#                      (debootstrap minbase in a chroot, checkout in /root/tenantd; as root;
#                      see tests/cleanroom.sh). The machine running it needs debootstrap, git,
#                      curl and iproute2: the target installs the missing ones from
#                      deploy/cleanroom-packages.txt. The minbase tarball and the downloaded
#                      .deb files are cached in /var/cache/tenantd-cleanroom (CLEANROOM_CACHE).
#   make image         the bundled worker's container image, an OCI layout in $(BUILDDIR)/image
#   make check-image   build the image and smoke-run it (GET /healthz as a non-root uid)
#   make check-k8s     validate `tenantctl export k8s` against the Kubernetes schemas (node)
#
# Source layout (the file list is the process diagram). Each program states its
# sources below in one line, OpenSMTPD style, and compiles with its own folder on
# the include path plus common/:
#   common/                    linked into every program (no libuv, no h2o); what two
#                              programs share lives here once, its header the contract
#   supervisor/tenantd/        tenantd       (main in tenantd_main.c)
#   supervisor/ctl/            tenantctl     (main in ctl_main.c)
#   supervisor/jail/           tenant-jail   (main in jail_main.c)
#   worker/                    tenant-worker (main in worker_main.c)
#   tests/unit/<prog>/<x>.c    one cmocka binary each ($(BUILDDIR)/tests/<prog>_<x>), linked
#                              with that program's objects minus its main (<prog> = common,
#                              tenantd, ctl, jail, worker); an optional <x>.wrap beside it
#                              holds extra link flags; UNIT_ALONE lists the tests that
#                              compile their module in and link libcommon only
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
# libpq: only tenant-worker talks to PostgreSQL (tenantd drives psql/pg_dump); it is not
# linked but dlopen()ed on the first PostgreSQL open (worker/pq_dl.h), so PQ_LIBS only
# serves unit tests and fuzzers.
PQ_CFLAGS  := $(shell pkg-config --cflags libpq 2>/dev/null)
PQ_LIBS    := $(shell pkg-config --libs libpq 2>/dev/null)

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
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -DTENANTD_CHECK_INVARIANTS
LDSAN    := -fsanitize=address,undefined
else ifeq ($(BUILD),debug)
OPT      := -O0 -g -DTENANTD_CHECK_INVARIANTS
else
OPT      := -O2 -g -D_FORTIFY_SOURCE=2
endif

CFLAGS   ?=
override CFLAGS += -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong -fPIE \
        -Icommon $(PKG_CFLAGS) $(PQ_CFLAGS) -MMD -MP \
        -DTENANTD_VERSION=\"$(VERSION)\"
LDFLAGS  ?=
override LDFLAGS += -pie -Wl,-z,relro,-z,now $(LDSAN)
VERSION  := 0.1.0

COMMON_SRC  := $(addprefix common/,argv.c backup.c backup_file.c backup_import.c backup_list.c backup_pg.c backup_restore.c cgroup.c config.c config_env.c config_files.c config_ini.c config_keys.c config_net.c config_reuse.c config_value.c http_status.c jail_args.c landlock_net.c log.c pg_client.c pg_url.c proxy_render.c reach.c safefile.c sdnotify.c usage_token.c util.c)
TENANTD_SRC := $(addprefix supervisor/tenantd/,acme.c admin.c admin_alerts.c admin_billing.c admin_cert.c admin_create_admin.c admin_database.c admin_files.c admin_h2o_errors.c admin_history.c admin_list.c admin_metrics.c admin_migrate.c admin_offboard.c admin_onboard.c admin_op.c admin_openapi.c admin_pg.c admin_routes.c admin_state.c admin_upgrade.c admin_wait.c alerts.c alerts_send.c backoff.c backup_sched.c capacity.c child.c health.c history.c history_fold.c idle.c listen.c logcap.c netpolicy.c nginx_logrot.c notify.c offsite.c pg_admin.c pg_stats.c proxy.c proxy_files.c proxy_errlog.c proxy_nginx.c reminders.c reminders_ledger.c reminders_mail.c reserve.c spawn.c spawn_hide.c spawn_transient.c statedb_kv.c status_json.c storage.c sup_cgroup.c sup_exec.c sup_ports.c sup_process.c sup_reload.c sup_transient.c sup_upgrade.c sup_view.c supervisor.c svcnotify.c tenant_fsm.c tenantd_main.c uidmap.c upgrade.c usage_fetch.c usage_shape.c)
CTL_SRC     := $(addprefix supervisor/ctl/,ctl_api.c ctl_backup.c ctl_billing.c ctl_cert.c ctl_export.c ctl_format.c ctl_http.c ctl_logs.c ctl_main.c ctl_migrate.c ctl_offsite.c ctl_onboard.c ctl_proxy.c ctl_upgrade.c ctl_wait.c k8s_render.c)
JAIL_SRC    := $(addprefix supervisor/jail/,jail_bpf.c jail_cgroup.c jail_main.c jail_net.c jail_ns.c jail_priv.c jail_run.c jail_seccomp.c jail_sys.c)
# The image's entrypoint (deploy/k8s/): binds $$PORT and execs the worker with it as fd 3.
LISTEN_SRC  := deploy/k8s/tenant-listen.c
WORKER_SRC  := $(addprefix worker/,analysis_context.c analysis_rules.c auth.c brand.c db.c dbcopy.c dbcopy_cli.c deadline_parse.c deadline_rules.c env.c gdpr.c http.c http_gdpr.c http_idle.c http_routes.c http_send.c ical.c invoice_fr.c invoice_num.c invoice_page.c invoice_pdf.c jsonv.c model_analyses.c model_billing.c model_common.c model_deadlines.c model_invoices.c pages.c pq_dl.c reminder_leads.c reminder_prefs.c reminders.c rulefile.c schema.c schema_pg.c second_factor.c store.c store_pg.c store_sqlite.c totp.c usage.c vat.c worker_main.c wres.c)

# Each program's own folder is on its include path, and only its own.
PROG_DIR_common  := common
PROG_DIR_tenantd := supervisor/tenantd
PROG_DIR_ctl     := supervisor/ctl
PROG_DIR_jail    := supervisor/jail
PROG_DIR_worker  := worker
$(BUILDDIR)/obj/supervisor/tenantd/%.o: PROG_INC := -I$(PROG_DIR_tenantd)
$(BUILDDIR)/obj/supervisor/ctl/%.o:     PROG_INC := -I$(PROG_DIR_ctl)
$(BUILDDIR)/obj/supervisor/jail/%.o:    PROG_INC := -I$(PROG_DIR_jail)
$(BUILDDIR)/obj/worker/%.o:             PROG_INC := -I$(PROG_DIR_worker)

obj = $(patsubst %.c,$(BUILDDIR)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
JAIL_OBJ   := $(call obj,$(JAIL_SRC))
CTL_OBJ    := $(call obj,$(CTL_SRC))
TENANTD_OBJ := $(call obj,$(TENANTD_SRC))
WORKER_OBJ := $(call obj,$(WORKER_SRC))
# Objects without their program's main(), for unit tests and fuzzers.
nomain = $(filter-out %_main.o,$(1))

BINS := $(BUILDDIR)/tenantd $(BUILDDIR)/tenantctl $(BUILDDIR)/tenant-jail $(BUILDDIR)/tenant-worker

UNIT_SRC  := $(wildcard tests/unit/*/*.c)
UNIT_BINS := $(foreach f,$(UNIT_SRC),$(BUILDDIR)/tests/$(subst /,_,$(patsubst tests/unit/%.c,%,$(f))))
# Unit tests that #include the module they test and fake its neighbours: they link
# libcommon only.
UNIT_ALONE := tenantd_backup_sched
HELPER_SRC  := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILDDIR)/helpers/%,$(HELPER_SRC))
# Libraries the integration tests LD_PRELOAD into a program (never sanitized:
# they are loaded into binaries of any build).
PRELOAD_SRC  := $(wildcard tests/helpers/preload/*.c)
PRELOAD_LIBS := $(patsubst tests/helpers/preload/%.c,$(BUILDDIR)/helpers/%.so,$(PRELOAD_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILDDIR)/fuzz/%,$(FUZZ_SRC))

.PHONY: image check-image check-k8s k8s-deps openapi-deps
.PHONY: all deps soak deps-test run run-only test test-only unit fuzz-replay integration check-asan bench bench-peers format format-check install clean cleanroom
all: $(BINS) $(BUILDDIR)/tenant-listen $(HELPER_BINS) $(PRELOAD_LIBS)

$(BUILDDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PROG_INC) -c $< -o $@

$(BUILDDIR)/libcommon.a: $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILDDIR)/tenantd: $(TENANTD_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILDDIR)/tenantctl: $(CTL_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILDDIR)/tenant-jail: $(JAIL_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(BUILDDIR)/tenant-worker: $(WORKER_OBJ) $(BUILDDIR)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lpthread -ldl
$(BUILDDIR)/tenant-listen: $(call obj,$(LISTEN_SRC))
	$(CC) $(LDFLAGS) -o $@ $^

# Unit tests: the folder under tests/unit/ says which program's objects a test links
# and which include path it compiles with.
unit_link = $(CC) $(CFLAGS) -I$(PROG_DIR_$(1)) $(LDFLAGS) -o $@ $< $(filter %.o %.a,$^) \
	$(shell cat $(<:.c=.wrap) 2>/dev/null) $(PKG_LIBS) $(if $(filter worker,$(1)),$(PQ_LIBS)) \
	$(shell pkg-config --libs cmocka) -lm -lpthread
$(BUILDDIR)/tests/common_%: tests/unit/common/%.c $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(call unit_link,common)
$(addprefix $(BUILDDIR)/tests/,$(UNIT_ALONE)): $(BUILDDIR)/tests/tenantd_%: tests/unit/tenantd/%.c $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(call unit_link,tenantd)
$(BUILDDIR)/tests/tenantd_%: tests/unit/tenantd/%.c $(call nomain,$(TENANTD_OBJ)) $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(call unit_link,tenantd)
$(BUILDDIR)/tests/ctl_%: tests/unit/ctl/%.c $(call nomain,$(CTL_OBJ)) $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(call unit_link,ctl)
$(BUILDDIR)/tests/jail_%: tests/unit/jail/%.c $(call nomain,$(JAIL_OBJ)) $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(call unit_link,jail)
$(BUILDDIR)/tests/worker_%: tests/unit/worker/%.c $(call nomain,$(WORKER_OBJ)) $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(call unit_link,worker)

$(BUILDDIR)/helpers/%.so: tests/helpers/preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize% -fPIE -DTENANTD_CHECK_INVARIANTS,$(CFLAGS)) -fPIC -shared -o $@ $< -ldl -lpthread

$(BUILDDIR)/helpers/%: tests/helpers/%.c $(BUILDDIR)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.o %.a,$^) $(PKG_LIBS) -lm

# Fuzzers are always built with clang and libFuzzer, in their own object tree.
FUZZDIR := $(BUILDDIR)/fuzzobj
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
        -Icommon -I$(PROG_DIR_worker) $(PKG_CFLAGS) $(PQ_CFLAGS)
fuzz_objs = $(patsubst %.c,$(FUZZDIR)/obj/%.o,$(COMMON_SRC) $(filter-out %_main.c,$(1)))
$(FUZZDIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
FUZZ_WORKER_BINS := $(filter $(BUILDDIR)/fuzz/fuzz_worker_%,$(FUZZ_BINS))
FUZZ_OTHER_BINS  := $(filter-out $(FUZZ_WORKER_BINS),$(FUZZ_BINS))
$(FUZZ_WORKER_BINS): $(BUILDDIR)/fuzz/%: tests/fuzz/%.c $(call fuzz_objs,$(WORKER_SRC))
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(filter %.o %.a,$^) $(PKG_LIBS) $(PQ_LIBS) -lm -lpthread
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

integration: all k8s-deps openapi-deps
	@TENANTD_BUILDDIR=$(abspath $(BUILDDIR)) $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

check-asan:
	@$(MAKE) --no-print-directory BUILD=asan test-only

# k8s-deps: the node modules of the Kubernetes tests (npm ci from tests/k8s's lock file);
# openapi-deps: the OpenAPI validator of test_openapi.py (tests/openapi's lock file).
test-only: all $(UNIT_BINS) k8s-deps openapi-deps
	@tests/run-all.sh $(BUILDDIR)

bench: all
	@for b in tests/bench/bench_*.sh; do echo "== $$b"; $$b $(BUILDDIR) || exit 1; done

bench-peers: all
	@deploy/install-deps.sh deploy/debian-packages.txt
	@/usr/bin/python3 tests/bench/bench_peers.py $(BUILDDIR) $(PEERS_N)

# The soak test is long and run by hand: make soak MINUTES=10
soak: all
	@tests/bench/soak.sh $(BUILDDIR) $(or $(MINUTES),2)

cleanroom:
	@deploy/install-deps.sh deploy/cleanroom-packages.txt
	@tests/cleanroom.sh

# Kubernetes: the worker's image (debootstrap, cached in /var/cache/tenantd-image) and the
# schema validation of `tenantctl export k8s` (node, modules pinned in tests/k8s/).
image: all $(BUILDDIR)/tenant-listen
	@IMAGE_TAG=$(VERSION) deploy/k8s/build-image.sh $(BUILDDIR) $(BUILDDIR)/image

check-image: image
	@tests/k8s/smoke-image.sh $(BUILDDIR)/image

k8s-deps:
	@tests/k8s/install-modules.sh

openapi-deps:
	@tests/openapi/install-modules.sh

check-k8s: all k8s-deps
	@TENANTD_BUILDDIR=$(abspath $(BUILDDIR)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/test_k8s_export.py $(PYTEST_ARGS)

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
