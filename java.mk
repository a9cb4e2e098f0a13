# java.mk - the JNI bridge and the Jenkins plugin, built with javac/jar (no Maven
# repositories needed), and their tests. Included from the Makefile, which defines
# BUILD, CC, CFLAGS, LDLIBS and LIB_OBJ.
#
#   make jni          build/libbakeami-jni.so (the bridge; links build/libbakeami.a)
#   make plugin-jar   build/bakeami-plugin.jar (classes, jelly/help, index.jelly, the .so)
#   make java-test    JUnit suites (loader, class loaders, plugin units, jar contents),
#                     then, with JAVA_E2E=1 (the default), tests/e2e/test_jenkins_shim.py:
#                     the real step, builder and callable against the lab (needs root)
#
# The real plugin build (.hpi) is pom.xml; here the shim compiles against compile-only
# stand-ins of the Jenkins types it uses (tests/java/jenkins-api), which are never packaged.

JAVA_HOME  ?= $(patsubst %/bin/javac,%,$(realpath $(shell command -v javac)))
JAVAC      ?= javac
JAVA       ?= java
JAR        ?= jar
MVN        ?= mvn
JAVA_E2E   ?= 1

JNI_PLATFORM := linux-x86_64
JB         := $(BUILD)/java
JNI_SO     := $(BUILD)/libbakeami-jni.so
PLUGIN_JAR := $(BUILD)/bakeami-plugin.jar
JNI_RES    := $(BUILD)/jni/resources
JNI_INC    := $(BUILD)/jni/include

