# `sam build` support. `./mvnw package` alone is enough for `sam deploy`; this file exists because
# SAM CLI's Java builder cannot build this repository: it runs `mvn` (not ./mvnw) in a copy of one
# module, which cannot resolve aigw-core from the reactor, and it wants CodeUri to be the module's
# sources, whereas template.yaml's CodeUri must be the built directory for `./mvnw package && sam deploy`.
#
# How SAM CLI calls this file (template.yaml gives every function and the layer
# `Metadata: {BuildMethod: makefile, ContextPath: ., WorkingDirectory: .}`): once per resource,
# sequentially unless --parallel,
#   make --makefile <repo>/Makefile build-<LogicalId>    in <repo>, with ARTIFACTS_DIR=.aws-sam/build/<LogicalId>
# Each target copies exactly the directory the template's CodeUri/ContentUri names, so both deploy
# flows ship the same files. Maven runs at most once per `sam build`: the first target builds and
# writes a stamp; later targets find the stamp newer than every source and only copy.
# On a fresh clone SAM logs "Skipping copy operation since source .../target/... does not exist":
# expected, it copies CodeUri to a scratch directory that this file does not use.
#
# To add a function (or layer): one line below, `build-<LogicalId>: ARTIFACT := <its CodeUri>`.
# Its Maven module is picked up by the functions/*/pom.xml wildcard.

build-CoreLayer:     ARTIFACT := layers/core/target/layer
build-ProxyFunction: ARTIFACT := functions/proxy/target/function
build-AdminFunction: ARTIFACT := functions/admin/target/function
build-MasterKeyRotationFunction:   ARTIFACT := functions/rotation/target/function
build-KeyRotationScheduleFunction: ARTIFACT := functions/rotation/target/function

# This file's directory, not the working directory: SAM's cwd depends on its options (scratch copy,
# --build-in-source); WorkingDirectory pins it, this makes it irrelevant.
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# Only the deployable modules (and, through -am, what they need): local/ and bench/ are not deployed.
comma := ,
empty :=
space := $(empty) $(empty)
MODULES := $(patsubst $(ROOT)/%/pom.xml,%,$(wildcard $(ROOT)/layers/*/pom.xml $(ROOT)/functions/*/pom.xml))
SOURCES := $(shell cd '$(ROOT)' && find pom.xml .mvn/wrapper/maven-wrapper.properties $(MODULES) -name target -prune -o -type f -print)

# Tests are README's `./mvnw verify` (and run by `./mvnw package`); `sam build` only packages.
# Override from the environment, e.g. `AIGW_MAVEN_ARGS="-B" sam build` to run the tests too.
AIGW_MAVEN_ARGS ?= -B --no-transfer-progress -DskipTests
# In the root target/, so `./mvnw clean` removes it with the artifacts; the test suite points it elsewhere.
AIGW_MAVEN_STAMP ?= $(ROOT)/target/sam-build.stamp

$(AIGW_MAVEN_STAMP): $(addprefix $(ROOT)/,$(SOURCES)) $(ROOT)/Makefile
	cd '$(ROOT)' && ./mvnw $(AIGW_MAVEN_ARGS) package -pl $(subst $(space),$(comma),$(MODULES)) -am
	mkdir -p '$(@D)' && touch '$@'

# Not .PHONY: make skips pattern rules for phony targets.
build-%: $(AIGW_MAVEN_STAMP)
	@test -n '$(ARTIFACT)' || { echo 'Makefile: no "build-$*: ARTIFACT := <CodeUri>" line (see the top of the Makefile)' >&2; exit 1; }
	@test -n '$(ARTIFACTS_DIR)' || { echo 'Makefile: ARTIFACTS_DIR is not set (sam build sets it)' >&2; exit 1; }
	@test -d '$(ROOT)/$(ARTIFACT)' || { echo 'Makefile: $(ARTIFACT) is missing; run ./mvnw package or delete $(AIGW_MAVEN_STAMP)' >&2; exit 1; }
	mkdir -p '$(ARTIFACTS_DIR)'
	cp -R '$(ROOT)/$(ARTIFACT)/.' '$(ARTIFACTS_DIR)/'
