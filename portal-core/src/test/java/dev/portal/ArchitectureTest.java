package dev.portal;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import java.lang.reflect.Modifier;
import java.util.concurrent.TimeUnit;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The layering rules of portal-core, checked on its compiled classes. Reading the classes and
 * checking the rules is CPU and disk work with nothing to wait for, which a busy machine slows
 * past the 60 s every other test gets (the import alone took over 60 s with both cores taken), so
 * this class gets five minutes.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ArchitectureTest {

    private static JavaClasses core;

    /** A class-level timeout does not reach lifecycle methods, so the import states its own. */
    @BeforeAll
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    static void importCore() {
        core = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.portal");
    }

    @Test
    void coreDependsOnNoFramework() {
        noClasses().should().dependOnClassesThat().resideInAnyPackage("org.springframework..", "io.micrometer.core..",
                "reactor..", "io.vertx..").check(core);
    }

    @Test
    void internalPackageDoesNotDependOnTheApi() {
        noClasses().that().resideInAPackage("dev.portal.internal..").should().dependOnClassesThat()
                .resideInAPackage("dev.portal").check(core);
    }

    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("dev.portal.(*)..").should().beFreeOfCycles().check(core);
    }

    @Test
    void publicApiClassesAreFinalOrInterfacesOrRecordsOrEnums() {
        classes().that().resideInAPackage("dev.portal").and().arePublic().and().areTopLevelClasses()
                .should(beFinalOrNotExtendable()).check(core);
    }

    @Test
    void exceptionsAreUnchecked() {
        classes().that().resideInAPackage("dev.portal").and().areAssignableTo(Exception.class)
                .should().beAssignableTo(RuntimeException.class).check(core);
    }

    private static ArchCondition<JavaClass> beFinalOrNotExtendable() {
        return new ArchCondition<>("be final, an interface, a record or an enum") {
            @Override
            public void check(JavaClass item, ConditionEvents events) {
                Class<?> type = item.reflect();
                boolean ok = type.isInterface() || type.isRecord() || type.isEnum()
                        || Modifier.isFinal(type.getModifiers());
                if (!ok) {
                    events.add(SimpleConditionEvent.violated(item, item.getName() + " is public and extendable"));
                }
            }
        };
    }
}