SHIM_SRC   := $(shell find java-shim/src/main/java -name '*.java' 2>/dev/null)
SHIM_RES   := $(shell find java-shim/src/main/resources -type f 2>/dev/null)
STUB_SRC   := $(shell find tests/java/jenkins-api -name '*.java' 2>/dev/null)
JTEST_SRC  := $(shell find tests/java/src -name '*.java' 2>/dev/null)
JNI_SRC    := $(wildcard native/jni/*.c)
JNI_OBJ    := $(JNI_SRC:%.c=$(BUILD)/%.o)
JNI_HDRS   := $(JNI_INC)/io_bakeami_nativelib_NativeBaker.h $(JNI_INC)/io_bakeami_nativelib_Bake.h \
              $(JNI_INC)/io_bakeami_nativelib_Cleanup.h

JUNIT_JARS := $(JB)/lib/junit-4.13.2.jar $(JB)/lib/hamcrest-core-1.3.jar
JTEST_CP   := $(JB)/test-classes:$(PLUGIN_JAR):$(JB)/stubs:$(JB)/lib/junit-4.13.2.jar:$(JB)/lib/hamcrest-core-1.3.jar
FIXTURE_SO := $(JB)/fixtures/libbakeami-fixture-needs-missing.so

.PHONY: jni jni-resources plugin-jar java-test java-test-classes java-unit spotbugs

jni: $(JNI_SO)
plugin-jar: $(PLUGIN_JAR)
# The .so where pom.xml picks it up as a resource (mvn runs this in generate-resources).
jni-resources: $(JNI_RES)/io/bakeami/native/$(JNI_PLATFORM)/libbakeami-jni.so

# ---- Java: stand-ins, then the shim (javac -h writes the JNI headers) ------------------
$(JB)/stubs.stamp: $(STUB_SRC)
	@rm -rf $(JB)/stubs && mkdir -p $(JB)/stubs
	@echo "javac tests/java/jenkins-api -> $(JB)/stubs"
	@$(JAVAC) --release 17 -nowarn -d $(JB)/stubs $(STUB_SRC)
	@touch $@

$(JB)/classes.stamp: $(SHIM_SRC) $(JB)/stubs.stamp
	@rm -rf $(JB)/classes $(JNI_INC) && mkdir -p $(JB)/classes $(JNI_INC)
	$(JAVAC) --release 17 -Xlint:all,-serial,-processing,-try -Werror -cp $(JB)/stubs \
		-d $(JB)/classes -h $(JNI_INC) $(SHIM_SRC)
	@touch $@

$(JNI_HDRS): $(JB)/classes.stamp ;

# ---- the JNI bridge -----------------------------------------------------------------------
$(BUILD)/native/jni/%.o: native/jni/%.c native/jni/bakeami_jni.h native/include/bakeami.h $(JNI_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -I$(JAVA_HOME)/include -I$(JAVA_HOME)/include/linux -I$(JNI_INC) -c $< -o $@

# Links the library's archive: one self-contained .so per platform. --exclude-libs keeps the
# archive's symbols private, so only JNI_On* and Java_* are exported.
$(JNI_SO): $(JNI_OBJ) $(BUILD)/libbakeami.a
	$(CC) -shared -o $@ $(JNI_OBJ) $(BUILD)/libbakeami.a $(LDLIBS) \
		-Wl,--exclude-libs,ALL -Wl,-z,defs -Wl,-z,noexecstack

# ---- the plugin jar -----------------------------------------------------------------------
$(JNI_RES)/io/bakeami/native/$(JNI_PLATFORM)/libbakeami-jni.so: $(JNI_SO)
	@mkdir -p $(dir $@)
	cp $< $@

$(PLUGIN_JAR): $(JB)/classes.stamp $(SHIM_RES) $(JNI_RES)/io/bakeami/native/$(JNI_PLATFORM)/libbakeami-jni.so
	@rm -f $@
	$(JAR) --create --file $@ -C $(JB)/classes . -C java-shim/src/main/resources . -C $(JNI_RES) .

# ---- tests --------------------------------------------------------------------------------
# JUnit 4.13.2 + hamcrest-core 1.3 from Maven Central, pinned by tests/java/pom.xml.
$(JUNIT_JARS): tests/java/pom.xml
	@mkdir -p $(JB)/lib
	$(MVN) -q -B -f tests/java/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(JB)/lib)
	@touch $(JUNIT_JARS)

$(JB)/test-classes.stamp: $(JTEST_SRC) $(PLUGIN_JAR) $(JB)/stubs.stamp $(JUNIT_JARS)
	@rm -rf $(JB)/test-classes && mkdir -p $(JB)/test-classes
	$(JAVAC) --release 17 -nowarn -cp $(PLUGIN_JAR):$(JB)/stubs:$(JB)/lib/junit-4.13.2.jar:$(JB)/lib/hamcrest-core-1.3.jar \
		-d $(JB)/test-classes $(JTEST_SRC)
	@touch $@

# A library whose DT_NEEDED names a library that is not there: loading it yields the exact
# UnsatisfiedLinkError an agent without libcurl/libssh2/... gets.
$(FIXTURE_SO):
	@rm -rf $(JB)/fixtures && mkdir -p $(JB)/fixtures/gone
	printf 'int bakeami_fixture_gone(void) { return 1; }\n' > $(JB)/fixtures/gone/gone.c
	$(CC) -shared -fPIC -Wl,-soname,libbakeami-fixture-gone.so.1 \
		-o $(JB)/fixtures/gone/libbakeami-fixture-gone.so.1 $(JB)/fixtures/gone/gone.c
	printf 'int bakeami_fixture_gone(void);\nint bakeami_fixture(void) { return bakeami_fixture_gone(); }\n' \
		> $(JB)/fixtures/needs.c
	$(CC) -shared -fPIC -o $@ $(JB)/fixtures/needs.c $(JB)/fixtures/gone/libbakeami-fixture-gone.so.1
	rm -rf $(JB)/fixtures/gone

java-test-classes: $(JB)/test-classes.stamp $(FIXTURE_SO)

JTEST_PROPS = -Dbakeami.test.repo=$(CURDIR) -Dbakeami.test.jar=$(abspath $(PLUGIN_JAR)) \
	-Dbakeami.test.stubs=$(abspath $(JB)/stubs) -Dbakeami.test.fixture=$(abspath $(FIXTURE_SO)) \
	-Dbakeami.native.dir=$(abspath $(JB)/native-tmp)

# SpotBugs as `mvn verify` runs it for a plugin: plugin-pom 6.2221.va_045130417c9 binds
# spotbugs-maven-plugin 4.10.3.0 (SpotBugs 4.10.3) `check` at verify with the plugin's defaults
# (effort Default, threshold Default = medium, failOnError, 0 violations allowed), plugin-pom's
# spotbugs.omitVisitors, and src/spotbugs/excludesFilter.xml only if the plugin has one (we do
# not). Any finding fails the build.
SPOTBUGS_LIB  := $(JB)/spotbugs-lib
SPOTBUGS_OMIT := ConstructorThrow,FindReturnRef,MultipleInstantiationsOfSingletons,SharedVariableAtomicityDetector,ThrowingExceptions,FindImproperSynchronization

$(SPOTBUGS_LIB)/.stamp: tests/java/spotbugs/pom.xml
	@rm -rf $(SPOTBUGS_LIB) && mkdir -p $(SPOTBUGS_LIB)
	$(MVN) -q -B -f tests/java/spotbugs/pom.xml dependency:copy-dependencies -DoutputDirectory=$(abspath $(SPOTBUGS_LIB))
	@touch $@

spotbugs: $(JB)/classes.stamp $(SPOTBUGS_LIB)/.stamp
	$(JAVA) -cp '$(SPOTBUGS_LIB)/*' edu.umd.cs.findbugs.FindBugs2 -effort:default -medium \
		-omitVisitors $(SPOTBUGS_OMIT) -auxclasspath $(JB)/stubs -exitcode $(JB)/classes \
		|| { echo "spotbugs: findings above (the plugin's mvn verify would fail)"; exit 1; }
	@echo "spotbugs: 0 findings"

java-unit: spotbugs java-test-classes
	$(JAVA) -Xcheck:jni $(JTEST_PROPS) -cp $(JTEST_CP) io.bakeami.test.RunTests \
		io.bakeami.nativelib.LoaderTest io.bakeami.nativelib.OptionsJsonTest io.bakeami.jenkins.PluginUnitTest \
		io.bakeami.test.JarContentsTest

java-test: java-unit
ifeq ($(JAVA_E2E),1)
	python3 -m pytest -q tests/e2e/test_jenkins_shim.py
endif
